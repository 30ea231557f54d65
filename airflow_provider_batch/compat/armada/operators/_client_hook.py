"""The hook of a blocking task given client objects (the original `ArmadaOperator(armada_client=...)`).

The client lives in the DAG file, which the worker parses, so the task talks to Armada through that client's
channel: submit, find an earlier try's job, read states and logs, cancel. The `armada_conn_id` connection, when it
exists, still gives the default queue and the Lookout URL template; it is optional.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_batch.clients.armada.client import ArmadaClient as CoreArmadaClient
from airflow_provider_batch.common.channel import GrpcChannelArguments
from airflow_provider_batch.common.errors import InvalidJobSpecError
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSettings


def core_client_of(armada_client: Any, field: str = "armada_client") -> CoreArmadaClient:
    """This provider's client inside an ArmadaClient object (the compat one keeps it as `.core`)."""
    if isinstance(armada_client, CoreArmadaClient):
        return armada_client
    core = getattr(armada_client, "core", None)
    if isinstance(core, CoreArmadaClient):
        return core
    raise InvalidJobSpecError(
        field,
        f"is a {type(armada_client).__module__}.{type(armada_client).__name__}",
        "pass airflow_provider_batch.compat.armada_client.client.ArmadaClient(channel), or armada_channel_args",
    )


def target_of(channel: Any) -> str:
    """The target of a grpc channel, for messages ("" when the channel does not say)."""
    try:
        target = channel._channel.target()
        text = target.decode() if isinstance(target, bytes) else str(target)
        return text.removeprefix("dns:///")
    except Exception:
        return ""


class ClientObjectHook(ArmadaHook):
    """ArmadaHook whose client is the one the DAG file built (see the module docstring)."""

    def __init__(self, armada_conn_id: str, armada_client: Any) -> None:
        super().__init__(armada_conn_id)
        self.__dict__["client"] = core_client_of(armada_client)
        self._target = target_of(getattr(armada_client, "channel", None))

    @cached_property
    def settings(self) -> ArmadaSettings:
        try:  # not used to build a channel (the client has one): only where messages say the job is
            channel = GrpcChannelArguments(self._target)
        except ValueError:
            channel = GrpcChannelArguments("armada-client-channel:0")
        try:
            base = ArmadaSettings.from_connection(self.get_connection(self.conn_id))
        except AirflowNotFoundException:
            return ArmadaSettings(channel, None, None, "", "")
        return ArmadaSettings(channel, None, base.binoculars, base.default_queue, base.lookout_url_template)

    def endpoint(self) -> str:
        return self._target
