"""The deterministic identity of a task's job, from (dag_id, task_id, run_id, map_index).

It is what lets a retry, a worker crash or a triggerer restart find the job an earlier attempt submitted: every
backend stores it on the job (Armada: client_id and external_job_uri; Qarnot: tags; Apolo: tags and name) and can
search by it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

# Tags for schedulers that find jobs by tag (Qarnot, Apolo): every job this provider submits carries PROVIDER_TAG
# (one list call finds all of them), and `airflow.<key>=<value>` tags name its task instance.
PROVIDER_TAG = "airflow-provider-batch"
TAG_PREFIX = "airflow."


def identity_tag(identity: JobIdentity) -> str:
    """The same for every try of a task instance: how a retry finds the jobs earlier tries submitted."""
    return "airflow-ti-" + hashlib.sha256(identity.uri.encode()).hexdigest()[:32]


def submission_tag(identity: JobIdentity, generation: int) -> str:
    """Unique to one submission: how a status poll finds this job among many, and a lost answer is recovered."""
    return "airflow-job-" + hashlib.sha256(f"{identity.uri}#{generation}".encode()).hexdigest()[:32]


def key_value_tags(identity: JobIdentity) -> list[str]:
    """`airflow.dag_id=...`, `airflow.task_id=...` and their siblings."""
    return [f"{TAG_PREFIX}{key}={value}" for key, value in identity.tags().items()]


@dataclass(frozen=True)
class JobIdentity:
    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1
    try_number: int = 1

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> JobIdentity:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=str(ti.dag_id),
            task_id=str(ti.task_id),
            run_id=str(context.get("run_id") or ti.run_id),
            map_index=-1 if map_index is None else int(map_index),
            try_number=int(getattr(ti, "try_number", 1) or 1),
        )

    @property
    def uri(self) -> str:
        """`airflow://dag/task/run/map_index`, the same for every try of the task instance."""
        parts = (self.dag_id, self.task_id, self.run_id, str(self.map_index))
        return "airflow://" + "/".join(quote(part, safe="") for part in parts)

    def client_id(self, generation: int = 0) -> str:
        """A stable id (at most 64 characters) for one submission of this task instance.

        The same generation always gives the same id, so a submit retried after a lost reply is deduplicated by the
        scheduler. A deliberate new submission (after a failed job) uses a new generation, e.g. the try number.
        """
        digest = hashlib.sha256(f"{self.uri}#{generation}".encode()).hexdigest()[:24]
        readable = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.dag_id}.{self.task_id}")[:32].strip("-.")
        return f"{readable}-{digest}"

    def tags(self) -> dict[str, str]:
        """Key/value tags naming the task instance (for annotations, labels, tags)."""
        return {
            "dag_id": self.dag_id,
            "task_id": self.task_id,
            "run_id": self.run_id,
            "map_index": str(self.map_index),
            "try_number": str(self.try_number),
        }
