"""Where the standalone job service keeps what it watches, so that a restart loses nothing.

SQLite (WAL) by default, PostgreSQL by URL (`postgresql+psycopg://user@host/db`). The schema is created once and
migrated forward by numbered steps recorded in `batch_jobservice_schema`; nothing is ever dropped on start.

Each row remembers when a caller last asked about its job (`asked_at`): a restart resumes the jobs asked about
within the forget period, and rows nobody asked about for longer are pruned. Rows are checked like requests
(`jobservice.boundary`) on the way in and on the way out: a bad row is logged and skipped, never written, and never
keeps the others from being written or read.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.limits import MAX_DETAIL_LENGTH
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.jobservice.boundary import checked_job

log = logging.getLogger(__name__)
Key = tuple[str, str, str]
MAX_REASON_LENGTH = 8192  # a scheduler's failure reason, cut to this before it is stored

# Each step runs once, in order, and is recorded; add new steps at the end, never edit old ones. A step is one
# SQL statement, or {dialect: statement or None} when dialects differ (None: nothing to do there).
Migration = str | Mapping[str, str | None]
MIGRATIONS: list[Migration] = [
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
    # 3-5: when a caller last asked about the job; rows written before have their last state change instead.
    "ALTER TABLE batch_watched_jobs ADD COLUMN asked_at DOUBLE PRECISION",
    "UPDATE batch_watched_jobs SET asked_at = updated_at WHERE asked_at IS NULL",
    "CREATE INDEX IF NOT EXISTS batch_watched_jobs_asked ON batch_watched_jobs (asked_at)",
    # 6: ids are bounded by the service's checks, not by the columns (SQLite never enforced VARCHAR lengths).
    {
        "postgresql": "ALTER TABLE batch_watched_jobs ALTER COLUMN backend TYPE TEXT, ALTER COLUMN conn_id TYPE TEXT,"
        " ALTER COLUMN job_id TYPE TEXT, ALTER COLUMN state TYPE TEXT, ALTER COLUMN native_state TYPE TEXT",
        "sqlite": None,
    },
]

_UPDATE = sa.text(
    "UPDATE batch_watched_jobs SET details=:details, updated_at=:updated_at,"
    " asked_at=COALESCE(:asked_at, asked_at),"
    " state=COALESCE(:state, state), native_state=COALESCE(:native_state, native_state),"
    " reason=COALESCE(:reason, reason)"
    " WHERE backend=:backend AND conn_id=:conn_id AND job_id=:job_id"
)
_INSERT = sa.text(
    "INSERT INTO batch_watched_jobs"
    " (backend, conn_id, job_id, details, state, native_state, reason, updated_at, asked_at)"
    " VALUES (:backend, :conn_id, :job_id, :details, :state, :native_state, :reason, :updated_at,"
    " COALESCE(:asked_at, :updated_at))"
)


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


def _store_is_down(error: BaseException) -> bool:
    """The database cannot be reached (a restart, a network cut): nothing was written, try all rows again later."""
    return isinstance(error, sa.exc.OperationalError) or bool(getattr(error, "connection_invalidated", False))


class JobStore:
    def __init__(self, url: str) -> None:
        self.engine = engine_for(url)
        self.migrate()

    def migrate(self) -> int:
        """Apply the steps not applied yet; returns the schema version."""
        dialect = self.engine.dialect.name
        with self.engine.begin() as db:
            db.execute(sa.text("CREATE TABLE IF NOT EXISTS batch_jobservice_schema (version INTEGER NOT NULL)"))
            current = db.execute(sa.text("SELECT MAX(version) FROM batch_jobservice_schema")).scalar() or 0
            for version, step in enumerate(MIGRATIONS, start=1):
                if version > current:
                    statement = step if isinstance(step, str) else step.get(dialect)
                    if statement:
                        db.execute(sa.text(statement))
                    db.execute(sa.text("INSERT INTO batch_jobservice_schema (version) VALUES (:v)"), {"v": version})
        return len(MIGRATIONS)

    def save(self, updates: Iterable[tuple[JobRef, JobStatus | None]], asked_at: float | None = None) -> int:
        """Insert or update watched jobs with their latest state (None: watched, state not known yet).

        `asked_at`: when a caller asked about these jobs (epoch seconds); None keeps the rows' time (a new row takes
        now). A row that fails the checks, or that the database refuses, is logged and skipped; the others are
        written. Raises only when the database cannot be reached. Returns how many rows were written.
        """
        now = time.time()
        rows = [row for row in (self._row(job, status, now, asked_at) for job, status in updates) if row]
        if not rows:
            return 0
        try:
            with self.engine.begin() as db:
                for row in rows:
                    self._upsert(db, row)
            return len(rows)
        except Exception as error:
            if _store_is_down(error):
                raise
            log.warning("writing %d jobs at once failed (%s); writing them one by one", len(rows), _short(error))
        written = 0
        for row in rows:  # one refused row must not keep the others out
            try:
                with self.engine.begin() as db:
                    self._upsert(db, row)
                written += 1
            except Exception as error:
                if _store_is_down(error):
                    raise
                log.warning("skipped job %.80s: the store refused it (%s)", row["job_id"], _short(error))
        return written

    @staticmethod
    def _upsert(db: sa.Connection, row: dict[str, Any]) -> None:
        if not db.execute(_UPDATE, row).rowcount:
            db.execute(_INSERT, row)

    @staticmethod
    def _row(job: JobRef, status: JobStatus | None, now: float, asked_at: float | None) -> dict[str, Any] | None:
        try:
            checked_job(job.backend, job.conn_id, job.job_id, job.details)
        except InvalidJobSpecError as error:
            log.warning("not storing a job the service would refuse: %s", error)
            return None
        return {
            "backend": job.backend,
            "conn_id": job.conn_id,
            "job_id": job.job_id,
            "details": json.dumps(job.details, sort_keys=True),
            "state": status.state.value if status else None,
            "native_state": status.native_state[:MAX_DETAIL_LENGTH] if status else None,
            "reason": status.reason[:MAX_REASON_LENGTH].replace("\x00", "") if status else None,
            "updated_at": now,
            "asked_at": asked_at,
        }

    def touch(self, asked: Mapping[Key, float]) -> None:
        """Record when callers last asked about these jobs (epoch seconds by (backend, conn_id, job_id))."""
        if not asked:
            return
        with self.engine.begin() as db:
            db.execute(
                sa.text(
                    "UPDATE batch_watched_jobs SET asked_at=:t WHERE backend=:b AND conn_id=:c AND job_id=:j"
                    " AND (asked_at IS NULL OR asked_at < :t)"
                ),
                [{"b": b, "c": c, "j": j, "t": t} for (b, c, j), t in asked.items()],
            )

    def load(self, newer_than: float = 0.0) -> list[tuple[JobRef, JobStatus | None]]:
        """Every watched job a caller asked about after `newer_than` (epoch seconds), with its last known state.

        Rows the service would refuse today (an unknown or local-only backend, a bad id, unreadable details or
        state) are logged and skipped.
        """
        return [(job, status) for job, status, _ in self.load_with_times(newer_than)]

    def load_with_times(self, newer_than: float = 0.0) -> list[tuple[JobRef, JobStatus | None, float]]:
        """As `load`, with when each job was last asked about."""
        with self.engine.connect() as db:
            rows = db.execute(
                sa.text(
                    "SELECT backend, conn_id, job_id, details, state, native_state, reason,"
                    " COALESCE(asked_at, updated_at) FROM batch_watched_jobs"
                    " WHERE COALESCE(asked_at, updated_at) > :t ORDER BY backend, conn_id, job_id"
                ),
                {"t": newer_than},
            ).all()
        out: list[tuple[JobRef, JobStatus | None, float]] = []
        for backend, conn_id, job_id, details, state, native, reason, asked in rows:
            try:
                job = checked_job(backend, conn_id, job_id, json.loads(details), "stored job")
                status = JobStatus(JobState(state), native or "", reason or "") if state else None
            except (ValueError, TypeError) as error:  # InvalidJobSpecError and JSONDecodeError are ValueErrors
                log.warning("skipped a stored job the service cannot watch (%s, %.80r): %s", backend, job_id, error)
                continue
            out.append((job, status, float(asked)))
        return out

    def prune(self, cutoff: float) -> int:
        """Delete the rows of jobs nobody asked about since `cutoff` (epoch seconds); how many were deleted."""
        with self.engine.begin() as db:
            return int(
                db.execute(
                    sa.text("DELETE FROM batch_watched_jobs WHERE COALESCE(asked_at, updated_at) < :t"), {"t": cutoff}
                ).rowcount
            )

    forget_older_than = prune

    def close(self) -> None:
        self.engine.dispose()


def _short(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__
