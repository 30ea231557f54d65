"""Where the DAGs of this folder find the Armada emulator: the test sets these variables (an original DAG names
its endpoint in its text; these DAGs are otherwise written as the original documentation shows)."""

from __future__ import annotations

import os

ARMADA_TARGET = os.environ.get("ORIGINAL_DAGS_ARMADA_TARGET", "127.0.0.1:50051")
ARMADA_TOKEN = os.environ.get("ORIGINAL_DAGS_ARMADA_TOKEN", "")
QUEUE = os.environ.get("ORIGINAL_DAGS_QUEUE", "original")
