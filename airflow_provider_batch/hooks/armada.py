"""The Armada connection: a gRPC endpoint, TLS, a bearer token or user/password, a default queue, Lookout."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import grpc

from airflow_provider_batch._proto.armada import submit_pb2
from airflow_provider_batch.clients.armada.client import ArmadaAsyncIOClient, ArmadaClient, ArmadaRpcError
from airflow_provider_batch.clients.armada.types import ArmadaJobState as ArmadaState
from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments
from airflow_provider_batch.common.errors import connection_test_failure
from airflow_provider_batch.common.identity import JobIdentity
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState, JobStatus
from airflow_provider_batch.common.urls import fill_url_template
from airflow_provider_batch.hooks.base import BatchHook, as_bool

log = logging.getLogger(__name__)

# Armada's states in the common vocabulary. PREEMPTED is a failure that a retry may get past.
STATE_TABLE: dict[ArmadaState, JobState] = {
    ArmadaState.SUBMITTED: JobState.QUEUED,
    ArmadaState.QUEUED: JobState.QUEUED,
    ArmadaState.LEASED: JobState.QUEUED,
    ArmadaState.PENDING: JobState.QUEUED,
    ArmadaState.RUNNING: JobState.RUNNING,
    ArmadaState.SUCCEEDED: JobState.SUCCEEDED,
    ArmadaState.FAILED: JobState.FAILED,
    ArmadaState.PREEMPTED: JobState.FAILED,
    ArmadaState.CANCELLED: JobState.CANCELLED,
    ArmadaState.REJECTED: JobState.REJECTED,
    ArmadaState.UNKNOWN: JobState.UNKNOWN,
}
_NEEDS_REASON = frozenset({ArmadaState.FAILED, ArmadaState.PREEMPTED, ArmadaState.REJECTED, ArmadaState.CANCELLED})
# The server falls back to this annotation for the external job URI when field 13 is not set (older servers).
EXTERNAL_URI_ANNOTATION = "armadaproject.io/externalJobUri"
AIRFLOW_ANNOTATION_PREFIX = "airflow.apache.org/"
# lookout_url_template: `<job_id>`, the original operator's placeholder, means {job_id}.
URL_ALIASES = {"<job_id>": "job_id"}


def to_job_status(native: int, reason: str = "") -> JobStatus:
    state = ArmadaState(native)
    common = STATE_TABLE.get(state)
    if common is None:
        log.warning("unknown Armada state %s; treating the job as still queued", native)
        common = JobState.UNKNOWN
    return JobStatus(common, state.name, reason)


@dataclass(frozen=True)
class ArmadaSubmission:
    """What the operator asks the hook to submit: one job in a queue and job set."""

    queue: str
    job_set_id: str
    item: submit_pb2.JobSubmitRequestItem


class ArmadaHook(BatchHook[ArmadaSubmission]):
    """Talks to Armada through an `armada` connection.

    host: the gRPC endpoint (`armada.example.com:443`, or host plus port); password: a bearer token, or with login a
    basic-auth pair. Extras: tls, ca_cert (PEM), default_queue, lookout_url_template (`{job_id}`, `{queue}` and
    `{job_set_id}` are filled in, and the original operator's `<job_id>`: see common/urls.py), binoculars_target
    (the log service, when it is not on host).
    """

    conn_name_attr = "armada_conn_id"
    default_conn_name = "armada_default"
    conn_type = "armada"
    hook_name = "Armada"
    backend = "armada"

    def __init__(self, armada_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(conn_id=armada_conn_id, **kwargs)
        self._async_client: ArmadaAsyncIOClient | None = None
        self._async_channels: list[grpc.aio.Channel] = []

    @classmethod
    def for_job(cls, conn_id: str, details: Mapping[str, str]) -> ArmadaHook:
        """A job submitted through explicit channel arguments (the `channel` detail) is reached through them."""
        from airflow_provider_batch.hooks.armada_channel import ArmadaChannelHook
        from airflow_provider_batch.hooks.armada_channel_args import CHANNEL_DETAIL, ChannelSpec

        if details.get(CHANNEL_DETAIL):
            return ArmadaChannelHook(conn_id, ChannelSpec.from_key(details[CHANNEL_DETAIL]))
        return cls(conn_id)

    # -- connection --------------------------------------------------------------------------------------------

    @cached_property
    def settings(self) -> ArmadaSettings:
        return self.read_connection(ArmadaSettings.from_connection)

    @cached_property
    def client(self) -> ArmadaClient:
        settings = self.settings
        binoculars = settings.binoculars.channel(settings.credentials) if settings.binoculars else None
        return ArmadaClient(settings.channel.channel(settings.credentials), binoculars_channel=binoculars)

    def get_conn(self) -> ArmadaClient:
        return self.client

    async def aget_client(self) -> ArmadaAsyncIOClient:
        """The asyncio client, built from `aget_connection` (never blocks the triggerer's loop)."""
        if self._async_client is None:
            settings = await self.aget_settings()
            channel = settings.channel.aio_channel(settings.credentials)
            self._async_channels.append(channel)
            binoculars = None
            if settings.binoculars:
                binoculars = settings.binoculars.aio_channel(settings.credentials)
                self._async_channels.append(binoculars)
            self._async_client = ArmadaAsyncIOClient(channel, binoculars_channel=binoculars)
        return self._async_client

    async def aget_settings(self) -> ArmadaSettings:
        """The connection's settings, read with `aget_connection` (for the triggerer's event loop)."""
        return ArmadaSettings.from_connection(await self.aget_connection(self.conn_id))

    async def aclose(self) -> None:
        for channel in self._async_channels:
            await channel.close()
        self._async_channels.clear()
        self._async_client = None

    def endpoint(self) -> str:
        try:
            return self.settings.channel.target
        except Exception:  # an unreadable connection: the error that follows says why
            return ""

    def test_connection(self) -> tuple[bool, str]:
        """Health, then an authorized call that says whether the token is accepted: the default queue's lookup
        when the connection names one (it must exist), else the list of queues (a few of their names are shown)."""
        try:
            target = self.settings.channel.target
            status = self.client.health().status
            if status != 1:
                return False, f"Armada at {target} answered Health with status {status} (not SERVING)"
            queue = self.settings.default_queue
            if not queue:
                names = sorted(q.name for q in self.client.get_queues())
                shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                return True, (
                    f"Armada at {target} is serving and accepts the token; no default_queue is set "
                    f"(queues: {shown or 'none yet'})"
                )
            try:
                self.client.get_queue(queue)
            except ArmadaRpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                return False, (
                    f"Armada at {target} accepts the token, but default_queue {queue!r} does not exist. "
                    "Fix: create the queue, or set default_queue to an existing one."
                )
            return True, f"Armada at {target} is serving and accepts the token; default_queue {queue!r} exists"
        except Exception as error:  # the UI shows the message
            return False, connection_test_failure(error, self.conn_id, self.endpoint())

    # -- jobs --------------------------------------------------------------------------------------------------

    def submit_job(self, request: ArmadaSubmission, identity: JobIdentity, generation: int) -> JobRef:
        return self.submit_together(request.queue, request.job_set_id, [(request.item, identity)], generation)[0]

    def submit_together(
        self,
        queue: str,
        job_set_id: str,
        items: Sequence[tuple[submit_pb2.JobSubmitRequestItem, JobIdentity]],
        generation: int,
    ) -> list[JobRef]:
        """Several jobs of one job set in ONE SubmitJobs call (as the original operator submitted its list), each
        stamped with its own identity (client_id for Armada's deduplication, external_job_uri to be found again);
        a JobRef per job, in order. An item Armada refuses raises, naming its index when there are several."""
        stamped = [self._stamped(item, identity, generation) for item, identity in items]
        response = self.client.submit_jobs(queue, job_set_id, stamped)
        details = {"queue": queue, "job_set_id": job_set_id}
        refs = []
        for index, answer in enumerate(response.job_response_items):
            if answer.error:
                error = answer.error if len(stamped) == 1 else f"job_request_items[{index}]: {answer.error}"
                raise ArmadaRpcError("SubmitJobs", grpc.StatusCode.INVALID_ARGUMENT, error)
            refs.append(self.job_ref(answer.job_id, details))
        return refs

    @staticmethod
    def _stamped(
        request_item: submit_pb2.JobSubmitRequestItem, identity: JobIdentity, generation: int
    ) -> submit_pb2.JobSubmitRequestItem:
        item = submit_pb2.JobSubmitRequestItem()
        item.CopyFrom(request_item)
        item.client_id = identity.client_id(generation)
        item.external_job_uri = identity.uri
        item.annotations[EXTERNAL_URI_ANNOTATION] = identity.uri
        for key, value in identity.tags().items():
            item.annotations[AIRFLOW_ANNOTATION_PREFIX + key] = value
        return item

    def find_jobs(self, request: ArmadaSubmission, identity: JobIdentity) -> list[tuple[JobRef, JobStatus]]:
        found = self.client.get_job_status_by_external_job_uri(request.queue, request.job_set_id, identity.uri)
        details = {"queue": request.queue, "job_set_id": request.job_set_id}
        newest_first = sorted(found.job_states.items(), reverse=True)  # ULIDs sort by submit time
        return [(self.job_ref(job_id, details), self._with_reason(job_id, state)) for job_id, state in newest_first]

    def get_status(self, job: JobRef) -> JobStatus:
        found = self.client.get_job_status([job.job_id], retry=False).job_states
        return self._with_reason(job.job_id, found.get(job.job_id, ArmadaState.UNKNOWN), retry=False)

    def _with_reason(self, job_id: str, state: int, retry: bool = True) -> JobStatus:
        reason = ""
        if ArmadaState(state) in _NEEDS_REASON:
            reason = self.client.get_job_errors([job_id], retry=retry).job_errors.get(job_id, "")
        return to_job_status(state, reason)

    def cancel_job(self, job: JobRef, reason: str) -> None:
        self.client.cancel_jobs(job["queue"], job["job_set_id"], job_id=job.job_id, reason=reason)

    def read_logs(self, job: JobRef, cursor: str) -> tuple[list[str], str]:
        try:
            lines = self.client.get_job_logs(job.job_id, since_time=cursor)
        except ArmadaRpcError as error:
            if error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.NOT_FOUND):
                return [], cursor
            raise
        return [line.line for line in lines], (lines[-1].timestamp if lines else cursor)

    def job_url(self, job: JobRef) -> str | None:
        template = self.settings.lookout_url_template
        if not template:
            return None
        values = {
            "job_id": job.job_id,
            "queue": job.details.get("queue", ""),
            "job_set_id": job.details.get("job_set_id", ""),
        }
        return fill_url_template(template, values, URL_ALIASES)

    async def aget_status(self, job: JobRef) -> JobStatus:
        return (await self.aget_statuses([job]))[job.job_id]

    async def aget_statuses(self, jobs: list[JobRef]) -> dict[str, JobStatus]:
        """One GetJobStatus for all the jobs (500 ids a call), one GetJobErrors for the failed among them."""
        client = await self.aget_client()
        ids = [job.job_id for job in jobs]
        states = (await client.get_job_status(ids, retry=False)).job_states
        native = {job_id: ArmadaState(states.get(job_id, ArmadaState.UNKNOWN)) for job_id in ids}
        failed = [job_id for job_id, state in native.items() if state in _NEEDS_REASON]
        reasons = dict((await client.get_job_errors(failed, retry=False)).job_errors) if failed else {}
        return {job_id: to_job_status(state, reasons.get(job_id, "")) for job_id, state in native.items()}

    async def acancel_job(self, job: JobRef, reason: str) -> None:
        client = await self.aget_client()
        await client.cancel_jobs(job["queue"], job["job_set_id"], job_id=job.job_id, reason=reason)

    def stream_key(self, job: JobRef) -> str | None:
        queue, job_set_id = job.details.get("queue"), job.details.get("job_set_id")
        return json.dumps([queue, job_set_id]) if queue and job_set_id else None

    async def afollow(self, key: str, jobs: list[JobRef]) -> AsyncIterator[tuple[str, JobStatus]]:
        """The job set's events (GetJobSetEvents, watch=True, resumed from the last message after a silence), as the
        state each event moves a job to, with the event's reason for failures. A broken stream
        (UNAVAILABLE) raises at once: the caller's wait policy decides when to follow again."""
        queue, job_set_id = json.loads(key)
        client = await self.aget_client()
        stream = client.get_job_events_stream(queue, job_set_id, watch=True, retry=False)
        try:
            async for message in stream:
                try:
                    event = ArmadaClient.unmarshal_event_response(message)
                except ValueError:  # an event type this client does not know changes no state it knows
                    continue
                state = event.state
                if state is not None:
                    yield event.job_id, to_job_status(state, str(getattr(event.message, "reason", "") or ""))
        finally:
            stream.cancel()


@dataclass(frozen=True)
class ArmadaSettings:
    """An `armada` connection read and checked: channel arguments (no secret) and the credentials apart."""

    channel: GrpcChannelArguments
    credentials: CallCredentials | None
    binoculars: GrpcChannelArguments | None
    default_queue: str
    lookout_url_template: str

    @classmethod
    def from_connection(cls, conn: Any) -> ArmadaSettings:
        extra = conn.extra_dejson or {}
        host = (conn.host or "").strip()
        if not host:
            raise ValueError(f"connection {conn.conn_id}: host is empty; set it to the Armada gRPC endpoint host:port")
        if conn.port and ":" not in host:
            host = f"{host}:{conn.port}"
        tls = as_bool(extra.get("tls", False), "tls")
        ca_cert = extra.get("ca_cert") or None
        channel = GrpcChannelArguments(host, tls=tls, ca_cert=ca_cert)
        binoculars_target = extra.get("binoculars_target") or ""
        binoculars = GrpcChannelArguments(binoculars_target, tls=tls, ca_cert=ca_cert) if binoculars_target else None
        token = conn.password or extra.get("token") or ""
        credentials = None
        if conn.login and token:
            credentials = CallCredentials.basic(conn.login, token)
        elif token:
            credentials = CallCredentials.bearer(token)
        return cls(
            channel=channel,
            credentials=credentials,
            binoculars=binoculars,
            default_queue=str(extra.get("default_queue") or ""),
            lookout_url_template=str(extra.get("lookout_url_template") or ""),
        )
