"""`python -m airflow_provider_batch.emulators`: serve the emulators, print one `READY <json>` line on stdout once
everything listens, log to stderr, stop cleanly on SIGTERM or SIGINT (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from airflow_provider_batch.emulators.admin import AdminServer
from airflow_provider_batch.emulators.auth import new_token
from airflow_provider_batch.emulators.base import CommonOptions, Emulator
from airflow_provider_batch.emulators.registry import EMULATORS

log = logging.getLogger("airflow_provider_batch.emulators")
READY_PREFIX = "READY "


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_batch.emulators",
        description="Local, wire-compatible stand-ins for the batch schedulers; they run each job's command locally.",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated emulators to serve (default all: {','.join(EMULATORS)})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address every server binds to (default 127.0.0.1)")
    parser.add_argument("--token", default="", help="the token clients must present (default: a random one)")
    parser.add_argument(
        "--admin-port", type=int, default=0, help="port of the admin HTTP server with /stats (0 = free)"
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of calls answered as unavailable")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for the fault injection (reproducible runs)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every call")
    parser.add_argument("--step-ms", type=float, default=50.0, help="time each step before running takes")
    parser.add_argument("--max-running", type=int, default=64, help="job processes at once; more jobs wait queued")
    parser.add_argument(
        "--max-job-seconds", type=float, default=600.0, help="wall-clock limit of a job without its own deadline"
    )
    parser.add_argument("--log-level", default="INFO", help="stderr log level (default INFO)")
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
    )


async def serve(args: argparse.Namespace, names: Sequence[str]) -> int:
    options = options_from(args)
    emulators: dict[str, Emulator] = {name: EMULATORS[name].from_arguments(args, options) for name in names}
    admin = AdminServer(emulators, args.host, args.admin_port)
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
        sys.stdout.write(READY_PREFIX + json.dumps(ready) + "\n")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = select(parser, args.only)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return asyncio.run(serve(args, names))
