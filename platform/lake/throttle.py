"""Sign-in throttling: exponential back-off per account and per client address,
and a bound on password hashes computed at once.

After ``free_attempts`` failed sign-ins for an account (and after four times
as many from one client address, which many people may share), each further
attempt must wait: 1 s, then 2 s, 4 s... after each further failure, up to
``max_backoff_seconds``. An attempt during the wait is refused
with :class:`~lake.errors.TooManyRequests` (429, ``Retry-After``) before any
password is hashed, so a guessing run costs the server nothing and gains the
guesser one try per wait. A successful sign-in clears the account's count
(not the address's: a guesser who owns one account cannot reset it).
Unknown accounts are throttled like known ones, so the answers say nothing
about which accounts exist.

Password hashing (scrypt, about 16 MiB and tens of milliseconds each) runs in
the caller's worker thread and at most ``max_concurrent_hashes`` at once; a
sign-in that cannot get a turn within a second is refused with 429 too.

The counts live in this process's memory (a bounded number of keys, the
oldest forgotten first); each API replica throttles on its own.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from lake.errors import TooManyRequests

#: How much longer a client address may keep failing than one account.
ADDRESS_FACTOR = 4


@dataclass(frozen=True)
class ThrottlePolicy:
    """Bounds of sign-in attempts.

    Attributes:
        free_attempts: Failures per account before each attempt must wait.
        base_backoff_seconds: The first wait; it doubles with each further failure.
        max_backoff_seconds: The longest wait.
        max_concurrent_hashes: Password hashes computed at once.
        hash_wait_seconds: How long a sign-in waits for a turn to hash.
        max_tracked: Accounts and addresses remembered (the oldest are forgotten).
    """

    free_attempts: int = 5
    base_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 900.0
    max_concurrent_hashes: int = 2
    hash_wait_seconds: float = 1.0
    max_tracked: int = 100_000


@dataclass
class _Record:
    failures: int = 0
    until: float = 0.0


class SignInThrottle:
    """Failed sign-ins per account and per address, and the hashing bound (thread-safe).

    Args:
        policy: The bounds.
        clock: Monotonic seconds (tests move it forward).
    """

    def __init__(self, policy: ThrottlePolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._hashing = threading.BoundedSemaphore(self.policy.max_concurrent_hashes)

    @staticmethod
    def _keys(account: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"account:{account.strip().lower()}", 1)]
        if address:
            keys.append((f"address:{address}", ADDRESS_FACTOR))
        return keys

    def check(self, account: str, address: str | None = None) -> None:
        """Refuse an attempt while the account or the address must wait.

        Raises:
            TooManyRequests: With the seconds left to wait.
        """
        now = self.clock()
        with self._lock:
            waits = [(record.until - now, key) for key, _ in self._keys(account, address)
                     if (record := self._records.get(key)) is not None and record.until > now]
        if waits:
            wait, key = max(waits)
            what = "this account" if key.startswith("account:") else "your address"
            seconds = int(wait + 0.999)
            raise TooManyRequests(
                f"too many failed sign-ins for {what}; try again in {seconds} second{'s' * (seconds != 1)}",
                retry_after=wait, reason="sign_in_backoff")

    def failed(self, account: str, address: str | None = None) -> None:
        """Count a failed attempt; past the free attempts, the next one must wait."""
        now = self.clock()
        policy = self.policy
        with self._lock:
            for key, factor in self._keys(account, address):
                record = self._records.pop(key, None) or _Record()
                record.failures += 1
                over = record.failures - policy.free_attempts * factor
                if over >= 0:
                    wait = min(policy.max_backoff_seconds, policy.base_backoff_seconds * 2 ** min(over, 30))
                    record.until = now + wait
                self._records[key] = record
            while len(self._records) > policy.max_tracked:
                self._records.popitem(last=False)

    def succeeded(self, account: str) -> None:
        """A correct password: the account's count starts again."""
        with self._lock:
            self._records.pop(self._keys(account, None)[0][0], None)

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A turn to compute a password hash.

        Raises:
            TooManyRequests: No turn within ``hash_wait_seconds``.
        """
        if not self._hashing.acquire(timeout=self.policy.hash_wait_seconds):
            raise TooManyRequests("too many sign-ins at once; try again in a moment", retry_after=1,
                                  reason="sign_in_busy")
        try:
            yield
        finally:
            self._hashing.release()
