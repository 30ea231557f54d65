"""The virtual environment the benchmarks run the official `armada-airflow` operator in.

armada-airflow 1.1.3 pins Airflow < 3.3, while this checkout's .venv has the newest Airflow; so its operator runs in
a venv of its own, `.venv-airflow3.2-armada-airflow/` (newest Airflow 3.2.x, armada-airflow 1.1.3, psutil), made
with uv on first use and kept between runs. This provider is not installed there: the benchmark puts the checkout
on PYTHONPATH (its generated protos live in the work tree), so both operators run the same code of ours.

    .venv/bin/python -m benchmarks.official_venv          # make it (idempotent), print its python
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-airflow3.2-armada-airflow"  # .venv-airflow*/ is git-ignored
STAMP = VENV / ".installed"
# What the official operator needs; FastAPI 0.137+ breaks Airflow 3.2's execution API at start (see the Makefile).
REQUIREMENTS = ("apache-airflow>=3.2,<3.3", "armada-airflow==1.1.3", "fastapi<0.137", "psutil")


def uv() -> str:
    """The uv next to the running interpreter (.venv/bin/uv), else the one on PATH."""
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else "uv"


def official_python() -> Path:
    """The venv's python, made first when it is missing (a few minutes on first use)."""
    python = VENV / "bin" / "python"
    if STAMP.exists() and python.exists():
        return python
    print(f"making {VENV} (Airflow 3.2.x + armada-airflow 1.1.3) with uv ...", file=sys.stderr, flush=True)
    subprocess.run([uv(), "venv", "-q", "--allow-existing", "--python", sys.executable, str(VENV)], check=True)
    subprocess.run([uv(), "pip", "install", "-q", "--python", str(python), *REQUIREMENTS], check=True)
    STAMP.write_text(" ".join(REQUIREMENTS) + "\n", encoding="utf-8")
    return python


def official_env() -> dict[str, str]:
    """The environment for a process of that venv: this checkout importable (its protos are generated in place)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


if __name__ == "__main__":
    print(official_python())
