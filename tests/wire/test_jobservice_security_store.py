"""The job service's store: bounded ids, one bad row never blocks the others, pruning, resume by time of asking."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
import sqlalchemy as sa

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.jobservice.store import JobStore

pytestmark = pytest.mark.wire
GOOD = [JobRef("armada", "armada_default", f"01GOOD{i}", {"queue": "q", "job_set_id": "s"}) for i in range(3)]
LONG = JobRef("armada", "armada_default", "x" * 300, {"queue": "q"})


def _postgres() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(not _postgres(), reason="no PostgreSQL"))]
)
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield str(tmp_path / "js.db")
        return
    name = f"js_{uuid.uuid4().hex[:10]}"  # a database of this test's own
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as db:
            db.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_an_overlong_id_is_skipped_and_the_rest_of_the_batch_is_written(store_url, caplog):
    store = JobStore(store_url)
    try:
        assert store.save([(GOOD[0], None), (LONG, None), (GOOD[1], JobStatus(JobState.RUNNING, "RUNNING"))]) == 2
        assert sorted(job.job_id for job, _ in store.load()) == ["01GOOD0", "01GOOD1"]
        assert "not storing" in caplog.text
    finally:
        store.close()


def test_a_row_the_database_refuses_does_not_block_the_others(tmp_path, caplog):
    path = str(tmp_path / "js.db")
    store = JobStore(path)
    with store.engine.begin() as db:  # the database itself refuses one row (as a constraint or a type would)
        db.execute(
            sa.text(
                "CREATE TRIGGER poison BEFORE INSERT ON batch_watched_jobs WHEN NEW.job_id = '01POISON'"
                " BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    poison = JobRef("armada", "armada_default", "01POISON", {})
    assert store.save([(GOOD[0], None), (poison, None), (GOOD[1], None)]) == 2
    assert sorted(job.job_id for job, _ in store.load()) == ["01GOOD0", "01GOOD1"]
    assert "01POISON" in caplog.text
    store.close()


def test_resume_and_pruning_follow_the_time_of_asking_not_of_the_last_state_change(store_url):
    store = JobStore(store_url)
    try:
        long_ago = time.time() - 1000
        store.save([(GOOD[0], None)], asked_at=long_ago)
        store.save([(GOOD[1], None)], asked_at=long_ago)
        store.save([(GOOD[0], JobStatus(JobState.RUNNING, "RUNNING"))])  # a state change is no request
        cutoff = time.time() - 300
        assert store.load(cutoff) == []
        store.touch({("armada", "armada_default", "01GOOD1"): time.time()})  # asked again
        assert [job.job_id for job, _ in store.load(cutoff)] == ["01GOOD1"]
        assert store.prune(cutoff) == 1
        assert [job.job_id for job, _ in store.load()] == ["01GOOD1"]
    finally:
        store.close()


def test_an_old_store_is_migrated_and_its_rows_keep_their_time(tmp_path):
    path = tmp_path / "old.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    from airflow_provider_batch.jobservice.store import MIGRATIONS

    with engine.begin() as db:  # the schema as version 2 left it, with one row
        db.execute(sa.text("CREATE TABLE batch_jobservice_schema (version INTEGER NOT NULL)"))
        for version, step in enumerate(MIGRATIONS[:2], start=1):
            db.execute(sa.text(step))  # type: ignore[arg-type]
            db.execute(sa.text("INSERT INTO batch_jobservice_schema VALUES (:v)"), {"v": version})
        db.execute(
            sa.text(
                "INSERT INTO batch_watched_jobs (backend, conn_id, job_id, details, updated_at)"
                " VALUES ('armada', 'armada_default', '01OLD', '{}', :t)"
            ),
            {"t": time.time() - 10},
        )
    engine.dispose()
    store = JobStore(str(path))
    assert [job.job_id for job, _ in store.load(time.time() - 60)] == ["01OLD"]
    assert store.prune(time.time() - 5) == 1
    store.close()
