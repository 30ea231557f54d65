"""ApoloEmulator: platform-api (`/api/v1/config`, `/api/v1/jobs`) and platform-monitoring (log_ws, top, kill,
capacity, attach, exec, port_forward under the cluster's `monitoring_url`, here `/api/v1/jobs`) on one aiohttp port."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from airflow_provider_batch.emulators.apolo.config import Site, config_document
from airflow_provider_batch.emulators.apolo.errors import ApiError, is_websocket, unauthorized, unavailable
from airflow_provider_batch.emulators.apolo.identity import make_token, passed_config
from airflow_provider_batch.emulators.apolo.interactive import Interactive
from airflow_provider_batch.emulators.apolo.lifecycle import LifecycleOptions
from airflow_provider_batch.emulators.apolo.monitoring import Monitoring
from airflow_provider_batch.emulators.apolo.payloads import job_json
from airflow_provider_batch.emulators.apolo.spec import check_project, parse_start
from airflow_provider_batch.emulators.apolo.state import ApoloState, JobFilter
from airflow_provider_batch.emulators.apolo.wirefaults import StreamAwareFaults
from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.base import CommonOptions, Emulator
from airflow_provider_batch.emulators.rest import (
    BodyError,
    Handler,
    expect_continue,
    http_url,
    json_body,
    rest_app,
    rest_middleware,
    route_of,
    serve,
)

log = logging.getLogger(__name__)

API = "/api/v1"
STREAMED_ROUTES = frozenset(
    f"GET {API}/jobs{path}" for path in ("", "/{job_id}/log_ws", "/{job_id}/log", "/{job_id}/top")
)
PUBLIC_ROUTES = (f"{API}/config", f"{API}/ping")


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """platform-api's and platform-monitoring's error middleware: `{"error": ...}`, 400 for a ValueError."""
    try:
        return await handler(request)
    except ApiError as err:
        return err.response(websocket=is_websocket(request))
    except BodyError as err:
        return refuse(request, err.status, err.message)
    except web.HTTPException:
        raise
    except ValueError as err:  # a body that is not JSON, like platform-api's request.json()
        return ApiError(400, {"error": str(err)}).response(websocket=is_websocket(request))
    except Exception as err:
        log.exception("apolo emulator: %s", request.path_qs)
        body = {"error": f"Unexpected exception {err.__class__.__name__}: {err}. Path with query: {request.path_qs}."}
        return ApiError(500, body).response(websocket=is_websocket(request))


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    """A body refused before any work (400: not JSON or nested too deeply, 413: too large), as `{"error": ...}`."""
    return ApiError(status, {"error": message}).response(websocket=is_websocket(request))


class ApoloEmulator(Emulator):
    """Use as `async with ApoloEmulator(port=0) as emu: emu.url`."""

    name = "apolo"

    def __init__(
        self,
        options: CommonOptions | None = None,
        *,
        port: int = 0,
        minute_ms: float = 60_000.0,
        suspend_ms: float = 0.0,
        secrets: Mapping[str, str] | None = None,
        site: Site | None = None,
        **common: Any,
    ) -> None:
        super().__init__(dataclasses.replace(options or CommonOptions(), **common))
        self.port = port
        self.site = site or Site()
        self.token = make_token(self.token, self.site.user)  # a JWT carrying `identity`, as the SDK expects
        step_s = self.options.step_ms / 1000.0
        self._lifecycle_options = LifecycleOptions(
            step_s=step_s, minute_s=minute_ms / 1000.0, suspend_s=suspend_ms / 1000.0, secrets=dict(secrets or {})
        )
        self.state = ApoloState(self.site, self.runner, self._lifecycle_options)
        self.monitoring = Monitoring(self.state, self.faults, top_interval_s=min(1.0, max(0.05, step_s * 10)))
        self.interactive = Interactive(self.state)
        self.auth = TokenAuth(self.token)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The API URL a client is configured with (`.../api/v1`)."""
        return http_url(self.options.host, self.port) + API

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        group = parser.add_argument_group("apolo")
        group.add_argument("--apolo-port", type=int, default=0, help="HTTP port of the Apolo API (0 = free)")
        group.add_argument(
            "--apolo-minute-ms",
            type=float,
            default=60_000.0,
            help="how long one minute of a job's max_run_time_minutes (life_span) lasts; tests shorten it",
        )
        group.add_argument(
            "--apolo-suspend-ms",
            type=float,
            default=0.0,
            help="a preemptible job (scheduler_enabled preset, e.g. cpu-spot) is suspended once after running this "
            "long, and resumes (its command starts again) after as long again; 0 = never",
        )
        group.add_argument(
            "--apolo-secret",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a platform secret that secret_env (secret://.../KEY) resolves to; repeatable",
        )

    @classmethod
    def from_arguments(cls, args: argparse.Namespace, options: CommonOptions) -> ApoloEmulator:
        secrets = {}
        for item in args.apolo_secret:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise SystemExit(f"--apolo-secret: expected KEY=VALUE, not {item!r}")
            secrets[key] = value
        return cls(
            options,
            port=args.apolo_port,
            minute_ms=args.apolo_minute_ms,
            suspend_ms=args.apolo_suspend_ms,
            secrets=secrets,
        )

    # -- server -------------------------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        middleware = rest_middleware(
            auth=self.auth,
            counter=self.counter,
            faults=StreamAwareFaults(self.faults, STREAMED_ROUTES),
            requests=self.requests,
            unauthorized=unauthorized,
            unavailable=unavailable,
            refuse=refuse,
            public=PUBLIC_ROUTES,
        )
        app = rest_app([middleware, api_errors])
        expect = expect_continue(auth=self.auth, public=PUBLIC_ROUTES)  # only routes that take a body need it
        monitoring = self.monitoring
        app.router.add_get(f"{API}/config", self.get_config)
        app.router.add_get(f"{API}/ping", self.ping)
        # platform-monitoring's fixed routes first: `/jobs/capacity` is not a job id
        app.router.add_get(f"{API}/jobs/capacity", monitoring.capacity)
        app.router.add_post(f"{API}/jobs/available", monitoring.capacity, expect_handler=expect)
        app.router.add_get(f"{API}/jobs", self.list_jobs)
        app.router.add_post(f"{API}/jobs", self.start_job, expect_handler=expect)
        app.router.add_get(f"{API}/jobs/{{job_id}}", self.get_job)
        app.router.add_delete(f"{API}/jobs/{{job_id}}", self.kill_job)
        app.router.add_put(f"{API}/jobs/{{job_id}}/max_run_time_minutes", self.bump_life_span, expect_handler=expect)
        app.router.add_get(f"{API}/jobs/{{job_id}}/log_ws", monitoring.log_ws)
        app.router.add_get(f"{API}/jobs/{{job_id}}/log", monitoring.log)
        app.router.add_get(f"{API}/jobs/{{job_id}}/top", monitoring.top)
        app.router.add_post(f"{API}/jobs/{{job_id}}/kill", monitoring.send_signal, expect_handler=expect)
        interactive = self.interactive  # attach, exec, port_forward: GET or POST, as platform-monitoring routes them
        for path, handler in (
            ("attach", interactive.attach),
            ("exec", interactive.exec),
            ("port_forward/{port}", interactive.port_forward),
        ):
            app.router.add_get(f"{API}/jobs/{{job_id}}/{path}", handler)
            app.router.add_post(f"{API}/jobs/{{job_id}}/{path}", handler)
        return app

    async def start(self) -> None:
        self._runner, self.port = await serve(self.build_app(), self.options.host, self.port)
        site = self.site
        self.state.lifecycle.passed_config = passed_config(self.token, site.cluster, self.url, site.org, site.project)
        log.info("apolo emulator listening on %s", self.url)

    async def stop(self) -> None:
        await self.monitoring.close_all()
        await self.interactive.close_all()
        await self.state.shutdown()
        await self.runner.kill_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def ready_info(self) -> dict[str, Any]:
        site = self.site
        return {
            "url": self.url,
            "token": self.token,
            "cluster": site.cluster,
            "org": site.org,
            "project": site.project,
            "user": site.user,
            "passed_config": passed_config(self.token, site.cluster, self.url, site.org, site.project),
        }

    # -- platform-api handlers ----------------------------------------------------------------------------------

    async def get_config(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        authorized = header is not None and self.auth.check(header)
        return web.json_response(config_document(self.site, self.url, authorized=authorized))

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="Pong")

    async def start_job(self, request: web.Request) -> web.Response:
        payload = await json_body(request)
        spec = parse_start(payload, self.site, from_preset="from_preset" in request.query)
        refused = check_project(spec, self.site)
        if refused is not None:
            raise refused
        job = self.state.create(spec)
        return web.json_response(job_json(job), status=202)

    async def get_job(self, request: web.Request) -> web.Response:
        return web.json_response(job_json(self.state.resolve(request.match_info["job_id"])))

    async def kill_job(self, request: web.Request) -> web.Response:
        self.state.kill(request.match_info["job_id"])
        return web.Response(status=204)

    async def bump_life_span(self, request: web.Request) -> web.Response:
        self.state.bump_life_span(request.match_info["job_id"], await json_body(request))
        return web.Response(status=204)

    async def list_jobs(self, request: web.Request) -> web.StreamResponse:
        """`{"jobs": [...]}`, or with `Accept: application/x-ndjson` one job per line; a fault (or an error while
        streaming) ends the stream with an `{"error": ...}` line, as platform-api does."""
        job_filter = JobFilter.from_query(request.query)
        fault = self.faults.stream(route_of(request))
        if fault is not None and fault.after_messages == 0:
            return unavailable(request)
        jobs = list(self.state.select(job_filter))
        if "application/x-ndjson" not in request.headers.get("Accept", ""):
            return web.json_response({"jobs": [job_json(job) for job in jobs]})
        response = web.StreamResponse()
        response.headers["Content-Type"] = "application/x-ndjson"
        await response.prepare(request)
        for index, job in enumerate(jobs):
            if fault is not None and index >= fault.after_messages:
                error = f"Unexpected exception ConnectionError: fault injected. Path with query: {request.path_qs}."
                await response.write(json.dumps({"error": error}).encode())
                break
            await response.write(json.dumps(job_json(job)).encode() + b"\n")
        await response.write_eof()
        return response
