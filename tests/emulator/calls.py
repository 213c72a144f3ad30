"""The record of every AWS call the emulator answered.

Tests assert on what the tool asked AWS (which operations, how often, with which parameters)
rather than on its internals: that is what costs money, hits quotas and is visible in CloudTrail.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One request as the emulator received it.

    `service` is the short AWS service name ("ecs", "logs", "iam", "s3", ...); `operation` the
    API name ("RunTask") or, for REST protocols such as S3, "METHOD /path"; `params` the decoded
    JSON body, query-protocol form fields or URL query string.
    """

    service: str
    operation: str
    params: dict[str, Any] = field(compare=False)
    at: float = field(default_factory=time.monotonic, compare=False)
    """time.monotonic() when the request arrived, for rate measurements."""
    fault: str | None = None
    """The kind of fault injected into this call, if any."""


class CallLog:
    """A thread-safe, append-only list of calls that tests can wait on.

    The server answers each request on its own thread, so appends and reads need a lock; the
    Condition lets a test block until the tool has made a call instead of polling with sleeps.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._calls: list[Call] = []
        self._changed = threading.Condition()

    def append(self, call: Call) -> None:
        """Record a call and wake whoever waits for one."""
        with self._changed:
            self._calls.append(call)
            self._changed.notify_all()

    def snapshot(self) -> list[Call]:
        """Return a copy of the calls so far, safe to iterate while requests keep arriving."""
        with self._changed:
            return list(self._calls)

    def clear(self) -> None:
        """Forget every call recorded so far."""
        with self._changed:
            self._calls.clear()

    def wait_for(self, operation: str, count: int, timeout: float) -> list[Call]:
        """Block until `count` calls to `operation` were recorded; return them all.

        Raises TimeoutError after `timeout` seconds so a broken test fails instead of hanging.
        """

        def matching() -> list[Call]:
            return [call for call in self._calls if call.operation == operation]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                seen = len(matching())
                raise TimeoutError(f"{seen} of {count} {operation} calls within {timeout} s")
            return matching()
