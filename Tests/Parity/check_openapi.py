#!/usr/bin/env python3
"""Check that a service's /openapi.json is valid OpenAPI 3.1 and true to its answers.

  check_openapi.py --base http://127.0.0.1:PORT --steps FILE.json [--bearer TOKEN]

The document is validated with openapi-spec-validator. Then each step is sent:
  {"method", "path", "query"?, "headers"?, "cookies"?, "body"?, "expect": status,
   "save"?: {"name": "/json/pointer" or "dotted.key"}, "auth"?: true}
`{name}` in a path or query is replaced by a value saved by an earlier step. A step with
`"auth": true` is sent with `Authorization: Bearer TOKEN` (--bearer); the others without it.
Each response must have the expected status, that status must be documented for
the operation, and its JSON body must match the documented application/json
schema (JSON Schema 2020-12, refs resolved against the whole document).
Exit status: 1 on any failure, 0 otherwise.
"""

import argparse
import json
import re
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from venv_bootstrap import ensure_venv  # noqa: E402

ensure_venv()

from jsonschema import Draft202012Validator  # noqa: E402
from openapi_spec_validator import OpenAPIV31SpecValidator  # noqa: E402
from referencing import Registry, Resource  # noqa: E402
from referencing.jsonschema import DRAFT202012  # noqa: E402

from httpcase import send  # noqa: E402

DOC_URI = "urn:openapi-document"
JSON_TYPES = ("application/json", "application/problem+json")


def escape(token: str) -> str:
    """Escape one JSON pointer token."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer_get(doc, pointer: str):
    """The value at a JSON pointer ("/a/b/0"), unescaping ~1 and ~0."""
    node = doc
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def openapi_errors(doc: dict) -> list[str]:
    """openapi-spec-validator's complaints about the document ([] when valid)."""
    messages = []
    try:
        for e in OpenAPIV31SpecValidator(doc).iter_errors():
            messages.append(f"{e.message[:300]} at {list(e.path)}")
    except Exception as exc:  # it can crash on a badly shaped document after reporting it
        messages.append(f"validator stopped: {type(exc).__name__}: {exc}")
    return messages


def find_template(doc: dict, method: str, path: str) -> str | None:
    """The documented path template matching a concrete path and method; literal segments win."""
    matches = []
    for template, item in doc.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            matches.append((template.count("{"), template))
    return min(matches)[1] if matches else None


def find_response(doc: dict, template: str, method: str, status: int) -> str | None:
    """JSON pointer of the response object documented for `status` (after one $ref hop)."""
    base = f"/paths/{escape(template)}/{method.lower()}/responses"
    responses = pointer_get(doc, base)
    for key in (str(status), f"{str(status)[0]}XX", "default"):
        if key in responses:
            pointer = f"{base}/{escape(key)}"
            ref = responses[key].get("$ref")
            return ref[1:] if ref and ref.startswith("#/") else pointer
    return None


def check_body(doc: dict, registry: Registry, response_ptr: str, body) -> list[str]:
    """Errors of `body` against the response's JSON schema; [] when it matches."""
    content = pointer_get(doc, response_ptr).get("content", {})
    media = next((m for m in JSON_TYPES if m in content), None)
    if media is None:
        return [] if body is None else [f"a body is sent but {response_ptr} documents no JSON content"]
    if "schema" not in content[media]:
        return []
    schema = {"$ref": f"{DOC_URI}#{response_ptr}/content/{escape(media)}/schema"}
    validator = Draft202012Validator(schema, registry=registry,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator.iter_errors(body)]


def extract(body, key: str):
    """A saved value: a JSON pointer when `key` starts with "/", else a dotted key path."""
    if key.startswith("/"):
        return pointer_get(body, key)
    node = body
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def fill(text: str, saved: dict) -> str:
    """Replace {name} placeholders with values saved by earlier steps."""
    def value(match: re.Match) -> str:
        if match.group(1) not in saved:
            raise ValueError(f"no saved value for {match.group(0)}")
        return str(saved[match.group(1)])
    return re.sub(r"\{(\w+)\}", value, text)


def run_step(doc: dict, registry: Registry, base: str, step: dict, saved: dict, bearer: str = "") -> list[str]:
    """Send one step and return its failures."""
    path = fill(step["path"], saved)
    req = dict(step, query=fill(step.get("query", ""), saved))
    if step.get("auth"):
        if not bearer:
            return ["the step needs a token (--bearer)"]
        req["headers"] = {**step.get("headers", {}), "Authorization": f"Bearer {bearer}"}
    status, body = send(base, req, path=path)
    failures = []
    if status != step["expect"]:
        failures.append(f"status {status}, expected {step['expect']}: {str(body)[:300]}")
    template = find_template(doc, step["method"], path)
    if template is None:
        return failures + [f"no operation documented for {step['method']} {path}"]
    response_ptr = find_response(doc, template, step["method"], status)
    if response_ptr is None:
        return failures + [f"status {status} is not documented for {step['method']} {template}"]
    failures += check_body(doc, registry, response_ptr, body)
    for name, key in step.get("save", {}).items():
        try:
            saved[name] = extract(body, key)
        except (KeyError, IndexError, TypeError, ValueError):
            failures.append(f"cannot save {name!r} from {key!r}")
    return failures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="service base URL, http://127.0.0.1:PORT")
    ap.add_argument("--steps", required=True, type=Path, help="steps JSON file")
    ap.add_argument("--bearer", default="", help='the token sent on the steps marked "auth": true')
    args = ap.parse_args()

    try:
        status, doc = send(args.base, {"method": "GET", "path": "/openapi.json"})
    except OSError as exc:
        print(f"FAIL  GET /openapi.json: {exc}")
        return 1
    if status != 200 or not isinstance(doc, dict):
        print(f"FAIL  GET /openapi.json: status {status}")
        return 1
    failed = 0
    if not str(doc.get("openapi", "")).startswith("3.1"):
        print(f"FAIL  openapi version is {doc.get('openapi')!r}, expected 3.1.x")
        failed += 1
    spec_errors = openapi_errors(doc)
    for message in spec_errors:
        print(f"FAIL  openapi-spec-validator: {message}")
    failed += len(spec_errors)
    if not spec_errors:
        print("ok    /openapi.json is valid OpenAPI 3.1")

    registry = Registry().with_resource(
        DOC_URI, Resource.from_contents(doc, default_specification=DRAFT202012))
    saved: dict = {}
    steps = json.loads(args.steps.read_text())
    for step in steps:
        label = f"{step['method']} {step['path']}" + (f"?{step['query']}" if step.get("query") else "") + \
            (" (with a token)" if step.get("auth") else "")
        try:
            failures = run_step(doc, registry, args.base, step, saved, args.bearer)
        except (OSError, ValueError) as exc:
            failures = [f"{type(exc).__name__}: {exc}"]
        if failures:
            failed += 1
            print(f"FAIL  {label} -> " + "; ".join(failures))
        else:
            print(f"ok    {label} -> {step['expect']} matches its documented schema")
    print(f"{len(steps)} steps, {failed} failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
