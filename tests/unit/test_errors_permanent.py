"""Which scheduler answers are permanent (the task fails at once) and which transient (retried with backoff), per
backend; the message a permanent one gives; the retry policy and the extra link around them."""

from __future__ import annotations

import pickle
from types import SimpleNamespace
from unittest import mock

import grpc
import pytest

from airflow_provider_batch.clients import jobservice as jobservice_client
from airflow_provider_batch.clients.apolo import errors as apolo_errors
from airflow_provider_batch.clients.armada.requests import ArmadaRpcError
from airflow_provider_batch.clients.qarnot import errors as qarnot_errors
from airflow_provider_batch.common import errors
from airflow_provider_batch.common.errors import (
    SchedulerError,
    connection_test_failure,
    is_permanent,
    is_transient,
    permanent_failure_message,
)
from airflow_provider_batch.common.retry import RetryPolicy
from airflow_provider_batch.links.base import BatchJobLink

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "details", "kind", "transient"),
    [
        (S.NOT_FOUND, "queue 'my-queue' does not exist", errors.NOT_FOUND, False),
        (S.UNAUTHENTICATED, "missing or wrong authorization bearer token", errors.AUTHENTICATION, False),
        (S.PERMISSION_DENIED, "user alice may not submit to queue q", errors.PERMISSION, False),
        (S.INVALID_ARGUMENT, "job_request_items[0]: no pod spec", errors.INVALID, False),
        (S.UNAVAILABLE, "connection refused", "", True),
        (S.DEADLINE_EXCEEDED, "deadline", "", True),
        (S.RESOURCE_EXHAUSTED, "rate limited", "", True),
        (S.INTERNAL, "oops", "", False),  # neither: left to Airflow's retries
        (S.UNKNOWN, "?", "", False),
    ],
)
def test_armada_codes(code, details, kind, transient):
    error = ArmadaRpcError("SubmitJobs", code, details)
    assert (error.kind, is_transient(error), is_permanent(error)) == (kind, transient, bool(kind))
    again = pickle.loads(pickle.dumps(error))
    assert (again.kind, again.fix, again.code()) == (error.kind, error.fix, code)


def test_armada_unknown_queue_has_the_queue_fix():
    assert ArmadaRpcError("SubmitJobs", S.NOT_FOUND, "queue 'q' does not exist").fix == (
        "create the queue, or set queue= to an existing one"
    )
    assert ArmadaRpcError("GetJobSetEvents", S.NOT_FOUND, "job set js does not exist").fix == ""


QARNOT = [
    (401, "", qarnot_errors.QarnotUnauthorizedError, errors.AUTHENTICATION),
    (403, "Forbidden", qarnot_errors.QarnotUnauthorizedError, errors.PERMISSION),
    (403, "Maximum number of tasks reached.", qarnot_errors.QarnotQuotaReachedError, errors.QUOTA),
    (402, "Not enough credits", qarnot_errors.QarnotNotEnoughCreditsError, errors.CREDITS),
    (402, "hardware constraint not met", qarnot_errors.QarnotBadRequestError, errors.INVALID),
    (400, "unknown pool", qarnot_errors.QarnotBadRequestError, errors.INVALID),
    (422, "bad field", qarnot_errors.QarnotBadRequestError, errors.INVALID),
    (404, "no such bucket", qarnot_errors.QarnotMissingError, errors.NOT_FOUND),
    (429, "slow down", qarnot_errors.QarnotUnavailableError, ""),
    (500, "boom", qarnot_errors.QarnotUnavailableError, ""),
    (503, "Service Unavailable", qarnot_errors.QarnotUnavailableError, ""),
]


@pytest.mark.parametrize(("status", "message", "cls", "kind"), QARNOT)
def test_qarnot_statuses(status, message, cls, kind):
    error = qarnot_errors.error_for("POST /tasks", status, f'{{"message": "{message}"}}' if message else "")
    assert type(error) is cls
    assert (error.kind, is_permanent(error), is_transient(error)) == (kind, bool(kind), not kind)
    assert pickle.loads(pickle.dumps(error)).kind == kind


def test_qarnot_network_errors_are_transient():
    error = qarnot_errors.network_error("GET /info", ConnectionResetError("reset"))
    assert is_transient(error) and not is_permanent(error)
    assert qarnot_errors.QarnotStorageUnavailableError("bucket", "no storage", "none").permanent


APOLO = [
    (401, "Cannot authorize user", apolo_errors.ApoloAuthError, errors.AUTHENTICATION),
    (403, "missing write permission", apolo_errors.ApoloForbiddenError, errors.PERMISSION),
    (400, "Preset 'gpu-huge' not found", apolo_errors.ApoloBadRequestError, errors.INVALID),
    (422, "invalid name", apolo_errors.ApoloBadRequestError, errors.INVALID),
    (400, "no such job job-1", apolo_errors.ApoloNoSuchJobError, errors.NOT_FOUND),
    (404, "Not Found", apolo_errors.ApoloNotFoundError, errors.NOT_FOUND),
    (400, "Jobs quota exceeded for project p", apolo_errors.ApoloQuotaError, errors.QUOTA),
    (402, "No credits left", apolo_errors.ApoloQuotaError, errors.QUOTA),
    (429, "slow down", apolo_errors.ApoloUnavailableError, ""),
    (502, "Bad Gateway", apolo_errors.ApoloUnavailableError, ""),
]


@pytest.mark.parametrize(("status", "message", "cls", "kind"), APOLO)
def test_apolo_statuses(status, message, cls, kind):
    error = apolo_errors.error_for("POST /jobs", status, f'{{"error": "{message}"}}')
    assert type(error) is cls
    assert (error.kind, is_permanent(error), is_transient(error)) == (kind, bool(kind), not kind)


def test_apolo_quota_is_still_a_bad_request_for_seed_code():
    """The SDK raises IllegalArgumentError (our ApoloBadRequestError) for these answers; code catching it still does."""
    assert isinstance(apolo_errors.error_for("POST /jobs", 402, ""), apolo_errors.ApoloBadRequestError)


def test_a_kind_must_be_known():
    with pytest.raises(ValueError, match="kind"):
        SchedulerError("X", "call", "400", "no", kind="flaky")


def test_the_message_has_a_short_first_line_with_the_connection_the_words_and_the_fix():
    error = ArmadaRpcError("SubmitJobs", S.NOT_FOUND, "queue 'my-queue' does not exist")
    lines = permanent_failure_message(error, "armada_default", "localhost:50051").splitlines()
    assert lines[0] == (
        "Armada rejected the job: queue 'my-queue' does not exist (connection armada_default). "
        "Fix: create the queue, or set queue= to an existing one."
    )
    assert lines[1] == "Armada at localhost:50051 answered SubmitJobs with NOT_FOUND: queue 'my-queue' does not exist"
    assert "retries" in lines[2]


def test_a_wrong_token_is_reported_as_authentication_not_as_the_call_that_met_it():
    error = ArmadaRpcError("GetJobStatusUsingExternalJobUri", S.UNAUTHENTICATED, "missing or wrong bearer token")
    first = permanent_failure_message(error, "armada_default", "localhost:50051").splitlines()[0]
    assert first.startswith("Authentication was rejected by Armada at localhost:50051 for connection armada_default.")
    assert "Fix: check the connection's password" in first
    assert "GetJobStatusUsingExternalJobUri" not in permanent_failure_message(error, "armada_default")


def test_long_scheduler_words_are_cut_on_the_first_line_only():
    words = "field x: " + "very long explanation " * 20
    error = apolo_errors.error_for("POST /jobs", 400, f'{{"error": "{words}"}}')
    first, details = permanent_failure_message(error, "apolo_default").splitlines()[:2]
    assert len(first) <= 200 and "…" in first and "(connection apolo_default)" in first
    assert words.strip() in details


def test_a_connection_test_failure_names_the_connection():
    refused = qarnot_errors.error_for("GET /info", 401, "")
    assert connection_test_failure(refused, "q1", "http://127.0.0.1:1").startswith(
        "Authentication was rejected by Qarnot at http://127.0.0.1:1 for connection q1."
    )
    assert connection_test_failure(ValueError("host is empty"), "q1") == "Connection q1 failed: host is empty"


def test_the_retry_policy_never_retries_a_permanent_refusal():
    calls = []

    def refuse():
        calls.append(1)
        raise ArmadaRpcError("SubmitJobs", S.NOT_FOUND, "queue 'q' does not exist")

    policy = RetryPolicy(max_attempts=5, initial_backoff=0.0)
    with pytest.raises(ArmadaRpcError):
        policy.call(refuse, lambda error: True)
    assert len(calls) == 1


async def test_the_async_retry_policy_never_retries_a_permanent_refusal():
    calls = []

    async def refuse():
        calls.append(1)
        raise qarnot_errors.error_for("POST /tasks", 402, "")

    with pytest.raises(qarnot_errors.QarnotNotEnoughCreditsError):
        await RetryPolicy(max_attempts=5, initial_backoff=0.0).acall(refuse, lambda error: True)
    assert len(calls) == 1


def test_the_extra_link_reads_no_xcom_when_the_try_made_no_job():
    """Airflow asks for the link after every try; before a job exists the key is absent and reading it logs an
    "XCom not found" ERROR."""
    with mock.patch("airflow_provider_batch.links.base.XCom.get_value") as get_value:
        assert BatchJobLink().get_link(SimpleNamespace(_job=None), ti_key="k") == ""
        get_value.assert_not_called()
        get_value.return_value = "http://lookout/01JOB"
        assert BatchJobLink().get_link(SimpleNamespace(_job=object()), ti_key="k") == "http://lookout/01JOB"
        # the API server's serialized operator has no _job: the stored URL is read
        assert BatchJobLink().get_link(SimpleNamespace(), ti_key="k") == "http://lookout/01JOB"


class _RpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "kind"),
    [(S.UNAUTHENTICATED, errors.AUTHENTICATION), (S.PERMISSION_DENIED, errors.PERMISSION), (S.UNAVAILABLE, "")],
)
def test_job_service_refusals(code, kind):
    error = jobservice_client.as_error(_RpcError(code, "a valid bearer token is required"), "GetJobStatuses")
    assert (error.kind, error.permanent, error.retryable) == (kind, bool(kind), code is S.UNAVAILABLE)
    again = pickle.loads(pickle.dumps(error))
    assert (again.kind, again.fix, again.message) == (error.kind, error.fix, error.message)
