// The API as the UI uses it: JSON over fetch with the key (when one is set) as a Bearer
// token, and the event stream read from fetch too, since EventSource cannot send headers.

const KEY = "agentspan.apiKey";
let authNeeded = () => {};

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export function onAuthNeeded(handler) {
  authNeeded = handler;
}

function headers(extra) {
  const out = { Accept: "application/json", ...extra };
  const key = apiKey();
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}

export async function api(path, { method = "GET", body, signal } = {}) {
  const init = { method, signal, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(`/api${path}`, init);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401) authNeeded(err);
    throw err;
  }
  return data;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : "";
}

// Follows an execution's events from after `lastId` until its terminal event, calling
// onEvent(event) for each. A dropped connection is resumed with Last-Event-ID, so no
// event is missed or repeated. Stops when `signal` aborts.
export async function follow(executionId, lastId, onEvent, signal) {
  let last = lastId;
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      const res = await fetch(`/api/agent/stream/${encodeURIComponent(executionId)}`, {
        headers: headers({ Accept: "text/event-stream", "Last-Event-ID": String(last) }),
        signal,
      });
      if (res.status === 401) authNeeded(new ApiError(401, null));
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
      for await (const frame of frames(res.body)) {
        attempt = 0;
        const event = JSON.parse(frame.data);
        if (frame.id) last = Number(frame.id);
        onEvent(event);
        if (event.type === "done" || event.type === "error") return;
      }
    } catch (err) {
      if (signal.aborted || (err instanceof ApiError && err.status < 500)) return;
    }
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 5000)));
  }
}

async function* frames(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const raw = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame = { id: "", event: "", data: "" };
      for (const line of raw.split("\n")) {
        if (!line || line.startsWith(":")) continue;
        const at = line.indexOf(":");
        const name = at < 0 ? line : line.slice(0, at);
        const val = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
        if (name === "data") frame.data += (frame.data ? "\n" : "") + val;
        else if (name === "id" || name === "event") frame[name] = val;
      }
      if (frame.data) yield frame;
    }
  }
}
