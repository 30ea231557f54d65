import pytest

from airflow_provider_batch.common.retry import RetryPolicy


class Transient(Exception):
    pass


def test_delays_are_bounded_and_jittered():
    policy = RetryPolicy(max_attempts=8, initial_backoff=1, max_backoff=4, multiplier=2, jitter=0.5)
    delays = policy.delays()
    assert len(delays) == 7
    assert all(0.5 <= d <= 4 for d in delays)
    assert delays[-1] >= 2  # capped at max_backoff, then jittered down by at most half


def test_retries_transient_errors_then_succeeds(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Transient()
        return "ok"

    assert RetryPolicy(max_attempts=5).call(flaky, lambda e: isinstance(e, Transient)) == "ok"
    assert len(calls) == 3


def test_gives_up_after_max_attempts_and_never_retries_permanent_errors(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    calls = []

    def always(exc):
        def fn():
            calls.append(1)
            raise exc

        return fn

    with pytest.raises(Transient):
        RetryPolicy(max_attempts=4).call(always(Transient()), lambda e: isinstance(e, Transient))
    assert len(calls) == 4
    calls.clear()
    with pytest.raises(KeyError):
        RetryPolicy(max_attempts=4).call(always(KeyError("x")), lambda e: isinstance(e, Transient))
    assert len(calls) == 1


async def test_async_form_retries(monkeypatch):
    async def no_sleep(_):
        return None

    monkeypatch.setattr("asyncio.sleep", no_sleep)
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) < 2:
            raise Transient()
        return 7

    assert await RetryPolicy().acall(flaky, lambda e: isinstance(e, Transient)) == 7
