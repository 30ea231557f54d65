"""poll_interval bounds (0.5 s to 3600 s) in the operator and the shared check; ids the checks refuse."""

from __future__ import annotations

import math

import pytest

from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.limits import check_conn_id, check_job_id, check_job_set_id, check_poll_interval
from airflow_provider_batch.jobservice.boundary import checked_job
from airflow_provider_batch.operators.armada import ArmadaOperator

POD = {
    "containers": [
        {"name": "main", "command": ["true"], "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "1"}}}
    ]
}
SILLY = [math.nan, math.inf, -math.inf, 0, 0.0, -1, 0.49, 3600.01, 1e300, "ten", True]


@pytest.mark.parametrize("value", SILLY)
def test_the_operator_refuses_silly_poll_intervals_at_parse_time(value):
    with pytest.raises(ValueError, match=r"poll_interval: .*0\.5 s to 3600 s"):
        ArmadaOperator(task_id="t", job_request=POD, queue="q", job_set_id="js", poll_interval=value)


@pytest.mark.parametrize("value", [0.5, 1, 10.0, "30", 3600])
def test_the_operator_takes_poll_intervals_within_the_bounds(value):
    operator = ArmadaOperator(task_id="t", job_request=POD, queue="q", job_set_id="js", poll_interval=value)
    assert operator.poll_interval == float(value)


@pytest.mark.parametrize("value", SILLY)
def test_check_poll_interval_names_the_bounds(value):
    with pytest.raises(InvalidJobSpecError, match="poll_interval") as raised:
        check_poll_interval(value)
    assert "0.5" in str(raised.value) and "3600" in str(raised.value)


@pytest.mark.parametrize(
    ("check", "value"),
    [
        (check_conn_id, '{"channel": {"target": "evil:443"}}'),
        (check_conn_id, "https://evil.example.com"),
        (check_conn_id, ""),
        (check_conn_id, "c" * 251),
        (check_job_id, "j" * 257),
        (check_job_id, "../../etc"),
        (check_job_set_id, "s" * 1024),
        (check_job_set_id, "line\nbreak"),
    ],
)
def test_ids_are_bounded_and_plain(check, value):
    with pytest.raises(InvalidJobSpecError):
        check(value)


def test_a_served_job_names_only_known_detail_keys():
    assert checked_job("qarnot", "qarnot_default", "0b2c-uuid", {"tag": "airflow-job-x"}).details == {
        "tag": "airflow-job-x"
    }
    for backend, details in [
        ("armada", {"module_name": "os"}),
        ("apolo", {"url": "https://evil"}),
        ("armada", {"queue": 5}),
    ]:
        with pytest.raises(InvalidJobSpecError, match="details"):
            checked_job(backend, "c", "j", details)
    with pytest.raises(InvalidJobSpecError, match="backend"):
        checked_job("armada_channel", "c", "j", {})
