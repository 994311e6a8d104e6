// Approvals inbox: every execution waiting for a person, across agents, with the form to
// answer it in place.

import { api, query } from "./api.js";
import { block, h, when } from "./dom.js";
import { decisionForm } from "./form.js";

export async function inboxPage(el, signal) {
  const list = h("div", { id: "inbox" });
  const more = h("button", { type: "button", hidden: true }, "More");
  el.append(h("h1", null, "Approvals"), list, more);
  let cursor = "";

  async function load() {
    const page = await api(`/agent/waiting${query({ size: 50, cursor })}`, { signal });
    for (const item of page.results) list.append(card(item));
    if (!list.children.length) list.append(h("p", { class: "muted", id: "inbox-empty" }, "Nothing is waiting for a person."));
    cursor = page.nextCursor || "";
    more.hidden = !cursor;
  }
  more.onclick = load;
  await load();
}

function card(item) {
  const pending = item.pendingTool;
  const outcome = h("p", { class: "ok", role: "status" });
  const section = h(
    "section",
    { class: "card waiting", "data-execution": item.executionId },
    h(
      "h2",
      null,
      h("a", { href: `#/executions/${encodeURIComponent(item.executionId)}` }, item.agentName),
      " ",
      h("span", { class: "muted small mono" }, item.executionId),
    ),
    h("p", null, item.waitingReason || `waiting for ${pending.kind}`),
    h("p", { class: "muted small" }, `since ${when(item.updatedAt)} · kind ${pending.kind} · tool ${pending.tool_name}`),
    h("details", null, h("summary", null, "Arguments"), block(pending.parameters || {})),
  );
  section.append(
    decisionForm(item.executionId, pending, (body) => {
      section.classList.add("decided");
      for (const f of section.querySelectorAll("form")) f.remove();
      outcome.textContent = "approved" in body ? (body.approved ? "Approved." : "Rejected.") : "Answer sent.";
    }),
    outcome,
  );
  return section;
}
