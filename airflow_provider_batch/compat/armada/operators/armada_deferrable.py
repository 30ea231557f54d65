"""`armada.operators.armada_deferrable`: the original ArmadaDeferrableOperator and ArmadaJobCompleteTrigger.

The trigger is this provider's BatchJobTrigger with the original arguments: with `job_service_channel_args` it asks
that standalone job service (the original `GetJobStatus(queue, job_set_id, job_id)` for jobs the service reaches
its own way), without them this triggerer's cache. Its events carry BatchJobTrigger's keys plus the original
`job_state` (a JobState name) and `job_message`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.common.states import JobState
from airflow_provider_batch.compat.armada.operators.armada import ArmadaOperator
from airflow_provider_batch.compat.armada.operators.grpc import GrpcChannelArgsDict, GrpcChannelArguments
from airflow_provider_batch.hooks.armada_channel_args import parse_channel_args
from airflow_provider_batch.jobservice.states import TO_WIRE, WireState, wire_name
from airflow_provider_batch.triggers.batch import BatchJobTrigger
from airflow_provider_batch.triggers.where import WhereToAsk

# The event's status as the original JobState the trigger reported.
EVENT_WIRE_STATE = {
    "success": TO_WIRE[JobState.SUCCEEDED],
    "failed": TO_WIRE[JobState.FAILED],
    "cancelled": TO_WIRE[JobState.CANCELLED],
}


class ArmadaJobCompleteTrigger(BatchJobTrigger):
    """Waits for one Armada job to end (the original operator's trigger).

    job_id, armada_queue, job_set_id: the job. airflow_task_name: its name in the event's message.
    job_service_channel_args: a standalone job service to ask (GrpcChannelArgsDict, no secret; None: the embedded
        cache). poll_interval: seconds between questions (30, as the original).
    job: the job reference (`JobRef.to_json()`) when the operator knows it (its connection, for cancelling);
        otherwise the job is an `armada` job of connection `armada_default`. deadline, unknown_grace_period,
        submitted_at, where, cancel_with: as on BatchJobTrigger.
    """

    def __init__(
        self,
        job_id: str,
        job_service_channel_args: dict[str, Any] | None = None,
        armada_queue: str = "",
        job_set_id: str = "",
        airflow_task_name: str = "",
        poll_interval: float = 30.0,
        job: dict[str, Any] | None = None,
        deadline: float | None = None,
        unknown_grace_period: float = 300.0,
        submitted_at: float | None = None,
        where: dict[str, Any] | None = None,
        cancel_with: list[dict[str, Any]] | None = None,
    ) -> None:
        if job is None:
            job = JobRef(
                "armada", "armada_default", job_id, {"queue": armada_queue, "job_set_id": job_set_id}
            ).to_json()
        spec = (
            parse_channel_args(job_service_channel_args, "job_service_channel_args")
            if job_service_channel_args
            else None
        )
        if where is None:
            where = WhereToAsk.job_service(channel=spec).to_json() if spec else WhereToAsk().to_json()
        super().__init__(job, poll_interval, deadline, unknown_grace_period, submitted_at, where, cancel_with)
        self.job_id = job_id
        self.armada_queue = armada_queue
        self.job_set_id = job_set_id
        self.airflow_task_name = airflow_task_name
        self.job_service_channel_args = spec.to_json() if spec else None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        classpath, kwargs = super().serialize()
        return classpath, {
            **kwargs,
            "job_id": self.job_id,
            "job_service_channel_args": self.job_service_channel_args,
            "armada_queue": self.armada_queue,
            "job_set_id": self.job_set_id,
            "airflow_task_name": self.airflow_task_name,
        }

    def final_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """The original event's job_state and job_message, next to BatchJobTrigger's keys."""
        state = EVENT_WIRE_STATE.get(event["status"])
        if state is None:  # error or timeout: the job's end is not known
            unknown = event.get("state") == JobState.UNKNOWN.value
            state = WireState.JOB_ID_NOT_FOUND if unknown else WireState.CONNECTION_ERR
        name = wire_name(state)
        message = f"Armada {self.airflow_task_name}:{self.job_id} {name.lower()}"
        if event.get("message"):
            message += f": {event['message']}"
        return {**event, "job_state": name, "job_message": message}


class ArmadaDeferrableOperator(ArmadaOperator):
    """The original ArmadaDeferrableOperator: `ArmadaDeferrableOperator(name, armada_channel_args,
    job_service_channel_args, armada_queue, job_request_items, lookout_url_template=None, poll_interval=30,
    **kwargs)`. It always defers while the jobs run. The channel arguments are plain JSON kept with the task
    (GrpcChannelArgsDict, or a GrpcChannelArguments object): a grpc.ChannelCredentials object in them is refused
    when the DAG is parsed, naming the alternative (credentials={"conn_id": ...}). See ArmadaOperator for the rest.
    """

    def __init__(
        self,
        name: str | None = None,
        armada_channel_args: Mapping[str, Any] | GrpcChannelArguments | None = None,
        job_service_channel_args: Mapping[str, Any] | GrpcChannelArguments | None = None,
        armada_queue: str | None = None,
        job_request_items: Sequence[Any] | None = None,
        lookout_url_template: str | None = None,
        poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("armada_client") is not None and armada_channel_args is None:
            raise InvalidJobSpecError(
                "armada_client",
                "is a client object, which cannot travel to the triggerer",
                "pass armada_channel_args={'target': 'host:port', 'credentials': {'conn_id': '<armada connection>'}}",
            )
        kwargs["deferrable"] = True
        super().__init__(
            name=name,
            armada_queue=armada_queue,
            job_request_items=job_request_items,
            lookout_url_template=lookout_url_template,
            poll_interval=poll_interval,
            armada_channel_args=_as_dict(armada_channel_args),
            job_service_channel_args=_as_dict(job_service_channel_args),
            **kwargs,
        )


def _as_dict(args: Mapping[str, Any] | GrpcChannelArguments | None) -> Mapping[str, Any] | None:
    """A GrpcChannelArguments object as its serialize() dict (what the original passed)."""
    return args.serialize() if isinstance(args, GrpcChannelArguments) else args


__all__ = ["ArmadaDeferrableOperator", "ArmadaJobCompleteTrigger", "GrpcChannelArgsDict", "GrpcChannelArguments"]
