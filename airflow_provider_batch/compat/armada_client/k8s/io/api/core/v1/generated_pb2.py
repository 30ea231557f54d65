"""`armada_client.k8s.io.api.core.v1.generated_pb2`: the Kubernetes core/v1 types a job needs (PodSpec, Container,
ResourceRequirements, ...), as this provider generates them."""

from airflow_provider_batch._proto.armada.k8s.core_v1_pb2 import *  # noqa: F403
