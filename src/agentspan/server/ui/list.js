// Executions: newest first, filtered by status, agent and free text, paged by keyset
// cursor (the server's nextCursor), so a deep page is as quick as the first.

import { api, query } from "./api.js";
import { badge, cost, duration, h, tokens, when } from "./dom.js";

const STATUSES = ["", "RUNNING", "PAUSED", "COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"];
const PAGE = 50;

export async function listPage(el, params, signal) {
  const filters = {
    status: params.get("status") || "",
    agentName: params.get("agent") || "",
    q: params.get("q") || "",
    includeChildren: params.get("children") === "1",
  };
  const cursors = [""]; // cursor of each page seen, to go back
  const form = filterForm(filters);
  const total = h("p", { class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const newer = h("button", { type: "button", id: "page-newer", disabled: true }, "← Newer");
  const older = h("button", { type: "button", id: "page-older", disabled: true }, "Older →");
  el.append(
    h("h1", null, "Executions"),
    form,
    total,
    h(
      "table",
      { class: "grid", id: "executions" },
      h("thead", null, h("tr", null, ["Status", "Agent", "Execution", "Started", "Duration", "Tokens", "Cost"].map((c) => h("th", { scope: "col" }, c)))),
      body,
    ),
    h("div", { class: "pager" }, newer, older),
  );

  async function load() {
    const cursor = cursors[cursors.length - 1];
    const page = await api(
      `/agent/executions${query({ ...filters, includeChildren: filters.includeChildren || undefined, size: PAGE, cursor })}`,
      { signal },
    );
    body.replaceChildren(...page.results.map(row));
    if (!page.results.length) body.append(h("tr", null, h("td", { colspan: 7, class: "muted" }, "No executions match.")));
    total.textContent = `${page.totalHits.toLocaleString()} execution${page.totalHits === 1 ? "" : "s"}`;
    newer.disabled = cursors.length === 1;
    older.disabled = !page.nextCursor;
    older.onclick = () => {
      cursors.push(page.nextCursor);
      load();
    };
  }
  newer.onclick = () => {
    cursors.pop();
    load();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = query({ status: data.get("status"), agent: data.get("agent"), q: data.get("q"), children: data.get("children") ? "1" : "" });
    location.hash = `#/executions${next}`;
  });
  await load();
}

function filterForm(f) {
  return h(
    "form",
    { class: "filters", role: "search" },
    h("label", null, "Status ", h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === f.status }, s || "any")))),
    h("label", null, "Agent ", h("input", { name: "agent", value: f.agentName, placeholder: "any agent", size: 16 })),
    h("label", null, "Search ", h("input", { name: "q", type: "search", value: f.q, placeholder: "id, agent or input", size: 24 })),
    h("label", null, h("input", { type: "checkbox", name: "children", checked: f.includeChildren }), " sub-executions"),
    h("button", { type: "submit", class: "primary" }, "Filter"),
  );
}

function row(x) {
  const ran = x.durationMs ?? (x.status === "RUNNING" || x.status === "PAUSED" ? Date.now() - x.createdAt * 1000 : null);
  return h(
    "tr",
    null,
    h("td", null, badge(x.status), x.waitingReason ? h("span", { class: "muted small", title: x.waitingReason }, " waiting") : null),
    h("td", null, x.agentName),
    h("td", null, h("a", { href: `#/executions/${encodeURIComponent(x.executionId)}`, class: "mono" }, x.executionId)),
    h("td", null, when(x.createdAt)),
    h("td", { class: "num" }, duration(ran)),
    h("td", { class: "num" }, tokens(x.tokenUsage)),
    h("td", { class: "num" }, cost(x.tokenUsage)),
  );
}
