import pytest

from airflow_provider_batch.clients.armada.client import ArmadaClient
from airflow_provider_batch.clients.armada.spec import parse_pod_spec, quantity_value
from airflow_provider_batch.common.errors import InvalidJobSpecError

POD = {
    "restartPolicy": "Never",
    "containers": [
        {
            "name": "main",
            "image": "busybox",
            "command": ["sh", "-c"],
            "args": ["echo hi"],
            "env": [
                {"name": "A", "value": "1"},
                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "cm"}}],
            "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": 0.1, "memory": "64Mi"}},
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
            "securityContext": {"runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "periodSeconds": 5},
            "readinessProbe": {"tcpSocket": {"port": "http"}},
        }
    ],
    "volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}, {"name": "cfg", "configMap": {"name": "cm"}}],
    "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {"pool": "batch"},
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]
            }
        }
    },
    "securityContext": {"runAsUser": 1000},
}


def item(**kwargs):
    base = {"pod_spec": POD, "namespace": "default"}
    base.update(kwargs)
    return ArmadaClient.create_job_request_item(**base)


def test_a_real_pod_spec_builds_with_every_common_field():
    built = item(client_id="c1", labels={"a": "b"}, annotations={"x": "y"}, external_job_uri="airflow://d/t/r/-1")
    spec = built.pod_specs[0]
    container = spec.containers[0]
    assert container.resources.limits["cpu"].string == "0.1"
    assert container.env[1].valueFrom.secretKeyRef.key == "k"
    assert spec.volumes[0].volumeSource.emptyDir.sizeLimit.string == "1Gi"
    assert spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
    assert spec.volumes[1].volumeSource.configMap.localObjectReference.name == "cm"
    assert container.envFrom[0].configMapRef.localObjectReference.name == "cm"
    assert container.livenessProbe.handler.httpGet.port.intVal == 8080
    assert container.readinessProbe.handler.tcpSocket.port.strVal == "http"
    assert built.client_id == "c1" and built.external_job_uri == "airflow://d/t/r/-1"


def test_yaml_and_pod_manifest_forms():
    text = """
kind: Pod
spec:
  containers:
    - name: main
      image: busybox
      command: [echo, hi]
      resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: "1000m", memory: 1Gi}}
"""
    assert item(pod_spec=text).pod_specs[0].containers[0].command == ["echo", "hi"]


def test_armada_client_messages_are_accepted():
    from armada_client.k8s.io.api.core.v1 import generated_pb2 as theirs

    from airflow_provider_batch.clients.armada.spec import PodSpec

    spec = parse_pod_spec(theirs.PodSpec(containers=[theirs.Container(name="x")]))
    assert isinstance(spec, PodSpec) and spec.containers[0].name == "x"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"namespace": ""}, "job_request_item.namespace"),
        ({"namespace": "Bad_NS"}, "job_request_item.namespace"),
        ({"client_id": "x" * 101}, "job_request_item.client_id"),
        ({"pod_spec": {"containers": []}}, "job_request_item.pod_spec.containers"),
        ({"pod_spec": {"containers": [{"name": "a"}]}}, "job_request_item.pod_spec.containers[0].resources"),
        (
            {"pod_spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}, "limits": {}}}]}},
            "job_request_item.pod_spec.containers[0].resources.limits.cpu",
        ),
        (
            {
                "pod_spec": {
                    "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "2"}}}]
                }
            },
            "job_request_item.pod_spec.containers[0].resources.limits.cpu",
        ),
        (
            {
                "pod_spec": {
                    "containers": [{"name": "a", "resources": {"requests": {"cpu": "1x"}, "limits": {"cpu": "1x"}}}]
                }
            },
            "job_request_item.pod_spec.containers[0].resources.requests.cpu",
        ),
        ({"pod_spec": {"containers": [{"name": "a", "imagee": "typo"}]}}, "job_request_item.pod_spec"),
        ({"pod_spec": "containers: [unclosed"}, "job_request_item.pod_spec"),
    ],
)
def test_bad_input_names_the_field(change, field):
    with pytest.raises(InvalidJobSpecError) as raised:
        item(**change)
    assert raised.value.field == field
    assert str(raised.value).startswith(field)


def test_unknown_field_message_names_it():
    with pytest.raises(InvalidJobSpecError, match="unknown field 'imagee'"):
        item(pod_spec={"containers": [{"name": "a", "imagee": "typo"}]})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1", "1000m"),
        ("1Ki", "1024"),
        ("0.5", "500m"),
        ("1e3", "1k"),
        ("64Mi", "67108864"),
        ("1Ei", str(2**60)),
        ("1E", "1e18"),
        ("2E-3", "2m"),
    ],
)
def test_quantities_compare_by_value(a, b):
    assert quantity_value(a) == quantity_value(b)


def test_one_pod_spec_exactly():
    with pytest.raises(InvalidJobSpecError, match="give pod_spec or pod_specs"):
        ArmadaClient.create_job_request_item(pod_spec=POD, pod_specs=[POD], namespace="d")
    with pytest.raises(InvalidJobSpecError, match="exactly one"):
        ArmadaClient.create_job_request_item(pod_specs=[POD, POD], namespace="d")
