"""Raw HTTP/1.1 over a loopback socket, and a strict reader of the answer (stdlib only).

`exchange(port, request_bytes)` sends bytes exactly as given (nothing is added or fixed up),
half-closes the socket when asked, and reads what comes back. `parse_responses(data)` checks
that the bytes are one or more well-formed HTTP/1.x responses: a status line, header lines
whose names are tokens and whose values hold no control bytes, and a body framed by
Content-Length, chunked transfer coding or the end of the connection.
"""

import re
import selectors
import socket
import time

LOOPBACK = "127.0.0.1"
MAX_HEAD = 64 * 1024          # a response head longer than this is malformed
MAX_RESPONSE = 16 * 1024 * 1024

STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [\x09\x20-\x7e\x80-\xff]*)?")
HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([\x09\x20-\x7e\x80-\xff]*?)[ \t]*")


class Malformed(Exception):
    """The server's bytes are not a well-formed HTTP response."""


class Response:
    def __init__(self, status: int, headers: list[tuple[str, bytes]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> bytes | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        return f"<{self.status} {self.body[:200]!r}>"


def _parse_chunked(data: bytes, at: int, closed: bool) -> tuple[bytes, int] | None:
    """The de-chunked body starting at `at` and the offset after it; None if incomplete."""
    body = bytearray()
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            if closed:
                raise Malformed("chunked body cut off in a chunk size line")
            return None
        size_text = data[at:end].split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise Malformed(f"bad chunk size line {data[at:end][:80]!r}")
        size = int(size_text, 16)
        at = end + 2
        if size == 0:
            # Trailers, then an empty line.
            while True:
                end = data.find(b"\r\n", at)
                if end < 0:
                    if closed:
                        raise Malformed("chunked body cut off in its trailers")
                    return None
                line = data[at:end]
                at = end + 2
                if not line:
                    return bytes(body), at
                if not HEADER_LINE.fullmatch(line):
                    raise Malformed(f"bad trailer line {line[:80]!r}")
        if len(data) < at + size + 2:
            if closed:
                raise Malformed("chunked body cut off inside a chunk")
            return None
        body += data[at:at + size]
        if data[at + size:at + size + 2] != b"\r\n":
            raise Malformed("chunk not followed by CRLF")
        at += size + 2


def parse_one(data: bytes, closed: bool, head_request: bool = False) -> tuple[Response, int] | None:
    """One response at the start of `data` and its length; None while more bytes may come.

    Raises Malformed when the bytes cannot be a well-formed response (or `closed` and cut off).
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > MAX_HEAD:
            raise Malformed("no end of head within 64 KiB")
        if closed:
            raise Malformed(f"connection closed inside the response head: {data[:200]!r}" if data
                            else "connection closed without a response")
        return None
    lines = data[:end].split(b"\r\n")
    match = STATUS_LINE.fullmatch(lines[0])
    if not match:
        raise Malformed(f"bad status line {lines[0][:120]!r}")
    status = int(match.group(1))
    headers: list[tuple[str, bytes]] = []
    for line in lines[1:]:
        header = HEADER_LINE.fullmatch(line)
        if not header:
            raise Malformed(f"bad header line {line[:120]!r}")
        headers.append((header.group(1).decode().lower(), header.group(2)))
    at = end + 4
    lengths = {value for name, value in headers if name == "content-length"}
    chunked = any(name == "transfer-encoding" and b"chunked" in value.lower() for name, value in headers)
    if len(lengths) > 1:
        raise Malformed(f"conflicting Content-Length values {sorted(lengths)}")
    if chunked and lengths:
        raise Malformed("both Content-Length and Transfer-Encoding: chunked")
    if 100 <= status < 200 or status in (204, 304) or head_request:
        if status == 204 and (chunked or lengths - {b"0"}):
            raise Malformed("a 204 that declares a body")
        return Response(status, headers, b""), at
    if chunked:
        parsed = _parse_chunked(data, at, closed)
        if parsed is None:
            return None
        body, after = parsed
        return Response(status, headers, body), after
    if lengths:
        text = next(iter(lengths))
        if not re.fullmatch(rb"[0-9]{1,12}", text):
            raise Malformed(f"bad Content-Length {text!r}")
        length = int(text)
        if len(data) < at + length:
            if closed:
                raise Malformed(f"body cut off: {len(data) - at} of {length} bytes")
            return None
        return Response(status, headers, data[at:at + length]), at + length
    # No framing: the body runs to the end of the connection.
    if not closed:
        return None
    return Response(status, headers, data[at:]), len(data)


def parse_responses(data: bytes, closed: bool = True, head_request: bool = False) -> list[Response]:
    """Every response in `data` (1xx interim answers included); raises Malformed."""
    responses = []
    at = 0
    while at < len(data) or not responses:
        parsed = parse_one(data[at:], closed, head_request=head_request and not responses)
        if parsed is None:
            raise Malformed("incomplete response")
        response, length = parsed
        responses.append(response)
        at += length
    return responses


class Exchange:
    """What one connection brought back."""

    def __init__(self, data: bytes, closed: bool, error: str | None, elapsed: float, unsent: int):
        self.data = data
        self.closed = closed      # the server closed (or reset) the connection
        self.error = error        # a socket error on our side (refused, timeout)
        self.elapsed = elapsed
        self.unsent = unsent      # request bytes not sent because the answer came first

    def responses(self, head_request: bool = False) -> list[Response]:
        """The final responses (interim 1xx dropped); raises Malformed."""
        return [r for r in parse_responses(self.data, closed=True, head_request=head_request) if r.status >= 200]


def exchange(port: int, request: bytes | list[bytes], *, half_close: bool = False,
             timeout: float = 30.0, head_request: bool = False, until_closed: bool = False) -> Exchange:
    """Send `request` (one buffer, or pieces sent one after the other) to 127.0.0.1:port.

    Reads while it sends, as a careful client does: when a complete final answer arrives before
    the whole request is out (an early 413 or 400), the rest is not sent. After a half-close
    (`half_close`, once everything is sent) or with `until_closed` (pipelined requests, the last
    asking to close) it reads until the server closes. Never waits longer
    than `timeout` in all.
    """
    started = time.monotonic()
    deadline = started + timeout
    data = bytearray()
    closed = False
    error = None
    pieces = [bytes(request)] if isinstance(request, (bytes, bytearray)) else [bytes(p) for p in request]
    unsent = sum(len(p) for p in pieces)
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
            current = memoryview(pieces.pop(0)) if pieces else memoryview(b"")
            writing = True
            with selectors.DefaultSelector() as selector:
                selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        error = f"no complete answer within {timeout:.0f} s" + (f" ({unsent} request bytes unsent)" if unsent else "")
                        break
                    events = selector.select(min(remaining, 1.0))
                    flags = events[0][1] if events else 0
                    if flags & selectors.EVENT_READ:
                        try:
                            chunk = sock.recv(65536)
                        except (ConnectionResetError, BrokenPipeError):
                            closed = True
                            break
                        except BlockingIOError:
                            chunk = None
                        if chunk == b"":
                            closed = True
                            break
                        if chunk:
                            data += chunk
                            if len(data) > MAX_RESPONSE:
                                error = "answer larger than 16 MiB"
                                break
                            if not half_close and not until_closed and _has_final_response(bytes(data), head_request):
                                break
                    if writing and flags & selectors.EVENT_WRITE:
                        try:
                            while current is not None:
                                if not current:
                                    current = memoryview(pieces.pop(0)) if pieces else None
                                    continue
                                written = sock.send(current)
                                unsent -= written
                                current = current[written:]
                                if current:
                                    break  # the socket is full; back to waiting
                                # A piece is out: let it leave on its own before the next one.
                                current = memoryview(pieces.pop(0)) if pieces else None
                                break
                        except BlockingIOError:
                            pass
                        except (ConnectionResetError, BrokenPipeError):
                            # The server answered and closed before reading everything; read what it sent.
                            current = None
                        if current is None:
                            writing = False
                            if half_close and not unsent:
                                try:
                                    sock.shutdown(socket.SHUT_WR)
                                except OSError:
                                    pass
                            selector.modify(sock, selectors.EVENT_READ)
    except ConnectionRefusedError:
        error = "connection refused"
    except OSError as failure:
        error = f"socket error: {failure}"
    return Exchange(bytes(data), closed, error, time.monotonic() - started, unsent)


def _has_final_response(data: bytes, head_request: bool = False) -> bool:
    at = 0
    while at < len(data):
        try:
            parsed = parse_one(data[at:], closed=False, head_request=head_request and at == 0)
        except Malformed:
            return False  # let the reader collect everything; the caller reports it
        if parsed is None:
            return False
        response, length = parsed
        at += length
        if response.status >= 200:
            return True
    return False


def get(port: int, target: str, timeout: float = 10.0) -> Response | None:
    """A plain GET on a new connection; None when there is no well-formed answer."""
    request = f"GET {target} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nConnection: close\r\n\r\n".encode()
    result = exchange(port, request, timeout=timeout)
    try:
        final = result.responses()
    except Malformed:
        return None
    return final[0] if final else None


def is_alive(admin_port: int, timeout: float = 10.0) -> bool:
    """GET /livez on the admin port answers 200."""
    response = get(admin_port, "/livez", timeout=timeout)
    return response is not None and response.status == 200
