// Building DOM nodes. Text is always set as text (never parsed as markup): everything the
// server returns may hold model output or tool results, which are untrusted.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function pretty(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

export function block(value, cls = "code") {
  return h("pre", { class: cls }, pretty(value));
}

export function when(seconds) {
  if (!seconds) return "";
  const d = new Date(seconds * 1000);
  return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function tokens(usage) {
  return usage && usage.totalTokens ? usage.totalTokens.toLocaleString() : "0";
}

export function cost(usage) {
  if (!usage || usage.costUsd === null || usage.costUsd === undefined) return "—";
  return `$${usage.costUsd.toFixed(usage.costUsd < 0.01 ? 5 : 3)}`;
}

export function badge(status) {
  return h("span", { class: `badge s-${String(status).toLowerCase()}` }, status);
}

export function problemText(err) {
  const p = err && err.problem;
  if (p && p.detail) return `${p.detail} (${p.code || err.status})`;
  return err && err.message ? err.message : String(err);
}
