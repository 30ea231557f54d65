"""The distributed benchmark's report (`benchmarks/distributed.py`): its table, one row per (operator, N), and the
ratios official / ours per N and metric, which are the headline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# (key, column title, format): the table's columns, and the metrics the ratios and the charts are made of
METRICS = (
    ("calls_per_interval", "scheduler calls / interval", "{:.1f}"),
    ("status_calls_per_interval", "of which GetJobStatus/Details", "{:.1f}"),
    ("peak_calls_in_an_interval", "busiest interval", "{:.0f}"),
    ("worker_task_starts", "worker task starts", "{:.0f}"),
    ("triggerer_cpu_s", "triggerer CPU s", "{:.1f}"),
    ("triggerer_peak_rss_mb", "triggerer peak RSS MB", "{:.0f}"),
    ("latency_median_s", "job end to success median s", "{:.1f}"),
    ("latency_p95_s", "p95 s", "{:.1f}"),
    ("latency_max_s", "max s", "{:.1f}"),
    ("wall_s", "wall s", "{:.0f}"),
)


def table(rows: Sequence[dict[str, Any]]) -> list[str]:
    header = ["operator", "N", "run", *(title for _, title, _ in METRICS), "Celery task runs"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        cells = [r["operator"], str(r["n"]), f"{r['state']} ({r['succeeded']}/{r['n']})"]
        cells += [fmt.format(r[key]) for key, _, fmt in METRICS] + [str(r["celery_task_runs"])]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def ratios(rows: Sequence[dict[str, Any]]) -> list[str]:
    """official / ours, per N and metric: the headline."""
    by = {(r["operator"], r["n"]): r for r in rows}
    ns = sorted({r["n"] for r in rows if ("ours", r["n"]) in by and ("official", r["n"]) in by})
    header = ["N", *(title for _, title, _ in METRICS)]
    lines = ["| official / ours: " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for n in ns:
        ours, official = by[("ours", n)], by[("official", n)]
        cells = [str(n)]
        for key, _, _ in METRICS:
            base = float(ours[key])
            cells.append(f"{float(official[key]) / base:.1f}x" if base else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return lines
