// The UI's entry: routes by the URL's fragment and asks for an API key when the server
// answers 401. Pages: #/executions, #/executions/ID, #/inbox.

import { api, apiKey, onAuthNeeded, setApiKey } from "./api.js";
import { clear, h, problemText } from "./dom.js";
import { executionPage } from "./execution.js";
import { inboxPage } from "./inbox.js";
import { listPage } from "./list.js";

const main = document.getElementById("main");
const dialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("key-input");
const keyError = document.getElementById("key-error");
const keyButton = document.getElementById("key-button");
let current = null; // the page on screen: { stop() }

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(search || "");
  if (parts[0] === "executions" && parts[1]) return { page: "executions", render: (el, signal) => executionPage(el, parts[1], signal) };
  if (parts[0] === "inbox") return { page: "inbox", render: (el, signal) => inboxPage(el, signal) };
  return { page: "executions", render: (el, signal) => listPage(el, params, signal) };
}

async function show() {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const { page, render } = route();
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clear(main);
  try {
    await render(main, controller.signal);
  } catch (err) {
    if (controller.signal.aborted) return;
    clear(main);
    main.append(h("p", { class: "error", role: "alert" }, `Could not load this page: ${problemText(err)}`));
  }
  refreshInboxCount();
}

export async function refreshInboxCount() {
  const badge = document.getElementById("inbox-count");
  try {
    const waiting = await api("/agent/waiting?size=99");
    badge.textContent = waiting.results.length ? String(waiting.results.length) : "";
    badge.hidden = !waiting.results.length;
  } catch {
    badge.hidden = true;
  }
}

function askForKey(err) {
  if (dialog.open) return;
  keyError.textContent = apiKey() ? "That key was refused (unknown or revoked)." : "";
  keyInput.value = "";
  keyButton.hidden = false;
  dialog.showModal();
  keyInput.focus();
}

document.getElementById("key-form").addEventListener("submit", () => {
  setApiKey(keyInput.value.trim());
  show();
});
document.getElementById("key-forget").addEventListener("click", () => {
  setApiKey("");
  keyInput.value = "";
  keyError.textContent = "The key is forgotten.";
});
keyButton.addEventListener("click", () => askForKey(null));
onAuthNeeded(askForKey);
window.addEventListener("hashchange", show);
if (apiKey()) keyButton.hidden = false;
show();
