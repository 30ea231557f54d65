"""The Qarnot emulator's pieces: instance ranges, the stdout cursor, search filters, paging tokens, date and
duration formats the SDK parses, and the storage's SigV4 check."""

from __future__ import annotations

import datetime
import io
import itertools
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from qarnot._util import parse_datetime, parse_timedelta

from airflow_provider_batch.emulators.qarnot.errors import QarnotError
from airflow_provider_batch.emulators.qarnot.filters import matches
from airflow_provider_batch.emulators.qarnot.payloads import api_date, timespan
from airflow_provider_batch.emulators.qarnot.ranges import format_ranges, parse_ranges
from airflow_provider_batch.emulators.qarnot.records import OutputBuffer
from airflow_provider_batch.emulators.qarnot.s3auth import SignatureCheck, check_signature


def test_ranges_parse_and_format() -> None:
    assert parse_ranges("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_ranges(" 5 , 1-2,2 ") == [1, 2, 5]
    assert format_ranges([0, 1, 2, 3, 7]) == "0-3,7"
    assert format_ranges([4, 2, 3, 9, 11, 10]) == "2-4,9-11"
    assert format_ranges([]) == ""
    for bad, problem in (
        ("", "empty"),
        ("3-1", "increasing"),
        ("a", "not an id"),
        ("-1", "not an id"),
        ("0-99999", "more than"),
    ):
        with pytest.raises(ValueError, match=problem):
            parse_ranges(bad)


def test_output_cursor_returns_only_what_is_new_and_survives_truncation() -> None:
    buffer = OutputBuffer(limit=10)
    buffer.write("abc\n")
    assert buffer.fresh() == "abc\n"
    assert buffer.fresh() == ""
    buffer.write("defgh\n")
    assert buffer.all() == "abc\ndefgh\n" and buffer.fresh() == "defgh\n"
    buffer.write("0123456789XY")  # more than the limit: the oldest text is dropped, the cursor stays right
    assert buffer.all() == "23456789XY"
    assert buffer.fresh() == "23456789XY"
    assert buffer.fresh() == ""


def test_filters_as_the_sdk_builds_them() -> None:
    task = {"uuid": "u1", "state": "Success", "tags": ["a", "b"], "name": "render-42", "resultsCount": 3}
    assert matches(task, None)
    assert matches(task, {"operator": "Equal", "field": "Tags", "value": "a"})
    assert not matches(task, {"operator": "Equal", "field": "Tags", "value": "c"})
    both = [{"operator": "Equal", "field": "Tags", "value": v} for v in ("a", "c")]
    assert not matches(task, {"operator": "And", "filters": both})
    assert matches(task, {"operator": "Or", "filters": both})
    assert matches(task, {"operator": "In", "field": "State", "value": ["Failure", "Success"]})
    assert matches(task, {"operator": "Like", "field": "Name", "value": "render-[0-9]+"})
    assert matches(task, {"operator": "GreaterOrEqual", "field": "ResultsCount", "value": 3})
    assert matches(task, {"operator": "NotEqual", "field": "state", "value": "Failure"})
    for bad, problem in (
        ({"operator": "Equal", "field": "Nope", "value": 1}, "unknown field"),
        ({"operator": "Sort", "field": "Tags"}, "unknown operator"),
        ({"operator": "And"}, "list of 'filters'"),
    ):
        with pytest.raises(QarnotError, match=problem) as raised:
            matches(task, bad)
        assert raised.value.status == 400


def test_dates_and_durations_parse_with_the_sdk() -> None:
    moment = datetime.datetime(2024, 5, 1, 12, 30, 5, tzinfo=datetime.timezone.utc).timestamp()
    assert api_date(moment) == "2024-05-01T12:30:05Z"
    assert parse_datetime(api_date(moment)) == datetime.datetime(2024, 5, 1, 12, 30, 5)
    assert api_date(None) is None
    assert timespan(3725.9) == "01:02:05"
    assert timespan(2 * 86_400 + 61) == "2.00:01:01"
    assert parse_timedelta(timespan(2 * 86_400 + 61)) == datetime.timedelta(days=2, seconds=61)


def _signed_environ(
    access_key: str, secret: str, method: str = "GET", path: str = "/bucket", query: str = ""
) -> dict[str, Any]:
    url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=b"")
    S3SigV4Auth(Credentials(access_key, secret), "s3", "us-east-1").add_auth(request)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": path + (f"?{query}" if query else ""),
        "HTTP_HOST": "127.0.0.1:9000",
        "wsgi.input": io.BytesIO(b""),
    }
    for name, value in request.headers.items():
        environ[f"HTTP_{name.upper().replace('-', '_')}"] = value
    return environ


def test_sigv4_check_accepts_the_email_and_token_only() -> None:
    email, token = "user@example.com", "tok-123"
    assert check_signature(_signed_environ(email, token, query="list-type=2&prefix=a%2Fb"), email, token) is None
    assert check_signature(_signed_environ(email, token, "PUT", "/bucket/dir/file.txt"), email, token) is None
    code, _ = check_signature(_signed_environ("other@example.com", token), email, token) or ("", "")
    assert code == "InvalidAccessKeyId"
    code, _ = check_signature(_signed_environ(email, "wrong"), email, token) or ("", "")
    assert code == "SignatureDoesNotMatch"
    tampered = _signed_environ(email, token, path="/bucket")
    tampered["RAW_URI"] = "/other-bucket"
    assert (check_signature(tampered, email, token) or ("",))[0] == "SignatureDoesNotMatch"
    assert (check_signature({"REQUEST_METHOD": "GET"}, email, token) or ("",))[0] == "AccessDenied"


def test_signature_check_answers_s3_errors_before_the_app() -> None:
    calls = itertools.count()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        next(calls)
        start_response("200 OK", [])
        return [b"ok"]

    statuses: list[str] = []
    wrapped = SignatureCheck(app, "user@example.com", "tok")
    body = b"".join(
        wrapped(_signed_environ("user@example.com", "bad"), lambda status, headers: statuses.append(status))
    )
    assert statuses == ["403 Forbidden"] and b"<Code>SignatureDoesNotMatch</Code>" in body
    assert b"".join(wrapped(_signed_environ("user@example.com", "tok"), lambda s, h: statuses.append(s))) == b"ok"
    assert next(calls) == 1
