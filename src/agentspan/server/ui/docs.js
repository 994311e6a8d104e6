// The API reference, rendered from this server's /api/openapi.json with no other assets:
// it works offline. Every operation lists its parameters, body, answers and problem codes.

import { append, block, clear, h } from "./dom.js";

const main = document.getElementById("main");

function ref(spec, schema) {
  let s = schema || {};
  for (let i = 0; s.$ref && i < 10; i++) s = s.$ref.split("/").slice(1).reduce((o, k) => (o || {})[k], spec) || {};
  return s;
}

function typeOf(spec, schema) {
  const s = schema || {};
  if (s.$ref) return s.$ref.split("/").pop();
  if (s.anyOf) return s.anyOf.map((x) => typeOf(spec, x)).join(" | ");
  if (s.type === "array") return `${typeOf(spec, s.items)}[]`;
  return s.type || "any";
}

function operation(spec, path, method, op) {
  const id = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, "-");
  const params = op.parameters || [];
  const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  const answers = Object.entries(op.responses || {});
  return h(
    "section",
    { class: "op", id },
    h("h2", null, h("span", { class: `method m-${method}` }, method.toUpperCase()), " ", h("span", { class: "mono" }, path)),
    op.summary ? h("p", null, op.summary) : null,
    op.description ? h("p", { class: "muted" }, op.description) : null,
    params.length
      ? h(
          "table",
          null,
          h("tr", null, h("th", null, "Parameter"), h("th", null, "In"), h("th", null, "Type"), h("th", null, "Required")),
          params.map((p) => h("tr", null, h("td", { class: "mono" }, p.name), h("td", null, p.in), h("td", null, typeOf(spec, p.schema)), h("td", null, p.required ? "yes" : ""))),
        )
      : null,
    body ? h("details", null, h("summary", null, `Body: ${typeOf(spec, body.schema)}`), block(ref(spec, body.schema))) : null,
    h(
      "table",
      null,
      h("tr", null, h("th", null, "Answer"), h("th", null, "Description")),
      answers.map(([code, r]) => h("tr", null, h("td", { class: "mono" }, code), h("td", null, r.description || ""))),
    ),
  );
}

async function render() {
  const res = await fetch("/api/openapi.json");
  const spec = await res.json();
  const ops = [];
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of ["get", "post", "put", "patch", "delete"]) if (item[method]) ops.push([path, method, item[method]]);
  }
  append(clear(main), [
    h("h1", null, `${spec.info.title} API ${spec.info.version}`),
    h("p", null, "Machine-readable: ", h("a", { href: "/api/openapi.json" }, "/api/openapi.json"), "."),
    h("details", null, h("summary", null, "Problem codes"), block(spec.info.description || "", "text")),
    h("nav", { "aria-label": "Operations" }, h("ul", null, ops.map(([p, m]) => h("li", null, h("a", { href: `#${`${m}-${p}`.replace(/[^A-Za-z0-9]+/g, "-")}` }, `${m.toUpperCase()} ${p}`))))),
    ops.map(([p, m, op]) => operation(spec, p, m, op)),
    h("h2", null, "Schemas"),
    Object.entries((spec.components || {}).schemas || {}).map(([name, s]) => h("details", { id: `schema-${name}` }, h("summary", { class: "mono" }, name), block(s))),
  ]);
}

render().catch((err) => {
  clear(main).append(h("p", { class: "error" }, `Could not load the API description: ${err.message}`));
});
