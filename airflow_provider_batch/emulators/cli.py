"""`python -m airflow_provider_batch.emulators`: serve the emulators, print one `READY <json>` line on stdout once
everything listens, log to stderr, stop cleanly on SIGTERM or SIGINT (exit 0).

`--print-connections env|cli|json` prints, after the READY line, the Airflow connections to the emulators;
`--ready-file PATH` writes the READY JSON to PATH (mode 0600, removed on stop), which
`python -m airflow_provider_batch.emulators connections --ready-file PATH` reads from another shell.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from airflow_provider_batch.emulators.admin import AdminServer
from airflow_provider_batch.emulators.auth import new_token
from airflow_provider_batch.emulators.base import CommonOptions, Emulator
from airflow_provider_batch.emulators.connections import FORMATS, connections, render
from airflow_provider_batch.emulators.registry import EMULATORS

log = logging.getLogger("airflow_provider_batch.emulators")
READY_PREFIX = "READY "


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_batch.emulators",
        description="Local, wire-compatible stand-ins for the batch schedulers; they run each job's command locally.",
        epilog="`python -m airflow_provider_batch.emulators connections --ready-file PATH [--format env|cli|json]` "
        "prints the Airflow connections to emulators started with --ready-file PATH.",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated emulators to serve (default all: {','.join(EMULATORS)})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address every server binds to (default 127.0.0.1)")
    parser.add_argument("--token", default="", help="the token clients must present (default: a random one)")
    parser.add_argument(
        "--admin-port", type=int, default=0, help="port of the admin HTTP server with /stats (0 = free)"
    )
    parser.add_argument(
        "--admin-host",
        default="127.0.0.1",
        help="address the admin HTTP server binds to (default 127.0.0.1: it has no auth, keep it on loopback)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of calls answered as unavailable")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for the fault injection (reproducible runs)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every call")
    parser.add_argument("--step-ms", type=float, default=50.0, help="time each step before running takes")
    parser.add_argument("--max-running", type=int, default=64, help="job processes at once; more jobs wait queued")
    parser.add_argument(
        "--max-job-seconds", type=float, default=600.0, help="wall-clock limit of a job without its own deadline"
    )
    parser.add_argument(
        "--simulate-jobs",
        action="store_true",
        help="benchmark mode: start no process per job; a job lasts the sum of the `sleep SECONDS` in its command "
        "and ends with its last `exit CODE` (default 0), printing nothing",
    )
    parser.add_argument("--log-level", default="INFO", help="stderr log level (default INFO)")
    parser.add_argument(
        "--print-connections",
        choices=FORMATS,
        default=None,
        help="after the READY line, print the Airflow connections to the emulators (with their tokens): "
        "env = `export AIRFLOW_CONN_...` lines, cli = `airflow connections add ... --conn-json` lines, json",
    )
    parser.add_argument(
        "--ready-file",
        default=None,
        metavar="PATH",
        help="also write the READY JSON (with the tokens) to PATH, readable by you only, removed on stop; "
        "`... emulators connections --ready-file PATH` prints the connections from it",
    )
    for emulator in EMULATORS.values():
        emulator.add_arguments(parser)
    return parser


def select(parser: argparse.ArgumentParser, only: str) -> list[str]:
    names = [name.strip().lower() for name in only.split(",") if name.strip()] or list(EMULATORS)
    unknown = [name for name in names if name not in EMULATORS]
    if unknown:
        parser.error(f"--only: unknown emulator(s) {', '.join(unknown)}; known: {', '.join(EMULATORS)}")
    return names


def options_from(args: argparse.Namespace) -> CommonOptions:
    return CommonOptions(
        host=args.host,
        token=args.token or new_token(),
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        latency_ms=args.latency_ms,
        step_ms=args.step_ms,
        max_running=args.max_running,
        max_job_seconds=args.max_job_seconds,
        simulate_jobs=args.simulate_jobs,
    )


async def serve(args: argparse.Namespace, names: Sequence[str]) -> int:
    options = options_from(args)
    emulators: dict[str, Emulator] = {name: EMULATORS[name].from_arguments(args, options) for name in names}
    admin = AdminServer(emulators, args.admin_host, args.admin_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Emulator] = []
    try:
        for emulator in emulators.values():
            await emulator.start()
            started.append(emulator)
        await admin.start()
        ready: dict[str, Any] = {name: emulator.ready_info() for name, emulator in emulators.items()}
        ready["admin"] = admin.url
        if args.ready_file:
            write_ready_file(args.ready_file, ready)
        sys.stdout.write(READY_PREFIX + json.dumps(ready) + "\n")
        if args.print_connections:
            sys.stdout.write(render(connections(ready), args.print_connections) + "\n")
        sys.stdout.flush()
        log.info("ready; admin at %s", admin.url)  # the READY line has the token: not logged
        await stop.wait()
        log.info("stopping")
        return 0
    except (OSError, RuntimeError) as err:
        log.error("cannot start the emulators: %s", err)
        return 1
    finally:
        for emulator in reversed(started):
            try:
                await emulator.stop()
            except Exception:
                log.exception("stopping %s", emulator.name)
        await admin.stop()
        if args.ready_file:
            remove_ready_file(args.ready_file)


def write_ready_file(path: str, ready: dict[str, Any]) -> None:
    """The READY JSON and this process's id (so a reader can tell a stale file), readable by the owner only,
    replaced atomically so a reader never sees half of it."""
    partial = f"{path}.{os.getpid()}.partial"
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump({**ready, "pid": os.getpid()}, handle)
    os.replace(partial, path)


def remove_ready_file(path: str) -> None:
    try:
        with open(path, encoding="utf-8") as handle:
            mine = json.load(handle).get("pid") == os.getpid()
    except (OSError, ValueError):
        return
    if mine:  # another emulator may have written it since
        os.unlink(path)


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_ready_file(path: str, wait: float) -> dict[str, Any]:
    """The READY JSON a running `--ready-file PATH` wrote; waits up to `wait` seconds for it to appear.
    SystemExit with the fix when there is none, or when the process that wrote it is gone."""
    deadline = time.monotonic() + wait
    problem = f"no {path}"
    while True:
        try:
            with open(path, encoding="utf-8") as handle:
                ready: dict[str, Any] = json.load(handle)
            if _alive(ready.get("pid")):
                ready.pop("pid", None)
                return ready
            problem = f"{path} was written by emulators that are no longer running (pid {ready.get('pid')})"
        except FileNotFoundError:
            problem = f"no {path}"
        except (OSError, ValueError) as err:
            problem = f"cannot read {path}: {err}"
        if time.monotonic() >= deadline:
            raise SystemExit(
                f"{problem}\nstart the emulators with `python -m airflow_provider_batch.emulators --ready-file "
                f"{path} ...` first (it writes the file once they listen)"
            )
        time.sleep(0.1)


def build_connections_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_batch.emulators connections",
        description="Print the Airflow connections to emulators started with --ready-file (tokens included).",
    )
    parser.add_argument("--ready-file", required=True, metavar="PATH", help="the file given to the emulators")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="env",
        help="env (default): `export AIRFLOW_CONN_...` lines for `eval`; cli: `airflow connections add` lines; json",
    )
    parser.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for the emulators to be ready (default 30)"
    )
    return parser


def connections_main(argv: Sequence[str]) -> int:
    args = build_connections_parser().parse_args(argv)
    ready = read_ready_file(args.ready_file, args.wait)
    print(render(connections(ready), args.format), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["connections"]:
        return connections_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    names = select(parser, args.only)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(serve(args, names))
