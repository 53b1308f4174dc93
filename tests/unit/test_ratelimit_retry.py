"""The bandwidth limiter's long-run rate and the retry policy's waits and give-up."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ferry.errors import RetryableError, TransferError
from ferry.transfer.ratelimit import RateLimiter
from ferry.transfer.retry import RetryPolicy, call_with_retry


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@given(st.lists(st.integers(min_value=1, max_value=10**7), min_size=1, max_size=50))
def test_rate_limiter_never_exceeds_its_rate(grants):
    clock = FakeClock()
    limiter = RateLimiter(1_000_000, clock=clock, sleep=clock.sleep)
    for n in grants:
        limiter.acquire(n)
    # everything but the first grant had to wait for the bytes before it
    assert clock.now >= (sum(grants) - grants[-1]) / 1_000_000 - 1e-9
    assert clock.now <= sum(grants) / 1_000_000 + 1e-9


@given(st.integers(min_value=1, max_value=30))
def test_retry_delay_is_capped_full_jitter(failures):
    policy = RetryPolicy(base_delay=0.5, max_delay=20.0)
    assert policy.delay(failures, rng=lambda lo, hi: hi) == min(20.0, 0.5 * 2 ** (failures - 1))
    assert policy.delay(failures, rng=lambda lo, hi: lo) == 0.0


def test_retry_retries_only_retryable_errors_and_gives_up():
    calls = []

    def flaky():
        calls.append(1)
        raise RetryableError("503 SlowDown")

    with pytest.raises(RetryableError, match="gave up after 3 attempts"):
        call_with_retry(flaky, RetryPolicy(attempts=3, base_delay=0.001))
    assert len(calls) == 3

    calls.clear()

    def fatal():
        calls.append(1)
        raise TransferError("AccessDenied")

    with pytest.raises(TransferError, match="AccessDenied"):
        call_with_retry(fatal, RetryPolicy(attempts=3, base_delay=0.001))
    assert len(calls) == 1


def test_retry_returns_once_it_succeeds():
    outcomes = iter([RetryableError("reset"), RetryableError("reset"), "ok"])

    def op():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert call_with_retry(op, RetryPolicy(attempts=5, base_delay=0.001)) == "ok"


def test_the_services_one_reason_for_an_unreachable_endpoint_survives_retries(monkeypatch):
    """Outside the service the cause is the message; inside (a policy installed) one generic reason, which
    giving up after retries leaves as it is, so that no cause can be told from another."""
    from ferry.storage import netguard

    cause = "network error talking to http://10.1.2.3:22: Connection refused"
    assert (
        netguard.unreachable(RetryableError, "src://b/", cause, "an S3 server").message
        == f"src://b/: {cause}"
    )
    monkeypatch.setattr(netguard, "_policy", netguard.Policy())
    generic = netguard.unreachable(RetryableError, "src://b/", cause, "an S3 server")
    assert generic.message == "src://b/: the endpoint could not be reached or did not answer as an S3 server"

    def fails():
        raise netguard.unreachable(RetryableError, "src://b/", cause, "an S3 server")

    with pytest.raises(RetryableError) as raised:
        call_with_retry(fails, RetryPolicy(attempts=2, base_delay=0.0))
    assert str(raised.value) == generic.message
