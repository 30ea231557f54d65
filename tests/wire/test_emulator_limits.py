"""What the emulators read from a caller is bounded: the token is checked before a body is read, bodies are capped
(413 for the REST APIs, S3's own errors for the Qarnot storage, RESOURCE_EXHAUSTED for gRPC), malformed, deeply
nested or wrongly typed JSON is a 400 (a clean INVALID_ARGUMENT for a gRPC message that does not decode), and the
admin API binds loopback whatever `--host` says.

Every emulator here is the command line in a child process, on 127.0.0.1; the loads are bounded (10 requests of
20 MB at most).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import grpc
import psutil
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from airflow_provider_batch.emulators import LaunchedEmulators, launch
from airflow_provider_batch.emulators.qarnot.s3auth import MAX_S3_REQUEST_BODY
from airflow_provider_batch.emulators.rest import MAX_JSON_BODY, MAX_JSON_DEPTH
from airflow_provider_batch.emulators.testing import authorized_channel

pytestmark = [pytest.mark.wire, pytest.mark.timeout(120)]

MiB = 1024 * 1024
MALFORMED = b'{"name": "x",'
DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000  # deeper than Python's json recursion limit
DEEP_OBJECTS = b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1)  # parses, too deep all the same
NOT_JSON_CONSTANT = b'{"instanceCount": NaN}'
BAD_BODIES = {
    "malformed": MALFORMED,
    "deep-arrays": DEEP_ARRAYS,
    "deep-objects": DEEP_OBJECTS,
    "nan": NOT_JSON_CONSTANT,
}


@pytest.fixture(scope="module")
def emulators() -> Iterator[LaunchedEmulators]:
    """All three emulators with the Qarnot storage, in one child process."""
    flags = ["--qarnot-port", "0", "--s3-port", "0", "--apolo-port", "0", "--armada-port", "0", "--admin-port", "0"]
    launched = launch([*flags, "--step-ms", "10", "--log-level", "WARNING"])
    try:
        yield launched
    finally:
        launched.stop()


def qarnot(emulators: LaunchedEmulators) -> tuple[str, dict[str, str]]:
    entry = emulators["qarnot"]
    return entry["url"], {"Authorization": entry["token"]}


def apolo(emulators: LaunchedEmulators) -> tuple[str, dict[str, str]]:
    entry = emulators["apolo"]
    return entry["url"], {"Authorization": f"Bearer {entry['token']}"}


def error_text(response: requests.Response) -> str:
    """The refusal's message: Qarnot says `message`, Apolo `error`."""
    body = response.json()
    return str(body.get("message") or body.get("error"))


def exchange(url: str, head: str, sent: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send the request head and only `sent` bytes of a body it announces as longer; (status, response body) as
    soon as the server answers. A server that reads the whole body first never answers: socket.timeout."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + sent)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        header, _, body = received.partition(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(header.split(b" ", 2)[1]), body


def post_head(url: str, path: str, announced: int, authorization: str | None, method: str = "POST") -> str:
    parts = urlsplit(url)
    lines = [
        f"{method} {parts.path.rstrip('/')}{path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {announced}",
    ]
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return "\r\n".join(lines) + "\r\n\r\n"


# -- the token before the body -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "authorization"),
    [
        ("qarnot", "/tasks", None),
        ("qarnot", "/pools", "wrong-token"),
        ("qarnot", "/tasks/paginate", "Bearer wrong"),
        ("apolo", "/jobs", None),
        ("apolo", "/jobs/some-job/max_run_time_minutes", "Bearer wrong"),
    ],
)
def test_without_the_token_the_answer_is_401_before_the_body_is_read(
    emulators: LaunchedEmulators, name: str, path: str, authorization: str | None
) -> None:
    """The request announces 20 MB and sends 1 KB: the 401 comes at once, so the body was not waited for."""
    url = emulators[name]["url"]
    method = "PUT" if path.endswith("max_run_time_minutes") else "POST"
    started = time.monotonic()
    status, _ = exchange(url, post_head(url, path, 20 * MiB, authorization, method), b"{" + b" " * 1023)
    assert status == 401
    assert time.monotonic() - started < 5


def first_status_line(url: str, head: str, timeout: float = 5.0) -> bytes:
    """Send a request head only (no body) and return the first status line the server writes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        received = b""
        while b"\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n", 1)[0]


@pytest.mark.parametrize(("name", "path", "valid_token", "length"), [
    ("qarnot", "/tasks", False, 20 * MiB),
    ("apolo", "/jobs", False, 20 * MiB),
    ("qarnot", "/tasks", True, MAX_JSON_BODY + 1),
    ("apolo", "/jobs", True, MAX_JSON_BODY + 1),
])  # fmt: skip
def test_expect_100_continue_invites_no_body_that_will_be_refused(
    emulators: LaunchedEmulators, name: str, path: str, valid_token: bool, length: int
) -> None:
    """A client that asks first (`Expect: 100-continue`, as curl does for large bodies) is told 401 or 413 at
    once and never sends the body."""
    url, headers = qarnot(emulators) if name == "qarnot" else apolo(emulators)
    authorization = headers["Authorization"] if valid_token else "wrong"
    head = post_head(url, path, length, authorization).replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n")
    assert first_status_line(url, head).startswith(b"HTTP/1.1 413" if valid_token else b"HTTP/1.1 401")


def test_expect_100_continue_still_invites_an_acceptable_body(emulators: LaunchedEmulators) -> None:
    url, headers = qarnot(emulators)
    head = post_head(url, "/tasks/paginate", 2, headers["Authorization"])
    head = head.replace("\r\n\r\n", "\r\nExpect: 100-continue\r\n\r\n")
    assert first_status_line(url, head) == b"HTTP/1.1 100 Continue"
    response = requests.post(f"{url}/tasks/paginate", data=b"{}", headers={**headers, "Expect": "100-continue"})
    assert response.status_code == 200


def rss(process: psutil.Process) -> int:
    return int(process.memory_info().rss)


def test_oversized_posts_without_the_token_do_not_grow_the_emulator() -> None:
    """10 concurrent 20 MB POSTs without a token (the issue's attack, scaled down) are each answered 401 and the
    emulator's resident memory grows by less than 40 MiB (reading them would take 200 MB, and keep it)."""
    payload = b"x" * (20 * MiB)
    with launch(["--only", "qarnot,apolo", "--qarnot-no-storage", "--admin-port", "0", "--log-level", "WARNING"]) as em:
        process = psutil.Process(em.process.pid)
        targets = [f"{em['qarnot']['url']}/tasks", f"{em['apolo']['url']}/jobs"]
        for target in targets:  # warm up: the first request of each server allocates its buffers
            requests.post(target, data=b"{}", headers={"Authorization": "wrong"}, timeout=30)
        before = rss(process)
        statuses: list[int] = []

        def post(index: int) -> None:
            response = requests.post(targets[index % 2], data=payload, headers={"Authorization": "wrong"}, timeout=60)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=post, args=(index,)) for index in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        time.sleep(0.5)
        grown = rss(process) - before
        assert statuses == [401] * 10
        assert grown < 40 * MiB, f"the emulator grew by {grown / MiB:.0f} MiB"
        assert "Traceback" not in em.read_log()


# -- size limits ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "path"), [("qarnot", "/tasks"), ("qarnot", "/jobs"), ("apolo", "/jobs")])
def test_an_authenticated_body_over_the_limit_is_refused_413_from_its_length(
    emulators: LaunchedEmulators, name: str, path: str
) -> None:
    """Content-Length above 16 MiB: 413 with a JSON message, before the body is sent."""
    url, headers = qarnot(emulators) if name == "qarnot" else apolo(emulators)
    status, body = exchange(url, post_head(url, path, MAX_JSON_BODY + 1, headers["Authorization"]), b"{")
    assert status == 413
    document = json.loads(body)
    message = str(document.get("message") or document.get("error"))
    assert "larger than 16 MiB" in message and "smaller" in message


@pytest.mark.parametrize("name", ["qarnot", "apolo"])
def test_a_chunked_body_over_the_limit_is_refused_413(emulators: LaunchedEmulators, name: str) -> None:
    """No Content-Length (chunked): the emulator stops at 16 MiB and answers 413."""
    url, headers = qarnot(emulators) if name == "qarnot" else apolo(emulators)

    def chunks() -> Iterator[bytes]:
        block = b" " * MiB
        for _ in range(MAX_JSON_BODY // MiB + 2):
            yield block

    response = requests.post(f"{url}/jobs", data=chunks(), headers=headers, timeout=60)
    assert response.status_code == 413
    assert "larger than 16 MiB" in error_text(response)


def test_a_body_just_under_the_limit_is_read(emulators: LaunchedEmulators) -> None:
    """The limit is not lower than documented: 15 MiB of valid JSON gets the route's own answer."""
    url, headers = qarnot(emulators)
    body = json.dumps({"name": "big", "description": "x" * (15 * MiB)})
    response = requests.post(f"{url}/tasks/paginate", data=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text


# -- malformed, deep and wrongly typed JSON ------------------------------------------------------------------------

QARNOT_ROUTES = [
    ("POST", "/tasks"),
    ("POST", "/tasks/paginate"),
    ("POST", "/tasks/search"),
    ("POST", "/jobs"),
    ("POST", "/jobs/paginate"),
    ("POST", "/pools"),
    ("POST", "/pools/search"),
]
APOLO_ROUTES = [("POST", "/jobs"), ("PUT", "/jobs/some-job/max_run_time_minutes"), ("POST", "/jobs/available")]


@pytest.mark.parametrize("kind", list(BAD_BODIES))
@pytest.mark.parametrize(
    ("name", "method", "path"), [("qarnot", *r) for r in QARNOT_ROUTES] + [("apolo", *r) for r in APOLO_ROUTES]
)
def test_malformed_or_deeply_nested_json_is_a_400(
    emulators: LaunchedEmulators, kind: str, name: str, method: str, path: str
) -> None:
    url, headers = qarnot(emulators) if name == "qarnot" else apolo(emulators)
    headers = {**headers, "Content-Type": "application/json"}
    response = requests.request(method, f"{url}{path}", data=BAD_BODIES[kind], headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    message = error_text(response)
    expected = "deeper than 64 levels" if kind.startswith("deep") else "not valid JSON"
    assert expected in message and "Traceback" not in message


@pytest.mark.parametrize("kind", ["deep-arrays", "malformed"])
def test_qarnot_parses_a_body_sent_without_a_json_content_type_just_as_carefully(
    emulators: LaunchedEmulators, kind: str
) -> None:
    url, headers = qarnot(emulators)
    headers = {**headers, "Content-Type": "text/plain"}
    response = requests.post(f"{url}/tasks", data=BAD_BODIES[kind], headers=headers, timeout=30)
    assert response.status_code == 400
    assert ("deeper than" if kind == "deep-arrays" else "not valid JSON") in error_text(response)


@pytest.mark.parametrize("body", ['"a string"', "5", "[1, 2]", "true"])
@pytest.mark.parametrize(
    "path", ["/tasks/paginate", "/tasks/summaries/paginate", "/tasks/search", "/jobs/paginate", "/pools/search"]
)
def test_qarnot_listing_routes_want_an_object(emulators: LaunchedEmulators, body: str, path: str) -> None:
    url, headers = qarnot(emulators)
    response = requests.post(f"{url}{path}", data=body, headers=headers, timeout=30)
    assert response.status_code == 400
    assert f"the body of POST {path} must be a JSON object" in error_text(response)


@pytest.mark.parametrize("body", ['"a string"', "5", "null", "true"])
@pytest.mark.parametrize("path", ["/tasks", "/jobs", "/pools"])
def test_qarnot_submissions_refuse_a_body_of_the_wrong_type(emulators: LaunchedEmulators, body: str, path: str) -> None:
    url, headers = qarnot(emulators)
    response = requests.post(f"{url}{path}", data=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    assert error_text(response)


@pytest.mark.parametrize("body", ['"a string"', "5", "[1, 2]", "null"])
def test_apolo_refuses_a_job_body_of_the_wrong_type(emulators: LaunchedEmulators, body: str) -> None:
    url, headers = apolo(emulators)
    response = requests.post(f"{url}/jobs", data=body, headers=headers, timeout=30)
    assert response.status_code == 400
    assert error_text(response) == "value is not a dict"  # platform-api's (trafaret's) words


def test_no_refusal_left_a_traceback_in_the_log(emulators: LaunchedEmulators) -> None:
    url, headers = apolo(emulators)
    requests.post(f"{url}/jobs", data=DEEP_ARRAYS, headers={**headers, "Content-Type": "application/json"}, timeout=30)
    url, headers = qarnot(emulators)
    requests.post(f"{url}/tasks", data=DEEP_ARRAYS, headers=headers, timeout=30)
    log = emulators.read_log()
    assert "Traceback" not in log, log[log.index("Traceback") - 300 :][:3000]


# -- the Qarnot storage (moto's S3) ---------------------------------------------------------------------------------


def signed_put_head(emulators: LaunchedEmulators, key: str, extra: dict[str, str]) -> str:
    """The head of a PUT to the storage, signed with the account's email and token."""
    entry = emulators["qarnot"]
    url = f"{entry['storage_url']}/limits-bucket/{key}"
    request = AWSRequest(method="PUT", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(entry["email"], entry["token"]), "s3", "us-east-1").add_auth(request)
    lines = [f"PUT {urlsplit(url).path} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items()]
    lines += [f"{name}: {value}" for name, value in extra.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def test_an_unsigned_storage_upload_is_refused_before_its_body_is_read(emulators: LaunchedEmulators) -> None:
    storage = emulators["qarnot"]["storage_url"]
    head = f"PUT /limits-bucket/key HTTP/1.1\r\nHost: {urlsplit(storage).netloc}\r\nContent-Length: {20 * MiB}\r\n\r\n"
    status, body = exchange(storage, head, b"x" * 1024)
    assert status == 403 and b"AccessDenied" in body


def test_a_storage_upload_over_the_limit_is_refused_from_its_length(emulators: LaunchedEmulators) -> None:
    storage = emulators["qarnot"]["storage_url"]
    head = signed_put_head(emulators, "big", {"Content-Length": str(MAX_S3_REQUEST_BODY + 1)})
    status, body = exchange(storage, head, b"x" * 1024)
    assert status == 400
    assert b"<Code>EntityTooLarge</Code>" in body and b"multipart" in body


def test_a_storage_upload_without_a_length_is_refused(emulators: LaunchedEmulators) -> None:
    storage = emulators["qarnot"]["storage_url"]
    head = signed_put_head(emulators, "chunked", {"Transfer-Encoding": "chunked"})
    status, body = exchange(storage, head, b"400\r\n" + b"x" * 1024 + b"\r\n")
    assert status == 411 and b"<Code>MissingContentLength</Code>" in body


# -- Armada (gRPC) ---------------------------------------------------------------------------------------------------

NOT_PROTOBUF = b"\x0a\xff\xff\xff\xff\x0f"  # field 1, length-delimited, longer than the message: does not decode
UNARY = "/api.Submit/SubmitJobs"
STREAM = "/api.Event/GetJobSetEvents"


def raw_call(channel: grpc.Channel, method: str, payload: bytes, stream: bool) -> None:
    """Send `payload` as the request message as is; raises grpc.RpcError with the server's status."""
    if stream:
        for _ in channel.unary_stream(method)(payload, timeout=10):
            pass
    else:
        channel.unary_unary(method)(payload, timeout=10)


@pytest.mark.parametrize(("method", "stream"), [(UNARY, False), (STREAM, True)])
def test_armada_refuses_an_unauthenticated_call_without_decoding_it(
    emulators: LaunchedEmulators, method: str, stream: bool
) -> None:
    """UNAUTHENTICATED, even for a message that would not decode (it is never looked at)."""
    with grpc.insecure_channel(emulators["armada"]["target"]) as channel, pytest.raises(grpc.RpcError) as caught:
        raw_call(channel, method, NOT_PROTOBUF, stream)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(("method", "stream"), [(UNARY, False), (STREAM, True)])
def test_armada_answers_a_message_that_does_not_decode_with_invalid_argument(
    emulators: LaunchedEmulators, method: str, stream: bool
) -> None:
    entry = emulators["armada"]
    with authorized_channel(entry["target"], entry["token"]) as channel, pytest.raises(grpc.RpcError) as caught:
        raw_call(channel, method, NOT_PROTOBUF, stream)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"not a valid {method} message" in str(caught.value.details())


@pytest.mark.parametrize("token", [None, "own"])
def test_armada_refuses_a_message_over_4_mib_with_resource_exhausted(
    emulators: LaunchedEmulators, token: str | None
) -> None:
    entry = emulators["armada"]
    target = entry["target"]
    channel = grpc.insecure_channel(target) if token is None else authorized_channel(target, entry["token"])
    with channel, pytest.raises(grpc.RpcError) as caught:
        raw_call(channel, UNARY, b"x" * (6 * MiB), False)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# -- the admin API --------------------------------------------------------------------------------------------------


def test_the_admin_api_binds_loopback_whatever_the_emulators_host() -> None:
    """`--host localhost` (compose gives the service name) moves the emulators, not the admin API."""
    with launch(["--only", "apolo", "--host", "localhost", "--admin-port", "0", "--log-level", "WARNING"]) as em:
        assert em["apolo"]["url"].startswith("http://localhost:")
        assert urlsplit(em.admin).hostname == "127.0.0.1"
        assert requests.get(f"{em.admin}/healthz", timeout=10).json() == {"status": "ok"}
