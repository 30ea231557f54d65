"""Faults for the Apolo wire: request/reply routes fail whole (503 before or after the work, the shared middleware);
streamed routes (the NDJSON list, log_ws, top) are left to their handlers, which break the stream part-way."""

from __future__ import annotations

from airflow_provider_batch.emulators.faults import FaultPlan, FaultPoint, StreamFault


class StreamAwareFaults(FaultPlan):
    """The emulator's FaultPlan as the shared middleware sees it: no unary fault on a streamed route."""

    def __init__(self, plan: FaultPlan, streamed_routes: frozenset[str]) -> None:
        """`streamed_routes`: "METHOD /template" of the routes whose handlers inject their own faults."""
        # Not super().__init__: every decision and count goes to `plan`, the emulator's one FaultPlan.
        self.plan = plan
        self.streamed_routes = streamed_routes
        self.rate = plan.rate
        self.latency_s = plan.latency_s
        self.injected = plan.injected

    def unary(self, method: str) -> FaultPoint:
        if method in self.streamed_routes:  # "GET /api/v1/jobs": the list, not the start
            return FaultPoint.NONE
        return self.plan.unary(method)

    def stream(self, method: str) -> StreamFault | None:
        return self.plan.stream(method)
