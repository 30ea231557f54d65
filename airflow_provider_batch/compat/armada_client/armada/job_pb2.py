"""`armada_client.armada.job_pb2`: Armada's query messages (JobStatusResponse, JobDetails, ...)."""

from airflow_provider_batch._proto.armada.job_pb2 import *  # noqa: F403
