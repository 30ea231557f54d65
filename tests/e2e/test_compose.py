"""docker-compose.yaml and its Dockerfile, checked without a Docker engine.

`docker compose config` (or Debian's `docker-compose config`) validates the file and resolves anchors and
`${VAR:-default}`; where neither is on PATH that check skips and the same structural checks run on the file as PyYAML
reads it (with the defaults filled in here). The checks: the services a deployment needs, their image or build,
commands that the provider's own command lines accept, healthchecks, start order, the shared Airflow settings, and
connections that parse and name a connection type the provider declares, one for each type, pointing at the emulators
or the job service.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from _standalone import free_port
from cryptography.fernet import Fernet

from airflow_provider_batch.emulators import launch
from airflow_provider_batch.emulators.cli import build_parser
from airflow_provider_batch.get_provider_info import get_provider_info
from airflow_provider_batch.jobservice.__main__ import parse as parse_jobservice

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
AIRFLOW_COMPONENTS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
AIRFLOW_SERVICES = ["airflow-init", *AIRFLOW_COMPONENTS]
# The `celery` profile (AIRFLOW_EXECUTOR=CeleryExecutor docker compose --profile celery up): Redis, two Celery workers
# and a second triggerer beside the default one.
CELERY_WORKERS = ["airflow-worker-1", "airflow-worker-2"]
CELERY_AIRFLOW_SERVICES = [*CELERY_WORKERS, "airflow-triggerer-2"]
CELERY_PROFILE = ["redis", *CELERY_AIRFLOW_SERVICES]
OUR_SERVICES = ["emulators", "jobservice"]  # run this image too, with our own command lines
HEALTHCHECKED = ["postgres", *AIRFLOW_COMPONENTS, *OUR_SERVICES]
SHARED_SETTINGS = [
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__BATCH__JOBSERVICE_CONN_ID",
]
VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def interpolate(value: Any) -> Any:
    """What compose does to `${VAR:-default}` when VAR is unset (and `$$` -> `$`), through lists and mappings."""
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: m.group(2) or "", value).replace("$$", "$")
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    return value


def from_pyyaml() -> dict[str, Any]:
    model = interpolate(yaml.safe_load(COMPOSE.read_text()))
    return {key: value for key, value in model.items() if not key.startswith("x-")}


def from_compose_config(**variables: str) -> dict[str, Any]:
    command = compose_command()
    if command is None:
        missing = "neither `docker compose` nor `docker-compose` is on PATH (apt-get install docker-compose)"
        # CI installs it (.ci/run): there a missing tool is a broken machine, not a reason to skip the check
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {missing}")
        pytest.skip(missing)
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(ROOT)}  # no COMPOSE_*/secret overrides from outside
    env.update(variables)
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "config"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, f"{' '.join(command)} config refused the file:\n{result.stderr}"
    return dict(yaml.safe_load(result.stdout))


@pytest.fixture(scope="module", params=["compose-config", "pyyaml"])
def model(request: pytest.FixtureRequest) -> dict[str, Any]:
    return from_compose_config() if request.param == "compose-config" else from_pyyaml()


def services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(model["services"])


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    needs = service.get("depends_on") or {}
    if isinstance(needs, list):
        return dict.fromkeys(needs, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in needs.items()}


def connections(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for key, value in environment(service).items():
        if key.startswith("AIRFLOW_CONN_"):
            try:
                found[key[len("AIRFLOW_CONN_") :].lower()] = json.loads(value)
            except json.JSONDecodeError as error:
                pytest.fail(f"{key} is not JSON ({error}): {value}")
    return found


def test_the_stack_has_every_service_with_its_image(model: dict[str, Any]) -> None:
    found = services(model)
    missing = {"postgres", *AIRFLOW_SERVICES, *OUR_SERVICES} - set(found)
    assert not missing, f"services missing: {sorted(missing)}"
    assert str(found["postgres"]["image"]).startswith("postgres:")
    for name in [*AIRFLOW_SERVICES, *OUR_SERVICES]:
        build = found[name].get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context and Path(ROOT, context).resolve() == ROOT, f"{name} is not built from this repository"
        dockerfile = (build or {}).get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        assert (ROOT / dockerfile).exists()


def test_the_dockerfile_installs_this_provider_on_airflow_3() -> None:
    text = DOCKERFILE.read_text()
    version = re.search(r"ARG AIRFLOW_VERSION=(\d+)\.(\d+)\.(\d+)", text)
    assert version and version.group(1) == "3", "the image must be Airflow 3"
    assert re.search(r"^FROM apache/airflow:\$\{AIRFLOW_VERSION\}-python", text, re.M)
    install = re.search(r"^RUN pip install .*", text, re.M)
    assert install, "no pip install in the Dockerfile"
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install.group(0), "pip would be free to change Airflow"
    assert re.search(r"/opt/airflow-provider-batch\[[^\]]*postgres[^\]]*emulators", install.group(0))
    assert re.search(r"^COPY .* \. /opt/airflow-provider-batch$", text, re.M)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored, "the build context would carry the venv and the git history"
    for needed in ("pyproject.toml", "setup.py", "README.md", "protos", "airflow_provider_batch"):
        assert needed not in ignored, f"{needed} is needed by pip install ."


def docker_context(target: Path) -> Path:
    """A copy of what `docker build .` sends: the tracked files that .dockerignore does not exclude."""
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    ignored = [pattern for pattern in ignored if pattern and not pattern.startswith("#")]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    def excluded(path: str) -> bool:
        for pattern in ignored:
            bare = pattern.removeprefix("**/")
            parts = path.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
                return True
            if pattern.startswith("**/") and any(fnmatch.fnmatch(part, bare) for part in parts):
                return True
        return False

    for path in tracked.splitlines():
        if not excluded(path) and (ROOT / path).is_file():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / path, target / path)
    return target


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_image_gets_the_generated_grpc_modules(tmp_path: Path) -> None:
    """The Dockerfile generates protos/ before `pip install`: setuptools lists the packages before its build step
    generates them, so a wheel built from a clean tree (the build context) would lack `_proto.armada`. Here the same
    steps run on a copy of the context, offline (the test venv's grpcio-tools and setuptools)."""
    text = DOCKERFILE.read_text()
    assert text.index("setup.py generate") < text.index('"/opt/airflow-provider-batch['), "generate before install"
    context = docker_context(tmp_path / "context")
    assert not (context / "airflow_provider_batch" / "_proto" / "armada").exists()
    generate = subprocess.run(
        [sys.executable, "setup.py", "generate"], cwd=context, capture_output=True, text=True, timeout=60
    )
    assert generate.returncode == 0, generate.stderr[-2000:]
    wheel = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=context,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert wheel.returncode == 0, wheel.stderr[-2000:]
    (built,) = tmp_path.glob("airflow_provider_batch-*.whl")
    names = set(zipfile.ZipFile(built).namelist())
    for module in ("_proto/armada/submit_pb2.py", "_proto/armada/submit_pb2_grpc.py", "_proto/jobservice/"):
        assert any(name.startswith(f"airflow_provider_batch/{module}") for name in names), f"{module} not in the wheel"


def test_airflow_components_commands_healthchecks_and_order(model: dict[str, Any]) -> None:
    found = services(model)
    for name, component in AIRFLOW_COMPONENTS.items():
        assert command_of(found[name]) == [component], f"{name} runs {command_of(found[name])}"
        needs = depends_on(found[name])
        assert needs.get("airflow-init") == "service_completed_successfully", f"{name} may start before the DB"
        assert needs.get("postgres") == "service_healthy"
    assert "db migrate" in " ".join(command_of(found["airflow-init"]))
    assert depends_on(found["airflow-init"]).get("postgres") == "service_healthy"
    assert depends_on(found["airflow-triggerer"]).get("jobservice") == "service_healthy"
    for name in HEALTHCHECKED:
        check = found[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
    assert "8080" in json.dumps(found["airflow-apiserver"].get("ports"))


def test_the_shared_airflow_settings(model: dict[str, Any]) -> None:
    found = services(model)
    envs = {name: environment(found[name]) for name in AIRFLOW_SERVICES}
    first = envs["airflow-init"]
    for name, env in envs.items():
        for key in SHARED_SETTINGS:
            assert env.get(key), f"{name}: {key} is not set"
            assert env[key] == first[key], f"{name}: {key} differs from airflow-init's"
    assert first["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert re.match(r"postgresql(\+\w+)?://[^@]+@postgres[:/]", first["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    Fernet(first["AIRFLOW__CORE__FERNET_KEY"].encode())  # a valid key, or ValueError
    assert first["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
    assert first.get("AIRFLOW__CORE__TEST_CONNECTION") == "Enabled"
    dags = first["AIRFLOW__CORE__DAGS_FOLDER"]
    volumes = [str(volume) for volume in found["airflow-scheduler"].get("volumes", [])]
    assert any("dags_examples" in volume and f":{dags}" in volume for volume in volumes), volumes


def emulator_command(found: dict[str, dict[str, Any]]) -> Any:
    command = command_of(found["emulators"])
    assert command[:3] == ["python", "-m", "airflow_provider_batch.emulators"], command
    return build_parser().parse_args(command[3:])  # SystemExit on a flag the command line does not have


def test_the_emulators_serve_every_scheduler_on_fixed_ports(model: dict[str, Any]) -> None:
    found = services(model)
    args = emulator_command(found)
    # its service name: listens on the compose network, and the URLs it hands out (Apolo's /config, Qarnot's
    # /settings) name a host the other containers reach (0.0.0.0 or localhost would be handed out as they are)
    assert args.host == "emulators", "the emulators must bind their service name"
    assert args.token, "a fixed token, so the connections can carry it"
    assert not args.only, "every emulator"
    ports = {key: value for key, value in vars(args).items() if key.endswith("_port")}
    assert all(ports.values()), f"fixed ports, not free ones: {ports}"
    assert found["emulators"].get("init") is True, "an init process must reap the job processes"


def published_ports(service: dict[str, Any]) -> list[str]:
    """The container ports a service publishes on the host, from the short (`"8094:8094"`, `"127.0.0.1:8094:8094"`)
    or the long (`{target: 8094, published: ...}`) form."""
    found = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            found.append(str(entry.get("target")))
        else:
            found.append(str(entry).rsplit("/", 1)[0].rsplit(":", 1)[-1])
    return found


def test_the_emulators_admin_api_stays_inside_its_container(model: dict[str, Any]) -> None:
    """The admin API (/stats, /requests, /faults) has no auth: loopback only, never published, and the healthcheck
    reads it from inside the container."""
    found = services(model)
    args = emulator_command(found)
    assert args.admin_host in ("127.0.0.1", "::1", "localhost"), f"the admin API binds {args.admin_host}"
    for name, service in found.items():
        published = published_ports(service)
        assert str(args.admin_port) not in published, f"{name} publishes the emulators' admin port {args.admin_port}"
        expose = [str(port) for port in service.get("expose") or []]
        assert str(args.admin_port) not in expose, f"{name} exposes the emulators' admin port"
    health = " ".join(str(part) for part in found["emulators"]["healthcheck"]["test"])
    assert f"127.0.0.1:{args.admin_port}/" in health, f"the healthcheck must read the admin API on loopback: {health}"


def test_the_job_service_command(model: dict[str, Any]) -> None:
    found = services(model)
    command = command_of(found["jobservice"])
    assert command[:4] == ["python", "-m", "airflow_provider_batch.jobservice", "serve"], command
    args = parse_jobservice(command[3:])
    assert args.host == "0.0.0.0" and args.port
    assert re.match(r"postgresql://[^@]+@postgres/", args.store), "the standalone service keeps its jobs in PostgreSQL"


def test_every_declared_connection_type_is_preset_and_reaches_its_server(model: dict[str, Any]) -> None:
    found = services(model)
    declared = {conn["connection-type"] for conn in get_provider_info()["connection-types"]}
    emulators = emulator_command(found)
    emulator_ports = {
        str(port) for key, port in vars(emulators).items() if key.endswith("_port") and key != "admin_port"
    }
    jobservice = parse_jobservice(command_of(found["jobservice"])[3:])
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES, "jobservice"]:
        conns = connections(found[name])
        types = {conn.get("conn_type") for conn in conns.values()}
        assert types <= declared, f"{name}: connection types the provider does not declare: {types - declared}"
        assert declared <= types, f"{name}: no connection preset for {declared - types}"
        for conn_id, conn in conns.items():
            assert conn_id == f"{conn['conn_type']}_default", f"{conn_id}: the hooks' default is <type>_default"
            host = str(conn.get("host", ""))
            address = host.split("://", 1)[-1].split("/", 1)[0]
            if conn["conn_type"] == "batch_jobservice":
                assert address == f"jobservice:{jobservice.port}", conn_id
                assert conn.get("password") == jobservice.token, f"{conn_id}: not the job service's --token"
            else:
                server, _, port = address.partition(":")
                assert server == "emulators" and port in emulator_ports, f"{conn_id}: {host} is no emulator port"
                assert conn.get("password") == emulators.token, f"{conn_id}: not the emulators' --token"
                for value in (conn.get("extra") or {}).values():
                    if isinstance(value, str) and "emulators:" in value:
                        assert value.rsplit(":", 1)[-1] in emulator_ports, f"{conn_id}: {value}"
    setting = environment(found["airflow-triggerer"])["AIRFLOW__BATCH__JOBSERVICE_CONN_ID"]
    assert connections(found["airflow-triggerer"])[setting]["conn_type"] == "batch_jobservice"


def test_the_celery_profile_adds_redis_two_workers_and_a_second_triggerer(model: dict[str, Any]) -> None:
    found = services(model)
    missing = set(CELERY_PROFILE) - set(found)
    assert not missing, f"celery profile services missing: {sorted(missing)}"
    for name, service in found.items():
        profiles = service.get("profiles") or []
        if name in CELERY_PROFILE:
            assert profiles == ["celery"], f"{name} must run only with --profile celery: {profiles}"
        else:
            assert not profiles, f"{name} belongs to the default stack, not to {profiles}"
    redis = found["redis"]
    assert str(redis["image"]).startswith("redis:"), redis["image"]
    assert "redis-cli" in json.dumps(redis["healthcheck"]["test"]) and "ping" in json.dumps(
        redis["healthcheck"]["test"]
    )
    assert not published_ports(redis), "the broker has no auth: not published on the host"
    for name in CELERY_WORKERS:
        worker = found[name]
        assert command_of(worker) == ["celery", "worker"], f"{name} runs {command_of(worker)}"
        health = " ".join(str(part) for part in worker["healthcheck"]["test"])
        assert "inspect ping" in health and "celery@" in health, f"{name}: {health}"
        assert "airflow.providers.celery.executors.celery_executor.app" in health, health
        needs = depends_on(worker)
        assert needs.get("redis") == "service_healthy", f"{name} may start before its broker"
        assert needs.get("airflow-init") == "service_completed_successfully"
        assert needs.get("postgres") == "service_healthy"
    second = found["airflow-triggerer-2"]
    assert command_of(second) == command_of(found["airflow-triggerer"]) == ["triggerer"]
    assert depends_on(second) == depends_on(found["airflow-triggerer"]), "both triggerers wait for the same services"
    assert second["healthcheck"]["test"] == found["airflow-triggerer"]["healthcheck"]["test"]


def test_the_celery_profile_shares_the_airflow_settings_and_connections(model: dict[str, Any]) -> None:
    """Every worker and triggerer reads the same database, secrets, broker and connections as the default stack."""
    found = services(model)
    scheduler = environment(found["airflow-scheduler"])
    assert re.fullmatch(r"redis://redis:6379/\d+", scheduler["AIRFLOW__CELERY__BROKER_URL"])
    backend = scheduler["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert re.match(r"db\+postgresql(\+\w+)?://[^@]+@postgres[:/]", backend), backend
    for name in CELERY_AIRFLOW_SERVICES:
        env = environment(found[name])
        env.pop("DUMB_INIT_SETSID", None)  # the workers' own: Celery's warm shutdown
        assert env == scheduler, f"{name}'s settings differ from the scheduler's: {set(env) ^ set(scheduler)}"
        assert found[name].get("volumes") == found["airflow-scheduler"].get("volumes"), f"{name} sees other DAGs"


def test_the_celery_executor_is_one_variable_away() -> None:
    """`AIRFLOW_EXECUTOR=CeleryExecutor` sets the executor of every Airflow service at once (compose resolves it)."""
    found = services(from_compose_config(AIRFLOW_EXECUTOR="CeleryExecutor"))
    for name in [*AIRFLOW_SERVICES, *CELERY_AIRFLOW_SERVICES]:
        assert environment(found[name])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name


def test_compose_config_and_pyyaml_agree() -> None:
    """The checks above run on both; this makes sure the PyYAML fallback reads the file as compose does."""
    config = from_compose_config()
    fallback = from_pyyaml()
    for name in services(config):
        assert environment(services(config)[name]) == environment(services(fallback)[name]), name
        assert command_of(services(config)[name]) == command_of(services(fallback)[name]), name


# -- the file's connections and setup script, live against the emulators and job service it starts ---------------


def on_loopback(command: list[str], ports: dict[str, int]) -> tuple[list[str], dict[str, str]]:
    """The command with --host localhost and each fixed port swapped for a free one; compose address -> local one."""
    out, addresses = list(command), {}
    for index, flag in enumerate(out[:-1]):
        if flag == "--host":
            out[index + 1] = "localhost"  # a host name, as the service name is
        elif flag.endswith("-port") or flag == "--port":
            fixed, local = out[index + 1], ports.setdefault(out[index + 1], free_port())
            out[index + 1] = str(local)
            addresses[fixed] = str(local)
    return out, addresses


def rewrite(text: str, service: str, addresses: dict[str, str]) -> str:
    for fixed, local in addresses.items():
        text = text.replace(f"{service}:{fixed}", f"localhost:{local}")
    return text


@pytest.mark.slow
@pytest.mark.wire
@pytest.mark.timeout(180)
def test_the_files_connections_and_setup_work_against_its_emulators_and_job_service(tmp_path: Path) -> None:
    """The emulators and the job service run with the file's own command lines (on loopback and free ports); the
    emulators-setup script runs; then `airflow connections test` passes for every connection the file presets."""
    found = services(from_pyyaml())
    ports: dict[str, int] = {}
    emulator_args, emulator_addresses = on_loopback(command_of(found["emulators"])[3:], ports)
    jobservice_args, jobservice_addresses = on_loopback(command_of(found["jobservice"])[3:], ports)
    store = jobservice_args.index("--store") + 1
    jobservice_args[store] = f"sqlite:///{tmp_path / 'jobservice.db'}"  # no PostgreSQL here
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    for key, value in environment(found["airflow-scheduler"]).items():
        if key.startswith(("AIRFLOW_CONN_", "AIRFLOW__CORE__TEST_CONNECTION")):
            env[key] = rewrite(rewrite(value, "emulators", emulator_addresses), "jobservice", jobservice_addresses)
    launched = launch([*emulator_args, "--log-level", "WARNING"])
    jobservice = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_batch.jobservice", *jobservice_args, "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert jobservice.stdout is not None
        assert jobservice.stdout.readline().startswith("READY "), "the job service did not start"
        setup = found["emulators-setup"]
        script = rewrite(command_of(setup)[2], "emulators", emulator_addresses)
        setup_env = {**env, **{k: v for k, v in environment(setup).items() if not k.startswith("AIRFLOW")}}
        ran = subprocess.run([sys.executable, "-c", script], env=setup_env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, f"the emulators-setup script failed:\n{ran.stderr[-3000:]}"
        # the URLs the emulators hand out name the host they were given (in compose: the service name)
        apolo = launched["apolo"]
        config = requests.get(
            f"{apolo['url']}/config", headers={"Authorization": f"Bearer {apolo['token']}"}, timeout=10
        )
        assert config.json()["clusters"][0]["monitoring_url"].startswith("http://localhost:"), config.text
        conn_ids = [key[len("AIRFLOW_CONN_") :].lower() for key in env if key.startswith("AIRFLOW_CONN_")]
        airflow = str(Path(sys.executable).parent / "airflow")
        with ThreadPoolExecutor(max_workers=4) as pool:
            runs = {
                conn_id: pool.submit(
                    subprocess.run,
                    [airflow, "connections", "test", conn_id],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                for conn_id in conn_ids
            }
        failed = {
            conn_id: (run.result().stdout + run.result().stderr)[-1500:]
            for conn_id, run in runs.items()
            if run.result().returncode != 0 or "Connection success!" not in run.result().stdout
        }
        assert not failed, json.dumps(failed, indent=2)
    finally:
        jobservice.send_signal(signal.SIGTERM)
        jobservice.wait(timeout=20)
        launched.stop()
