#!/usr/bin/env python3
"""A seeded generator of hostile HTTP requests, sent over raw loopback sockets (stdlib only).

  hostile_requests.py --port API --admin-port ADMIN [--seed 1] [--count 3000] [--time-limit 150]
                      [--kinds multipart,form,json,query,headers,cookies] [--case N] [--max-failures 1]
                      [--bearer TOKEN [--anonymous-share 0.25]]

Case N of seed S is built from `random.Random(f"{S}:{N}")` alone, so `--seed S --case N`
rebuilds and sends exactly that request again. The kinds:

  multipart  malformed and hostile multipart/form-data bodies for the upload route
             (POST /items/{id}/image, field `file`): bytes >= 0x80 and control bytes in part
             header names and values, missing, duplicated and embedded boundaries, odd boundary
             parameters, huge header lines, LF or no line ends, truncated parts, parts with no
             name, nested quotes, invalid UTF-8 in filenames and text fields, empty bodies, random
             byte edits; sent with Content-Length or chunked, in pieces split at random offsets.
  form       application/x-www-form-urlencoded bodies (bad percent-escapes, invalid UTF-8,
             repeated and huge keys, `+`, `%00`) for --form-path; the catalog has no form
             route, so by default they go to its body-reading routes (POST /items and the
             upload route), which must refuse them with 415 (or 413), never 5xx.
  json       odd JSON for POST /items, PATCH /items/{id} and POST /items/{id}/reserve: huge,
             tiny and malformed numbers, lone surrogates, NUL, invalid UTF-8, duplicate keys,
             nesting around the parser's limit, wide arrays, many keys, cut-off and non-UTF-8
             bodies, odd content types (schemathesis covers well-formed JSON).
  query      odd query strings and path ids for GET /items and GET /items/{id}; odd methods
             and request targets.
  headers    odd If-None-Match, traceparent, tracestate, X-Request-ID, Content-Length,
             Transfer-Encoding, Expect, Host and other headers on the same routes.
  cookies    odd Cookie headers on the same routes.

With --bearer, every case carries `Authorization: Bearer TOKEN` (so the bodies get past the
authentication of write routes and reach their parsers) except a share of them, --anonymous-share,
sent without it: the routes that need a token refuse those before reading the body, which must
not yield a 5xx or leave the connection out of step either. Whether case N goes without the token
is drawn from `random.Random(f"{S}:{N}:anonymous")`, apart from the case's own draws, so a case's
bytes are otherwise the same with or without --bearer. A headers case that sends an odd
Authorization header sends it alone.

About one body in seven is sent kept alive and followed by GET /items/{id} on the same
connection: the server must answer that GET (or close after its first answer), never read the
rest of a refused body as a new request.

After every request the answer must be well-formed HTTP (rawhttp.parse_responses), every
status must be below 500, a JSON body must parse, and GET /livez on the admin port must answer
200. Only requests whose HTTP framing is itself cut short (a Content-Length larger than what is
sent, then a half-close) may go unanswered. Each failure is printed with its seed, case number
and a file holding the exact bytes (--out); the run stops after --max-failures of them (1 by
default) or at once when the service is gone. Exit status 1 then, 0 when all passed, 2 when
the service was not usable at the start. The routes are options (the catalog's by default).
"""

import argparse
import copy
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import rawhttp  # noqa: E402

KINDS = ("multipart", "form", "json", "query", "headers", "cookies")
WEIGHTS = {"multipart": 44, "form": 12, "json": 12, "query": 12, "headers": 12, "cookies": 8}

HIGH = list(range(0x80, 0x100))
CONTROL = list(range(0x00, 0x20)) + [0x7F]
SEPARATORS = list(b'()<>@,;\\"/[]?={} \t')
INVALID_UTF8 = [b"\xff", b"\xfe", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xe2\x82", b"\xf0\x28\x8c\xbc",
                b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80",
                b"\x80", b"\xbf", b"\xc2", b"\xef\xbf\xbe"]
WEIRD_TEXT = [b"", b" ", b"\t", b"\"", b"'", b"\\", b";", b"=", b"%", b"%00", b"%ff", b"\x00", b"..", b"../..",
              b"\xe2\x82\xac", b"\xf0\x9f\x92\xa9", b"A" * 300, b"\r", b"\n", b"\r\n", b"*", b"{}", b"[]", b"null"]


class Case:
    """One request: the bytes (in the pieces they are sent in) and what was done to them."""

    def __init__(self, kind: str, notes: list[str], pieces: list[bytes], *, framed: bool = True, head: bool = False,
                 follow_up: bool = False):
        self.anonymous = False  # sent without the token although there is one (set by build)
        self.kind = kind
        self.notes = notes
        self.pieces = pieces
        self.framed = framed   # False: the HTTP framing promises more bytes than are sent
        self.head = head       # a HEAD request: the answers carry no body
        self.follow_up = follow_up  # kept alive and followed by GET /items/{id} on the same connection

    @property
    def data(self) -> bytes:
        return b"".join(self.pieces)


# --- small helpers -------------------------------------------------------------------------------

def insert(rng: random.Random, text: bytes, what: bytes) -> bytes:
    at = rng.randrange(len(text) + 1)
    return text[:at] + what + text[at:]


def some(rng: random.Random, pool: list[int], low: int = 1, high: int = 3) -> bytes:
    return bytes(rng.choice(pool) for _ in range(rng.randint(low, high)))


def split(rng: random.Random, data: bytes, most: int = 6) -> list[bytes]:
    """`data` cut at random offsets (each piece goes out in its own send)."""
    if len(data) < 2 or rng.random() < 0.4:
        return [data]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, most - 1))))
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def chunked(rng: random.Random, body: bytes) -> bytes:
    """`body` in chunked transfer coding, chunks of random sizes (some with extensions)."""
    out = bytearray()
    at = 0
    while at < len(body):
        size = rng.choice([1, 2, 3, 7, 16, 64, 255, 1024, 4096, 65536, len(body)])
        piece = body[at:at + size]
        at += len(piece)
        ext = b";ext=1" if rng.random() < 0.05 else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
    out += b"0\r\n\r\n"
    return bytes(out)


def random_bytes(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def head(method: bytes, target: bytes, port: int, headers: list[tuple[bytes, bytes | None]], close: bool = True) -> bytes:
    """A request head; a header whose value is None is sent as its name alone (no colon)."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1:%d" % port]
    lines += [name if value is None else name + b": " + value for name, value in headers]
    if close:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def follow_up_request(target: "Target") -> bytes:
    """The plain GET sent after a kept-alive hostile request: its answer shows the stream is in step."""
    return head(b"GET", target.item_path, target.port, [])


class Target:
    """The routes and credentials the cases are sent to."""

    def __init__(self, args: argparse.Namespace, item_id: int):
        self.port = args.port
        self.item_id = item_id
        self.list_path = args.list_path.encode()
        self.item_template = args.item_path.encode()
        self.item_path = self.item_template.replace(b"{id}", str(item_id).encode())
        self.upload_path = args.multipart_path.replace("{id}", str(item_id)).encode()
        self.field = args.multipart_field.encode()
        self.texts = [tuple(t.encode().split(b"=", 1)) for t in args.multipart_text]
        self.form_paths = [p.replace("{id}", str(item_id)).encode() for p in args.form_path] or \
            [(args.setup_path or args.list_path).encode(), self.upload_path]
        self.form_fields = [f.encode() for f in args.form_fields.split(",") if f]
        self.header_names = [h.encode() for h in args.header_names.split(",") if h]
        self.cookie_names = [c.encode() for c in args.cookie_names.split(",") if c]
        self.get_paths = [p.encode() for p in args.get_path]
        routes = args.json_route or ["POST /items", "PATCH /items/{id}", "POST /items/{id}/reserve"]
        self.json_routes = [tuple(r.replace("{id}", str(item_id)).encode().split(b" ", 1)) for r in routes]
        self.json_fields = [f.encode() for f in args.json_fields.split(",") if f]
        self.auth = [(b"Authorization", b"Bearer " + args.bearer.encode())] if args.bearer else []
        self.cut_short = not args.no_cut_short

    def without_token(self) -> "Target":
        """The same routes, with no credentials."""
        anonymous = copy.copy(self)
        anonymous.auth = []
        return anonymous


def with_body(rng: random.Random, target: Target, method: bytes, path: bytes, content_type: bytes | None,
              body: bytes, notes: list[str], kind: str) -> Case:
    """A request with `body`, framed by Content-Length (right, or too long) or chunked."""
    headers = list(target.auth)
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    roll = rng.random()
    framed = True
    if roll < 0.22:
        headers.append((b"Transfer-Encoding", b"chunked"))
        payload = chunked(rng, body)
        notes.append("chunked")
    elif roll < 0.25 and body and target.cut_short:
        # Framing cut short: more bytes promised than sent; the socket is then half-closed.
        headers.append((b"Content-Length", b"%d" % (len(body) + rng.randint(1, 1000))))
        payload = body
        framed = False
        notes.append("content-length too long, half-closed")
    else:
        headers.append((b"Content-Length", b"%d" % len(body)))
        payload = body
    # Kept alive, then a plain GET on the same connection: the server must answer it (or close
    # after its first answer), never read the rest of a refused body as a new request.
    follow_up = framed and rng.random() < 0.15
    data = head(method, path, target.port, headers, close=not follow_up) + payload
    if follow_up:
        data += follow_up_request(target)
        notes.append(f"kept alive, then GET {target.item_path.decode()}")
    return Case(kind, notes, split(rng, data), framed=framed, follow_up=follow_up)


# --- multipart -----------------------------------------------------------------------------------

DISPOSITIONS = [
    b'form-data; name="{f}"; filename="a.png"',
    b'form-data; name={f}; filename=a.png',
    b'form-data; name="fi"le"; filename="a.png"',
    b'form-data; name="\\"{f}\\""; filename="a.png"',
    b'form-data; name="{f}; filename="a.png"',
    b'form-data; name="{f}"; filename="a\\"b.png"',
    b'form-data; name="{f}"; filename="a"b".png"',
    b'form-data; name="{f}"; filename=""',
    b'form-data; name="{f}"; filename="""',
    b'form-data; name="{f}"; filename="\'"',
    b"form-data; name=\"{f}\"; filename*=UTF-8''%e2%82%ac.png",
    b"form-data; name=\"{f}\"; filename*=UTF-8''%ff%fe.png",
    b'form-data; name=""; filename="a.png"',
    b'form-data; filename="a.png"',
    b'form-data',
    b'form-data;',
    b'',
    b'attachment; name="{f}"; filename="a.png"',
    b'form-data; name="{f}"; name="other"; filename="a.png"',
    b'form-data; name="other"; name="{f}"; filename="a.png"',
    b'form-data;;;; name="{f}";;; filename="a.png";;',
    b'form-data; name="{f}"; filename="../../../../etc/passwd"',
    b'form-data; name="{f}"; filename="..\\..\\boot.ini"',
    b'form-data; name="{f}"; filename="/"',
    b'form-data; name="{f}"; filename="."',
    b'form-data; name="{f}"; filename=".."',
    b'form-data; name="{f}"; filename="a\x00b.png"',
    b'form-data; name="{f}"; filename="%00.png"',
    b'form-data; name="{f}"; filename="a.png"; filename="b.png"',
    b'FORM-DATA; NAME="{f}"; FILENAME="A.PNG"',
    b' form-data ; name = "{f}" ; filename = "a.png" ',
    b'form-data; name="{f}"; filename="a.png',
    b'form-data; name="{f}"; filename==a.png',
    b'form-data; name="{f}"; filename;',
    b'form-data; name="{f}"; filename',
    b'form-data; name="{f}"; filename="\xed\xa0\x80.png"',
    b'form-data; name="{f}"; filename="\xff\xfe.png"',
    b'form-data; name="\xff{f}"; filename="\xc3\x28"',
    b'form-data; name="{f}"; filename="\xe2\x82\xac\xf0\x9f\x92\xa9.png"',
    b'form-data; name="{f}"; filename="' + b"\xcc\x81" * 300 + b'"',
    b'form-data; name="{f}"; filename="a\tb\x01c\x7f.png"',
    b'form-data; name={f}; filename="a.png"; x="\\',
    b'form-data; name="{f}"; filename="a.png"; size=-1',
    b'form-data; name="{f}"; filename="a;b=c.png"',
    b'form-data; name="{f}" filename="a.png"',
    b'form-data; name*="{f}"; filename="a.png"',
]


def disposition(rng: random.Random, field: bytes) -> bytes:
    text = rng.choice(DISPOSITIONS).replace(b"{f}", field)
    if rng.random() < 0.1:
        text += b'; filename="' + b"A" * rng.choice([256, 1000, 70_000]) + b'"'
    if rng.random() < 0.08:
        text = text.replace(b"a.png", rng.choice(INVALID_UTF8) + b".png")
    return text


def mutate_header_name(rng: random.Random, name: bytes) -> tuple[bytes, str]:
    roll = rng.random()
    if roll < 0.55:
        return insert(rng, name, some(rng, HIGH)), "byte >= 0x80 in a part header name"
    if roll < 0.75:
        return insert(rng, name, some(rng, CONTROL)), "control byte in a part header name"
    if roll < 0.9:
        return insert(rng, name, some(rng, SEPARATORS)), "separator in a part header name"
    return b"", "empty part header name"


def mutate_header_value(rng: random.Random, value: bytes) -> tuple[bytes, str]:
    roll = rng.random()
    if roll < 0.35:
        return insert(rng, value, some(rng, HIGH, 1, 6)), "bytes >= 0x80 in a part header value"
    if roll < 0.6:
        return insert(rng, value, some(rng, [0, 1, 8, 11, 12, 27, 127])), "control bytes in a part header value"
    if roll < 0.7:
        return insert(rng, value, b"\r"), "bare CR in a part header value"
    if roll < 0.8:
        return insert(rng, value, b"\n"), "bare LF in a part header value"
    if roll < 0.9:
        return insert(rng, value, rng.choice(INVALID_UTF8)), "invalid UTF-8 in a part header value"
    return value + b" " * rng.choice([1, 100, 5000]), "trailing spaces in a part header value"


def part(field: bytes, filename: bytes | None, content_type: bytes | None, body: bytes) -> dict:
    disp = b'form-data; name="' + field + b'"' + (b'; filename="' + filename + b'"' if filename is not None else b"")
    headers = [[b"Content-Disposition", disp]]
    if content_type is not None:
        headers.append([b"Content-Type", content_type])
    return {"headers": headers, "body": body, "newline": b"\r\n", "delimiter": None, "sep": b": "}


def set_disposition(p: dict, value: bytes) -> None:
    """Sets the part's first header (its Content-Disposition) to `value`."""
    if p["headers"]:
        p["headers"][0][1] = value
    else:
        p["headers"].append([b"Content-Disposition", value])


def multipart_case(rng: random.Random, target: Target) -> Case:
    notes: list[str] = []
    boundary = rng.choice([b"fuzzboundary", b"----WebKitFormBoundary7MA4YWxkTrZu0gW", b"x", b"a b", b"=_",
                           b"-", b"--", b"'()+_,-./:=?", b"0" * 70, b"B" * rng.choice([71, 200, 4000])])
    png = b"\x89PNG\r\n\x1a\n" + random_bytes(rng, rng.choice([0, 1, 16, 300, 5000]))
    parts = [part(target.field, b"a.png", b"image/png", png)] + [part(name, None, None, value) for name, value in target.texts]
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        parts.insert(rng.randrange(len(parts) + 1), part(b"note", None, None, rng.choice(WEIRD_TEXT)))
    preamble = rng.choice([b"", b"", b"", b"preamble\r\n", b"\r\n", random_bytes(rng, 40)])
    epilogue = rng.choice([b"\r\n", b"\r\n", b"", b"epilogue", b"\r\n--" + boundary + b"--\r\n", random_bytes(rng, 30)])
    closing = True
    ct_boundary = b"boundary=" + boundary
    content_type = b"multipart/form-data; " + ct_boundary
    length_hint = 0

    operators = [
        "header-name", "header-name", "header-name", "header-value", "disposition", "filename-utf8",
        "text-utf8", "no-name", "duplicate-file", "file-as-text", "missing-start", "missing-close",
        "duplicate-boundary", "boundary-in-body", "boundary-prefix-in-body", "close-first",
        "content-type", "huge-header-line", "many-headers", "many-parts", "newlines", "truncate",
        "empty-body", "header-no-colon", "folded-header", "no-headers", "byte-edits", "byte-edits",
        "wrong-boundary", "duplicate-disposition", "colon-spacing", "huge-part-count-of-names",
    ]
    chosen = [rng.choice(operators) for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4]))]
    chosen.sort(key=lambda op: op == "empty-body")  # it removes the parts the others change
    for op in chosen:
        if not parts:
            break
        p = rng.choice(parts)
        if op in ("header-name", "header-value") and not p["headers"]:
            set_disposition(p, b'form-data; name="' + target.field + b'"; filename="a.png"')
        if op == "header-name":
            header = rng.choice(p["headers"])
            header[0], note = mutate_header_name(rng, header[0])
            notes.append(note)
        elif op == "header-value":
            header = rng.choice(p["headers"])
            header[1], note = mutate_header_value(rng, header[1] or b"")
            notes.append(note)
        elif op == "disposition":
            set_disposition(p, disposition(rng, target.field))
            notes.append("odd Content-Disposition")
        elif op == "filename-utf8":
            set_disposition(p, b'form-data; name="' + target.field + b'"; filename="' +
                            rng.choice(INVALID_UTF8) + b"x" + rng.choice(INVALID_UTF8) + b'.png"')
            notes.append("invalid UTF-8 in the filename")
        elif op == "text-utf8":
            parts.append(part(b"note", None, rng.choice([None, b"text/plain; charset=utf-8"]),
                              b"".join(rng.choice(INVALID_UTF8) for _ in range(rng.randint(1, 20)))))
            notes.append("invalid UTF-8 in a text field")
        elif op == "no-name":
            set_disposition(p, rng.choice([b"form-data", b'form-data; filename="a.png"', b"form-data; name",
                                           b"form-data; name=", b'form-data; name=""']))
            notes.append("a part with no name")
        elif op == "duplicate-file":
            parts.append(part(target.field, b"b.png", b"image/png", b"second"))
            notes.append("the file field twice")
        elif op == "file-as-text":
            parts[0] = part(target.field, None, None, rng.choice(WEIRD_TEXT + [png]))
            notes.append("the file field as a text field")
        elif op == "missing-start":
            preamble = b"no delimiter here\r\n"
            parts[0]["delimiter"] = b""
            notes.append("no opening delimiter")
        elif op == "missing-close":
            closing = False
            epilogue = rng.choice([b"", b"\r\n", b"--"])
            notes.append("no closing delimiter")
        elif op == "duplicate-boundary":
            p["delimiter"] = (b"--" + boundary + b"\r\n") * rng.randint(2, 5)
            notes.append("a delimiter repeated")
        elif op == "boundary-in-body":
            at = rng.randrange(len(p["body"]) + 1)
            p["body"] = p["body"][:at] + rng.choice([b"\r\n--" + boundary, b"--" + boundary, b"\r\n--" + boundary + b"x",
                                                     b"\r\n--" + boundary + b"--", b"\n--" + boundary + b"\r\n"]) + p["body"][at:]
            notes.append("the boundary inside a part body")
        elif op == "boundary-prefix-in-body":
            cut = rng.randint(1, len(boundary) + 3)
            p["body"] = p["body"] + (b"\r\n--" + boundary)[:cut] * rng.randint(1, 50)
            notes.append("prefixes of the delimiter inside a part body")
        elif op == "close-first":
            preamble = b"--" + boundary + b"--\r\n"
            notes.append("the closing delimiter first")
        elif op == "content-type":
            content_type = rng.choice([
                b"multipart/form-data", b"multipart/form-data; boundary=", b'multipart/form-data; boundary=""',
                b'multipart/form-data; boundary="' + boundary + b'"', b'multipart/form-data; boundary="',
                b"multipart/form-data; boundary=" + boundary + b"; boundary=other",
                b"multipart/form-data; BOUNDARY=" + boundary, b"MULTIPART/FORM-DATA; boundary=" + boundary,
                b"multipart/mixed; boundary=" + boundary, b"multipart/form-data;boundary=" + boundary + b";",
                b"multipart/form-data; charset=utf-8; boundary=" + boundary,
                b"multipart/form-data; boundary=" + boundary + b"\xff", b"multipart/form-data; boundary=\xff\xfe",
                b"multipart/form-data; boundary= " + boundary, b"multipart/form-data; boundary==" + boundary,
                b"multipart/form-data; boundary=" + b"x" * 5000, b"multipart/form-data; =",
                b"multipart/form-data; boundary=" + boundary + b" ; x", b"multipart/form-data ; boundary = " + boundary,
                b"multipart/form-data; boundary=\"a\\\"b\"", b"multipart/form-data; boundary=;",
                b"multipart/form-data\x00; boundary=" + boundary, b"text/plain; boundary=" + boundary, None,
            ])
            notes.append(f"Content-Type {content_type[:60]!r}" if content_type else "no Content-Type")
        elif op == "huge-header-line":
            size = rng.choice([8_000, 70_000, 300_000, 1_100_000])
            length_hint += size
            if rng.random() < 0.5:
                p["headers"].append([b"X-Huge", b"v" * size])
            else:
                p["headers"].append([b"X-" + b"n" * size, b"v"])
            notes.append(f"a {size}-byte part header line")
        elif op == "many-headers":
            count = rng.choice([100, 1000, 20_000])
            p["headers"] += [[b"X-H%d" % i, b"v"] for i in range(count)]
            notes.append(f"{count} part headers")
        elif op == "many-parts":
            count = rng.choice([100, 1000, 3000])  # more is a slow request, not a new one (see docs)
            parts += [part(b"n%d" % (i % 7), None, None, b"v") for i in range(count)]
            notes.append(f"{count} extra parts")
        elif op == "huge-part-count-of-names":
            count = rng.choice([200, 1000])
            parts += [part(target.field, b"f%d.png" % i, b"image/png", b"x") for i in range(count)]
            notes.append(f"{count} file parts under the file field")
        elif op == "newlines":
            newline = rng.choice([b"\n", b"\r", b"", b"\r\r\n", b"\n\r"])
            for q in rng.sample(parts, rng.randint(1, len(parts))):
                q["newline"] = newline
            notes.append(f"part lines end with {newline!r}")
        elif op == "truncate":
            closing = False
            epilogue = b""
            p = parts[-1]
            where = rng.choice(["header", "body", "delimiter"])
            if where == "header":
                p["cut"] = rng.randint(1, 40)
            elif where == "body":
                p["body"] = p["body"][: rng.randint(0, len(p["body"]))]
            else:
                parts.append({"headers": [], "body": b"", "newline": b"", "sep": b": ",
                              "delimiter": (b"--" + boundary)[: rng.randint(1, len(boundary) + 2)], "raw": True})
            notes.append(f"the last part cut off in its {where}")
        elif op == "empty-body":
            parts = []
            closing = rng.random() < 0.3
            preamble = rng.choice([b"", b"", b"\r\n", b"--", b"--\r\n"])
            epilogue = b""
            notes.append("an empty body" if not closing else "only the closing delimiter")
        elif op == "header-no-colon":
            p["headers"].insert(rng.randint(0, len(p["headers"])), [b"NoColonHere", None])
            notes.append("a part header line without a colon")
        elif op == "folded-header":
            p["headers"].append([b"X-Folded", b"first\r\n continued\r\n\tagain"])
            notes.append("a folded part header")
        elif op == "no-headers":
            p["headers"] = []
            notes.append("a part with no headers")
        elif op == "wrong-boundary":
            content_type = b"multipart/form-data; boundary=" + boundary + b"X"
            notes.append("the body's boundary differs from the declared one")
        elif op == "duplicate-disposition":
            p["headers"].append([b"Content-Disposition", b'form-data; name="other"'])
            notes.append("two Content-Disposition headers")
        elif op == "colon-spacing":
            p["sep"] = rng.choice([b":", b" : ", b"::", b":\t\t", b"\t:"])
            notes.append(f"part headers separated by {p['sep']!r}")

    out = bytearray(preamble)
    for p in parts:
        nl = p["newline"]
        delimiter = p["delimiter"] if p["delimiter"] is not None else b"--" + boundary + nl
        out += delimiter
        if p.get("raw"):
            continue
        lines = bytearray()
        for name, value in p["headers"]:
            lines += (name if value is None else name + p["sep"] + value) + nl
        lines += nl
        if "cut" in p:
            out += bytes(lines)[: min(p["cut"], len(lines))]
            continue
        out += lines + p["body"] + nl
    if closing:
        out += b"--" + boundary + b"--"
    out += epilogue
    body = bytes(out)
    if "byte-edits" in chosen and body:
        edited = bytearray(body)
        for _ in range(rng.randint(1, 12)):
            action = rng.random()
            at = rng.randrange(len(edited) + 1)
            if action < 0.4 and at < len(edited):
                edited[at] = rng.randrange(256)
            elif action < 0.7:
                edited[at:at] = bytes([rng.choice(HIGH + CONTROL + list(b"\r\n-:;\"="))])
            elif at < len(edited):
                del edited[at:at + rng.randint(1, 8)]
        body = bytes(edited)
        notes.append("random byte edits")
    if not notes:
        notes.append("well-formed")
    return with_body(rng, target, b"POST", target.upload_path, content_type, body, notes, "multipart")


# --- form ----------------------------------------------------------------------------------------

FORM_ESCAPES = [b"%", b"%%", b"%G1", b"%4", b"%4g", b"%zz", b"%ff", b"%fe%ff", b"%c3%28", b"%e2%82", b"%c0%af",
                b"%ed%a0%80", b"%f4%90%80%80", b"%00", b"%0d%0a", b"+", b"++", b"%2B", b"%20", b"%3D", b"%26",
                b"%25", b"%u0041", b"%E2%82%AC", b"\xff", b"\xc3\x28", b"\x00", b"\x01", b"\r\n", b" ", b"\t"]


def form_token(rng: random.Random, base: bytes) -> bytes:
    token = base
    for _ in range(rng.choice([0, 1, 1, 2, 4])):
        token = insert(rng, token, rng.choice(FORM_ESCAPES))
    return token


GOOD_FORM_VALUES = {b"remember": b"true", b"price": b"1", b"stock": b"1"}


def form_case(rng: random.Random, target: Target) -> Case:
    notes: list[str] = []
    keys = target.form_fields or [b"name", b"price", b"description", b"tags", b"stock", b"file"]
    values = [b"abc", b"1", b"", b"secret-pass", b"x" * 50, b"true", b"fuzzer"]
    pairs: list[bytes] = []
    # Mostly a form that could pass (each field once, a plausible value), some of it spoiled.
    for key in keys:
        if rng.random() < 0.75:
            value = GOOD_FORM_VALUES.get(key, b"fuzzer-value") if rng.random() < 0.8 else rng.choice(values)
            key = form_token(rng, key) if rng.random() < 0.3 else key
            value = form_token(rng, value) if rng.random() < 0.3 else value
            pairs.append(key + b"=" + value)
    for _ in range(rng.choice([0, 0, 1, 2, 5])):
        key = form_token(rng, rng.choice(keys))
        value = form_token(rng, rng.choice(values))
        pairs.append(key + b"=" + value if rng.random() < 0.9 else key)
    rng.shuffle(pairs)
    roll = rng.random()
    if roll < 0.12:
        key = rng.choice(keys)
        pairs += [key + b"=%d" % i for i in range(rng.choice([2, 50, 5000]))]
        notes.append("a key repeated")
    elif roll < 0.2:
        size = rng.choice([10_000, 200_000, 1_100_000])
        pairs.append(b"k" * size + b"=v")
        notes.append(f"a {size}-byte key")
    elif roll < 0.28:
        size = rng.choice([10_000, 200_000, 1_100_000])
        pairs.append(rng.choice(keys) + b"=" + b"%41" * (size // 3))
        notes.append(f"a {size}-byte escaped value")
    elif roll < 0.36:
        pairs = [rng.choice([b"", b"&", b"=", b"&&&", b"===", b"%", b"+", b"&=&=", b"=&", b"%00=%00", b"\xff=\xff"])]
        notes.append(f"form body {pairs[0]!r}")
    body = b"&".join(pairs)
    if rng.random() < 0.1:
        body = body.replace(b"&", rng.choice([b";", b"&&", b"& ", b"\n"]))
        notes.append("odd pair separators")
    content_type = rng.choice([b"application/x-www-form-urlencoded"] * 6 + [
        b"application/x-www-form-urlencoded; charset=utf-8", b"application/x-www-form-urlencoded; charset=latin1",
        b"APPLICATION/X-WWW-FORM-URLENCODED", b"application/x-www-form-urlencoded; boundary=x", None,
        b"application/x-www-form-urlencoded\xff", b" application/x-www-form-urlencoded ;",
    ])
    notes.append(f"{len(pairs)} pairs, Content-Type {content_type!r}")
    path = rng.choice(target.form_paths)
    return with_body(rng, target, b"POST", path, content_type, body, notes, "form")


# --- JSON ----------------------------------------------------------------------------------------

JSON_NUMBERS = [b"1e309", b"-1e309", b"1e-400", b"123456789012345678901234567890", b"-0", b"0.1e1", b"1E+2", b"01", b"+1",
                b".5", b"5.", b"NaN", b"Infinity", b"-Infinity", b"0x10", b"1_000", b"9223372036854775807",
                b"9223372036854775808", b"-9223372036854775809", b"1" * 5000, b"0." + b"0" * 5000 + b"1", b"1e",
                b"-", b"1.7976931348623157e308", b"4.9e-324", b"2.2250738585072011e-308", b"1e1000000000", b"0e0"]
JSON_STRINGS = [b'"\\ud800"', b'"\\udc00"', b'"\\ud800\\u0041"', b'"\\u0000"', b'"a\\u00"', b'"\\x41"', b"\"\\'\"", b'"\\',
                b'"\x01\x02"', b'"\xff\xfe"', b'"\xc3\x28"', b'"\xed\xa0\x80"', b'"\t"', b'"\n"', b'"' + b"\\\\" * 1000 + b'"',
                b'"' + b"a" * 100_000 + b'"', b'"' + b"\\u00e9" * 3000 + b'"', b'"\xe2\x82\xac"', b'"unterminated',
                b"'single'", b'""', b'" "', b'"\\/"', b'"\\uD83D\\uDE00"', b'"\\uDE00\\uD83D"']
JSON_KEYS = JSON_STRINGS[:12] + [b'"k"', b'"na\\u006de"', b'"NAME"', b'""']


def json_value(rng: random.Random, depth: int = 0) -> bytes:
    """A JSON value, or something that almost is one."""
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(JSON_NUMBERS)
    if roll < 0.5:
        return rng.choice(JSON_STRINGS)
    if roll < 0.6:
        return rng.choice([b"true", b"false", b"null", b"True", b"nul", b"undefined"])
    if roll < 0.75 and depth < 3:
        return b"[" + b",".join(json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))) + b"]"
    if roll < 0.85 and depth < 3:
        return b"{" + b",".join(rng.choice(JSON_KEYS) + b":" + json_value(rng, depth + 1)
                                for _ in range(rng.randint(0, 3))) + b"}"
    return b'"plain"'


def json_case(rng: random.Random, target: Target) -> Case:
    notes: list[str] = []
    fields = {b"name": b'"lamp"', b"price": b"1.5", b"description": b'"a lamp"', b"tags": b'["a", "b"]',
              b"stock": b"3", b"quantity": b"1"}
    for key in target.json_fields:
        fields.setdefault(key, b'"value"')
    pairs = [[b'"' + k + b'"', v] for k, v in fields.items() if rng.random() < 0.8]
    for _ in range(rng.choice([1, 1, 2, 3])):
        op = rng.choice(["value", "value", "value", "key", "duplicate", "extra", "wide", "deep", "many-keys"])
        if op == "value" and pairs:
            pair = rng.choice(pairs)
            pair[1] = json_value(rng)
            notes.append(f"{pair[0].decode('latin-1')}: {pair[1][:40]!r}")
        elif op == "key" and pairs:
            pair = rng.choice(pairs)
            pair[0] = rng.choice(JSON_KEYS)
            notes.append(f"key {pair[0][:40]!r}")
        elif op == "duplicate" and pairs:
            pair = rng.choice(pairs)
            pairs.append([pair[0], json_value(rng)])
            notes.append(f"{pair[0].decode('latin-1')} twice")
        elif op == "extra":
            pairs.append([rng.choice([b'"extra"', b'"__proto__"', b'"constructor"', b'"id"', b'"version"']), json_value(rng)])
            notes.append(f"extra field {pairs[-1][0].decode()}")
        elif op == "wide":
            count = rng.choice([11, 1000, 20_000])
            pairs.append([b'"tags"', b"[" + b",".join([b'"t"'] * count) + b"]"])
            notes.append(f"tags with {count} items")
        elif op == "deep":
            depth = rng.choice([200, 255, 256, 257, 1000, 100_000])
            pairs.append([b'"description"', b"[" * depth + b"]" * depth if rng.random() < 0.5 else
                          b'{"a":' * depth + b"1" + b"}" * depth])
            notes.append(f"nesting {depth} deep")
        elif op == "many-keys":
            count = rng.choice([1000, 10_000])
            pairs += [[b'"k%d"' % i, b"1"] for i in range(count)]
            notes.append(f"{count} extra keys")
    body = b"{" + b",".join(k + rng.choice([b":", b" : ", b":\t"]) + v for k, v in pairs) + b"}"
    roll = rng.random()
    if roll < 0.06:
        body = rng.choice([b"", b" ", b"null", b"[]", b'"text"', b"1", b"{", b"}", b"{,}", b"\xef\xbb\xbf{}", b"{}garbage",
                           b"{} {}", b'{"name": "a",}', b"/* c */ {}", b"\x00", b"{\x00}"])
        notes.append(f"body {body!r}")
    elif roll < 0.1:
        body = body[: rng.randrange(len(body) + 1)]
        notes.append("body cut off")
    elif roll < 0.13:
        body = rng.choice([b"\xef\xbb\xbf", b""]) + body.decode("latin-1").encode(rng.choice(["utf-16", "utf-16-be", "utf-32"]))
        notes.append("not UTF-8")
    elif roll < 0.2:
        edited = bytearray(body)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(edited) + 1)
            edited[at:at] = bytes([rng.choice(HIGH + CONTROL + list(b'{}[]",:\\'))])
        body = bytes(edited)
        notes.append("random byte edits")
    content_type = rng.choice([b"application/json"] * 8 + [
        b"application/json; charset=utf-16", b"application/merge-patch+json", b"APPLICATION/JSON", b"text/json", None,
        b"application/json; charset=\xff", b"application/problem+json", b"application/json;;",
    ])
    method, path = rng.choice(target.json_routes)
    notes.append(f"{method.decode()} {path.decode()}, Content-Type {content_type!r}")
    return with_body(rng, target, method, path, content_type, body, notes, "json")


# --- query, headers, cookies ---------------------------------------------------------------------

QUERY_VALUES = [b"", b"1", b"0", b"-1", b"500", b"501", b"99999999999999999999", b"-99999999999999999999",
                b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808", b"1e3", b"1.5", b"0x10",
                b"NaN", b"inf", b"%20", b"+1", b"%2B1", b"1%00", b" 1", b"1 ", b"\xff", b"%ff", b"%c3%28", b"%",
                b"%%", b"%G1", b"a" * 101, b"a" * 100, b"%e2%82%ac" * 40, b"null", b"true", b"[]", b"{}", b"'",
                b"%27%20OR%201=1--", b"*", b"%2A", b"\\", b"%5C", b"lamp", b"%00", b"=", b"%3D", b"&"]
PATH_IDS = [b"1", b"0", b"-1", b"abc", b"1.5", b"1e2", b"99999999999999999999999", b"9223372036854775807",
            b"9223372036854775808", b"%31", b"%00", b"%ff", b"\xff", b"", b"1/", b"/1", b"1%2F2", b"..", b"%2e%2e",
            b"1;x=1", b"+1", b" 1", b"%201", b"0x1", b"1" * 5000, b"\xc3\xa9", b"%e2%82%ac", b"1%0a"]


def query_string(rng: random.Random) -> bytes:
    keys = [b"q", b"tag", b"limit", b"offset", b"Q", b"limit[]", b"", b"%71", b"\xff", b"tag%00"]
    pairs = []
    for _ in range(rng.choice([0, 1, 2, 3, 5, 12])):
        key = rng.choice(keys)
        value = rng.choice(QUERY_VALUES)
        pairs.append(key + b"=" + value if rng.random() < 0.9 else key)
    if rng.random() < 0.1:
        pairs += [b"tag=t%d" % i for i in range(rng.choice([11, 100, 3000]))]
    if rng.random() < 0.05:
        pairs.append(b"q=" + b"x" * rng.choice([5000, 60_000]))
    return b"&".join(pairs)


def request_target(rng: random.Random, target: Target) -> tuple[bytes, list[str]]:
    notes = []
    if rng.random() < 0.5:
        path = target.list_path
    else:
        ident = rng.choice(PATH_IDS + [str(target.item_id).encode()] * 4)
        path = target.item_template.replace(b"{id}", ident)
        notes.append(f"id {ident[:40]!r}")
    query = query_string(rng)
    roll = rng.random()
    if roll < 0.8:
        full = path + (b"?" + query if query or rng.random() < 0.2 else b"")
    elif roll < 0.85:
        full = path + b"??" + query
    elif roll < 0.9:
        full = path + b"?" + query + b"#frag"
    elif roll < 0.93:
        full = b"http://127.0.0.1:%d" % target.port + path + b"?" + query
    elif roll < 0.95:
        full = b"*"
    elif roll < 0.97:
        full = b"/" + path + b"?" + query
    else:
        full = path + b"/../" + path.rsplit(b"/", 1)[-1] + b"?" + query
    notes.append(f"target {full[:80]!r}{'...' if len(full) > 80 else ''}")
    return full, notes


def method(rng: random.Random) -> tuple[bytes, bool]:
    m = rng.choice([b"GET"] * 12 + [b"HEAD", b"OPTIONS", b"get", b"GETX", b"TRACE", b"CONNECT", b"PURGE", b"G\xffT"])
    return m, m == b"HEAD"


def get_case(rng: random.Random, target: Target, kind: str, headers: list[tuple[bytes, bytes]], notes: list[str]) -> Case:
    full, target_notes = request_target(rng, target) if kind == "query" else (
        rng.choice(target.get_paths or [target.list_path, target.item_path, target.list_path + b"?q=lamp&tag=a"]), [])
    verb, is_head = method(rng) if kind == "query" else (b"GET", False)
    if verb != b"GET":
        notes.append(f"method {verb!r}")
    # An odd Authorization header of the case goes alone, not beside the valid one.
    auth = [] if any(name.lower() == b"authorization" for name, _ in headers) else list(target.auth)
    data = head(verb, full, target.port, auth + headers)
    return Case(kind, target_notes + notes or ["plain"], split(rng, data), head=is_head)


ETAG = b'"item-%d-v0"'


def headers_case(rng: random.Random, target: Target) -> Case:
    notes: list[str] = []
    headers: list[tuple[bytes, bytes]] = []
    etag = ETAG % target.item_id
    options = {
        "if-none-match": lambda: [(b"If-None-Match", rng.choice([
            b"*", etag, b"W/" + etag, b'""', b'"', b"W/", b"W/W/W/" + etag, b",,,,", b" , " + etag + b" ,",
            b",".join([etag] * 2000), b"\xff\xfe", b'"\xff"', b"*, *", b"W/*", b'"' + b"a" * 100_000 + b'"',
            etag + b"\x7f", b"\t" + etag + b"\t"]))],
        "traceparent": lambda: [(b"traceparent", rng.choice([
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01", b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", b"00-4bf92f-00f067aa0ba902b7-01", b"00",
            b"", b"-", b"---", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", b"00-\xff" * 20,
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz", b"0" * 10_000,
            b"00-4bf92f3577b34da6a3ce929d0e0e473\xc3\xa9-00f067aa0ba902b7-01"]))],
        "tracestate": lambda: [(b"tracestate", rng.choice([b"", b"a=b", b"=", b",,,", b"a=" + b"b" * 10_000,
                                                            b",".join(b"k%d=v" % i for i in range(500)), b"\xff=\xff"]))],
        "x-request-id": lambda: [(b"X-Request-ID", rng.choice([b"", b"x" * 100_000, b"\xff\xfe", b"a b", b"\"", b"\t",
                                                              b"\xe2\x82\xac", b"id\x7f", b"%00", b"<script>"]))],
        "content-length": lambda: [(b"Content-Length", rng.choice([b"abc", b"-1", b"99999999999999999999", b"1, 1",
                                                                  b"+1", b" 0", b"0x10", b"1e3"]))],
        "two-content-length": lambda: [(b"Content-Length", b"0"), (b"Content-Length", b"5")],
        "transfer-encoding": lambda: [(b"Transfer-Encoding", rng.choice([b"chunked, gzip", b"gzip", b"identity", b"\xff",
                                                                        b"chunked;q=1", b"CHUNKED"]))],
        "expect": lambda: [(b"Expect", rng.choice([b"100-continue", b"200-ok", b"\xff", b""]))],
        "host": lambda: [(b"Host", rng.choice([b"", b"\xff", b"a" * 10_000, b"127.0.0.1:99999", b"[::1"]))],
        "upgrade": lambda: [(b"Connection", b"Upgrade, HTTP2-Settings"), (b"Upgrade", rng.choice([b"h2c", b"websocket", b"\xff"])),
                            (b"HTTP2-Settings", b"AAMAAABkAARAAAAAAAIAAAAA")],
        "accept": lambda: [(b"Accept", rng.choice([b"*/*;q=2", b"\xff/\xff", b"text/html" * 1000])),
                           (b"Accept-Encoding", rng.choice([b"gzip;q=x", b"br, zstd, *", b"\xff"]))],
        "high-byte-value": lambda: [(b"X-Fuzz", some(rng, HIGH, 1, 50))],
        "high-byte-name": lambda: [(insert(rng, b"X-Fuzz", some(rng, HIGH)), b"v")],
        "control-value": lambda: [(b"X-Fuzz", insert(rng, b"value", some(rng, CONTROL)))],
        "many-headers": lambda: [(b"X-H%d" % i, b"v") for i in range(rng.choice([100, 1000, 5000]))],
        "huge-header": lambda: [(b"X-Huge", b"v" * rng.choice([8_000, 80_000, 1_000_000]))],
        "no-colon": lambda: [(b"NoColon", None)],
        "folded": lambda: [(b"X-Folded", b"a\r\n continued")],
        "space-before-colon": lambda: [(b"X-Space ", b"v")],
        "authorization": lambda: [(b"Authorization", rng.choice([b"Bearer", b"Bearer ", b"Bearer \xff", b"Basic !!!",
                                                                b"Bearer " + b"a" * 10_000, b"Bearer a.b.c", b"Bearer ..."]))],
        "content-type": lambda: [(b"Content-Type", rng.choice([b"application/json", b"\xff", b";;;", b"a/b; c"]))],
    }
    if target.header_names:
        # The headers the route reads, with odd values (and twice, sometimes).
        options["read-by-the-route"] = lambda: [(rng.choice(target.header_names), rng.choice(QUERY_VALUES + WEIRD_TEXT))
                                                for _ in range(rng.choice([1, 2, 3]))]
    for name in rng.sample(sorted(options), rng.choice([1, 1, 2, 3])):
        produced = options[name]()
        headers += produced
        value = produced[0][1]
        notes.append(f"{name}: {value[:60] if value is not None else 'no colon'!r}")
    return get_case(rng, target, "headers", headers, notes)


def cookies_case(rng: random.Random, target: Target) -> Case:
    notes: list[str] = []
    values = [b"a=b", b"a=b; c=d", b"a", b"=", b";;;;", b"=b", b"a=", b'a="b"', b'a="b', b"a=b=c", b"a=%ff",
              b"a=\xff\xfe", b"\xff=1", b"a=%00", b"a=b;c=d;;e=f", b" ; ", b"session=" + b"x" * 10_000,
              b"; ".join(b"k%d=v" % i for i in range(rng.choice([100, 3000]))), b"a=b\x7f", b"a=\t", b"$Version=1; a=b",
              b"a=b, c=d", b"a=\"\\\"\"", b"%3D=%3D", b"a=\xe2\x82\xac"]
    for name in target.cookie_names:
        values += [name + b"=" + v for v in QUERY_VALUES + WEIRD_TEXT] + [name, name + b"=a; " + name + b"=bbbbbbbbbbbb"]
    headers = [(b"Cookie", rng.choice(values)) for _ in range(rng.choice([1, 1, 2, 5]))]
    notes.append("cookies " + " | ".join(repr(v[:40]) for _, v in headers))
    return get_case(rng, target, "cookies", headers, notes)


BUILDERS = {"multipart": multipart_case, "form": form_case, "json": None, "query": None, "headers": headers_case,
            "cookies": cookies_case}


def build(seed: int, index: int, kinds: list[str], target: Target, anonymous_share: float = 0.0) -> Case:
    rng = random.Random(f"{seed}:{index}")
    # Drawn apart from the case's own generator, so its bytes are the same with or without a token.
    anonymous = bool(target.auth) and random.Random(f"{seed}:{index}:anonymous").random() < anonymous_share
    if anonymous:
        target = target.without_token()
    kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
    if kind == "query":
        case = get_case(rng, target, "query", [], [])
    elif kind == "json":
        case = json_case(rng, target)
    else:
        case = BUILDERS[kind](rng, target)
    if anonymous:
        case.anonymous = True
        case.notes.append("no token")
    return case


# --- checking ------------------------------------------------------------------------------------

def check(case: Case, result: rawhttp.Exchange, admin_port: int) -> str | None:
    """Why the answer to `case` is a failure, or None."""
    if result.error == "connection refused":
        return "connection refused: the service is gone"
    problem = None
    if not result.data and not case.framed and result.error is None:
        problem = None  # an unfinished request may be dropped without an answer
    elif result.error and not result.data:
        problem = f"no answer ({result.error})"
    else:
        try:
            responses = result.responses(head_request=case.head)
            problems = []
            if not responses:
                problems.append("only interim (1xx) answers")
            for response in responses:
                if response.status >= 500:
                    problems.append(f"status {response.status}: {response.body[:300]!r}")
                content_type = (response.header("content-type") or b"").lower()
                if b"json" in content_type and response.body and not case.head:
                    try:
                        json.loads(response.body.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError) as failure:
                        problems.append(f"status {response.status} with a body that is not JSON ({failure}): "
                                        f"{response.body[:300]!r}")
            if responses and case.follow_up:
                if len(responses) == 1 and result.error:
                    problems.append(f"the follow-up GET got no answer and the connection stayed open ({result.error})")
                else:
                    problems.append(check_follow_up(responses))
            problem = next((p for p in problems if p), None)
        except rawhttp.Malformed as failure:
            problem = f"malformed answer: {failure}" + (f" ({result.error})" if result.error else "")
    if not rawhttp.is_alive(admin_port):
        return (problem + "; " if problem else "") + "GET /livez on the admin port no longer answers 200"
    return problem


WARNINGS: Counter = Counter()


def check_follow_up(responses: list[rawhttp.Response]) -> str | None:
    """After the answer to a kept-alive request, the next answer must be the follow-up GET's."""
    first = responses[0]
    closing = b"close" in (first.header("connection") or b"").lower()
    if len(responses) == 1:
        # Closing after the first answer is allowed, with or without saying so.
        return None
    if closing:
        # A client stops reading at "close", so this harms no one; noted, not failed.
        WARNINGS[f"more answers after a {first.status} that said Connection: close: "
                 + ", ".join(str(r.status) for r in responses[1:])] += 1
        return None
    second = responses[1]
    try:
        item = json.loads(second.body) if second.status == 200 else None
    except ValueError:
        item = None
    if not isinstance(item, dict) or "id" not in item:
        return (f"out of step: after a {first.status}, the follow-up GET of the item got {second.status} "
                f"{second.body[:200]!r} (the rest of the refused request was read as a new one?)")
    if len(responses) > 2:
        return f"{len(responses)} answers to 2 requests: " + ", ".join(str(r.status) for r in responses)
    return None


def statuses(result: rawhttp.Exchange, case: Case) -> str:
    try:
        return ",".join(str(r.status) for r in result.responses(head_request=case.head)) or "none"
    except rawhttp.Malformed:
        return "none" if not result.data else "malformed"


def prepare(args: argparse.Namespace) -> int:
    """Checks that the service answers and creates the item the upload route needs."""
    deadline = time.monotonic() + 30
    while not rawhttp.is_alive(args.admin_port, timeout=5):
        if time.monotonic() > deadline:
            raise SystemExit(f"hostile_requests: GET /livez on port {args.admin_port} does not answer 200")
        time.sleep(0.1)
    if not args.setup_path:
        return args.item_id
    body = args.setup_body.encode()
    auth = b"Authorization: Bearer %s\r\n" % args.bearer.encode() if args.bearer else b""
    request = (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % args.setup_path.encode() + auth +
               b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    answers = rawhttp.exchange(args.port, request).responses()
    if not answers or answers[0].status != 201:
        raise SystemExit(f"hostile_requests: POST {args.setup_path} did not answer 201: {answers}")
    return int(json.loads(answers[0].body)["id"])


def sanity(target: Target) -> None:
    """A well-formed upload is accepted: the cases reach the route's parser, not only its refusals."""
    body = (b"--b\r\nContent-Disposition: form-data; name=\"" + target.field + b"\"; filename=\"a.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n\x89PNG\r\n" +
            b"".join(b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % t for t in target.texts) + b"--b--\r\n")
    headers = list(target.auth) + [(b"Content-Type", b"multipart/form-data; boundary=b"),
                                   (b"Content-Length", b"%d" % len(body))]
    answer = rawhttp.exchange(target.port, head(b"POST", target.upload_path, target.port, headers) + body).responses()
    if not answer or answer[0].status not in (200, 201):
        raise SystemExit(f"hostile_requests: a well-formed upload to {target.upload_path!r} was refused: {answer}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="the API port on 127.0.0.1")
    parser.add_argument("--admin-port", type=int, required=True, help="the admin port (GET /livez)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000, help="how many cases")
    parser.add_argument("--first", type=int, default=0, help="the first case number")
    parser.add_argument("--case", type=int, help="send only case N (to reproduce a failure)")
    parser.add_argument("--time-limit", type=float, default=150, help="stop sending new cases after this many seconds")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--max-failures", type=int, default=1,
                        help="stop after this many failing cases (always at a dead service)")
    parser.add_argument("--no-cut-short", action="store_true",
                        help="never send a body shorter than its Content-Length (the same cases otherwise)")
    targets = parser.add_argument_group("the routes (the catalog's by default)")
    targets.add_argument("--setup-path", default="/items", help="POSTed --setup-body first; its answer's id is {id} (\"\": none)")
    targets.add_argument("--setup-body", default='{"name": "fuzz target", "price": 1, "stock": 5}')
    targets.add_argument("--item-id", type=int, default=1, help="{id} when there is no setup")
    targets.add_argument("--list-path", default="/items", help="GET with odd query strings")
    targets.add_argument("--item-path", default="/items/{id}", help="GET with odd ids; its JSON has an id")
    targets.add_argument("--get-path", action="append", default=[], help="where header and cookie cases go")
    targets.add_argument("--multipart-path", default="/items/{id}/image")
    targets.add_argument("--multipart-field", default="file", help="the file field")
    targets.add_argument("--multipart-text", action="append", default=[], help="NAME=VALUE, a text field to add")
    targets.add_argument("--form-path", action="append", default=[], help="a route that reads a urlencoded form")
    targets.add_argument("--form-fields", default="", help="the form's field names, comma-separated")
    targets.add_argument("--json-route", action="append", default=[], help='"METHOD PATH" of a route that reads JSON')
    targets.add_argument("--json-fields", default="", help="its body's field names, comma-separated")
    targets.add_argument("--header-names", default="", help="headers the routes read, comma-separated")
    targets.add_argument("--cookie-names", default="", help="cookies the routes read, comma-separated")
    parser.add_argument("--bearer", default="", help="a token for routes that need one")
    parser.add_argument("--anonymous-share", type=float, default=0.25,
                        help="with --bearer, the share of cases sent without it (0 to 1)")
    parser.add_argument("--out", default="", help="where failing requests are written (default: a new temporary folder)")
    parser.add_argument("--summary", default="", help="write a JSON summary to this file")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    if not 0 <= args.anonymous_share <= 1:
        parser.error("--anonymous-share is a share, from 0 to 1")
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}")

    target = Target(args, prepare(args))
    sanity(target)
    out = Path(args.out or tempfile.mkdtemp(prefix="fleet-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    indices = [args.case] if args.case is not None else range(args.first, args.first + args.count)
    started = time.monotonic()
    sent = 0
    seen: Counter = Counter()
    seen_by_token: Counter = Counter()
    spent: Counter = Counter()
    failures = []
    timed_out = False
    for index in indices:
        if time.monotonic() - started > args.time_limit:
            timed_out = True
            break
        case_started = time.monotonic()
        case = build(args.seed, index, kinds, target, args.anonymous_share)
        result = rawhttp.exchange(args.port, case.pieces, half_close=not case.framed, timeout=30,
                                  head_request=case.head, until_closed=case.follow_up)
        sent += 1
        seen[(case.kind, statuses(result, case))] += 1
        seen_by_token[("without" if case.anonymous or not target.auth else "with", case.kind, statuses(result, case))] += 1
        spent[case.kind] += time.monotonic() - case_started
        if args.verbose:
            print(f"case {index} {case.kind} {statuses(result, case)} {result.elapsed:.3f} s {len(case.data)} bytes: "
                  f"{'; '.join(case.notes)}", flush=True)
        problem = check(case, result, args.admin_port)
        if problem:
            path = out / f"{case.kind}-seed{args.seed}-case{index}.http"
            path.write_bytes(case.data)
            failures.append({"seed": args.seed, "case": index, "kind": case.kind, "problem": problem,
                             "notes": case.notes, "request_file": str(path), "request_head": case.data[:600].decode("latin-1")})
            print(f"FAIL seed {args.seed} case {index} ({case.kind}): {problem}", flush=True)
            print(f"  what: {'; '.join(case.notes)}", flush=True)
            print(f"  request ({len(case.data)} bytes, in {len(case.pieces)} sends, all in {path}): {case.data[:600]!r}", flush=True)
            print(f"  again: {Path(sys.argv[0]).name} --port P --admin-port A --seed {args.seed} --kinds {args.kinds} --case {index}", flush=True)
            if len(failures) >= args.max_failures or "livez" in problem or "refused" in problem:
                break
    elapsed = time.monotonic() - started
    by_kind: dict[str, dict[str, int]] = {}
    for (kind, status), count in sorted(seen.items()):
        by_kind.setdefault(kind, {})[status] = count
    by_token: dict[str, dict[str, dict[str, int]]] = {}
    for (token, kind, status), count in sorted(seen_by_token.items()):
        by_token.setdefault(token, {}).setdefault(kind, {})[status] = count
    anonymous = sum(count for (token, _, _), count in seen_by_token.items() if token == "without")
    print(f"hostile_requests: seed {args.seed}, {sent} cases in {elapsed:.1f} s"
          f"{' (time limit reached)' if timed_out else ''}, {len(failures)} failing, {anonymous} without a token", flush=True)
    for kind, counts in by_kind.items():
        print(f"  {kind} ({spent[kind]:.1f} s): " + ", ".join(f"{status} x{count}" for status, count in counts.items()),
              flush=True)
    distinct = Counter((f["kind"], f["problem"][:70]) for f in failures)
    for (kind, problem), count in distinct.most_common():
        first = next(f for f in failures if f["kind"] == kind and f["problem"][:70] == problem)
        print(f"  FAILING {kind}  x{count}: {problem} (first: --seed {first['seed']} --case {first['case']})", flush=True)
    for warning, count in WARNINGS.most_common():
        print(f"  noted  x{count}: {warning}", flush=True)
    if args.summary:
        Path(args.summary).write_text(json.dumps({"seed": args.seed, "sent": sent, "seconds": round(elapsed, 1),
                                                  "time_limit_reached": timed_out, "statuses": by_kind,
                                                  "without_token": anonymous, "statuses_by_token": by_token,
                                                  "failures": failures, "noted": dict(WARNINGS)}, indent=1))
    if not failures and not any(out.iterdir()) and not args.out:
        os.rmdir(out)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
