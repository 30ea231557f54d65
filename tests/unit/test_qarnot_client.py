"""The Qarnot clients without a server: configuration, dates, error mapping, retries, paging and headers.

The sync client gets a fake requests session; the asyncio client talks to a scripted aiohttp server in-process."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from aiohttp import web
from aiohttp.test_utils import TestServer
from botocore.exceptions import ClientError, EndpointConnectionError

from airflow_provider_batch.clients.qarnot import errors as errors
from airflow_provider_batch.clients.qarnot.client import QarnotAsyncClient, QarnotClient, storage_url_from
from airflow_provider_batch.clients.qarnot.config import DEFAULT_CLUSTER_URL, QarnotConfig
from airflow_provider_batch.clients.qarnot.storage import storage_error
from airflow_provider_batch.clients.qarnot.types import (
    JobSpec,
    QarnotTask,
    ResourceBucket,
    format_timespan,
    parse_date,
    parse_timespan,
    tags_filter,
)
from airflow_provider_batch.common.retry import RetryPolicy

FAST = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)
TASK = {
    "uuid": "t-1",
    "name": "hello",
    "state": "Failure",
    "creationDate": "2024-05-06T07:08:09.1234567Z",
    "executionTime": "1.02:03:04",
    "errors": [{"code": "E1", "message": "instance 1 exited with code 3", "debug": "x"}],
    "completedInstances": [
        {"instanceId": 0, "state": "Success", "executionAttemptCount": 1},
        {"instanceId": 1, "state": "Failure", "executionAttemptCount": 2},
    ],
    "resultsCount": 2,
    "resultBucket": "out",
    "advancedResourceBuckets": [{"bucketName": "in"}],
    "constants": [{"key": "DOCKER_CMD", "value": "true"}],
    "tags": ["a", "b"],
}


# -- configuration ------------------------------------------------------------------------------------------------


def test_config_arguments_win_over_the_file_which_wins_over_the_environment(tmp_path):
    ini = tmp_path / "qarnot.conf"
    ini.write_text(
        "[cluster]\nurl = http://file:1/\nunsafe = true\ntimeout = 7\n[client]\ntoken = file-token\n"
        "[storage]\nurl = http://s3-file\nunsafe = 1\n"
    )
    env = {"QARNOT_CLUSTER_URL": "http://env", "QARNOT_CLIENT_TOKEN": "env-token", "QARNOT_STORAGE_URL": "http://s3"}
    from_file = QarnotConfig.resolve(fileconf=ini, environ=env)
    assert (from_file.cluster_url, from_file.token, from_file.timeout) == ("http://file:1", "file-token", 7.0)
    assert from_file.cluster_unsafe and from_file.storage_unsafe and from_file.storage_url == "http://s3-file"
    explicit = QarnotConfig.resolve(token="arg", cluster_url="https://arg", timeout=3, fileconf=ini, environ=env)
    assert (explicit.token, explicit.cluster_url, explicit.timeout) == ("arg", "https://arg", 3.0)
    from_env = QarnotConfig.resolve(environ=env)
    assert (from_env.cluster_url, from_env.token, from_env.storage_url) == ("http://env", "env-token", "http://s3")
    assert QarnotConfig.resolve(token="t", environ={}).cluster_url == DEFAULT_CLUSTER_URL


def test_config_reads_the_seeds_deprecated_auth_key_and_refuses_what_is_missing_or_wrong(tmp_path):
    ini = tmp_path / "old.conf"
    ini.write_text("[client]\nauth = old-token\n")
    assert QarnotConfig.resolve(fileconf=ini, environ={}).token == "old-token"
    with pytest.raises(ValueError, match="token: the Qarnot API token is not set"):
        QarnotConfig.resolve(environ={})
    with pytest.raises(ValueError, match="cluster_url"):
        QarnotConfig(token="t", cluster_url="api.qarnot.com")
    with pytest.raises(ValueError, match="timeout"):
        QarnotConfig(token="t", timeout=0)
    with pytest.raises(ValueError, match="could not be read"):
        QarnotConfig.resolve(fileconf=tmp_path / "absent.conf", environ={})
    assert "secret" not in repr(QarnotConfig(token="secret"))


# -- values -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-06T07:08:09Z", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
        ("2024-05-06T07:08:09.5Z", datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=timezone.utc)),
        ("2024-05-06T07:08:09.1234567Z", datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)),
        ("2024-05-06T09:08:09+02:00", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
        ("2024-05-06T07:08:09", datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)),
        (None, None),
    ],
)
def test_dates_in_the_apis_formats_parse_to_utc(text, expected):
    assert parse_date(text) == expected


def test_bad_dates_and_durations_say_what_was_expected():
    with pytest.raises(ValueError, match="YYYY-MM-DDTHH:MM:SS"):
        parse_date("yesterday")
    with pytest.raises(ValueError, match=r"\[d.\]HH:MM:SS"):
        parse_timespan("5 minutes")


def test_timespans_both_ways():
    assert parse_timespan("1.02:03:04") == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert parse_timespan("00:00:01.5") == timedelta(seconds=1.5)
    assert format_timespan(timedelta(days=2, seconds=61)) == "2.00:01:01"
    assert format_timespan(3600) == "01:00:00"
    assert format_timespan(None) == "00:00:00"
    assert format_timespan("00:10:00") == "00:10:00"


def test_a_task_answer_is_typed():
    task = QarnotTask.from_json(TASK)
    assert task.creation_date == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    assert task.execution_time == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert task.errors[0].message == "instance 1 exited with code 3"
    assert [i.instance_id for i in task.failed_instances] == [1]
    assert task.failed_instances[0].execution_attempt_count == 2
    assert (task.results_count, task.result_bucket, task.resource_buckets) == (2, "out", ("in",))
    assert task.constants == {"DOCKER_CMD": "true"} and task.tags == ("a", "b") and task.is_terminal


def test_specs_serialize_as_the_seed_sends_them():
    client = QarnotClient(QarnotConfig(token="t"))
    spec = client.create_task("n", "docker-batch", "0-3,7", resources=["in", ResourceBucket("b", prefix="p/")])
    body = spec.to_json()
    assert body["advancedRanges"] == "0-3,7" and "instanceCount" not in body
    assert body["advancedResourceBuckets"][1]["filtering"] == {"prefixFiltering": {"prefix": "p/"}}
    assert client.create_task("n", "docker-batch", 2).to_json()["instanceCount"] == 2
    pooled = client.create_task("n", None, 1, pool_uuid="p-1").to_json()
    assert (pooled["profile"], pooled["poolUuid"]) == (None, "p-1")
    job = JobSpec("j", use_dependencies=True, max_wall_time=90).to_json()
    assert job["maxWallTime"] == "00:01:30" and job["state"] == "" and job["useDependencies"] is True
    elastic = client.create_elastic_pool("p", "docker-batch", min_slots=1, max_slots=4).to_json()
    assert elastic["elasticProperty"]["isElastic"] and elastic["elasticProperty"]["maxTotalSlots"] == 4
    assert not client.create_pool("p", "docker-batch", 2).to_json()["elasticProperty"]["isElastic"]
    assert tags_filter(["a"]) == {"operator": "Equal", "field": "Tags", "value": "a"}
    assert tags_filter(["a", "b"], match_all=True)["operator"] == "And"
    assert tags_filter([]) is None


# -- error mapping ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "missing", "kind", "retryable"),
    [
        (401, "", "", errors.QarnotUnauthorizedError, False),
        (402, '{"message": "not enough credits"}', "", errors.QarnotNotEnoughCreditsError, False),
        (403, '{"message": "Maximum number of tasks reached"}', "", errors.QarnotQuotaReachedError, False),
        (403, '{"error": "cannot abort a finished task"}', "", errors.QarnotUnauthorizedError, False),
        (404, '{"message": "no such task"}', "task", errors.QarnotMissingTaskError, False),
        (404, '{"message": "no such job"}', "job", errors.QarnotMissingJobError, False),
        (404, '{"message": "no such pool"}', "pool", errors.QarnotMissingPoolError, False),
        (404, '{"message": "no such bucket"}', "bucket", errors.QarnotMissingBucketError, False),
        (404, '{"message": "no such profile"}', "profile", errors.QarnotMissingProfileError, False),
        (400, '{"message": "unknown pool"}', "", errors.QarnotBadRequestError, False),
        (409, '{"message": "shortname taken"}', "", errors.QarnotConflictError, False),
        (429, "slow down", "", errors.QarnotUnavailableError, True),
        (503, "", "", errors.QarnotUnavailableError, True),
    ],
)
def test_statuses_map_to_typed_errors_with_the_servers_words(status, body, missing, kind, retryable):
    error = errors.error_for("GET /x", status, body, "Reason", missing)
    assert type(error) is kind and error.retryable is retryable and error.status == str(status)
    assert error.message == (errors.message_of(body, "Reason") or "the token was refused")
    assert "Qarnot GET /x failed with" in str(error)


def test_message_falls_back_from_message_to_error_to_text_to_reason():
    assert errors.message_of('{"message": "m", "error": "e"}', "R") == "m"
    assert errors.message_of('{"error": "e"}', "R") == "e"
    assert errors.message_of("plain words", "R") == "plain words"
    assert errors.message_of("", "R") == "R"


def test_storage_errors_are_typed():
    missing = ClientError({"Error": {"Code": "NoSuchBucket", "Message": "gone"}}, "HeadBucket")
    assert isinstance(storage_error("head", missing), errors.QarnotMissingBucketError)
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
    assert isinstance(storage_error("get", denied), errors.QarnotUnauthorizedError)
    busy = ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "PutObject")
    assert storage_error("put", busy).retryable
    assert storage_error("put", EndpointConnectionError(endpoint_url="http://s3")).retryable


def test_storage_url_comes_from_settings():
    assert storage_url_from({"storage": "http://s3:9"}) == "http://s3:9"
    assert storage_url_from({}) == "https://storage.qarnot.com"
    with pytest.raises(errors.QarnotStorageUnavailableError):
        storage_url_from({"storage": None})


# -- the sync client on a fake session -----------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body: Any = None, reason: str = "") -> None:
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
        self.reason = reason


class FakeSession:
    """Answers from a script, one entry per request (a response, or an exception to raise)."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> FakeResponse:
        self.sent.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        pass


def sync_client(*answers: Any) -> tuple[QarnotClient, FakeSession]:
    session = FakeSession(*answers)
    config = QarnotConfig(token="tok", cluster_url="http://qarnot.test", timeout=4, retry=FAST)
    return QarnotClient(config, session=session), session  # type: ignore[arg-type]


def test_requests_carry_the_raw_token_a_timeout_and_json_only_with_a_body():
    client, session = sync_client(FakeResponse(200, TASK), FakeResponse(200, {"uuid": "t-2"}))
    assert client.retrieve_task("t-1").uuid == "t-1"
    assert client.submit_task(client.create_task("n", "docker-batch", 1)) == "t-2"
    get, post = session.sent
    assert (get["method"], get["url"], get["timeout"], get["data"]) == ("GET", "http://qarnot.test/tasks/t-1", 4, None)
    assert get["headers"]["Authorization"] == "tok" and "Content-Type" not in get["headers"]
    assert post["headers"]["Content-Type"] == "application/json" and json.loads(post["data"])["name"] == "n"


def test_transient_answers_and_network_errors_are_retried_then_reported():
    client, session = sync_client(
        FakeResponse(503), requests.ConnectionError("reset"), FakeResponse(200, {"email": "me@x"})
    )
    assert client.user_info().email == "me@x" and len(session.sent) == 3
    client, session = sync_client(FakeResponse(502), FakeResponse(500), FakeResponse(504, {"message": "down"}))
    with pytest.raises(errors.QarnotUnavailableError, match="504: down"):
        client.profiles()
    assert len(session.sent) == 3


def test_permanent_errors_are_not_retried():
    client, session = sync_client(FakeResponse(404, {"message": "task t-9 not found"}))
    with pytest.raises(errors.QarnotMissingTaskError, match="task t-9 not found"):
        client.retrieve_task("t-9")
    client, session = sync_client(FakeResponse(401))
    with pytest.raises(errors.QarnotUnauthorizedError):
        client.user_info()
    assert len(session.sent) == 1


def test_a_submission_is_retried_after_429_but_not_after_a_5xx_that_may_have_created_it():
    client, session = sync_client(FakeResponse(429), FakeResponse(200, {"uuid": "t-3"}))
    assert client.submit_task(client.create_task("n", "docker-batch")) == "t-3"
    client, session = sync_client(FakeResponse(500), FakeResponse(200, {"uuid": "t-4"}))
    with pytest.raises(errors.QarnotUnavailableError):
        client.submit_task(client.create_task("n", "docker-batch"))
    assert len(session.sent) == 1


def test_lists_follow_the_page_tokens_with_the_tag_filter():
    first = {"data": [TASK], "nextToken": "n1", "isTruncated": True}
    last = {"data": [{**TASK, "uuid": "t-2"}], "nextToken": None, "isTruncated": False}
    client, session = sync_client(FakeResponse(200, first), FakeResponse(200, last))
    assert [t.uuid for t in client.tasks(tags=["a", "b"])] == ["t-1", "t-2"]
    bodies = [json.loads(s["data"]) for s in session.sent]
    assert [b["token"] for b in bodies] == [None, "n1"]
    assert bodies[0]["filter"] == {"operator": "Or", "filters": [tags_filter(["a"]), tags_filter(["b"])]}
    assert session.sent[0]["url"].endswith("/tasks/paginate")


def test_many_tasks_in_one_post_answer_one_by_one():
    answer = [{"statusCode": 200, "uuid": "t-1"}, {"statusCode": 403, "uuid": "", "message": "quota"}]
    client, session = sync_client(FakeResponse(200, answer))
    specs = [client.create_task(f"n{i}", "docker-batch") for i in range(2)]
    first, second = client.submit_tasks(specs)
    assert first.ok and not second.ok and second.message == "quota"
    assert [t["name"] for t in json.loads(session.sent[0]["data"])] == ["n0", "n1"]


def test_job_and_pool_calls_use_the_seeds_routes():
    job = {"uuid": "j-1", "name": "j", "state": "Active", "creationDate": "2024-01-01T00:00:00Z"}
    client, session = sync_client(
        FakeResponse(200, {"uuid": "j-1"}),
        FakeResponse(200, job),
        FakeResponse(200, ""),
        FakeResponse(200, ""),
        FakeResponse(200, {"uuid": "p-1"}),
        FakeResponse(200, {"uuid": "p-1", "name": "p", "state": "Submitted"}),
        FakeResponse(200, ""),
        FakeResponse(200, ""),
        FakeResponse(200, "line 1\nline 2\n"),
    )
    assert client.submit_job(client.create_job("j", use_dependencies=True)).state == "Active"
    client.terminate_job("j-1")
    client.delete_job("j-1", force=True)
    assert client.submit_pool(client.create_pool("p", "docker-batch")).uuid == "p-1"
    client.close_pool("p-1")
    client.delete_pool("p-1")
    assert client.fresh_stdout("t-1") == "line 1\nline 2\n"
    routes = [(s["method"], s["url"].removeprefix("http://qarnot.test")) for s in session.sent]
    assert routes == [
        ("POST", "/jobs/"),
        ("GET", "/jobs/j-1"),
        ("POST", "/jobs/j-1/terminate"),
        ("DELETE", "/jobs/j-1?force=True"),
        ("POST", "/pools"),
        ("GET", "/pools/p-1"),
        ("POST", "/pools/p-1/close"),
        ("DELETE", "/pools/p-1"),
        ("POST", "/tasks/t-1/stdout"),
    ]


def test_a_non_json_answer_is_an_error_not_a_crash():
    client, _ = sync_client(FakeResponse(200, "<html>proxy</html>"))
    with pytest.raises(errors.QarnotError, match="not JSON"):
        client.settings()


# -- the asyncio client on a scripted server -----------------------------------------------------------------------


class Script:
    def __init__(self) -> None:
        self.answers: list[web.Response] = []
        self.seen: list[tuple[str, str, dict[str, str], str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path_qs, dict(request.headers), await request.text()))
        return self.answers.pop(0)


@pytest.fixture
async def served():
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    config = QarnotConfig(token="tok", cluster_url=str(server.make_url("")), timeout=5, retry=FAST)
    client = QarnotAsyncClient(config)
    try:
        yield script, client
    finally:
        await client.close()
        await server.close()


async def test_async_client_retries_types_errors_and_pages(served):
    script, client = served
    script.answers = [
        web.Response(status=503),
        web.json_response(TASK),
        web.json_response({"message": "task t-9 not found"}, status=404),
        web.json_response({"data": [TASK], "nextToken": "n1", "isTruncated": True}),
        web.json_response({"data": [], "nextToken": None, "isTruncated": False}),
        web.Response(text="new lines\n", content_type="text/plain"),
    ]
    assert (await client.retrieve_task("t-1")).state == "Failure"
    with pytest.raises(errors.QarnotMissingTaskError, match="t-9 not found"):
        await client.retrieve_task("t-9")
    assert [t.uuid for t in await client.tasks(tags_intersect=["a", "b"])] == ["t-1"]
    assert await client.fresh_stderr("t-1") == "new lines\n"
    methods = [(m, p) for m, p, _, _ in script.seen]
    assert methods[:3] == [("GET", "/tasks/t-1")] * 2 + [("GET", "/tasks/t-9")]
    assert methods[-1] == ("POST", "/tasks/t-1/stderr")
    headers = script.seen[0][2]
    assert headers["Authorization"] == "tok"
    assert json.loads(script.seen[3][3])["filter"]["operator"] == "And"


async def test_async_client_reports_an_unreachable_api_as_retryable():
    config = QarnotConfig(token="tok", cluster_url="http://127.0.0.1:9", timeout=2, retry=FAST)
    client = QarnotAsyncClient(config)
    try:
        with pytest.raises(errors.QarnotUnavailableError) as raised:
            await client.user_info()
        assert raised.value.retryable and "tok" not in str(raised.value)
    finally:
        await client.close()


async def test_async_bucket_calls_run_off_the_loop(monkeypatch):
    client = QarnotAsyncClient(QarnotConfig(token="tok", storage_url="http://s3"))
    loop_thread = []

    class FakeStorage:
        def create_bucket(self, name: str) -> str:
            import threading

            loop_thread.append(threading.current_thread() is threading.main_thread())
            return name

    client._storage = FakeStorage()  # type: ignore[assignment]
    assert await client.create_bucket("b") == "b"
    assert loop_thread == [False]
    await asyncio.sleep(0)
