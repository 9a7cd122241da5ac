#!/usr/bin/env python3
"""FastAPI parity of validation errors.

Sends every case of cases.json to a FastAPI reference app (started here with
uvicorn on a free loopback port) and to ServiceKit, and compares the status and
the multiset of (loc, type) of a 422's `detail` list.

  compare.py --servicekit http://127.0.0.1:PORT [--cases FILE] [--report FILE.md]
  compare.py --fastapi-only [--cases FILE]     # print FastAPI's answers as JSON

Exit status: 1 on any mismatch or when fewer than 30 cases ran, 0 otherwise.
"""

import argparse
import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from venv_bootstrap import ensure_venv  # noqa: E402

ensure_venv()

from httpcase import send  # noqa: E402

HERE = Path(__file__).resolve().parent
MIN_CASES = 30
STARTUP_TIMEOUT = 30  # seconds for uvicorn to answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FastAPIServer:
    """The reference app under uvicorn on 127.0.0.1; always stopped on exit."""

    def __init__(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=HERE, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        atexit.register(self.stop)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with status {self.proc.returncode}")
            try:
                if send(self.base, {"method": "GET", "path": "/openapi.json"})[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn did not answer within {STARTUP_TIMEOUT}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def errors(status: int, body) -> list[tuple[tuple, str]] | None:
    """The sorted (loc, type) pairs of a 422 body; None for any other status."""
    if status != 422:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, list):
        return [(("<no detail list>",), str(body)[:200])]
    return sorted(((tuple(e.get("loc", ())), e.get("type", "")) for e in detail), key=repr)


def fmt(pairs) -> str:
    if pairs is None:
        return "-"
    return ", ".join(f"{list(loc)} {typ}" for loc, typ in pairs) or "(empty)"


def compare(cases: list[dict], fastapi: str, servicekit: str) -> list[dict]:
    rows = []
    for case in cases:
        fa_status, fa_body = send(fastapi, case)
        try:
            sk_status, sk_body = send(servicekit, case)
        except OSError as exc:
            sk_status, sk_body = 0, f"request failed: {exc}"
        fa_errs, sk_errs = errors(fa_status, fa_body), errors(sk_status, sk_body)
        agree = fa_status == sk_status and (
            fa_errs is None or Counter(fa_errs) == Counter(sk_errs))
        rows.append({"case": case, "fa": (fa_status, fa_errs), "sk": (sk_status, sk_errs),
                     "agree": agree})
        if agree:
            print(f"ok        {case['name']}: {fa_status} {fmt(fa_errs)}")
        else:
            print(f"MISMATCH  {case['name']}: FastAPI {fa_status} [{fmt(fa_errs)}]"
                  f" | ServiceKit {sk_status} [{fmt(sk_errs)}]")
            if sk_errs is None and sk_status != fa_status:
                print(f"          ServiceKit body: {str(sk_body)[:300]}")
    return rows


def write_report(rows: list[dict], path: Path) -> None:
    def cell(side):
        status, errs = side
        return f"{status}: " + fmt(errs).replace("|", "\\|")

    lines = ["| case | location | FastAPI loc/type | ServiceKit loc/type | agree |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['case']['name']} | {r['case'].get('location', '')} | {cell(r['fa'])} "
                     f"| {cell(r['sk'])} | {'yes' if r['agree'] else '**no**'} |")
    mismatches = sum(not r["agree"] for r in rows)
    lines.append(f"\n{len(rows)} cases, {mismatches} mismatches\n")
    path.write_text("\n".join(lines))


def fastapi_answers(cases: list[dict], fastapi: str) -> dict:
    """Case name -> FastAPI's status and full `detail` (or body, for non-422)."""
    out = {}
    for case in cases:
        status, body = send(fastapi, case)
        key = "detail" if status == 422 and isinstance(body, dict) else "body"
        out[case["name"]] = {"status": status, key: body["detail"] if key == "detail" else body}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--servicekit", help="ServiceKit base URL, http://127.0.0.1:PORT")
    mode.add_argument("--fastapi-only", action="store_true",
                      help="print FastAPI's answers (case name -> status + detail) as JSON")
    ap.add_argument("--cases", type=Path, default=HERE / "cases.json")
    ap.add_argument("--report", type=Path, help="write a markdown table here")
    args = ap.parse_args()

    cases = json.loads(args.cases.read_text())
    names = [c["name"] for c in cases]
    if len(set(names)) != len(names):
        sys.exit("duplicate case names in " + str(args.cases))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = FastAPIServer()
    try:
        server.start()
        if args.fastapi_only:
            print(json.dumps(fastapi_answers(cases, server.base), indent=2, ensure_ascii=False))
            return 0
        rows = compare(cases, server.base, args.servicekit)
    finally:
        server.stop()
    if args.report:
        write_report(rows, args.report)
    mismatches = sum(not r["agree"] for r in rows)
    print(f"{len(rows)} cases, {mismatches} mismatches")
    if len(rows) < MIN_CASES:
        print(f"fewer than {MIN_CASES} cases ran")
        return 1
    return 1 if mismatches else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
