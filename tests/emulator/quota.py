"""CloudWatch Logs' account-wide GetLogEvents quota: so many calls a second, for every client.

Real AWS allows about 10 GetLogEvents calls a second per account and region, shared by every
job in the account, and answers ThrottlingException beyond it; moto has no quota at all. Off by
default: only the tests and benchmarks about sharing the quota turn it on.
"""

from __future__ import annotations

import threading
from collections import deque

from .faults import Fault

THROTTLED = Fault(operation="GetLogEvents", kind="throttle", message="Rate exceeded")
"""What a call beyond the quota gets: HTTP 400 ThrottlingException, as from CloudWatch Logs."""


class LogQuota:
    """At most `calls_per_second` answered GetLogEvents calls in any sliding second.

    Counted over every client of the emulator, as AWS counts them over the whole account.
    Throttled calls do not count: they were not served. Shared by the server's request threads.
    """

    def __init__(self) -> None:
        """Start switched off."""
        self._lock = threading.Lock()
        self._limit: int | None = None
        self._answered: deque[float] = deque()

    @property
    def calls_per_second(self) -> int | None:
        """The quota, or None when it is off."""
        return self._limit

    def set(self, calls_per_second: int | None) -> None:
        """Turn the quota on (calls a sliding second) or off (None), forgetting past calls."""
        if calls_per_second is not None and calls_per_second < 1:
            raise ValueError(f"a quota needs at least 1 call a second, got {calls_per_second}")
        with self._lock:
            self._limit = calls_per_second
            self._answered.clear()

    def admit(self, at: float) -> bool:
        """Whether a call arriving at monotonic time `at` is within the quota (and count it)."""
        with self._lock:
            if self._limit is None:
                return True
            while self._answered and self._answered[0] <= at - 1.0:
                self._answered.popleft()
            if len(self._answered) >= self._limit:
                return False
            self._answered.append(at)
            return True
