// The answer form of a waiting execution, generated from its pendingTool.response_schema.
// It names the call it answers (taskRefName), so the server's compare-and-set refuses a
// second answer to the same question (409 already_decided) instead of applying both.

import { api } from "./api.js";
import { h, problemText } from "./dom.js";

let serial = 0;

export function decisionForm(executionId, pending, onDone) {
  const schema = pending.response_schema || { type: "object", properties: { approved: { type: "boolean" } } };
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  const approval = "approved" in props && pending.kind !== "human";
  const fields = Object.entries(props)
    .filter(([name]) => !(approval && name === "approved"))
    .map(([name, prop]) => field(name, prop, required.has(name) && !approval));
  const status = h("p", { class: "error", role: "alert" });
  const buttons = approval
    ? [
        h("button", { type: "submit", class: "primary", value: "approve", "data-action": "approve" }, "Approve"),
        h("button", { type: "submit", class: "danger", value: "reject", "data-action": "reject" }, "Reject"),
      ]
    : [h("button", { type: "submit", class: "primary", "data-action": "respond" }, "Send answer")];
  const form = h("form", { class: "decision" }, fields.map((f) => f.node), h("div", { class: "actions" }, buttons), status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { taskRefName: pending.taskRefName };
    try {
      for (const f of fields) {
        const value = f.read();
        if (value !== undefined) body[f.name] = value;
      }
    } catch (err) {
      status.textContent = err.message;
      return;
    }
    if (approval) body.approved = e.submitter ? e.submitter.value === "approve" : true;
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    try {
      await api(`/agent/${encodeURIComponent(executionId)}/respond`, { method: "POST", body });
      status.textContent = "";
      onDone(body);
    } catch (err) {
      status.textContent = problemText(err);
      for (const b of form.querySelectorAll("button")) b.disabled = false;
    }
  });
  return form;
}

function field(name, prop, required) {
  const id = `f${++serial}-${name}`;
  const label = h("label", { for: id }, prop.title || name, required ? " *" : "");
  const hint = prop.description ? h("span", { class: "muted small" }, prop.description) : null;
  const types = [].concat(prop.type || []);
  let input;
  let read;
  if (Array.isArray(prop.enum)) {
    input = h("select", { id, name, required }, prop.enum.map((v) => h("option", { value: JSON.stringify(v) }, v === null ? "(none)" : String(v))));
    read = () => JSON.parse(input.value);
  } else if (types.includes("boolean")) {
    input = h("input", { id, name, type: "checkbox" });
    read = () => input.checked;
  } else if (types.includes("integer") || types.includes("number")) {
    input = h("input", { id, name, type: "number", step: types.includes("integer") ? "1" : "any", required });
    read = () => (input.value === "" ? undefined : Number(input.value));
  } else if (types.includes("string")) {
    input = h("textarea", { id, name, rows: 2, required });
    read = () => (input.value === "" && !required ? undefined : input.value);
  } else {
    input = h("textarea", { id, name, rows: 3, required, placeholder: "JSON" });
    read = () => {
      if (input.value.trim() === "") return undefined;
      try {
        return JSON.parse(input.value);
      } catch {
        throw new Error(`${name}: not valid JSON`);
      }
    };
  }
  return { name, read, node: h("div", { class: "field" }, label, input, hint) };
}
