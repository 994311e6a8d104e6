"""API descriptions → operations: OpenAPI 3, Swagger 2 and Postman collections (v2.x).

Pure: a parsed JSON document and the URL it came from in, a list of ``Operation`` out
(one per method of each path, or per request of a collection, in document order), or
``DocumentError`` saying what is wrong. Each operation's parameters (path, query,
header, body) become one JSON input schema; ``{name}`` stays in the URL for the HTTP
executor to fill in. Local ``$ref``s are inlined to a bounded depth and size, so a
recursive or huge schema cannot blow up a start.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
"""OpenAPI's order of methods within a path (the order operations are listed in)."""
MAX_OPERATIONS = 5000
"""Operations read from one document at most (a bound on work, far above any cap)."""
_REF_DEPTH = 8
_SCHEMA_NODES = 5000
_DESCRIPTION_CHARS = 1024
_FORM = "application/x-www-form-urlencoded"
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_.-]+")
_POSTMAN_VAR = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


class DocumentError(ValueError):
    """The document is not an API description this server can read."""


@dataclass(slots=True)
class Operation:
    """One callable operation, ready to become an ``http`` tool."""

    name: str
    description: str
    method: str
    url: str
    input_schema: dict[str, Any]
    content_type: str = "application/json"
    query_params: list[str] = field(default_factory=list)
    header_params: list[str] = field(default_factory=list)
    body_param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """Fixed headers the description gives (Postman's per-request headers)."""


def document_format(doc: Any) -> str | None:
    """``openapi3``, ``swagger2``, ``postman`` or ``None`` (not an API description)."""
    if not isinstance(doc, dict):
        return None
    if str(doc.get("openapi", "")).startswith("3"):
        return "openapi3"
    if str(doc.get("swagger", "")).startswith("2"):
        return "swagger2"
    info = doc.get("info")
    postman = isinstance(info, dict) and (
        "_postman_id" in info or "getpostman.com" in str(info.get("schema"))
    )
    return "postman" if postman and isinstance(doc.get("item"), list) else None


def operations(doc: Any, doc_url: str) -> list[Operation]:
    """Every operation of ``doc`` (read from ``doc_url``), in document order, names unique."""
    kind = document_format(doc)
    if kind == "openapi3":
        found = _openapi3(doc, doc_url)
    elif kind == "swagger2":
        found = _swagger2(doc, doc_url)
    elif kind == "postman":
        found = _postman(doc)
    else:
        raise DocumentError("not an OpenAPI 3, Swagger 2 or Postman collection document")
    _unique_names(found)
    return found


# --- OpenAPI 3 and Swagger 2 ------------------------------------------------------------------


class _Refs:
    """Inlines local ``$ref``s (``#/components/...``, ``#/definitions/...``)."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.nodes = 0

    def resolve(self, node: Any, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > _SCHEMA_NODES or depth > _REF_DEPTH:
            return {}
        if isinstance(node, list):
            return [self.resolve(item, depth) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self.resolve(self._target(ref), depth + 1)
        return {k: self.resolve(v, depth) for k, v in node.items()}

    def _target(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return {}  # an external document: not fetched, the schema stays open
        node: Any = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise DocumentError(f"unresolvable $ref {ref!r}")
            node = node[part]
        return node


@dataclass(slots=True)
class _Inputs:
    """An operation's input schema as it is assembled."""

    properties: dict[str, Any] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    query: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    body_param: str | None = None
    content_type: str = "application/json"

    def add(self, name: str, schema: Any, description: str | None, required: bool) -> None:
        prop = dict(schema) if isinstance(schema, dict) else {}
        if description and "description" not in prop:
            prop["description"] = description[:_DESCRIPTION_CHARS]
        self.properties.setdefault(name, prop)
        if required and name not in self.required:
            self.required.append(name)

    def add_body(self, schema: Any, required: bool) -> None:
        schema = schema if isinstance(schema, dict) else {}
        props = schema.get("properties")
        if isinstance(props, dict) and schema.get("type", "object") == "object":
            wanted = schema.get("required") if isinstance(schema.get("required"), list) else []
            for name, prop in props.items():
                self.add(str(name), prop, None, name in wanted)
        else:
            self.body_param = "body"
            self.add("body", schema, "The request body.", required)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "properties": self.properties}
        if self.required:
            out["required"] = self.required
        return out


def _parameter(inputs: _Inputs, param: Any, refs: _Refs, swagger: bool) -> None:
    param = refs.resolve(param)
    if not isinstance(param, dict) or not isinstance(param.get("name"), str):
        return
    name, where = param["name"], param.get("in")
    description = param.get("description") if isinstance(param.get("description"), str) else None
    if where == "body":  # Swagger 2 only
        inputs.add_body(param.get("schema"), bool(param.get("required")))
        return
    if swagger:
        schema = {k: param[k] for k in ("type", "format", "items", "enum", "default") if k in param}
    else:
        schema = param.get("schema", {})
    if where == "formData":
        inputs.content_type = _FORM
    elif where == "query":
        inputs.query.append(name)
    elif where == "header":
        inputs.headers.append(name)
    elif where != "path":
        return  # cookies are not sent
    inputs.add(name, schema, description, where == "path" or bool(param.get("required")))


def _merged_params(item: dict[str, Any], op: dict[str, Any], refs: _Refs) -> list[Any]:
    """Path-level then operation-level parameters; the operation's own one replaces a
    path-level one of the same name and location."""
    shared, own = _list(item.get("parameters")), _list(op.get("parameters"))
    merged: dict[Any, Any] = {}
    for param in (refs.resolve(p) for p in [*shared, *own]):
        if isinstance(param, dict):
            merged[(param.get("name"), param.get("in"))] = param
    return list(merged.values())


def _paths(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        raise DocumentError("the document has no 'paths'")
    found = []
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                found.append((str(path), method, item, op))
                if len(found) >= MAX_OPERATIONS:
                    return found
    return found


def _describe(op: dict[str, Any], method: str, path: str) -> str:
    for key in ("summary", "description"):
        text = op.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()[:_DESCRIPTION_CHARS]
    return f"{method.upper()} {path}"


def _operation(base: str, path: str, method: str, op: dict[str, Any], inputs: _Inputs) -> Operation:
    op_id = op.get("operationId")
    return Operation(
        name=str(op_id) if isinstance(op_id, str) and op_id else f"{method}_{path.strip('/')}",
        description=_describe(op, method, path),
        method=method.upper(),
        url=base.rstrip("/") + "/" + path.lstrip("/"),
        input_schema=inputs.schema(),
        content_type=inputs.content_type,
        query_params=inputs.query,
        header_params=inputs.headers,
        body_param=inputs.body_param,
    )


def _openapi3(doc: dict[str, Any], doc_url: str) -> list[Operation]:
    refs = _Refs(doc)
    base = _openapi3_base(doc, doc_url)
    found = []
    for path, method, item, op in _paths(doc):
        refs.nodes = 0
        inputs = _Inputs()
        for param in _merged_params(item, op, refs):
            _parameter(inputs, param, refs, swagger=False)
        body = refs.resolve(op.get("requestBody"))
        if isinstance(body, dict) and isinstance(body.get("content"), dict):
            content_type, schema = _body_content(body["content"])
            if content_type == _FORM:
                inputs.content_type = _FORM
            inputs.add_body(schema, bool(body.get("required")))
        found.append(_operation(base, path, method, op, inputs))
    return found


def _body_content(content: dict[str, Any]) -> tuple[str, Any]:
    for content_type, media in content.items():
        if "json" in str(content_type) and isinstance(media, dict):
            return "application/json", media.get("schema", {})
    media = content.get(_FORM)
    if isinstance(media, dict):
        return _FORM, media.get("schema", {})
    first = _dict(next(iter(content.values()), {}))
    return "application/json", first.get("schema", {})


def _openapi3_base(doc: dict[str, Any], doc_url: str) -> str:
    servers = doc.get("servers")
    server = servers[0] if isinstance(servers, list) and servers and isinstance(servers[0], dict) else {}
    url = str(server.get("url") or "/")
    for name, var in _dict(server.get("variables")).items():
        if isinstance(var, dict) and "default" in var:
            url = url.replace("{" + str(name) + "}", str(var["default"]))
    return urljoin(doc_url, url)


def _swagger2(doc: dict[str, Any], doc_url: str) -> list[Operation]:
    refs = _Refs(doc)
    origin = urlsplit(doc_url)
    schemes = doc.get("schemes")
    scheme = str(schemes[0]) if isinstance(schemes, list) and schemes else origin.scheme
    host = str(doc.get("host") or origin.netloc)
    base = urlunsplit((scheme, host, str(doc.get("basePath") or "/"), "", ""))
    found = []
    for path, method, item, op in _paths(doc):
        refs.nodes = 0
        inputs = _Inputs()
        for param in _merged_params(item, op, refs):
            _parameter(inputs, param, refs, swagger=True)
        found.append(_operation(base, path, method, op, inputs))
    return found


# --- Postman -----------------------------------------------------------------------------------


def _postman(doc: dict[str, Any]) -> list[Operation]:
    variables = {
        str(v["key"]): str(v.get("value", ""))
        for v in _list(doc.get("variable"))
        if isinstance(v, dict) and "key" in v
    }
    found: list[Operation] = []
    _postman_items(doc.get("item", []), variables, found, depth=0)
    return found


def _postman_items(items: Any, variables: dict[str, str], found: list[Operation], depth: int) -> None:
    if not isinstance(items, list) or depth > 16:
        return
    for item in items:
        if len(found) >= MAX_OPERATIONS:
            return
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("item"), list):
            _postman_items(item["item"], variables, found, depth + 1)
        elif "request" in item:
            op = _postman_request(item, variables)
            if op is not None:
                found.append(op)


def _postman_request(item: dict[str, Any], variables: dict[str, str]) -> Operation | None:
    request = item["request"]
    if isinstance(request, str):
        request = {"url": request}
    if not isinstance(request, dict):
        return None
    inputs = _Inputs()
    url = _postman_url(request.get("url"), variables, inputs)
    if not url:
        return None
    method = str(request.get("method") or "GET").upper()
    headers = {}
    for header in request.get("header") or []:
        if isinstance(header, dict) and not header.get("disabled") and "key" in header:
            value = _fill(str(header.get("value", "")), variables)
            if "{{" not in value:
                headers[str(header["key"])] = value
    _postman_body(request.get("body"), inputs)
    description = request.get("description") or item.get("name") or f"{method} {url}"
    if isinstance(description, dict):
        description = description.get("content", "")
    return Operation(
        name=str(item.get("name") or f"{method}_{url}"),
        description=str(description)[:_DESCRIPTION_CHARS],
        method=method,
        url=url,
        input_schema=inputs.schema(),
        content_type=inputs.content_type,
        query_params=inputs.query,
        body_param=inputs.body_param,
        headers=headers,
    )


def _fill(text: str, variables: dict[str, str]) -> str:
    return _POSTMAN_VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def _postman_url(url: Any, variables: dict[str, str], inputs: _Inputs) -> str:
    if isinstance(url, dict):
        raw = str(url.get("raw") or "")
        queries = _list(url.get("query"))
    else:
        raw, queries = str(url or ""), []
    raw = _fill(raw.split("?", 1)[0], variables)
    if "{{" in raw or not raw:
        return ""
    if "://" not in raw:
        raw = "https://" + raw

    def path_param(match: re.Match[str]) -> str:
        inputs.add(match.group(1), {"type": "string"}, None, True)
        return "{" + match.group(1) + "}"

    raw = re.sub(r"(?<=/):([A-Za-z_][A-Za-z0-9_]*)", path_param, raw)
    for query in queries:
        if isinstance(query, dict) and not query.get("disabled") and "key" in query:
            name = str(query["key"])
            inputs.query.append(name)
            description = query.get("description")
            inputs.add(name, {"type": "string"}, description if isinstance(description, str) else None, False)
    return raw


def _postman_body(body: Any, inputs: _Inputs) -> None:
    if not isinstance(body, dict):
        return
    mode = body.get("mode")
    if mode in ("urlencoded", "formdata"):
        inputs.content_type = _FORM
        for entry in body.get(mode) or []:
            if isinstance(entry, dict) and "key" in entry and not entry.get("disabled"):
                inputs.add(str(entry["key"]), {"type": "string"}, None, False)
    elif mode == "raw":
        try:
            sample = json.loads(str(body.get("raw") or ""))
        except ValueError:
            inputs.add_body({"type": "string"}, False)
            return
        inputs.add_body(_schema_of_sample(sample), False)


def _schema_of_sample(value: Any, depth: int = 0) -> dict[str, Any]:
    if depth > _REF_DEPTH:
        return {}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": _schema_of_sample(value[0], depth + 1) if value else {}}
    if isinstance(value, dict):
        props = {str(k): _schema_of_sample(v, depth + 1) for k, v in value.items()}
        return {"type": "object", "properties": props}
    return {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# --- names -------------------------------------------------------------------------------------


def _unique_names(found: list[Operation]) -> None:
    """Tool names the wire accepts (letters, digits, ``_.-``, 1-128), unique in order."""
    seen: set[str] = set()
    for op in found:
        base = _NAME_CHARS.sub("_", op.name).strip("_")[:120] or "operation"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        op.name = name
