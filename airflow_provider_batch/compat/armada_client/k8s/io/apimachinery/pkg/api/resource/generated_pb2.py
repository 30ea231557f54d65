"""`armada_client.k8s.io.apimachinery.pkg.api.resource.generated_pb2`: Kubernetes' Quantity, as this provider
generates it."""

from airflow_provider_batch._proto.armada.k8s.resource_pb2 import *  # noqa: F403
