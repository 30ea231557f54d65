"""`armada_client.armada.event_pb2`: Armada's event messages (EventStreamMessage, JobRunningEvent, ...)."""

from airflow_provider_batch._proto.armada.event_pb2 import *  # noqa: F403
