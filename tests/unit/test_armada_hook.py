import json

import pytest

from airflow_provider_batch.clients.armada.types import ArmadaJobState as ArmadaState
from airflow_provider_batch.common.errors import ConnectionSettingsError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.hooks.armada import STATE_TABLE, ArmadaHook, to_job_status


def set_conn(monkeypatch, value):
    monkeypatch.setenv("AIRFLOW_CONN_ARMADA_TEST", value)
    return ArmadaHook("armada_test")


def test_json_connection_with_token(monkeypatch):
    hook = set_conn(
        monkeypatch,
        json.dumps({"conn_type": "armada", "host": "armada.local", "port": 50051, "password": "tok",
                    "extra": {"tls": True, "default_queue": "q", "lookout_url_template": "http://l/?job=<job_id>"}}),
    )  # fmt: skip
    settings = hook.settings
    assert settings.channel.target == "armada.local:50051" and settings.channel.tls
    assert settings.credentials.header == "Bearer tok"
    assert settings.default_queue == "q"
    assert "tok" not in json.dumps(settings.channel.serialize())
    assert hook.job_url(JobRef("armada", "armada_test", "J1", {"queue": "q"})) == "http://l/?job=J1"


def test_uri_connection_strings_are_coerced(monkeypatch):
    hook = set_conn(monkeypatch, "armada://alice:pw@armada.local:443/?tls=false&default_queue=q1")
    settings = hook.settings
    assert settings.channel.tls is False and settings.channel.target == "armada.local:443"
    assert settings.credentials.header.startswith("Basic ")


def test_bad_values_name_the_field(monkeypatch):
    with pytest.raises(ValueError, match="tls"):
        _ = set_conn(monkeypatch, "armada://armada.local:443/?tls=maybe").settings
    with pytest.raises(ValueError, match="host is empty"):
        _ = set_conn(monkeypatch, json.dumps({"conn_type": "armada"})).settings


def test_an_unusable_connection_is_a_connection_settings_error_naming_it(monkeypatch):
    hook = set_conn(monkeypatch, "armada://armada.local:443/?tls=maybe")
    with pytest.raises(ConnectionSettingsError, match=r"connection 'armada_test' is not usable: .*tls") as raised:
        _ = hook.settings
    assert raised.value.conn_id == "armada_test"


def test_every_armada_state_has_a_common_state():
    assert set(STATE_TABLE) == set(ArmadaState)
    assert to_job_status(ArmadaState.PREEMPTED, "evicted").state is JobState.FAILED
    assert to_job_status(ArmadaState.LEASED).state is JobState.QUEUED
    assert to_job_status(ArmadaState.REJECTED).state is JobState.REJECTED


def test_test_connection_reports_failure_without_raising(monkeypatch):
    hook = set_conn(monkeypatch, json.dumps({"conn_type": "armada", "host": "127.0.0.1:1", "password": "t"}))
    hook.client.timeout = 1
    hook.client.retry = hook.client.retry.__class__(max_attempts=1)
    ok, message = hook.test_connection()
    assert ok is False and "UNAVAILABLE" in message and message != "t"
