"""`python -m airflow_provider_batch.jobservice serve --port N --store URL --token T [--tls-cert F --tls-key F]`

Runs the job-service cache as a standalone gRPC service (`jobservice.JobService`), for several triggerers to
share. The schedulers are reached through Airflow connections (AIRFLOW_CONN_* variables or a secrets backend),
named in each request; the seed's GetJobStatus(queue, job_set_id, job_id) uses `--armada-conn-id`. Once it
listens it prints one line `READY {"target": "host:port"}` to stdout.

With `--tls-cert` and `--tls-key` it listens with TLS only; `--tls-client-ca` also asks every client for a
certificate signed by that CA (mutual TLS). Without them the token crosses the network in plain text: keep such a
service on loopback or a private network.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TextIO


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_batch.jobservice")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", aliases=["run"], help="serve the job-service cache over gRPC")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=60003, help="0 picks a free port")
    run.add_argument("--store", default="jobservice.db", help="SQLite path or URL, or a postgresql:// URL")
    run.add_argument(
        "--token",
        default=os.environ.get("BATCH_JOBSERVICE_TOKEN", ""),
        help="bearer token clients must send (default: $BATCH_JOBSERVICE_TOKEN)",
    )
    run.add_argument("--armada-conn-id", default="armada_default")
    run.add_argument("--forget-after", type=float, default=300.0, help="seconds before an unasked-about job is dropped")
    run.add_argument(
        "--follow-min-jobs",
        type=int,
        default=10,
        help="follow a job set's event stream once it holds this many watched jobs (0: poll only)",
    )
    run.add_argument("--tls-cert", type=Path, help="PEM certificate chain: listen with TLS (with --tls-key)")
    run.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    run.add_argument("--tls-client-ca", type=Path, help="PEM CA bundle: require client certificates it signed")
    run.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or BATCH_JOBSERVICE_TOKEN) is required: the service refuses anonymous callers")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together: give both to listen with TLS, or neither")
    if args.tls_client_ca and not args.tls_cert:
        parser.error("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
    for name in ("tls_cert", "tls_key", "tls_client_ca"):
        path = getattr(args, name)
        if path is not None and not path.is_file():
            parser.error(f"--{name.replace('_', '-')}: {path} is not a readable file")
    return args


async def main(args: argparse.Namespace, ready_out: TextIO) -> int:
    # Imported here, after stdout went to stderr: Airflow configures its logging to stdout on import, and stdout
    # must carry nothing but the READY line.
    from airflow_provider_batch.jobservice.server import JobServiceServicer, ServerTls, remote_hook, serve
    from airflow_provider_batch.jobservice.store import JobStore
    from airflow_provider_batch.triggers.sources import connection_exists

    store = JobStore(args.store)
    servicer = JobServiceServicer(
        remote_hook,
        args.token,
        store,
        args.armada_conn_id,
        args.forget_after,
        args.follow_min_jobs,
        connection_exists=connection_exists,
    )
    tls = ServerTls(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before READY: a caller may stop the service right after it
        loop.add_signal_handler(sig, stop.set)
    server, port = await serve(servicer, args.host, args.port, tls)
    print("READY " + json.dumps({"target": f"{args.host}:{port}"}), file=ready_out, flush=True)
    await stop.wait()
    await server.stop(grace=2)
    if servicer.flusher is not None:
        servicer.flusher.cancel()
    await servicer.cache.aclose()
    store.close()
    return 0


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    logging.basicConfig(level=arguments.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    ready, sys.stdout = sys.stdout, sys.stderr
    sys.exit(asyncio.run(main(arguments, ready)))
