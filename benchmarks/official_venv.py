"""The virtual environment the benchmarks run the official `armada-airflow` operator in.

armada-airflow 1.1.3 pins Airflow < 3.3, while this checkout's .venv has the newest Airflow; so its operator runs in
a venv of its own, `.venv-airflow3.2-armada-airflow/` (newest Airflow 3.2.x, armada-airflow 1.1.3, psutil), made
with uv on first use and kept between runs (installed again when the requirements below change). This provider is
not installed there: the benchmark puts the checkout on PYTHONPATH (its generated protos live in the work tree), so
both operators run the same code of ours.

The distributed benchmark (`benchmarks/distributed.py`) runs a whole Airflow from this venv, so it also holds what
those components import: the Celery provider with celery[redis] < 5.7 (5.7 breaks the provider's imports),
psycopg[binary] (the PostgreSQL metadata database), statsd (Airflow's own task-start counter, `ti.start`), this
provider's own dependencies that Airflow does not bring (boto3), and matplotlib for the charts.

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
OFFICIAL = ("apache-airflow>=3.2,<3.3", "armada-airflow==1.1.3", "fastapi<0.137", "psutil")
# What a distributed Airflow made of this venv needs beside it (see the module docstring).
DISTRIBUTED = (
    "apache-airflow-providers-celery>=3.10",
    "celery[redis]>=5.5,<5.7",
    "psycopg[binary]>=3.2",
    "statsd>=4",
    "boto3>=1.38",
    "matplotlib>=3.8",
)
REQUIREMENTS = OFFICIAL + DISTRIBUTED


def uv() -> str:
    """The uv next to the running interpreter (.venv/bin/uv), else the one on PATH."""
    beside = Path(sys.executable).with_name("uv")
    return str(beside) if beside.exists() else "uv"


def _stamp_text() -> str:
    return " ".join(REQUIREMENTS) + "\n"


def official_python() -> Path:
    """The venv's python, made first when it is missing or its requirements changed (a few minutes)."""
    python = VENV / "bin" / "python"
    if python.exists() and STAMP.exists() and STAMP.read_text(encoding="utf-8") == _stamp_text():
        return python
    print(f"making {VENV} (Airflow 3.2.x + armada-airflow 1.1.3 + Celery) with uv ...", file=sys.stderr, flush=True)
    subprocess.run([uv(), "venv", "-q", "--allow-existing", "--python", sys.executable, str(VENV)], check=True)
    # one resolution for all, so that nothing added lifts Airflow past 3.2.x
    subprocess.run([uv(), "pip", "install", "-q", "--python", str(python), *REQUIREMENTS], check=True)
    STAMP.write_text(_stamp_text(), encoding="utf-8")
    return python


def official_env() -> dict[str, str]:
    """The environment for a process of that venv: this checkout importable (its protos are generated in place)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


if __name__ == "__main__":
    print(official_python())
