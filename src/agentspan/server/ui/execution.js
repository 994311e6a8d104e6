// One execution: its summary, what it waits for, its output, its sub-executions and a
// timeline of every recorded step, kept live from the event stream while it runs.

import { api, follow, query } from "./api.js";
import { append, badge, block, clear, cost, duration, h, problemText, tokens, when } from "./dom.js";
import { forkButton } from "./fork.js";
import { decisionForm } from "./form.js";

const TERMINAL = new Set(["COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]);

export async function executionPage(el, id, signal) {
  const path = `/agent/execution/${encodeURIComponent(id)}`;
  const detail = await api(`${path}?includeEvents=true`, { signal });
  const head = h("section", { class: "card", id: "summary" });
  const waiting = h("section", { id: "waiting" });
  const output = h("section", { id: "output" });
  const tree = h("section", { class: "card", id: "tree" }, h("h2", null, "Sub-executions"));
  const live = h("pre", { class: "live", id: "live", hidden: true, "aria-live": "polite" });
  const timeline = new Timeline(detail.executionId, detail.createdAt, !detail.parentExecutionId);
  const conversation = h("details", { class: "card", id: "conversation" });
  el.append(
    h("p", null, h("a", { href: "#/executions" }, "← Executions")),
    head,
    waiting,
    output,
    tree,
    h("section", { class: "card" }, h("h2", null, "Timeline"), timeline.list, live),
    conversation,
  );

  async function refresh(d) {
    renderHead(head, d, () => reload());
    renderOutput(output, d);
    renderConversation(conversation, d.messages || []);
    await renderWaiting(waiting, d, signal, () => reload());
  }
  async function reload() {
    if (!signal.aborted) await refresh(await api(path, { signal }));
  }

  for (const event of detail.events || []) timeline.add(event);
  await refresh(detail);
  renderTree(tree, detail, signal);
  if (!TERMINAL.has(detail.status)) {
    const last = (detail.events || []).reduce((m, e) => Math.max(m, e.id || 0), 0);
    follow(
      detail.executionId,
      last,
      (event) => {
        if (event.type === "message" && event.data && event.data.delta) {
          live.hidden = false;
          live.textContent += event.content;
          return;
        }
        live.textContent = "";
        live.hidden = true;
        timeline.add(event);
        if (["waiting", "approval", "human_input", "selection", "paused", "resumed", "done", "error"].includes(event.type)) {
          reload().catch(() => {});
        }
      },
      signal,
    );
  }
}

function renderHead(el, d, changed) {
  const u = d.tokenUsage || {};
  const ended = TERMINAL.has(d.status);
  const facts = [
    ["Agent", d.agentName],
    ["Execution", h("span", { class: "mono" }, d.executionId)],
    ["Started", when(d.createdAt)],
    ["Duration", duration(((ended ? d.updatedAt : Date.now() / 1000) - d.createdAt) * 1000)],
    ["Tokens", `${tokens(u)} (${(u.promptTokens || 0).toLocaleString()} in, ${(u.completionTokens || 0).toLocaleString()} out)`],
    ["Cost", cost(u)],
    ["Finish", d.finishReason || ""],
  ];
  if (d.parentExecutionId) facts.push(["Parent", h("a", { href: `#/executions/${encodeURIComponent(d.parentExecutionId)}` }, d.parentExecutionId)]);
  if (d.forkedFrom) {
    facts.push(["Forked from", [execLink(d.forkedFrom.executionId, "fork-origin"), ` at step #${d.forkedFrom.step}`]]);
    const i = d.inheritedUsage || {};
    facts.push(["Inherited", `${tokens(i)} tokens · ${cost(i)} (the copied steps, not counted again)`]);
  }
  if ((d.forks || []).length) facts.push(["Forks", d.forks.map((f, n) => [n ? ", " : "", execLink(f.executionId, "fork-child"), ` (step #${f.step})`])]);
  const controls = ended
    ? []
    : [
        control(d, d.status === "PAUSED" ? "resume" : "pause", "PUT", changed),
        control(d, "cancel", "DELETE", changed),
      ];
  append(clear(el), [
    h("h1", null, d.agentName, " ", badge(d.status)),
    h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
    controls.length ? h("div", { class: "actions" }, controls) : null,
    d.error ? h("p", { class: "error" }, d.error) : null,
  ]);
}

function execLink(id, cls) {
  return h("a", { class: `mono ${cls}`, href: `#/executions/${encodeURIComponent(id)}` }, id);
}

function control(d, action, method, changed) {
  const button = h("button", { type: "button", class: action === "cancel" ? "danger" : "" }, action[0].toUpperCase() + action.slice(1));
  button.onclick = async () => {
    button.disabled = true;
    try {
      await api(`/agent/${encodeURIComponent(d.executionId)}/${action}`, { method });
      await changed();
    } catch (err) {
      button.after(h("span", { class: "error" }, ` ${problemText(err)}`));
      button.disabled = false;
    }
  };
  return button;
}

async function renderWaiting(el, d, signal, changed) {
  clear(el);
  if (TERMINAL.has(d.status)) return;
  const s = await api(`/agent/${encodeURIComponent(d.executionId)}/status`, { signal });
  if (!s.pendingTool) {
    if (s.waitingReason) el.append(h("p", { class: "card notice" }, s.waitingReason));
    return;
  }
  el.append(
    h(
      "div",
      { class: "card waiting" },
      h("h2", null, "Waiting for a person"),
      h("p", null, s.waitingReason || ""),
      h("details", { open: true }, h("summary", null, `${s.pendingTool.tool_name} arguments`), block(s.pendingTool.parameters || {})),
      decisionForm(d.executionId, s.pendingTool, () => changed()),
    ),
  );
}

function renderOutput(el, d) {
  clear(el);
  if (d.output === null || d.output === undefined) return;
  const out = d.output && typeof d.output === "object" && "result" in d.output && Object.keys(d.output).length <= 2 ? d.output.result : d.output;
  el.append(h("div", { class: "card" }, h("h2", null, "Output"), block(out, "output")));
}

function renderConversation(el, messages) {
  clear(el).append(h("summary", null, h("h2", { class: "inline" }, `Conversation (${messages.length} messages)`)));
  for (const m of messages) {
    const calls = m.tool_calls || m.toolCalls;
    el.append(
      h(
        "div",
        { class: `msg role-${m.role}` },
        h("span", { class: "kind" }, m.role),
        m.content ? block(m.content, "text") : null,
        calls ? block(calls) : null,
      ),
    );
  }
}

async function renderTree(el, d, signal) {
  const root = h("ul", { class: "tree" });
  el.append(root);
  const count = await addChildren(root, d.executionId, signal, 0);
  if (!count) root.replaceWith(h("p", { class: "muted" }, "None."));
}

async function addChildren(ul, parentId, signal, depth) {
  const page = await api(`/agent/executions${query({ parentId, size: 100 })}`, { signal }).catch(() => ({ results: [] }));
  const kids = [...page.results].reverse();
  for (const k of kids) {
    const li = h(
      "li",
      null,
      badge(k.status),
      " ",
      h("a", { href: `#/executions/${encodeURIComponent(k.executionId)}` }, k.agentName),
      h("span", { class: "muted small" }, ` ${tokens(k.tokenUsage)} tokens · ${duration(k.durationMs)}`),
    );
    ul.append(li);
    if (depth < 5) {
      const sub = h("ul");
      if (await addChildren(sub, k.executionId, signal, depth + 1)) li.append(sub);
    }
  }
  return kids.length;
}

// The timeline: one row per recorded event; a tool call's result, retries and approval
// join its row (by call id), so a call reads as one step.
class Timeline {
  constructor(executionId, startedAt, forkable) {
    this.executionId = executionId;
    this.forkable = forkable;
    this.start = startedAt * 1000;
    this.list = h("ol", { class: "timeline", id: "timeline" });
    this.calls = new Map();
    this.seen = new Set();
  }

  add(e) {
    if (e.id && this.seen.has(e.id)) return;
    if (e.id) this.seen.add(e.id);
    const call = e.callId && this.calls.get(e.callId);
    if (call && ["tool_result", "tool_retry", "approval", "human_input"].includes(e.type)) {
      this.joinCall(call, e);
      return;
    }
    const row = this.row(e);
    this.list.append(row);
    if (e.type === "tool_call") this.calls.set(e.callId, { row, attempts: 1 });
  }

  row(e) {
    const [label, summary, body] = describe(e, this.executionId);
    const d = e.data || {};
    // Steps a fork can start from: the agent's own model calls, recorded with where the
    // conversation stood (service/forks.py says why any other is refused).
    const forkable = this.forkable && e.type === "llm_call" && !d.purpose && d.messageCount !== undefined;
    return h(
      "li",
      { class: `ev ev-${e.type}`, "data-type": e.type, "data-call": e.callId || null, "data-step": e.id ? String(e.id) : null },
      h("span", { class: "at muted small", title: new Date(e.timestamp).toLocaleString() }, `+${duration(Math.max(0, e.timestamp - this.start))}`),
      h("span", { class: "kind" }, label, e.id ? h("span", { class: "step muted small", title: "step (event id)" }, ` #${e.id}`) : null),
      h("span", { class: "sum" }, summary),
      forkable ? forkButton(this.executionId, e) : null,
      body.length ? h("details", null, h("summary", null, "details"), body) : null,
    );
  }

  joinCall(call, e) {
    const details = call.row.querySelector("details") || call.row.appendChild(h("details", null, h("summary", null, "details")));
    const sum = call.row.querySelector(".sum");
    if (e.type === "tool_result") {
      details.append(h("h4", null, "Result"), block(e.result));
      sum.append(h("span", { class: "ok small" }, " ✓ done"));
    } else if (e.type === "tool_retry") {
      call.attempts += 1;
      details.append(h("p", { class: "small" }, `Attempt ${call.attempts}: ${e.content}`));
      call.row.querySelector(".attempts").textContent = ` · attempts ${call.attempts}`;
    } else if (e.type === "approval") {
      const a = e.data || {};
      sum.append(h("span", { class: a.approved ? "ok small" : "error small" }, ` ${a.approved ? "approved" : "rejected"} by ${a.decidedBy} at ${when(a.decidedAt)}`));
      if (a.reason) details.append(h("p", { class: "small" }, `Reason: ${a.reason}`));
    } else if (e.type === "human_input") {
      const a = e.data || {};
      sum.append(h("span", { class: "ok small" }, ` answered by ${a.decidedBy} at ${when(a.decidedAt)}`));
      details.append(h("h4", null, "Answer"), block(e.result));
    }
  }
}

function describe(e, executionId) {
  const d = e.data || {};
  switch (e.type) {
    case "llm_call":
      return [
        d.purpose === "guardrail" ? "model (guardrail)" : "model call",
        `${d.model} · ${(d.promptTokens || 0) + (d.completionTokens || 0)} tokens (${d.promptTokens} in, ${d.completionTokens} out) · ${cost({ costUsd: d.costUsd })} · ${duration(d.latencyMs)}${d.finishReason ? ` · ${d.finishReason}` : ""}`,
        e.content ? [h("h4", null, "Reply"), block(e.content, "text")] : [],
      ];
    case "message":
      return ["message", short(e.content), [block(e.content, "text")]];
    case "thinking":
    case "plan":
      return [e.type, short(e.content), [block(e.content, "text")]];
    case "tool_call":
      return [
        "tool call",
        [h("strong", null, e.toolName), h("span", { class: "attempts muted small" }, "")],
        [
          h("p", { class: "small" }, "Call id: ", h("span", { class: "mono" }, e.callId)),
          h("p", { class: "small" }, "Idempotency key: ", h("span", { class: "mono" }, `${executionId}:${e.callId}`)),
          h("h4", null, "Arguments"),
          block(e.args || {}),
        ],
      ];
    case "tool_result":
      return ["tool result", e.toolName, [block(e.result)]];
    case "waiting":
      return ["waiting", e.content, e.pendingTool ? [block(e.pendingTool.parameters || {})] : []];
    case "approval":
      return ["approval", `${d.approved ? "approved" : "rejected"} by ${d.decidedBy} at ${when(d.decidedAt)}`, d.reason ? [h("p", null, d.reason)] : []];
    case "human_input":
      return ["answer", `by ${d.decidedBy} at ${when(d.decidedAt)}`, [block(e.result)]];
    case "selection":
      return ["selection", `${e.target ?? "end"} chosen by ${d.decidedBy}`, []];
    case "handoff":
      return ["handoff", `→ ${e.target}${d.reason ? ` (${d.reason})` : ""}`, []];
    case "guardrail_pass":
      return ["guardrail", `${e.guardrailName} passed (${d.position})`, []];
    case "guardrail_fail":
      return ["guardrail", `${e.guardrailName} failed (${d.position}, on fail: ${d.onFail})`, e.content ? [block(e.content, "text")] : []];
    case "error":
      return ["error", `${d.status || "FAILED"}: ${short(e.content || d.finishReason || "")}`, e.content ? [block(e.content, "text")] : []];
    case "done":
      return ["done", d.finishReason || "", e.output !== undefined ? [block(e.output)] : []];
    default:
      return [e.type.replace(/_/g, " "), short(e.content || e.toolName || e.target || ""), e.content && e.content.length > 120 ? [block(e.content, "text")] : []];
  }
}

function short(text) {
  const s = String(text ?? "");
  return s.length > 160 ? `${s.slice(0, 157)}…` : s;
}
