"""Paged lists as the Qarnot SDK documents them (`tasks_page`, `jobs_page`, `pools_page`, `all_tasks`, `all_jobs`,
`all_pools`), and `profile_details`, run with the real `qarnot` and with `compat.qarnot` against the emulator: the
same pages, tokens and objects."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import QarnotEmulatorEndpoint
from test_seed_qarnot import both

pytestmark = [pytest.mark.wire, pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning")]

PAGING = r"""
conn = Connection(cluster_url=CLUSTER_URL, client_token=TOKEN)
tag = "paging-" + SUFFIX
made = []
for n in range(5):
    task = conn.create_task(f"page-{n}", "docker-batch", 1)
    task.constants["DOCKER_CMD"] = "true"
    task.tags = [tag]
    task.submit()
    made.append(task.uuid)
first = conn.tasks_page(maximum=2, tags=[tag])
RESULT["first"] = ([t.uuid for t in first.page_data] == made[:2], first.is_truncated, bool(first.next_token))
second = conn.tasks_page(token=first.next_token, maximum=2, tags=[tag])
RESULT["second"] = [t.uuid for t in second.page_data] == made[2:4]
RESULT["all_tasks"] = [t.uuid for t in conn.all_tasks(tags=[tag])] == made
RESULT["names"] = sorted(t.name for t in conn.all_tasks(tags_intersect=[tag]))
job = conn.create_job("paged-job-" + SUFFIX)
job.tags = [tag]
job.submit()
RESULT["jobs_page"] = [j.uuid for j in conn.jobs_page(tags=[tag]).page_data] == [job.uuid]
RESULT["all_jobs"] = [j.uuid for j in conn.all_jobs(tags=[tag])] == [job.uuid]
pool = conn.create_pool("paged-pool-" + SUFFIX, "docker-batch", 1)
pool.tags = [tag]
pool.submit()
RESULT["pools_page"] = [p.uuid for p in conn.pools_page(tags=[tag]).page_data] == [pool.uuid]
RESULT["all_pools"] = [p.uuid for p in conn.all_pools(tags=[tag])] == [pool.uuid]
RESULT["empty"] = (conn.tasks_page(tags=[tag + "-none"]).page_data, conn.tasks_page(tags=[tag + "-none"]).is_truncated)
RESULT["profile"] = conn.profile_details("docker-batch").name
pool.close()
"""


def test_paging_runs_the_same(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> None:
    seed, ours = both(PAGING, qarnot_emulator, tmp_path)
    assert ours == seed
    assert ours["first"] == (True, True, True) and ours["second"] and ours["all_tasks"]
    assert ours["names"] == [f"page-{n}" for n in range(5)]
    assert ours["jobs_page"] and ours["all_jobs"] and ours["pools_page"] and ours["all_pools"]
    assert ours["empty"] == ([], False) and ours["profile"] == "docker-batch"
