"""The distributed benchmark's charts: one PNG per metric against N, both operators side by side.

Run by `benchmarks/distributed.py` in the benchmark venv (`benchmarks/official_venv.py`, which has matplotlib):

    .venv-airflow3.2-armada-airflow/bin/python -m benchmarks.distributed_charts ROWS.json OUT_DIR [LABEL]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# key -> (title, unit); the keys of benchmarks/distributed.py's rows
CHARTS = {
    "calls_per_interval": ("Scheduler calls per poll interval", "calls"),
    "status_calls_per_interval": ("GetJobStatus + GetJobDetails per poll interval", "calls"),
    "worker_task_starts": ("Worker task starts (Airflow's ti.start)", "starts"),
    "triggerer_cpu_s": ("Triggerer CPU over the run (both triggerers)", "CPU seconds"),
    "triggerer_peak_rss_mb": ("Triggerer peak RSS (the larger one)", "MB"),
    "latency_median_s": ("Job end to task success, median", "seconds"),
    "latency_p95_s": ("Job end to task success, p95", "seconds"),
    "latency_max_s": ("Job end to task success, max", "seconds"),
    "wall_s": ("Total wall time of the run", "seconds"),
}
COLORS = {"ours": "#1f77b4", "official": "#ff7f0e"}
NAMES = {"ours": "airflow-provider-batch (deferrable)", "official": "armada-airflow 1.1.3 (deferrable)"}


def draw(rows: list[dict[str, Any]], out: Path, label: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ns = sorted({int(r["n"]) for r in rows})
    operators = [o for o in ("ours", "official") if any(r["operator"] == o for r in rows)]
    by = {(r["operator"], int(r["n"])): r for r in rows}
    suffix = f"-{label}" if label else ""
    written = []
    width = 0.8 / max(len(operators), 1)
    for key, (title, unit) in CHARTS.items():
        figure, axes = plt.subplots(figsize=(6.4, 4.0))
        for i, operator in enumerate(operators):
            xs = [j + (i - (len(operators) - 1) / 2) * width for j in range(len(ns))]
            ys = [float(by[(operator, n)][key]) if (operator, n) in by else 0.0 for n in ns]
            bars = axes.bar(xs, ys, width, label=NAMES[operator], color=COLORS[operator])
            axes.bar_label(bars, fmt="%.3g", fontsize=8)
        axes.set_xticks(range(len(ns)), [f"N={n}" for n in ns])
        axes.set_ylabel(unit)
        interval = rows[0].get("poll_interval_s")
        axes.set_title(f"{title}{f' ({label})' if label else ''}\npoll interval {interval:g} s", fontsize=10)
        axes.legend(fontsize=8)
        figure.tight_layout()
        path = out / f"distributed{suffix}-{key}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        written.append(path)
    return written


def main() -> None:
    rows = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for path in draw(rows, out, sys.argv[3] if len(sys.argv) > 3 else ""):
        print(path)


if __name__ == "__main__":
    main()
