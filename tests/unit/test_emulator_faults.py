import argparse

import pytest

from airflow_provider_batch.emulators.auth import TokenAuth
from airflow_provider_batch.emulators.cli import build_parser, select
from airflow_provider_batch.emulators.faults import FaultPlan, FaultPoint


def test_no_faults_by_default() -> None:
    plan = FaultPlan()
    assert {plan.unary("/m") for _ in range(100)} == {FaultPoint.NONE}
    assert all(plan.stream("/s") is None for _ in range(100))
    assert plan.injected.snapshot() == {}


def test_faults_split_before_and_after() -> None:
    plan = FaultPlan(rate=1.0, seed=7)
    points = [plan.unary("/m") for _ in range(400)]
    assert FaultPoint.NONE not in points
    assert 120 < points.count(FaultPoint.BEFORE) < 280
    assert plan.injected.get("/m") == 400


def test_rate_is_roughly_respected() -> None:
    plan = FaultPlan(rate=0.25, seed=1)
    faults = sum(plan.unary("/m") is not FaultPoint.NONE for _ in range(2000))
    assert 400 < faults < 600


def test_stream_faults_strike_at_start_or_after_a_few_messages() -> None:
    plan = FaultPlan(rate=1.0, seed=3)
    afters = {fault.after_messages for fault in (plan.stream("/s") for _ in range(200)) if fault is not None}
    assert afters == {0, 1, 2, 3}


def test_bad_rate_is_refused() -> None:
    with pytest.raises(ValueError):
        FaultPlan(rate=1.5)


def test_token_auth() -> None:
    auth = TokenAuth("s3cret")
    assert auth.check("Bearer s3cret") and auth.check("bearer s3cret")
    assert auth.check("Basic dXNlcjpzM2NyZXQ=")  # user:s3cret
    assert not auth.check(None) and not auth.check("Bearer other") and not auth.check("s3cret")
    assert TokenAuth("s3cret", bare=True).check("s3cret")


def test_cli_refuses_unknown_emulators(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    assert sorted(select(parser, "")) == ["apolo", "armada", "qarnot"]
    assert select(parser, "Armada") == ["armada"]
    with pytest.raises(SystemExit):
        select(parser, "armada,slurm")
    assert "unknown emulator(s) slurm" in capsys.readouterr().err
    args = parser.parse_args(["--armada-port", "5", "--ingest-lag-ms", "7"])
    assert isinstance(args, argparse.Namespace) and args.armada_port == 5 and args.ingest_lag_ms == 7
