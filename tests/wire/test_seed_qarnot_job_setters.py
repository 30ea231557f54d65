"""A Qarnot `Job` built as the SDK documents it: name, shortname, auto_delete and use_dependencies set before
`submit()`, refused after it with the SDK's AttributeError; `Job.from_json(connection, payload)`; `delete`. The same
script runs with the real `qarnot` and with `compat.qarnot` against the emulator, with the same results."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import QarnotEmulatorEndpoint
from test_seed_qarnot import run_script

pytestmark = [pytest.mark.wire, pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning")]

JOB = r"""
conn = Connection(cluster_url=CLUSTER_URL, client_token=TOKEN)
Job = type(conn.create_job("probe"))
job = Job(conn, "first-name")
job.name = "renamed-" + SUFFIX
job.shortname = "short-" + SUFFIX
job.use_dependencies = True
job.auto_delete = False
job.submit()
RESULT["named"] = (job.name == "renamed-" + SUFFIX, job.shortname == "short-" + SUFFIX, job.use_dependencies)
fetched = conn.retrieve_job(job.uuid)
RESULT["stored"] = (fetched.name == "renamed-" + SUFFIX, fetched.shortname == "short-" + SUFFIX)
for attribute, value in (("name", "x"), ("shortname", "y"), ("use_dependencies", False), ("auto_delete", True)):
    try:
        setattr(job, attribute, value)
        RESULT[attribute] = "set"
    except AttributeError as error:
        RESULT[attribute] = str(error)
payload = {"uuid": job.uuid, "name": "from-json", "shortname": "s-json", "poolUuid": None,
           "useDependencies": True, "state": "Active", "autoDeleteOnCompletion": False}
again = Job.from_json(conn, payload)
RESULT["from_json"] = (again.uuid == job.uuid, again.name, again.shortname, again.use_dependencies)
job.delete()
try:
    conn.retrieve_job(job.uuid)
except MissingJobException:
    RESULT["deleted"] = True
"""


def test_job_setters_from_json_and_delete_behave_the_same(
    qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path
) -> None:
    script = "from qarnot.exceptions import MissingJobException\n" + JOB
    ours_script = "from airflow_provider_batch.compat.qarnot.exceptions import MissingJobException\n" + JOB
    seed = run_script(script, "seed", qarnot_emulator, tmp_path / "seed")
    ours = run_script(ours_script, "ours", qarnot_emulator, tmp_path / "ours")
    assert ours == seed
    assert ours["named"] == (True, True, True) and ours["stored"] == (True, True)
    assert ours["name"] == ours["shortname"] == ours["use_dependencies"] == "can't set attribute on a submitted job"
    assert ours["auto_delete"] == "can't set attribute on a launched job"
    assert ours["from_json"] == (True, "from-json", "s-json", True) and ours["deleted"]
