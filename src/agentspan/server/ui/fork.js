// "Run again from here": a model call step of the timeline forks the execution there
// (POST /api/agent/{id}/fork). The new execution copies every step before it, makes that
// model call again with the instructions and model given here, and the page moves to it.

import { api } from "./api.js";
import { h, problemText } from "./dom.js";

let forms = 0;

export function forkButton(executionId, event) {
  const button = h("button", { type: "button", class: "small fork", "data-step": String(event.id) }, "Run again from here");
  button.onclick = () => {
    button.hidden = true;
    button.after(forkForm(executionId, event, () => (button.hidden = false)));
  };
  return button;
}

function forkForm(executionId, event, closed) {
  const n = ++forms;
  const model = (event.data && event.data.model) || "";
  const instructions = h("textarea", { id: `fork-instructions-${n}`, name: "instructions", rows: 3, placeholder: "Leave empty to keep the agent's instructions" });
  const modelInput = h("input", { id: `fork-model-${n}`, name: "model", type: "text", value: model, placeholder: "provider/model" });
  const status = h("span", { class: "small", role: "status" });
  const submit = h("button", { type: "submit" }, `Fork at step ${event.id}`);
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h(
    "form",
    { class: "fork-form", "aria-label": `Run again from step ${event.id}` },
    h("p", { class: "small muted" }, `A new execution gets the steps before #${event.id} copied (nothing before it runs again) and makes this model call again.`),
    h("div", { class: "field" }, h("label", { for: instructions.id }, "Instructions (optional)"), instructions),
    h("div", { class: "field" }, h("label", { for: modelInput.id }, "Model"), modelInput),
    h("div", { class: "actions" }, submit, cancel, status),
  );
  cancel.onclick = () => {
    form.remove();
    closed();
  };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    status.textContent = " forking…";
    const body = { fromStep: event.id };
    if (instructions.value.trim()) body.instructions = instructions.value;
    if (modelInput.value.trim() && modelInput.value.trim() !== model) body.model = modelInput.value.trim();
    try {
      const made = await api(`/agent/${encodeURIComponent(executionId)}/fork`, { method: "POST", body });
      location.hash = `#/executions/${encodeURIComponent(made.executionId)}`;
    } catch (err) {
      status.textContent = "";
      status.append(h("span", { class: "error" }, ` ${problemText(err)}`));
      submit.disabled = false;
    }
  };
  return form;
}
