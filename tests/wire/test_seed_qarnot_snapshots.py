"""Task snapshots written as the Qarnot SDK documents them (`snapshot(interval)` before submit, the snapshot white and
black lists, `instant()`, `snapshot_status()`), run once with the real `qarnot` and once with
`airflow_provider_batch.compat.qarnot` against the Qarnot emulator: the same files reach the result bucket, the same
statuses and refusals. The emulator uploads what the running instance wrote, periodically and on demand."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import QarnotEmulatorEndpoint
from test_seed_qarnot import both, fast_polls  # noqa: F401 (the autouse fixture: 50 ms polls for both)

pytestmark = [
    pytest.mark.wire,
    pytest.mark.filterwarnings("ignore:flush is deprecated"),
    pytest.mark.filterwarnings("ignore::deprecation.DeprecatedWarning"),
]

SNAPSHOTS = r"""
conn = Connection(cluster_url=CLUSTER_URL, client_token=TOKEN)
results = conn.create_bucket("snap-" + SUFFIX)
task = conn.create_task("snapshots", "docker-batch", 1)
task.constants["DOCKER_CMD"] = (
    "sh -c 'echo keep > keep.txt; echo noise > noise.log; mkdir ckpt; echo c > ckpt/a.txt; sleep 30'"
)
task.results = results
task.snapshot_whitelist = r".*\.txt"
task.snapshot_blacklist = r"ckpt/.*"
task.snapshot(1)
task.submit()
RESULT["interval"] = task.snapshot_interval
RESULT["lists"] = (task.snapshot_whitelist, task.snapshot_blacklist)
try:
    task.snapshot_blacklist = "late"
except AttributeError:
    RESULT["locked"] = True
deadline = time.time() + 15
while "keep.txt" not in [f.key for f in results.list_files()] and time.time() < deadline:
    time.sleep(0.05)
time.sleep(1.5)  # at least one more periodic snapshot: what it leaves out stays out
RESULT["periodic"] = sorted(f.key for f in results.list_files())

snapshot_id = task.instant(whitelist=r".*\.log", bucket_prefix="instant/")
deadline = time.time() + 15
while not (snapshot := task.snapshot_status(snapshot_id))._status.is_completed and time.time() < deadline:
    time.sleep(0.05)
RESULT["instant"] = (repr(snapshot._status), snapshot._task_uuid == task.uuid)
RESULT["keys"] = sorted(f.key for f in results.list_files())
try:
    task.snapshot_status("no-such-snapshot")
except MissingTaskException:
    RESULT["missing_snapshot"] = True
try:
    task.snapshot(0)
except ValueError:
    RESULT["bad_interval"] = True
task.abort()
deadline = time.time() + 10
while task.state != "Cancelled" and time.time() < deadline:  # the seed's wait() stops at PendingCancel
    time.sleep(0.05)
    task.update(True)
try:
    task.instant()
except UnauthorizedException:
    RESULT["finished_refused"] = True
"""


def test_snapshots_run_the_same(qarnot_emulator: QarnotEmulatorEndpoint, tmp_path: Path) -> None:
    seed, ours = both(SNAPSHOTS, qarnot_emulator, tmp_path)
    assert ours == seed
    assert ours["interval"] == 1 and ours["lists"] == (r".*\.txt", r"ckpt/.*") and ours["locked"]
    assert ours["periodic"] == ["keep.txt"]  # the white list keeps .txt, the black list drops ckpt/
    assert ours["instant"] == ("Success", True)
    assert ours["keys"] == ["instant/noise.log", "keep.txt"]
    assert ours["missing_snapshot"] and ours["bad_interval"] and ours["finished_refused"]
