"""Sign-in throttling: exponential back-off per account and per address, and the
bound on password hashes at once."""

from __future__ import annotations

import threading

import pytest

from lake.errors import AuthenticationError, TooManyRequests
from lake.service import Lake
from lake.throttle import ADDRESS_FACTOR, SignInThrottle, ThrottlePolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_back_off_doubles_after_the_free_attempts_and_caps() -> None:
    clock = Clock()
    throttle = SignInThrottle(ThrottlePolicy(free_attempts=3, max_backoff_seconds=10), clock)
    for _ in range(3):
        throttle.check("ana")
        throttle.failed("ana")
    waits = []
    for _ in range(6):
        with pytest.raises(TooManyRequests) as refused:
            throttle.check("ana")
        waits.append(refused.value.retry_after)
        clock.now += refused.value.retry_after
        throttle.check("ana")
        throttle.failed("ana")
    assert waits == [1, 2, 4, 8, 10, 10]
    assert "try again in 10 seconds" in str(refused.value)
    throttle.check("bob")  # other accounts are not affected
    clock.now += 10
    throttle.succeeded("ana")
    throttle.check("ana")


def test_an_address_is_throttled_across_accounts_and_not_reset_by_a_success() -> None:
    clock = Clock()
    throttle = SignInThrottle(ThrottlePolicy(free_attempts=2), clock)
    for i in range(2 * ADDRESS_FACTOR):
        throttle.check(f"user{i}", "10.0.0.9")
        throttle.failed(f"user{i}", "10.0.0.9")
    throttle.succeeded("mine")
    with pytest.raises(TooManyRequests, match="your address"):
        throttle.check("someone-else", "10.0.0.9")
    throttle.check("someone-else", "10.0.0.10")


def test_memory_is_bounded() -> None:
    throttle = SignInThrottle(ThrottlePolicy(max_tracked=100))
    for i in range(1000):
        throttle.failed(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._records) == 100


def test_check_password_is_throttled_before_hashing_and_unknown_users_alike(lake: Lake) -> None:
    lake.users.throttle = SignInThrottle(ThrottlePolicy(free_attempts=2))
    lake.users.create("ana", password="right horse")
    for name in ("ana", "nobody"):
        for _ in range(2):
            with pytest.raises(AuthenticationError, match="unknown user or wrong password"):
                lake.users.check_password(name, "wrong", address="10.1.1.1")
        # Now even the right password waits: the guesser learns nothing.
        with pytest.raises(TooManyRequests) as refused:
            lake.users.check_password(name, "right horse" if name == "ana" else "x", address="10.1.1.2")
        assert refused.value.retry_after == 1 and refused.value.reason == "sign_in_backoff"


def test_hashing_is_bounded(lake: Lake) -> None:
    lake.users.throttle = SignInThrottle(ThrottlePolicy(max_concurrent_hashes=1, hash_wait_seconds=0.2))
    lake.users.create("ana", password="right horse")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lake.users.throttle.hashing():
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    holding.wait(10)
    with pytest.raises(TooManyRequests, match="too many sign-ins at once"):
        lake.users.check_password("ana", "right horse")
    release.set()
    worker.join(10)
    assert lake.users.check_password("ana", "right horse").name == "ana"
