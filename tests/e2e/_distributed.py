"""A real distributed Airflow on this machine, without Docker: PostgreSQL metadata database, CeleryExecutor with
Redis as broker, and each component a process of its own.

    airflow = start(home, dags_folder, connections=..., n_triggerers=2, n_workers=2)
    try:
        run_id = airflow.trigger("my_dag")
        ...
        airflow.kill("triggerer", 0)          # SIGKILL its whole process tree: a crash, not a shutdown
    finally:
        airflow.stop()                         # every process group started, the database, the Redis DB

What `start` does, in order (each step's seconds are kept in `airflow.timings`, to say where boot time goes):
  1. services: PostgreSQL at 127.0.0.1:5432 and Redis at 127.0.0.1:6379 answer, or are started (as root, the way
     `.ci/run` does); `ServiceMissing` if they still do not answer (a test fails on it under CI=true).
  2. a database of its own, `airflow_dist_<random>` (dropped by `stop`), and a Redis DB number of its own (claimed
     with a key, only that one flushed by `stop`); the Celery result backend is the same PostgreSQL database;
  3. `airflow db migrate`;
  4. api-server, scheduler, dag-processor, `n_workers` x `airflow celery worker` (distinct Celery hostnames
     `worker<i>@...`, concurrency `worker_concurrency`) and `n_triggerers` x `airflow triggerer`, all bound to
     127.0.0.1, each in a process group of its own (start_new_session) with its log in `home/<component>-<i>.log`;
  5. waits until /api/v2/monitor/health says metadatabase, scheduler, dag processor and triggerer are healthy,
     every Celery worker answers a ping and `n_triggerers` TriggererJob rows are alive, then gets an API token.

`airflow_bin_dir` points at the venv whose `airflow` runs the components (another Airflow version, e.g. for a
benchmark); this process only talks to them over HTTP, SQL and Redis, and never imports Airflow. That venv needs
what the components import: apache-airflow-providers-celery with celery[redis] < 5.7 (5.7 breaks the provider's
imports), psycopg[binary] (the metadata database's sync and async engines), and this provider for its DAGs.
`settings` may hold any environment variable, not only AIRFLOW__* (e.g. PYTHONPATH for the DAGs' imports).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import quote

import psutil
import psycopg
import redis
import requests
from _standalone import TERMINAL_RUN_STATES, free_port, wait_for

VENV_BIN = Path(sys.executable).parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_CLAIM_KEY = "airflow_dist:claimed_by"
HEALTH_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
# Boot on the 2-core machine: migrate about 40 s, then seven Airflow processes importing at once. Bounded so that a
# hang ends with the components that did not come up named; sized for a loaded machine (see _standalone.py).
BOOT_TIMEOUT = 420.0
MIGRATE_TIMEOUT = 300.0
# A fixed key, for local test runs only: every component must share it to read the connections it encrypts.
FERNET_KEY = "hzvP5pVToZlu_jXegbaR8F7bj9yjvYY6w_btHMld5tY="


# The hostname a triggerer reports (its TriggererJob row), from an environment variable of its own.
HOSTNAME_MODULE, HOSTNAME_VARIABLE = "airflow_dist_hostname", "AIRFLOW_DIST_HOSTNAME"
HOSTNAME_SOURCE = f"""import os\n\n\ndef hostname() -> str:\n    return os.environ["{HOSTNAME_VARIABLE}"]\n"""


class ServiceMissing(RuntimeError):
    """PostgreSQL or Redis does not answer on 127.0.0.1 and could not be started."""


class ComponentExited(RuntimeError):
    """A component exited while the harness was starting (its log tail in the message)."""


# -- the machine's services -------------------------------------------------------------------------------------


def _postgres_answers() -> bool:
    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _redis_answers() -> bool:
    try:
        return bool(redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_timeout=3).ping())
    except redis.RedisError:
        return False


def _run_quietly(args: Sequence[str]) -> None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)


def ensure_postgres(timeout: float = 30.0) -> None:
    """PostgreSQL answers at 127.0.0.1:5432 as `postgres` without a password, or is started (every Debian cluster,
    then `service postgresql start`); ServiceMissing if it still does not answer."""
    if _postgres_answers():
        return
    if shutil.which("pg_lsclusters") and shutil.which("pg_ctlcluster"):
        listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False)
        for line in listed.stdout.splitlines():
            version, cluster = [*line.split(), "", ""][:2]
            if version and cluster:
                _run_quietly(["pg_ctlcluster", version, cluster, "start"])
    if not _postgres_answers() and shutil.which("service"):
        _run_quietly(["service", "postgresql", "start"])
    try:
        wait_for("PostgreSQL at 127.0.0.1:5432", _postgres_answers, timeout=timeout, every=1.0)
    except AssertionError as error:
        raise ServiceMissing(f"PostgreSQL does not answer at {PG_HOST}:{PG_PORT} as {PG_USER}: {error}") from None


def ensure_redis(timeout: float = 30.0) -> None:
    """Redis answers at 127.0.0.1:6379, or `redis-server --daemonize yes` is started; ServiceMissing otherwise."""
    if _redis_answers():
        return
    if shutil.which("redis-server"):
        # no snapshots: the DBs are throwaway (a dump.rdb would land in the working directory)
        daemon = ["redis-server", "--daemonize", "yes", "--bind", REDIS_HOST, "--port", str(REDIS_PORT)]
        _run_quietly([*daemon, "--save", "", "--appendonly", "no"])
    try:
        wait_for("Redis at 127.0.0.1:6379", _redis_answers, timeout=timeout, every=0.5)
    except AssertionError as error:
        raise ServiceMissing(f"Redis does not answer at {REDIS_HOST}:{REDIS_PORT}: {error}") from None


def claim_redis_db(owner: str) -> int:
    """A Redis DB number nobody uses (empty), claimed with a key holding `owner` (SET NX, so two harnesses started
    at once do not take the same one)."""
    databases = int(redis.Redis(host=REDIS_HOST, port=REDIS_PORT).config_get("databases").get("databases", 16))
    for number in secrets.SystemRandom().sample(range(1, databases), databases - 1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if client.dbsize() == 0 and client.set(REDIS_CLAIM_KEY, owner, nx=True):
            return number
    raise ServiceMissing(f"no empty Redis database among 1..{databases - 1} at {REDIS_HOST}:{REDIS_PORT}")


def release_redis_db(number: int, owner: str) -> None:
    """FLUSHDB of our own DB number only, and only while it still carries our claim."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
    with contextlib.suppress(redis.RedisError):
        if client.get(REDIS_CLAIM_KEY) == owner.encode():
            client.flushdb()


# -- the harness ------------------------------------------------------------------------------------------------


@dataclass
class Component:
    """One started process: `name` ("scheduler", "worker", "triggerer", ...), its index among its kind."""

    name: str
    index: int
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None


class DistributedAirflow:
    """Airflow with `executor` ("CeleryExecutor", or "LocalExecutor": then no workers and no Redis) in `home`,
    reading DAGs from `dags_folder`.

    connections: conn_id -> connection in Airflow's JSON form (AIRFLOW_CONN_<CONN_ID> for every component).
    settings: more AIRFLOW__SECTION__KEY values (they override the defaults below).
    """

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        *,
        executor: str = "CeleryExecutor",
        n_triggerers: int = 2,
        n_workers: int = 2,
        worker_concurrency: int = 4,
        airflow_bin_dir: Path = VENV_BIN,
        connections: Mapping[str, Mapping[str, Any]] = {},
        settings: Mapping[str, str] = {},
        boot_timeout: float = BOOT_TIMEOUT,
        request_timeout: float = 20.0,
    ) -> None:
        if executor not in ("CeleryExecutor", "LocalExecutor"):
            raise ValueError(f"executor {executor!r}: CeleryExecutor or LocalExecutor")
        self.home, self.dags_folder = home, dags_folder
        self.executor = executor
        self.n_triggerers = n_triggerers
        self.n_workers = n_workers if executor == "CeleryExecutor" else 0
        self.worker_concurrency = worker_concurrency
        self.airflow = Path(airflow_bin_dir) / "airflow"
        self.boot_timeout, self.request_timeout = boot_timeout, request_timeout
        self.owner = f"airflow_dist_{secrets.token_hex(4)}"
        self.database = self.owner  # the metadata database's name
        self.redis_db: int | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.connections, self.settings = dict(connections), dict(settings)
        self.components: list[Component] = []
        self.timings: dict[str, float] = {}
        self.headers: dict[str, str] = {}
        self._logs: list[IO[bytes]] = []
        self._known: dict[int, psutil.Process] = {}  # every process seen under ours, for the teardown
        self._lock = threading.Lock()
        self._health: dict[str, Any] | None = None
        self._database_created = False
        self._jwt_secret = secrets.token_urlsafe(32)
        self._began = 0.0

    # -- configuration -----------------------------------------------------------------------------------------

    @property
    def sql_alchemy_conn(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.database}"

    @property
    def broker_url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}"

    def env(self) -> dict[str, str]:
        """The environment every component shares."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env.update(
            {
                "PATH": f"{self.airflow.parent}{os.pathsep}{env.get('PATH', '')}",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
                "AIRFLOW__CORE__PARALLELISM": "64",
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "256",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
                # psycopg 3 serves the async engine too (Airflow would otherwise pick asyncpg, not installed)
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.sql_alchemy_conn,
                # every component signs or checks the task tokens and the UI's sessions with the same secrets
                "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
                "AIRFLOW__API__SECRET_KEY": self.owner,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__BASE_URL": self.base,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.executor == "CeleryExecutor":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                    "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{self.sql_alchemy_conn}",
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                    # sending a task to Redis on a loaded 2-core machine can take more than the default 1 s
                    "AIRFLOW__CELERY__OPERATION_TIMEOUT": "10",
                }
            )
        for conn_id, conn in self.connections.items():
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(dict(conn))
        env.update(self.settings)
        return env

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def __enter__(self) -> DistributedAirflow:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Services, database, migration, components; returns once all are up (see the module docstring)."""
        if not self.airflow.exists():
            raise FileNotFoundError(f"{self.airflow}: no `airflow` in airflow_bin_dir")
        began = self._began = time.monotonic()
        try:
            with self._timed("services"):
                ensure_postgres()
                if self.executor == "CeleryExecutor":
                    ensure_redis()
            with self._timed("database"):
                self._create_database()
                if self.executor == "CeleryExecutor":
                    self.redis_db = claim_redis_db(self.owner)
            with self._timed("migrate"):
                self._migrate()
            with self._timed("components"):
                self._spawn_all()
                self._wait_healthy(began)
            self.headers = {"Authorization": f"Bearer {self._token()}"}
        except BaseException:
            self.stop()
            raise
        self.timings["boot"] = time.monotonic() - began

    @contextlib.contextmanager
    def _timed(self, step: str) -> Any:
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings[step] = time.monotonic() - began

    def _create_database(self) -> None:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{self.database}"')
        self._database_created = True

    def _drop_database(self) -> None:
        if not self._database_created:
            return
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        self._database_created = False

    def _migrate(self) -> None:
        log_path = self.home / "db-migrate.log"
        with open(log_path, "ab") as log:
            done = subprocess.run(
                [str(self.airflow), "db", "migrate"],
                env=self.env(),
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=MIGRATE_TIMEOUT,
                check=False,
            )
        if done.returncode != 0:
            raise AssertionError(f"airflow db migrate exited with {done.returncode}:\n{_tail(log_path)}")

    def _spawn_all(self) -> None:
        self._spawn("api-server", 0, ["api-server"])
        self._spawn("scheduler", 0, ["scheduler"])
        self._spawn("dag-processor", 0, ["dag-processor"])
        for index in range(self.n_workers):
            self.start_worker(index)
        for index in range(self.n_triggerers):
            self.start_triggerer(index)

    def start_worker(self, index: int) -> Component:
        """`airflow celery worker` number `index` (Celery hostname `worker<index>@<host>`, its own log port)."""
        args = ["celery", "worker", "-H", f"worker{index}@%h", "-c", str(self.worker_concurrency)]
        args += ["--without-gossip", "--without-mingle"]
        return self._spawn("worker", index, args, {"AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())})

    def start_triggerer(self, index: int) -> Component:
        """`airflow triggerer` number `index`: its own log port, and `triggerer_hostname(index)` as the hostname of
        its TriggererJob row (how `triggerer_job_id` tells the triggerers apart)."""
        env = {
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{HOSTNAME_MODULE}.hostname",
            HOSTNAME_VARIABLE: self.triggerer_hostname(index),
            # the hostname module first, then whatever the settings (or this environment) put on the path
            "PYTHONPATH": os.pathsep.join(filter(None, [str(self.home), self.env().get("PYTHONPATH")])),
        }
        (self.home / f"{HOSTNAME_MODULE}.py").write_text(HOSTNAME_SOURCE)
        return self._spawn("triggerer", index, ["triggerer"], env)

    def triggerer_hostname(self, index: int) -> str:
        return f"triggerer{index}.{self.owner}"

    def _spawn(self, name: str, index: int, args: list[str], extra_env: Mapping[str, str] = {}) -> Component:
        log_path = self.home / f"{name}-{index}.log"
        log = open(log_path, "ab")  # noqa: SIM115 (closed in stop)
        self._logs.append(log)
        env = self.env()
        # the scheduler's LocalExecutor serves task logs too: never the fixed 8793 another run holds
        env.setdefault("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", str(free_port()))
        env.setdefault("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", str(free_port()))
        env.update(extra_env)
        popen = subprocess.Popen(
            [str(self.airflow), *args],
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        component = Component(name, index, popen, log_path)
        self.components.append(component)
        return component

    def _wait_healthy(self, began: float) -> None:
        remaining = max(1.0, self.boot_timeout - (time.monotonic() - began))
        try:
            wait_for("the distributed Airflow to be up", self._up, timeout=remaining, every=1.0)
        except AssertionError:
            raise AssertionError(
                f"distributed Airflow not up after {self.boot_timeout:.0f}s: {self.not_up()}\n{self.log_tails()}"
            ) from None

    def _up(self) -> bool:
        for component in self.components:
            if not component.alive:
                raise ComponentExited(
                    f"{component.name} {component.index} exited with {component.popen.returncode}:\n"
                    f"{_tail(component.log_path)}"
                )
        self.processes()  # remember the processes as they come up
        try:
            health = requests.get(f"{self.base}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            self._health = None
            return False
        self._health = health if isinstance(health, dict) else None
        if not all((health.get(part) or {}).get("status") == "healthy" for part in HEALTH_PARTS):
            return False
        # from the start of `start`: the api-server, scheduler, dag-processor and a triggerer report healthy
        self.timings.setdefault("api healthy", time.monotonic() - self._began)
        if len(self.alive_triggerer_jobs()) < self.n_triggerers:
            return False
        return len(self.ping_workers()) >= self.n_workers

    def not_up(self) -> str:
        """What was not up at the last check."""
        missing = []
        if self._health is None:
            missing.append(f"api-server (no answer from {self.base}/api/v2/monitor/health)")
        else:
            for part in HEALTH_PARTS:
                status = (self._health.get(part) or {}).get("status") or "missing"
                if status != "healthy":
                    missing.append(f"{part} ({status})")
        with contextlib.suppress(Exception):
            missing.append(f"{len(self.alive_triggerer_jobs())}/{self.n_triggerers} triggerers alive")
        with contextlib.suppress(Exception):
            missing.append(f"{len(self.ping_workers())}/{self.n_workers} celery workers answering")
        return ", ".join(missing)

    def _token(self) -> str:
        passwords = self.home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())["admin"]
        response = requests.post(
            f"{self.base}/auth/token", json={"username": "admin", "password": password}, timeout=self.request_timeout
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM to every process group started here and every process seen under them, SIGKILL to what is left
        after `grace`; then drop the database and flush our Redis DB. Safe to call more than once."""
        victims = [p for p in self.processes() if p.pid != os.getpid()]
        for process in psutil.process_iter(["cwd"]):  # orphans whose parent died unseen still work in our home
            with contextlib.suppress(psutil.Error):
                if process.info["cwd"] == str(self.home) and process.pid != os.getpid() and process not in victims:
                    victims.append(process)
        for component in self.components:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(component.popen.pid, signal.SIGTERM)
        for process in victims:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs(victims, timeout=grace)
        for component in self.components:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(component.popen.pid, signal.SIGKILL)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=5)
        for component in self.components:
            with contextlib.suppress(subprocess.TimeoutExpired):
                component.popen.wait(timeout=5)
        for log in self._logs:
            log.close()
        self._logs.clear()
        with contextlib.suppress(psycopg.Error):
            self._drop_database()
        if self.redis_db is not None:
            release_redis_db(self.redis_db, self.owner)
            self.redis_db = None

    def log_tails(self, chars: int = 1500) -> str:
        return "\n".join(f"--- {c.log_path.name}\n{_tail(c.log_path, chars)}" for c in self.components)

    # -- processes ---------------------------------------------------------------------------------------------

    def processes(self) -> list[psutil.Process]:
        """Live processes started here and everything under them (remembered, so that a process whose parent died
        is still found by the teardown)."""
        with self._lock:
            for component in self.components:
                with contextlib.suppress(psutil.Error):
                    root = psutil.Process(component.popen.pid)
                    for process in [root, *root.children(recursive=True)]:
                        self._known.setdefault(process.pid, process)
            alive = []
            for pid, process in list(self._known.items()):
                try:
                    running = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
                except psutil.Error:
                    running = False
                if running:
                    alive.append(process)
                else:
                    del self._known[pid]
            return alive

    def component(self, name: str, index: int = 0) -> Component:
        for component in self.components:
            if (component.name, component.index) == (name, index) and component.alive:
                return component
        raise LookupError(f"no live {name} {index}")

    def tree(self, name: str, index: int = 0) -> list[psutil.Process]:
        """The component's process and every process under it."""
        root = psutil.Process(self.component(name, index).popen.pid)
        return [root, *root.children(recursive=True)]

    def usage(self, name: str, index: int = 0) -> tuple[float, float]:
        """(CPU seconds so far, RSS MB now) of the component and every process under it (a triggerer's trigger
        runner, a worker's pool and task processes)."""
        cpu = rss = 0.0
        for process in self.tree(name, index):
            try:
                times = process.cpu_times()
                cpu += times.user + times.system
                rss += process.memory_info().rss / 2**20
            except psutil.Error:
                continue
        return cpu, rss

    def kill(self, name: str, index: int = 0) -> list[int]:
        """SIGKILL the component and every process under it at once (a crash: no heartbeat, no clean-up); pids."""
        victims = self.tree(name, index)
        for process in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(victims, timeout=10)
        self.component_popen_wait(name, index)
        return [process.pid for process in victims]

    def component_popen_wait(self, name: str, index: int) -> None:
        for component in self.components:
            if (component.name, component.index) == (name, index):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    component.popen.wait(timeout=10)

    def owner_of(self, pid: int) -> tuple[str, int] | None:
        """Which component's process tree holds `pid` (e.g. a task process): (name, index), or None."""
        for component in self.components:
            if not component.alive:
                continue
            with contextlib.suppress(psutil.Error):
                if pid in {p.pid for p in self.tree(component.name, component.index)}:
                    return component.name, component.index
        return None

    def ping_workers(self, timeout: float = 2.0) -> list[str]:
        """The Celery hostnames of the workers answering a broadcast ping."""
        from celery import Celery  # a test dependency; imported here so that LocalExecutor runs need none

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.ping(timeout=timeout) or []
        except Exception:  # the broker or a worker not up yet
            return []
        finally:
            app.close()
        return sorted(name for reply in replies for name in reply)

    # -- the metadata database ---------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read from the metadata database (its own short connection)."""
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.database, autocommit=True) as db:
            return list(db.execute(sql, params).fetchall())

    def alive_triggerer_jobs(self, within: float = 30.0) -> dict[int, str]:
        """job id -> hostname of the TriggererJob rows running with a heartbeat younger than `within` seconds."""
        rows = self.query(
            "SELECT id, hostname FROM job WHERE job_type = 'TriggererJob' AND state = 'running'"
            " AND latest_heartbeat > now() - make_interval(secs => %s)",
            (within,),
        )
        return {int(job_id): str(hostname) for job_id, hostname in rows}

    def triggerer_job_id(self, index: int) -> int:
        """The id of triggerer `index`'s newest TriggererJob row (found by the hostname it reports)."""
        rows = self.query(
            "SELECT id FROM job WHERE job_type = 'TriggererJob' AND hostname = %s ORDER BY id DESC LIMIT 1",
            (self.triggerer_hostname(index),),
        )
        if not rows:
            raise LookupError(f"triggerer {index} has no TriggererJob row yet")
        return int(rows[0][0])

    def triggers_by_triggerer(self) -> dict[int | None, list[int]]:
        """triggerer job id (None: not assigned) -> the ids of the trigger rows it holds."""
        held: dict[int | None, list[int]] = {}
        for trigger_id, triggerer_id in self.query("SELECT id, triggerer_id FROM trigger ORDER BY id"):
            held.setdefault(triggerer_id, []).append(int(trigger_id))
        return held

    # -- REST API ----------------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.base}/api/v2{path}", headers=self.headers, timeout=self.request_timeout, **kwargs
        )
        assert response.ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def trigger(self, dag_id: str, parse_timeout: float = 180.0) -> str:
        """Wait until the DAG is parsed, unpause it and start a run; the run id."""

        def parsed() -> bool:
            url = f"{self.base}/api/v2/dags/{dag_id}"
            return requests.get(url, headers=self.headers, timeout=self.request_timeout).ok

        wait_for(f"{dag_id} to be parsed", parsed, timeout=parse_timeout, every=1.0)
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        return str(self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})["dag_run_id"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones one per map index)."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.api(
                "GET",
                f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances",
                params={"limit": 100, "offset": len(found)},
            )
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.api("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id)}")["state"])

    def wait_run_end(self, dag_id: str, run_id: str, timeout: float) -> str:
        def ended() -> str | None:
            state = self.run_state(dag_id, run_id)
            return state if state in TERMINAL_RUN_STATES else None

        return wait_for(f"run {run_id} of {dag_id} to end", ended, timeout=timeout, every=2.0)

    def task_log_dir(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Path:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return folder if map_index < 0 else folder / f"map_index={map_index}"


def start(
    home: Path,
    dags_folder: Path,
    *,
    executor: str = "CeleryExecutor",
    n_triggerers: int = 2,
    n_workers: int = 2,
    airflow_bin_dir: Path = VENV_BIN,
    **kwargs: Any,
) -> DistributedAirflow:
    """A started DistributedAirflow (see its arguments); call `.stop()` when done (or use it as a context manager
    unstarted: `with DistributedAirflow(...) as airflow:`)."""
    airflow = DistributedAirflow(
        home,
        dags_folder,
        executor=executor,
        n_triggerers=n_triggerers,
        n_workers=n_workers,
        airflow_bin_dir=airflow_bin_dir,
        **kwargs,
    )
    airflow.start()
    return airflow


def _tail(path: Path, chars: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""
