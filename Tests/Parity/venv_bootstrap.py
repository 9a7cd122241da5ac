"""Run the calling script inside <repo>/.venv-test, made from Tests/requirements.txt.

Call `ensure_venv()` before importing any third-party package: it creates the
venv if needed, (re)installs the requirements when requirements.txt is newer
than the venv's stamp file, and re-executes the script with the venv's python.
"""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-test"
REQUIREMENTS = REPO / "Tests" / "requirements.txt"
STAMP = VENV / ".requirements-stamp"
PYTHON = VENV / "bin" / "python"
INSTALL_TIMEOUT = 900  # seconds, for venv creation and pip install each


def _running_in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def _up_to_date() -> bool:
    return (PYTHON.exists() and STAMP.exists()
            and STAMP.stat().st_mtime >= REQUIREMENTS.stat().st_mtime)


def _install() -> None:
    """Create the venv and install the requirements (under a lock: tests may run in parallel)."""
    VENV.mkdir(exist_ok=True)
    with open(VENV / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _up_to_date():
            return
        if not PYTHON.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)],
                           check=True, timeout=INSTALL_TIMEOUT)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True, timeout=INSTALL_TIMEOUT)
        STAMP.touch()


def ensure_venv() -> None:
    """Make sure the venv is ready and that this process runs in it (re-exec otherwise)."""
    if not _up_to_date():
        _install()
    if not _running_in_venv():
        script = os.path.abspath(sys.argv[0])
        os.execv(str(PYTHON), [str(PYTHON), script, *sys.argv[1:]])
