import json

import grpc
import pytest

from airflow_provider_batch.common.channel import CallCredentials, GrpcChannelArguments


def test_round_trips_through_plain_json():
    args = GrpcChannelArguments(
        "armada.example.com:443", tls=True, ca_cert="/etc/ca.pem", options=(("grpc.keepalive_time_ms", 30000),)
    )
    data = json.loads(json.dumps(args.serialize()))
    assert GrpcChannelArguments.deserialize(data) == args
    assert GrpcChannelArguments.from_json(args.to_json()) == args
    assert GrpcChannelArguments.from_json_string(args.to_json_string()) == args


def test_to_json_is_a_plain_dict_as_every_to_json_of_the_provider():
    from airflow_provider_batch.common.jobref import JobRef
    from airflow_provider_batch.common.states import JobState, JobStatus

    args = GrpcChannelArguments("h:1", tls=True, options=(("grpc.max_receive_message_length", 1024),))
    for value in (args, JobRef("armada", "c", "j", {"queue": "q"}), JobStatus(JobState.RUNNING, "RUNNING")):
        data = value.to_json()
        assert type(data) is dict and json.loads(json.dumps(data)) == data
        assert type(value).from_json(data) == value
    assert json.loads(args.to_json_string()) == args.to_json()


def test_holds_no_secret_and_credentials_do_not_print_theirs():
    credentials = CallCredentials.bearer("s3cret-token")
    assert "s3cret" not in repr(credentials)
    assert dict(credentials.metadata()) == {"authorization": "Bearer s3cret-token"}
    args = GrpcChannelArguments("localhost:50051")
    assert "s3cret" not in args.to_json_string()


def test_basic_credentials_are_base64():
    assert CallCredentials.basic("alice", "pw").header == "Basic YWxpY2U6cHc="


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target": "no-port"}, "target"),
        ({"target": "h:1", "compression": "zstd"}, "compression"),
        ({"target": "h:1", "ca_cert": "pem"}, "ca_cert"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        GrpcChannelArguments(**kwargs)


def test_refuses_a_newer_serialized_version():
    with pytest.raises(ValueError, match="version 2"):
        GrpcChannelArguments.deserialize({"target": "h:1"}, version=2)


def test_builds_channels():
    args = GrpcChannelArguments("localhost:1", compression="gzip")
    channel = args.channel(CallCredentials.bearer("t"))
    channel.close()
    assert isinstance(args.channel(), grpc.Channel)


async def test_builds_aio_channels_with_tls_and_a_custom_ca(tmp_path):
    pem = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"  # shape only; not dialled
    path = tmp_path / "ca.pem"
    path.write_text(pem)
    channel = GrpcChannelArguments("localhost:1", tls=True, ca_cert=str(path)).aio_channel(CallCredentials.bearer("t"))
    await channel.close()
