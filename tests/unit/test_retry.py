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


def test_one_delay_is_deterministic_with_an_injected_jitter_source():
    policy = RetryPolicy(max_attempts=5, initial_backoff=1, max_backoff=5, multiplier=2, jitter=0.5)
    assert [policy.delay(retry, lambda: 0.0) for retry in range(5)] == [1, 2, 4, 5, 5]
    assert policy.delay(2, lambda: 0.999) == pytest.approx(4 * (1 - 0.5 * 0.999))
    assert policy.delays(lambda: 0.0) == [1, 2, 4, 5] and policy.retries == 4


def test_a_delay_far_past_the_budget_stays_capped_without_overflowing():
    assert RetryPolicy(max_backoff=30, jitter=0).delay(10_000) == 30
    assert RetryPolicy(initial_backoff=0, jitter=0).delay(10_000) == 0


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"initial_backoff": -1}, "initial_backoff"),
        ({"max_backoff": float("inf")}, "max_backoff"),
        ({"max_backoff": float("nan")}, "max_backoff"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"jitter": 1.5}, "jitter"),
    ],
)
def test_a_policy_that_cannot_back_off_is_refused(fields, words):
    with pytest.raises(ValueError, match=words):
        RetryPolicy(**fields)
