"""`armada_client.armada.submit_pb2`: Armada's submit messages (JobSubmitRequestItem, Queue, ...), as this provider
generates them (same field numbers and wire; registered apart from armada_client's, so both can be imported)."""

from airflow_provider_batch._proto.armada.submit_pb2 import *  # noqa: F403
