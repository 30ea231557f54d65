"""The descriptor pool every generated module of this package registers in.

It is private to this package so that the proto names we share with Armada (`api.JobSubmitRequest`,
`k8s.io.api.core.v1.PodSpec`, ...), which `armada_client` registers in protobuf's default pool, never clash with
ours; and since nothing here imports `google/api/*.proto`, googleapis-common-protos cannot clash with us either.
"""

from __future__ import annotations

from google.protobuf import descriptor_pool, empty_pb2, timestamp_pb2

POOL = descriptor_pool.DescriptorPool()
for _well_known in (empty_pb2, timestamp_pb2):
    POOL.AddSerializedFile(_well_known.DESCRIPTOR.serialized_pb)
