"""`ArmadaChannelHook`: Armada reached through explicit channel arguments instead of a connection's endpoint.

How the channel arguments relate to `armada_conn_id`: the channel arguments decide the endpoint, TLS, options and
compression; the token comes from their credential source (`credentials={"conn_id": ...}` or a callback), else
from the `armada_conn_id` connection when it exists. That connection (optional here) still gives the default
queue, the Lookout URL template and the Binoculars endpoint.

The job reference stays an ordinary `armada` job of `armada_conn_id`; the channel arguments travel in its details
under `channel` (canonical JSON, no secret, checked again whenever they are read), so a trigger, the job-service
cache and a retried task rebuild the same channel from the reference alone, and jobs with the same channel
arguments are asked about together. The standalone job service never accepts that detail: such jobs are watched in
the triggerer, where the DAG author's arguments are trusted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from airflow_provider_batch.common.channel import CallCredentials
from airflow_provider_batch.common.jobref import JobRef
from airflow_provider_batch.hooks.armada import ArmadaHook, ArmadaSettings
from airflow_provider_batch.hooks.armada_channel_args import CHANNEL_DETAIL, ChannelSpec, CredentialSource


def credentials_of(conn: Any) -> CallCredentials | None:
    """A connection's token (password or extra `token`), as basic auth when it has a login too."""
    token = conn.password or (conn.extra_dejson or {}).get("token") or ""
    if not token:
        return None
    return CallCredentials.basic(conn.login, token) if conn.login else CallCredentials.bearer(token)


async def acredentials(source: CredentialSource | None) -> CallCredentials | None:
    """A credential source's credentials, read without blocking the event loop (None without a source)."""
    if source is None:
        return None
    if source.conn_id:
        return credentials_of(await BaseHook.aget_connection(source.conn_id))
    return await asyncio.to_thread(source.call)


class ArmadaChannelHook(ArmadaHook):
    """ArmadaHook whose channel comes from channel arguments (see the module docstring)."""

    def __init__(self, armada_conn_id: str, spec: ChannelSpec, **kwargs: Any) -> None:
        super().__init__(armada_conn_id, **kwargs)
        self.spec = spec
        self.base_conn_id = armada_conn_id

    def job_ref(self, job_id: str, details: Mapping[str, str]) -> JobRef:
        return super().job_ref(job_id, {**details, CHANNEL_DETAIL: self.spec.key()})

    @cached_property
    def settings(self) -> ArmadaSettings:
        base = self._base()
        source = self.spec.credentials
        if source is not None and source.conn_id:
            credentials = credentials_of(self.get_connection(source.conn_id))
        else:
            credentials = source.call() if source is not None else (base.credentials if base else None)
        return self._with_channel(base, credentials)

    async def aget_settings(self) -> ArmadaSettings:
        base = None
        if self.base_conn_id:
            try:
                base = ArmadaSettings.from_connection(await self.aget_connection(self.base_conn_id))
            except AirflowNotFoundException:
                base = None
        credentials = await acredentials(self.spec.credentials)
        return self._with_channel(base, credentials if self.spec.credentials else (base.credentials if base else None))

    def _base(self) -> ArmadaSettings | None:
        if not self.base_conn_id:
            return None
        try:
            return self.read_connection(ArmadaSettings.from_connection, self.base_conn_id)
        except AirflowNotFoundException:
            return None

    def _with_channel(self, base: ArmadaSettings | None, credentials: CallCredentials | None) -> ArmadaSettings:
        return ArmadaSettings(
            channel=self.spec.channel,
            credentials=credentials,
            binoculars=base.binoculars if base else None,
            default_queue=base.default_queue if base else "",
            lookout_url_template=base.lookout_url_template if base else "",
        )
