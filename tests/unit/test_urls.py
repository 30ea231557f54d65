"""One placeholder convention for job-page links: `{job_id}` (and what each backend knows) everywhere, the original
APIs' forms still accepted, unknown placeholders left as written, values percent-encoded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.urls import fill_url_template
from airflow_provider_batch.hooks.apolo import ApoloHook, ApoloSettings
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSettings
from airflow_provider_batch.hooks.qarnot import QarnotHook, QarnotSettings


def conn(**extra: Any) -> SimpleNamespace:
    return SimpleNamespace(conn_id="c", host="h:1", port=None, schema="", login="", password="tok", extra_dejson=extra)


def armada(template: str) -> ArmadaHook:
    hook = ArmadaHook("c")
    hook.__dict__["settings"] = ArmadaSettings.from_connection(conn(lookout_url_template=template))
    return hook


def qarnot(template: str) -> QarnotHook:
    hook = QarnotHook("c")
    hook.__dict__["settings"] = QarnotSettings.from_connection(conn(console_url_template=template))
    return hook


def apolo(template: str) -> ApoloHook:
    hook = ApoloHook("c")
    hook.__dict__["settings"] = ApoloSettings.from_connection(conn(job_url_template=template))
    return hook


ARMADA_JOB = JobRef("armada", "c", "01J", {"queue": "team a", "job_set_id": "set/1"})
QARNOT_JOB = JobRef("qarnot", "c", "t-1", {"name": "render", "tag": "airflow-job-x"})
APOLO_JOB = JobRef("apolo", "c", "job-1", {"name": "train-abc"})


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("https://l/?jobId={job_id}&q={queue}&js={job_set_id}", "https://l/?jobId=01J&q=team%20a&js=set%2F1"),
        ("https://l/?jobId=<job_id>", "https://l/?jobId=01J"),  # the original operator's form
        ("https://l/{jobid}/<job_id>", "https://l/{jobid}/01J"),  # a typo stays visible
    ],
)
def test_armada_lookout_template(template: str, url: str):
    assert armada(template).job_url(ARMADA_JOB) == url


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("https://c/app/tasks/{job_id}?n={name}", "https://c/app/tasks/t-1?n=render"),
        ("https://c/app/tasks/{uuid}", "https://c/app/tasks/t-1"),  # the first documented form
        ("https://c/{tenant}/tasks/{job_id}", "https://c/{tenant}/tasks/t-1"),
    ],
)
def test_qarnot_console_template(template: str, url: str):
    assert qarnot(template).job_url(QARNOT_JOB) == url


@pytest.mark.parametrize(
    ("template", "url"),
    [
        ("https://a/jobs/{job_id}?name={name}", "https://a/jobs/job-1?name=train-abc"),
        ("https://a/jobs/{id}", "https://a/jobs/job-1"),  # the first documented form
        ("https://a/{org}/jobs/{job_id}", "https://a/{org}/jobs/job-1"),
    ],
)
def test_apolo_job_template(template: str, url: str):
    assert apolo(template).job_url(APOLO_JOB) == url


def test_no_template_means_no_link():
    assert armada("").job_url(ARMADA_JOB) is None
    assert qarnot("").job_url(QARNOT_JOB) is None
    assert apolo("").job_url(APOLO_JOB) is None


def test_fill_url_template_itself():
    assert fill_url_template("{a}-{b}-{c}", {"a": "1", "b": "x y"}) == "1-x%20y-{c}"
    assert fill_url_template("<id>/{id}", {"job_id": "j"}, {"<id>": "job_id", "{id}": "job_id"}) == "j/j"
    assert fill_url_template("{job_id}", {"job_id": "{queue}"}, {}) == "%7Bqueue%7D"  # a value is never re-read
    assert fill_url_template("no placeholders", {"job_id": "j"}) == "no placeholders"
    with pytest.raises(ValueError, match="no value"):
        fill_url_template("<x>", {}, {"<x>": "missing"})
