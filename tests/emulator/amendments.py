"""Entries the fake ECS agent adds to the `failures` list of the answer being built.

moto always answers RunTask and DescribeTasks with `failures: []`, but real ECS reports
placement failures (RESOURCE:MEMORY) and, right after RunTask, tasks it cannot see yet
(MISSING). The agent's backend hooks run on the request's own thread, inside the middleware's
call to moto, so a thread-local is enough to hand those entries to the middleware, which merges
them into the JSON answer.
"""

from __future__ import annotations

import threading

_state = threading.local()


def begin() -> None:
    """Start collecting for the request this thread is about to hand to moto."""
    _state.failures = []


def add_failure(arn: str, reason: str) -> None:
    """Report one `{arn, reason}` failure in the current answer (no-op outside a request)."""
    failures: list[dict[str, str]] | None = getattr(_state, "failures", None)
    if failures is not None:
        failures.append({"arn": arn, "reason": reason})


def take() -> list[dict[str, str]]:
    """Return and forget what was collected for this thread's request."""
    failures: list[dict[str, str]] = getattr(_state, "failures", None) or []
    _state.failures = None
    return failures
