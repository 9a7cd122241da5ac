#!/usr/bin/env python3
"""Fuzz a running service from its own /openapi.json with schemathesis, bounded and repeatable.

  run_schemathesis.py --base http://127.0.0.1:PORT --admin-port ADMIN
                      [--max-examples 300] [--seed 20261201] [--time-limit 180]
                      [--checks not_a_server_error,response_schema_conformance] [--workers 1]
                      [--bearer TOKEN] [--summary FILE] [--report-dir DIR]

Every operation of the document gets up to --max-examples generated requests per phase
(examples, coverage, fuzzing; stateful when the document has links), valid and invalid ones
(`--mode all`), drawn from a fixed --seed with no example database, so two runs against the same
build send the same requests. The run is bounded by the example counts and by --time-limit: when
that passes, schemathesis is interrupted (its results so far still count) and the summary says so.

Afterwards GET /livez on the admin port must answer 200. Exit status: 0 when every check passed
and the service lives, 1 otherwise (the failures and schemathesis's reproduction commands are
printed), 2 when schemathesis could not run. Loopback addresses only.
"""

import argparse
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the work tree
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "Parity"))
from venv_bootstrap import VENV, ensure_venv  # noqa: E402

ensure_venv()

import rawhttp  # noqa: E402

OUTPUT_TAIL = 20_000  # characters of schemathesis's output printed at most


def _die_with_parent() -> None:
    """In the child: SIGTERM when this script dies, even by SIGKILL (Linux), so no run outlives a test."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--max-examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--time-limit", type=float, default=180, help="seconds before schemathesis is interrupted")
    parser.add_argument("--checks", default="not_a_server_error")
    # One worker: hypothesis describes its filters with ast.parse, which is not thread-safe on
    # Python 3.11 ("AST constructor recursion depth mismatch" with two workers).
    parser.add_argument("--workers", default="1")
    parser.add_argument("--phases", default="", help="a subset of examples,coverage,fuzzing,stateful")
    parser.add_argument("--mode", default="all", choices=["positive", "negative", "all"])
    parser.add_argument("--bearer", default="", help="sent as Authorization: Bearer on every request")
    parser.add_argument("--include-path-regex", default="")
    parser.add_argument("--summary", default="", help="write a JSON summary to this file")
    parser.add_argument("--report-dir", default="", help="keep schemathesis's reports here (default: removed)")
    args = parser.parse_args()

    base = args.base.rstrip("/")
    url = urllib.parse.urlsplit(base)
    if url.hostname not in ("127.0.0.1", "::1", "localhost"):
        parser.error(f"loopback addresses only, got {base}")
    if not rawhttp.is_alive(args.admin_port):
        print(f"run_schemathesis: GET /livez on port {args.admin_port} does not answer 200", flush=True)
        return 2

    workdir = Path(args.report_dir) if args.report_dir else Path(tempfile.mkdtemp(prefix="fleet-schemathesis-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = workdir / "report.json"
    command = [
        str(VENV / "bin" / "schemathesis"), "run", f"{base}/openapi.json", "--url", base,
        "--checks", args.checks, "--mode", args.mode,
        "--max-examples", str(args.max_examples), "--seed", str(args.seed),
        "--generation-database", "none", "--workers", args.workers,
        "--request-timeout", "30", "--suppress-health-check", "all", "--continue-on-failure",
        "--no-color", "--output-truncate", "true", "--warnings", "off",
        "--report", "json,junit", "--report-dir", str(workdir), "--report-json-path", str(report),
    ]
    if args.phases:
        command += ["--phases", args.phases]
    if args.bearer:
        command += ["--header", f"Authorization: Bearer {args.bearer}"]
    if args.include_path_regex:
        command += ["--include-path-regex", args.include_path_regex]

    print("run_schemathesis: " + " ".join(command), flush=True)
    started = time.monotonic()
    log = workdir / "output.txt"
    interrupted = False
    # Its own working folder: hypothesis writes .hypothesis/ into the current one.
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT,
                                   env={**os.environ, "NO_COLOR": "1", "COLUMNS": "160"},
                                   preexec_fn=_die_with_parent)
        try:
            process.wait(timeout=args.time_limit)
        except subprocess.TimeoutExpired:
            interrupted = True
            process.send_signal(signal.SIGINT)  # schemathesis stops and still reports
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    elapsed = time.monotonic() - started
    output = log.read_text(errors="replace")
    alive = rawhttp.is_alive(args.admin_port)

    document = json.loads(report.read_text()) if report.exists() else {}
    cases = document.get("test_cases", {})
    failures = document.get("failures", [])
    errors = document.get("errors", [])
    summary = {
        "seed": args.seed, "max_examples": args.max_examples, "checks": args.checks,
        "seconds": round(elapsed, 1), "time_limit_reached": interrupted,
        "exit_code": process.returncode, "alive": alive,
        "generated": cases.get("generated", 0), "with_failures": cases.get("with_failures", 0),
        "operations": (document.get("operations") or {}).get("tested", 0),
        "stop_reason": document.get("stop_reason"),
        "failures": [{"title": f["title"], "count": f["count"], "operations": f["operations"]} for f in failures],
        "errors": errors,
    }
    print(output[-OUTPUT_TAIL:], flush=True)
    print(f"run_schemathesis: seed {args.seed}, at most {args.max_examples} examples per operation and phase, "
          f"{summary['generated']} test cases on {summary['operations']} operations in {elapsed:.1f} s"
          f"{' (time limit reached, interrupted)' if interrupted else ''}; exit code {process.returncode}", flush=True)
    for failure in summary["failures"]:
        print(f"  FAILURE {failure['title']}  x{failure['count']}: {', '.join(failure['operations'])}", flush=True)
    for error in errors:
        print(f"  ERROR {error['title']}  x{error['count']}", flush=True)
    if not alive:
        print(f"  FAILURE GET /livez on port {args.admin_port} no longer answers 200: the service died", flush=True)
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=1))
    reported = report.exists()
    if not args.report_dir:
        shutil.rmtree(workdir, ignore_errors=True)
    if not reported and not interrupted:
        print("run_schemathesis: schemathesis wrote no report", flush=True)
        return 2
    ok = alive and not failures and not errors and (process.returncode == 0 or interrupted)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
