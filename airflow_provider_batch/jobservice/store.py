"""Where the standalone job service keeps what it watches, so that a restart loses nothing.

SQLite (WAL) by default, PostgreSQL by URL (`postgresql+psycopg://user@host/db`). The schema is created once and
migrated forward by numbered steps recorded in `batch_jobservice_schema`; nothing is ever dropped on start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus

# Each step runs once, in order, and is recorded; add new steps at the end, never edit old ones.
MIGRATIONS: list[str] = [
    """CREATE TABLE IF NOT EXISTS batch_watched_jobs (
        backend VARCHAR(32) NOT NULL,
        conn_id VARCHAR(250) NOT NULL,
        job_id VARCHAR(250) NOT NULL,
        details TEXT NOT NULL,
        state VARCHAR(16),
        native_state VARCHAR(64),
        reason TEXT,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (backend, conn_id, job_id)
    )""",
    "CREATE INDEX IF NOT EXISTS batch_watched_jobs_updated ON batch_watched_jobs (updated_at)",
]


def engine_for(url: str) -> sa.Engine:
    """`sqlite:///path`, a bare path (SQLite), or a PostgreSQL URL."""
    if "://" not in url:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{url}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


class JobStore:
    def __init__(self, url: str) -> None:
        self.engine = engine_for(url)
        self.migrate()

    def migrate(self) -> int:
        """Apply the steps not applied yet; returns the schema version."""
        with self.engine.begin() as db:
            db.execute(sa.text("CREATE TABLE IF NOT EXISTS batch_jobservice_schema (version INTEGER NOT NULL)"))
            current = db.execute(sa.text("SELECT MAX(version) FROM batch_jobservice_schema")).scalar() or 0
            for version, statement in enumerate(MIGRATIONS, start=1):
                if version > current:
                    db.execute(sa.text(statement))
                    db.execute(sa.text("INSERT INTO batch_jobservice_schema (version) VALUES (:v)"), {"v": version})
        return len(MIGRATIONS)

    def save(self, updates: Iterable[tuple[JobRef, JobStatus | None]]) -> None:
        """Insert or update watched jobs with their latest state (None: watched, state not known yet)."""
        rows = [
            {
                "backend": job.backend,
                "conn_id": job.conn_id,
                "job_id": job.job_id,
                "details": json.dumps(job.details, sort_keys=True),
                "state": status.state.value if status else None,
                "native_state": status.native_state if status else None,
                "reason": status.reason if status else None,
                "updated_at": time.time(),
            }
            for job, status in updates
        ]
        if not rows:
            return
        with self.engine.begin() as db:
            for row in rows:
                changed = db.execute(
                    sa.text(
                        "UPDATE batch_watched_jobs SET details=:details, updated_at=:updated_at,"
                        " state=COALESCE(:state, state), native_state=COALESCE(:native_state, native_state),"
                        " reason=COALESCE(:reason, reason)"
                        " WHERE backend=:backend AND conn_id=:conn_id AND job_id=:job_id"
                    ),
                    row,
                ).rowcount
                if not changed:
                    db.execute(
                        sa.text(
                            "INSERT INTO batch_watched_jobs"
                            " (backend, conn_id, job_id, details, state, native_state, reason, updated_at)"
                            " VALUES (:backend, :conn_id, :job_id, :details, :state, :native_state, :reason,"
                            " :updated_at)"
                        ),
                        row,
                    )

    def load(self, newer_than: float = 0.0) -> list[tuple[JobRef, JobStatus | None]]:
        """Every watched job touched after `newer_than` (epoch seconds), with its last known state."""
        with self.engine.connect() as db:
            rows = db.execute(
                sa.text(
                    "SELECT backend, conn_id, job_id, details, state, native_state, reason FROM batch_watched_jobs"
                    " WHERE updated_at > :t ORDER BY backend, conn_id, job_id"
                ),
                {"t": newer_than},
            ).all()
        out: list[tuple[JobRef, JobStatus | None]] = []
        for backend, conn_id, job_id, details, state, native, reason in rows:
            status = JobStatus(JobState(state), native or "", reason or "") if state else None
            out.append((JobRef(backend, conn_id, job_id, json.loads(details)), status))
        return out

    def forget_older_than(self, cutoff: float) -> int:
        with self.engine.begin() as db:
            return int(
                db.execute(sa.text("DELETE FROM batch_watched_jobs WHERE updated_at < :t"), {"t": cutoff}).rowcount
            )

    def close(self) -> None:
        self.engine.dispose()
