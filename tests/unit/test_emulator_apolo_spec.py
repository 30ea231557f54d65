"""The Apolo emulator's start-request checks (platform-api's validators) and its /config document."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from apolo_sdk._server_cfg import _parse_clusters, _parse_projects

from airflow_provider_batch.emulators.apolo.config import AUTH_FIELDS, Site, config_document
from airflow_provider_batch.emulators.apolo.errors import ApiError
from airflow_provider_batch.emulators.apolo.identity import make_token, passed_config
from airflow_provider_batch.emulators.apolo.spec import check_project, parse_start

SITE = Site()
BASE = "http://127.0.0.1:1234/api/v1"


def flat(**extra: Any) -> dict[str, Any]:
    body = {
        "pass_config": False,
        "project_name": SITE.project,
        "org_name": SITE.org,
        "cluster_name": SITE.cluster,
        "preset_name": "cpu-small",
        "image": "ubuntu:22.04",
        "command": "echo hi",
    }
    body.update(extra)
    return body


def refused(payload: Any, *, from_preset: bool = True) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_start(payload, SITE, from_preset=from_preset)
    return caught.value


def test_a_preset_start_takes_the_preset_resources_and_price() -> None:
    spec = parse_start(flat(env={"A": "1"}, tags=["b", "a", "b"], name="my-job"), SITE, from_preset=True)
    assert spec.container == {
        "image": "ubuntu:22.04",
        "command": "echo hi",
        "env": {"A": "1"},
        "resources": {"cpu": 1.0, "memory": 2 * 1024**3, "shm": False},
    }
    assert (spec.preset_name, spec.credits_per_hour, spec.tags, spec.name) == ("cpu-small", "0.5", ["a", "b"], "my-job")
    gpu = parse_start(flat(preset_name="gpu-small"), SITE, from_preset=True)
    assert gpu.container["resources"]["nvidia_gpu"] == 1


def test_without_a_preset_name_the_first_preset_is_used() -> None:
    body = flat()
    del body["preset_name"]
    assert parse_start(body, SITE, from_preset=True).preset_name == SITE.presets[0].name


def test_the_container_form_needs_resources() -> None:
    body = {
        "project_name": SITE.project,
        "container": {"image": "ubuntu", "command": "true", "resources": {"cpu": 0.5, "memory": 1024, "shm": True}},
    }
    spec = parse_start(body, SITE, from_preset=False)
    assert spec.container["resources"] == {"cpu": 0.5, "memory": 1024, "shm": True} and spec.preset_name is None
    body["container"] = {"image": "ubuntu"}
    assert refused(body, from_preset=False).body == {"error": "{'resources': DataError('is required')}"}
    assert "container" in refused({"project_name": SITE.project}, from_preset=False).body["error"]
    body["container"] = {"image": "ubuntu", "resources": {"cpu": 1, "memory": 1}, "bogus": 1}
    assert refused(body, from_preset=False).body == {"error": "{'bogus': DataError('bogus is not allowed key')}"}


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (flat(preset_name="huge"), 400, "Preset was not found"),
        (flat(resources={"cpu": 2}), 400, "Both preset and resources are not allowed"),
        (flat(cluster_name="other"), 403, "User is not allowed to submit jobs to the specified cluster"),
        (flat(org_name="other"), 403, "as a member of given organization"),
        (flat(name="Upper"), 400, "'name'"),
        (flat(name="ab"), 400, "shorter than 3"),
        (flat(name="a" * 41), 400, "longer than 40"),
        (flat(tags=["has space"]), 400, "'tags'"),
        (flat(tags=[str(i) for i in range(17)]), 400, "greater than 16"),
        (flat(priority="urgent"), 400, "'priority'"),
        (flat(restart_policy="sometimes"), 400, "'restart_policy'"),
        (flat(schedule_timeout=0.5), 400, "'schedule_timeout'"),
        (flat(max_run_time_minutes=0), 400, "'max_run_time_minutes'"),
        (flat(command="echo 'unterminated"), 400, "invalid command format"),
        (flat(working_dir="relative"), 400, "'working_dir'"),
        (flat(env={"A": 1}), 400, "'env'"),
        (flat(secret_env={"A": "plain"}), 400, "secret://"),
        (flat(image=""), 400, "'image'"),
        (flat(surprise=True), 400, "surprise is not allowed key"),
        (flat(container={"image": "x"}), 400, "container is not allowed key"),
        (flat(preset_name="cpu-spot", schedule_timeout=10), 400, "schedule_timeout is not allowed for scheduled jobs"),
        ([1, 2], 400, "value is not a dict"),
    ],
)
def test_bad_requests_name_the_problem(payload: Any, status: int, message: str) -> None:
    error = refused(payload)
    assert error.status == status
    assert message in error.body["error"]


def test_a_project_the_user_is_not_in_is_refused_with_the_missing_permission() -> None:
    spec = parse_start(flat(project_name="someone-elses"), SITE, from_preset=True)
    error = check_project(spec, SITE)
    assert error is not None and error.status == 403
    uri = f"job://{SITE.cluster}/{SITE.org}/someone-elses"
    assert error.body == {"missing": [{"uri": uri, "action": "write"}]}
    assert check_project(parse_start(flat(), SITE, from_preset=True), SITE) is None


def test_config_document_is_what_the_sdk_parses_and_is_deterministic() -> None:
    document = config_document(SITE, BASE, authorized=True)
    assert document == config_document(SITE, BASE, authorized=True)
    clusters = _parse_clusters(document)
    cluster = clusters[SITE.cluster]
    assert str(cluster.monitoring_url) == f"{BASE}/jobs"
    assert set(cluster.presets) == {preset.name for preset in SITE.presets}
    assert cluster.orgs == [SITE.org]
    projects = _parse_projects(document)
    assert [(key.cluster_name, key.org_name, key.project_name) for key in projects] == [
        (SITE.cluster, SITE.org, SITE.project)
    ]
    anonymous = config_document(SITE, BASE, authorized=False)
    assert anonymous == AUTH_FIELDS and "authorized" not in anonymous


def test_token_is_a_deterministic_jwt_with_identity_and_the_blob_is_base64_json() -> None:
    token = make_token("secret", "alice")
    assert token == make_token("secret", "alice") != make_token("other", "alice")
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["identity"] == "alice"
    assert make_token(token, "bob") == token  # a JWT given as --token is kept as it is
    blob = json.loads(base64.b64decode(passed_config(token, "c", BASE, "o", "p")))
    assert blob == {"token": token, "cluster": "c", "url": BASE, "org_name": "o", "project_name": "p"}
