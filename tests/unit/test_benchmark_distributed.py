"""The distributed benchmark's own arithmetic (benchmarks/distributed_report.py and distributed_sampling.py): the
StatsD counter it reads Airflow's task starts from, the per-interval call counts, the triggerers' CPU and RSS, and
the official / ours ratios. The benchmark itself runs by hand (BENCHMARKS.md)."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: benchmarks/ is not installed

from benchmarks.distributed_report import percentile, ratios, table
from benchmarks.distributed_sampling import Sampler, StatsdCounter


def test_the_statsd_counter_counts_counters_by_name_across_packets() -> None:
    with StatsdCounter() as counter, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        target = ("127.0.0.1", counter.port)
        sender.sendto(b"airflow.ti.start.bench_ours.armada:1|c\nairflow.ti.start:1|c", target)
        sender.sendto(b"airflow.ti.start.bench_ours.armada:1|c|#dag_id:bench_ours", target)
        sender.sendto(b"airflow.executor.open_slots:12|g\nairflow.ti.start.bench_ours.armada:2|c", target)
        deadline = time.monotonic() + 5
        while counter.count("airflow.ti.start.bench_ours.armada") < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert counter.count("airflow.ti.start.bench_ours.armada") == 4
    assert counter.count("airflow.ti.start") == 1
    assert counter.count("airflow.executor.open_slots") == 0  # a gauge, not a counter


class FakeEmulators:
    def __init__(self, series: list[dict[str, int]]) -> None:
        self.series = series

    def stats(self) -> dict[str, dict[str, int]]:
        return {"armada": self.series.pop(0)}


class FakeAirflow:
    n_triggerers = 2

    def __init__(self) -> None:
        self.cpu = 0.0

    def usage(self, name: str, index: int = 0) -> tuple[float, float]:
        assert name == "triggerer"
        self.cpu += 1.0
        return self.cpu * (index + 1), 400.0 + 10 * index + self.cpu


def sampler_at(times: list[float], series: list[dict[str, int]]) -> Sampler:
    sampler = Sampler(FakeAirflow(), FakeEmulators(series))
    for at in times:
        sampler.sample()
        sampler.stats[-1] = (at, sampler.stats[-1][1])
        sampler.triggerers[-1] = (at, sampler.triggerers[-1][1])
    return sampler


def test_calls_between_samples_and_the_busiest_interval() -> None:
    submit = "/api.Submit/SubmitJobs"
    status = "/api.Jobs/GetJobStatus"
    series = [
        {submit: 0, status: 0},
        {submit: 10, status: 2},
        {submit: 10, status: 12},  # ten status calls between t=10 and t=20
        {submit: 10, status: 13},
    ]
    sampler = sampler_at([0.0, 10.0, 20.0, 30.0], series)
    assert sampler.calls_between(0.0, 30.0) == 23
    assert sampler.calls_between(0.0, 30.0, {status}) == 13
    assert sampler.peak_window(10.0, 0.0, 30.0, exclude={submit}) == 10
    assert sampler.peak_window(30.0, 0.0, 30.0, exclude={submit}) == 13


def test_triggerer_cpu_is_both_triggerers_delta_and_rss_the_larger_peak() -> None:
    sampler = sampler_at([0.0, 10.0, 20.0], [{} for _ in range(3)])
    # usage() counts calls: samples give triggerer 0 CPU 1, 3, 5 and triggerer 1 CPU 4, 8, 12
    assert sampler.triggerer_cpu(0.0, 20.0) == pytest.approx((5 - 1) + (12 - 4))
    start, peak = sampler.triggerer_rss(0.0, 20.0)
    assert start == pytest.approx(410 + 2)
    assert peak == pytest.approx(410 + 6)


def row(operator: str, n: int, **values: float) -> dict[str, Any]:
    base: dict[str, Any] = {
        "operator": operator,
        "n": n,
        "state": "success",
        "succeeded": n,
        "celery_task_runs": 0,
        "calls_per_interval": 1.0,
        "status_calls_per_interval": 1.0,
        "peak_calls_in_an_interval": 1,
        "worker_task_starts": 1,
        "triggerer_cpu_s": 1.0,
        "triggerer_peak_rss_mb": 1.0,
        "latency_median_s": 1.0,
        "latency_p95_s": 1.0,
        "latency_max_s": 1.0,
        "wall_s": 1.0,
    }
    return base | values


def test_ratios_are_official_over_ours_per_n() -> None:
    rows = [
        row("ours", 200, worker_task_starts=400, calls_per_interval=2.0),
        row("official", 200, worker_task_starts=2000, calls_per_interval=50.0),
        row("ours", 1000),  # no official row at 1000: no ratio line for it
    ]
    lines = ratios(rows)
    assert len(lines) == 3
    cells = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert cells[0] == "200"
    assert cells[1] == "25.0x"  # scheduler calls per interval
    assert cells[4] == "5.0x"  # worker task starts
    assert len(table(rows)) == 2 + len(rows)


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 96.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) != percentile([], 0.5)  # nan
