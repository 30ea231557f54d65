"""ApoloClient against small aiohttp test servers: passed-config parsing, error mapping, retries (and no retry of a
start that may have happened), the NDJSON list re-asked after a broken stream, and the log resumed from the last
timestamp after a cut."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from aiohttp import WSCloseCode, web
from aiohttp.test_utils import TestServer

from airflow_provider_batch.clients.apolo.client import ApoloClient, ApoloSyncClient, full_uri
from airflow_provider_batch.clients.apolo.config import ApoloConfig, looks_like_passed_config, parse_passed_config
from airflow_provider_batch.clients.apolo.errors import (
    ApoloAuthError,
    ApoloBadRequestError,
    ApoloForbiddenError,
    ApoloNameTakenError,
    ApoloNoSuchJobError,
    ApoloNotFoundError,
    ApoloUnavailableError,
    error_for,
)
from airflow_provider_batch.clients.apolo.logs import follow_log, read_new_lines, since_of, split_line, timestamp_ns
from airflow_provider_batch.clients.apolo.types import ApoloJobStatus, JobDescription
from airflow_provider_batch.common.retry import RetryPolicy

FAST = RetryPolicy(max_attempts=4, initial_backoff=0.001, max_backoff=0.002)
TOKEN = "tok-secret"


def job_json(job_id: str = "job-1", status: str = "running", **more: Any) -> dict[str, Any]:
    history = {
        "status": status,
        "reason": more.pop("reason", ""),
        "description": "",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    return {
        "id": job_id,
        "owner": "me",
        "cluster_name": "c1",
        "status": status,
        "history": history,
        "container": {"image": "ubuntu", "resources": {"cpu": 1, "memory": 1024}},
        "scheduler_enabled": False,
        "pass_config": False,
        "uri": f"job://c1/me/{job_id}",
        "total_price_credits": "0",
        "price_credits_per_hour": "1",
        **more,
    }


def config_json(base: str) -> dict[str, Any]:
    return {
        "authorized": True,
        "clusters": [{"name": "c1", "monitoring_url": f"{base}/api/v1/jobs", "resource_presets": [{"name": "cpu"}]}],
        "projects": [
            {"name": "p2", "cluster_name": "c1", "org_name": "o1"},
            {"name": "p1", "cluster_name": "c1", "org_name": "o1"},
        ],
    }


class Api:
    """A scripted Apolo: each route answers from a list of handlers (the last one repeats); calls are recorded."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, str]]] = []
        self.answers: dict[str, list[Callable[[web.Request], Any]]] = {}
        self.server: TestServer | None = None

    def on(self, route: str, *handlers: Callable[[web.Request], Any]) -> None:
        self.answers[route] = list(handlers)

    @property
    def base(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        route = f"{request.method} {request.match_info['tail']}"
        self.calls.append((route, request.query_string, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=401, text="401: Unauthorized")
        if route == "GET config" and route not in self.answers:
            return web.json_response(config_json(self.base))
        handlers = self.answers.get(route)
        if not handlers:
            return web.json_response({"error": f"no route {route}"}, status=404)
        handler = handlers.pop(0) if len(handlers) > 1 else handlers[0]
        answer = handler(request)
        if hasattr(answer, "__await__"):
            answer = await answer
        return answer

    def count(self, route: str) -> int:
        return sum(1 for call in self.calls if call[0] == route)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    made = Api()
    app = web.Application()
    app.router.add_route("*", "/api/v1/{tail:.*}", made.handle)
    made.server = TestServer(app, host="127.0.0.1")
    await made.server.start_server()
    yield made
    await made.server.close()


def client(api: Api, **changes: Any) -> ApoloClient:
    values = {"token": TOKEN, "url": f"{api.base}/api/v1", "retry": FAST, **changes}
    return ApoloClient(ApoloConfig(**values))


def reply(status: int, body: Any = None, text: str = "") -> Callable[[web.Request], web.Response]:
    if body is not None:
        return lambda request: web.json_response(body, status=status)
    return lambda request: web.Response(status=status, text=text)


# -- configuration ----------------------------------------------------------------------------------------------


def blob(data: dict[str, Any], urlsafe: bool = False) -> str:
    raw = json.dumps(data).encode()
    return (base64.urlsafe_b64encode(raw).rstrip(b"=") if urlsafe else base64.b64encode(raw)).decode()


def test_passed_config_is_read_and_explicit_values_win():
    data = {"token": "t0k", "cluster": "c1", "url": "https://x/api/v1", "org_name": "o1", "project_name": "p1"}
    config = ApoloConfig.from_passed_config(blob(data))
    assert (config.token, config.url, config.cluster, config.org, config.project) == (
        "t0k",
        "https://x/api/v1",
        "c1",
        "o1",
        "p1",
    )
    assert ApoloConfig.from_passed_config(blob(data, urlsafe=True), project="p9").project == "p9"
    assert "t0k" not in repr(config) and config.auth_header == "Bearer t0k"
    assert looks_like_passed_config(blob(data)) and not looks_like_passed_config("eyJhbGciOi.eyJzdWIi.c2ln")


@pytest.mark.parametrize(
    ("text", "message"),
    [("not base64 !!", "not base64 of a JSON object"), (blob({"url": "u"}), "no token in it"), ("", "not base64")],
)
def test_a_bad_passed_config_is_refused_without_echoing_it(text, message):
    with pytest.raises(ValueError, match=message) as raised:
        parse_passed_config(text)
    assert text not in str(raised.value) or not text


def test_the_config_checks_token_url_and_timeout():
    with pytest.raises(ValueError, match="token"):
        ApoloConfig(token=" ")
    with pytest.raises(ValueError, match="url: 'ftp://x'"):
        ApoloConfig(token="t", url="ftp://x")
    with pytest.raises(ValueError, match="timeout"):
        ApoloConfig(token="t", timeout=0)
    assert ApoloConfig(token="t").url == "https://api.apolo.us/api/v1"


def test_uris_are_completed_from_cluster_org_and_project():
    assert full_uri("storage:data/x", "storage", "c", "o", "p") == "storage://c/o/p/data/x"
    assert full_uri("storage://other/o/p/y", "storage", "c", "o", "p") == "storage://other/o/p/y"
    assert full_uri("secret:key", "secret", "c", "", "p") == "secret://c/p/key"
    with pytest.raises(ValueError):
        full_uri("disk:d", "storage", "c", "o", "p")


# -- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (400, '{"error": "no such job job-9"}', ApoloNoSuchJobError, False),
        (
            400,
            "{\"error\": \"Failed to create job: job with name 'a' and project 'p' already exists: 'j'\"}",
            ApoloNameTakenError,
            False,
        ),
        (400, '{"error": "{\'preset_name\': DataError(...)}"}', ApoloBadRequestError, False),
        (401, "401: Unauthorized", ApoloAuthError, False),
        (403, '{"error": "no permission"}', ApoloForbiddenError, False),
        (404, "", ApoloNotFoundError, False),
        (429, "slow down", ApoloUnavailableError, True),
        (502, "", ApoloUnavailableError, True),
        (503, "503: Service Unavailable", ApoloUnavailableError, True),
    ],
)
def test_answers_map_to_typed_errors_with_the_servers_words(status, body, kind, retryable):
    error = error_for("GET /jobs/x", status, body, "Reason")
    assert type(error) is kind and error.retryable is retryable and error.status == str(status)
    if body.startswith("{"):
        assert error.message == json.loads(body)["error"]


def test_platform_apis_no_such_job_is_both_a_missing_job_and_a_bad_request():
    error = error_for("GET /jobs/x", 400, '{"error": "no such job x"}')
    assert isinstance(error, ApoloNotFoundError) and isinstance(error, ApoloBadRequestError)
    assert not isinstance(error_for("GET /jobs/x", 404, ""), ApoloBadRequestError)


async def test_a_404_is_typed_and_not_retried(api):
    api.on("GET jobs/job-9", reply(400, {"error": "no such job job-9"}))
    async with client(api) as apolo:
        with pytest.raises(ApoloNotFoundError, match="no such job job-9"):
            await apolo.status("job-9")
    assert api.count("GET jobs/job-9") == 1


async def test_transient_answers_are_retried_then_succeed(api):
    api.on("GET jobs/job-1", reply(503, text="busy"), reply(429), reply(502), reply(200, job_json()))
    async with client(api) as apolo:
        job = await apolo.status("job-1")
    assert job.status is ApoloJobStatus.RUNNING and api.count("GET jobs/job-1") == 4


async def test_retries_end_with_the_last_error(api):
    api.on("DELETE jobs/job-1", reply(503, text="still busy"))
    async with client(api) as apolo:
        with pytest.raises(ApoloUnavailableError, match="still busy") as raised:
            await apolo.kill("job-1")
    assert raised.value.retryable and api.count("DELETE jobs/job-1") == FAST.max_attempts


async def test_a_start_is_retried_on_429_only(api):
    api.on("POST jobs", reply(429), reply(202, job_json(status="pending")))
    async with client(api) as apolo:
        assert (await apolo.start(image="ubuntu", preset_name="cpu")).status is ApoloJobStatus.PENDING
        assert api.count("POST jobs") == 2
        api.on("POST jobs", reply(503))
        with pytest.raises(ApoloUnavailableError):
            await apolo.start(image="ubuntu", preset_name="cpu")
    assert api.count("POST jobs") == 3  # a 5xx may hide a started job: the caller looks for it first


async def test_a_connection_refused_is_a_retryable_error():
    apolo = ApoloClient(ApoloConfig(token=TOKEN, url="http://127.0.0.1:9/api/v1", retry=FAST, timeout=2))
    async with apolo:
        with pytest.raises(ApoloUnavailableError) as raised:
            await apolo.status("job-1")
    assert raised.value.retryable and TOKEN not in str(raised.value)


async def test_a_token_refused_by_config_is_an_auth_error(api):
    api.on("GET config", reply(200, {"authorized": False, "clusters": []}))
    async with client(api) as apolo:
        with pytest.raises(ApoloAuthError, match="Cannot authorize"):
            await apolo.get_config()


async def test_where_picks_the_first_cluster_and_project_and_start_sends_them(api):
    seen: list[dict[str, Any]] = []

    async def start(request: web.Request) -> web.Response:
        seen.append(await request.json())
        return web.json_response(job_json(status="pending"), status=202)

    api.on("POST jobs", start)
    async with client(api) as apolo:
        assert await apolo.where() == ("c1", "o1", "p1")
        await apolo.start(image="ubuntu", preset_name="cpu", command="echo", life_span=125, tags=["a"])
    assert seen == [
        {
            "pass_config": False,
            "project_name": "p1",
            "preset_name": "cpu",
            "tags": ["a"],
            "max_run_time_minutes": 2,
            "org_name": "o1",
            "cluster_name": "c1",
            "image": "ubuntu",
            "command": "echo",
        }
    ]
    assert any("from_preset" in call[1] for call in api.calls if call[0] == "POST jobs")


# -- list -------------------------------------------------------------------------------------------------------


async def test_the_list_is_ndjson_with_filters_and_a_broken_stream_is_asked_again(api):
    first = (json.dumps(job_json("job-1")) + "\n" + json.dumps({"error": "stream broke"}) + "\n").encode()
    whole = "".join(json.dumps(job_json(f"job-{i}")) + "\n" for i in (1, 2)).encode()

    def ndjson(body: bytes) -> Callable[[web.Request], web.Response]:
        return lambda request: web.Response(body=body, content_type="application/x-ndjson")

    api.on("GET jobs", ndjson(first), ndjson(whole))
    async with client(api) as apolo:
        since = datetime(2026, 1, 1, tzinfo=timezone.utc)
        jobs = [
            j.id
            async for j in apolo.list(
                tags=["x", "y"], statuses=[ApoloJobStatus.RUNNING], since=since, limit=5, reverse=True
            )
        ]
    assert jobs == ["job-1", "job-2"]  # job-1 once, though both answers held it
    query = next(call for call in api.calls if call[0] == "GET jobs")
    assert query[2]["Accept"] == "application/x-ndjson"
    for part in (
        "status=running",
        "tag=x",
        "tag=y",
        "cluster_name=c1",
        "reverse=1",
        "limit=5",
        "org_name=o1",
        "since=2026",
    ):
        assert part in query[1], part


async def test_a_plain_json_list_is_accepted_too(api):
    api.on("GET jobs", reply(200, {"jobs": [job_json("job-7")]}))
    async with client(api) as apolo:
        assert [j.id async for j in apolo.list()] == ["job-7"]


# -- logs -------------------------------------------------------------------------------------------------------

LINES = [(f"2026-01-01T00:00:0{i}.000000100Z", f"line {i}") for i in range(1, 6)]


def log_server(api: Api, cut_after: int, finished: list[bool]) -> list[str]:
    """log_ws that sends lines after `since` (inclusive), cutting the first connection after `cut_after` frames."""
    sinces: list[str] = []

    async def log_ws(request: web.Request) -> web.WebSocketResponse:
        since = request.query.get("since")
        sinces.append(since or "")
        assert request.query.get("timestamps") == "true"
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        start = datetime.fromisoformat(since) if since else None
        sent = 0
        for stamp, text in LINES:
            if start is not None and timestamp_ns(stamp) < int(start.timestamp()) * 10**9 + start.microsecond * 1000:
                continue
            if len(sinces) == 1 and sent == cut_after:
                await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"cut")
                return ws
            await ws.send_bytes(f"{stamp} {text}\n".encode())
            sent += 1
        finished.append(True)
        await ws.close()
        return ws

    api.on("GET jobs/job-1/log_ws", log_ws)
    api.on("GET jobs/job-1", lambda request: web.json_response(job_json(status="succeeded" if finished else "running")))
    return sinces


async def test_a_cut_log_stream_is_resumed_from_the_last_timestamp(api):
    finished: list[bool] = []
    sinces = log_server(api, cut_after=2, finished=finished)
    async with client(api) as apolo:
        lines = [line async for line in follow_log(apolo, "job-1")]
    assert [(line.timestamp, line.text) for line in lines] == LINES  # none lost, none twice
    assert sinces == ["", since_of(timestamp_ns(LINES[1][0])).isoformat()]


async def test_read_new_lines_returns_the_lines_after_the_cursor(api):
    finished: list[bool] = []
    log_server(api, cut_after=99, finished=finished)
    async with client(api) as apolo:
        lines, cursor = await read_new_lines(apolo, "job-1", LINES[2][0])
    assert [line.text for line in lines] == ["line 4", "line 5"] and cursor == LINES[4][0]


def test_log_lines_and_timestamps_are_parsed():
    assert timestamp_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert timestamp_ns("1970-01-01T01:00:00+01:00") == 0
    assert split_line("1970-01-01T00:00:01Z hello world").text == "hello world"
    assert split_line("=== separator ===") is None
    with pytest.raises(ValueError):
        timestamp_ns("yesterday")


def test_a_description_reads_every_field_and_tells_why_it_ended():
    data = job_json(
        status="failed",
        reason="OOMKilled",
        name="n1",
        tags=["a"],
        max_run_time_minutes=10,
        priority="high",
        restart_policy="never",
        statuses=[{"status": "pending", "transition_time": "2026-01-01T00:00:00Z", "reason": "Creating"}],
    )
    data["history"].update(description="out of memory", exit_code=137)
    job = JobDescription.from_json(data)
    assert job.failure_reason() == "failed (OOMKilled): out of memory, exit code 137"
    assert (job.name, job.tags, job.life_span, job.priority.name) == ("n1", ["a"], 600.0, "HIGH")
    assert job.history.transitions[0].reason == "Creating" and job.container.resources is not None
    assert JobDescription.from_json(job_json(status="exploded")).status is ApoloJobStatus.UNKNOWN
    assert ApoloJobStatus.active_items() == {ApoloJobStatus.PENDING, ApoloJobStatus.SUSPENDED, ApoloJobStatus.RUNNING}
    assert ApoloJobStatus.finished_items() == {
        ApoloJobStatus.SUCCEEDED,
        ApoloJobStatus.FAILED,
        ApoloJobStatus.CANCELLED,
    }


def test_the_sync_facade_runs_on_its_own_loop():
    sync = ApoloSyncClient(ApoloConfig(token=TOKEN, url="http://127.0.0.1:9/api/v1", retry=FAST, timeout=1))
    with sync, pytest.raises(ApoloUnavailableError):
        sync.status("job-1")
    assert sync._loop.is_closed()
