"""Send one request described as in cases.json / parity-steps.json (stdlib only).

A request is a dict with "method", "path", and optionally "query" (raw query
string), "headers", "cookies" and "body", one of:
  {"json": value}
  {"raw": "text", "content_type": "..."}       (content_type optional)
  {"form": {name: value}}
  {"multipart": {"fields": {name: value},
                 "files": {name: {"filename", "content", "content_type"}}}}
"""

import http.client
import json
import urllib.parse
import uuid

TIMEOUT = 10  # seconds, for every request


def encode_body(body: dict | None) -> tuple[bytes | None, str | None]:
    """Return (bytes, content type) for a body description."""
    if body is None:
        return None, None
    if "json" in body:
        return json.dumps(body["json"]).encode(), "application/json"
    if "raw" in body:
        return body["raw"].encode(), body.get("content_type")
    if "form" in body:
        return urllib.parse.urlencode(body["form"]).encode(), "application/x-www-form-urlencoded"
    if "multipart" in body:
        return _multipart(body["multipart"])
    raise ValueError(f"unknown body form: {sorted(body)}")


def _multipart(spec: dict) -> tuple[bytes, str]:
    boundary = "parity-" + uuid.uuid4().hex
    parts = []
    for name, value in spec.get("fields", {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + str(value).encode() + b"\r\n")
    for name, f in spec.get("files", {}).items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{f["filename"]}"\r\n'
                f'Content-Type: {f.get("content_type", "application/octet-stream")}\r\n\r\n')
        parts.append(head.encode() + f["content"].encode() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def send(base: str, req: dict, path: str | None = None) -> tuple[int, object]:
    """Send `req` to `base` (http://127.0.0.1:PORT); return (status, parsed JSON or text).

    `path` overrides req["path"] (used once placeholders are filled in).
    """
    url = urllib.parse.urlsplit(base)
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"loopback addresses only, got {base}")
    target = path or req["path"]
    if req.get("query"):
        target += "?" + req["query"]
    headers = dict(req.get("headers", {}))
    if req.get("cookies"):
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in req["cookies"].items())
    data, content_type = encode_body(req.get("body"))
    if content_type:
        headers["Content-Type"] = content_type
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
    try:
        conn.request(req["method"], target, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw) if raw else None
    except ValueError:
        return resp.status, raw.decode(errors="replace")
