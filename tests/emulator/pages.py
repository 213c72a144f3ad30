"""GetLogEvents paged as CloudWatch Logs pages it, where moto does not.

AWS returns at most 10,000 events or 1,048,576 bytes a page, counting each event as its UTF-8
message plus 26 bytes. A follower that assumed "fewer than 10,000 events means the end" would
stop early on large events; with the cap in the emulator, tests see the pages AWS would give.

With `startTime` on the first call, AWS's forward token keeps its place in the whole stream, so
a client may follow the token alone afterwards; moto's indexes the time-filtered events, and
the same client would read from the wrong place. The emulator answers as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.logs.models import LogStream

PAGE_BYTES = 1_048_576
EVENT_OVERHEAD = 26

_Method = Callable[..., tuple[list[dict[str, Any]], str | None, str | None]]


def capped(original: _Method) -> _Method:
    """Wrap a LogStream.get_log_events so that a forward page stops at 1 MB."""

    def get_log_events(
        self: LogStream, *args: Any, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        events, backward, forward = original(self, *args, **kwargs)
        size, kept = 0, 0
        for event in events:
            size += len(event["message"].encode()) + EVENT_OVERHEAD
            if size > PAGE_BYTES and kept:
                break
            kept += 1
        if kept == len(events) or backward is None or not forward or forward[0] != "f":
            return events, backward, forward
        start = int(backward[2:])
        return events[:kept], backward, f"f/{start + kept - 1:056d}"

    return get_log_events


def anchored(original: _Method) -> _Method:
    """Wrap a LogStream.get_log_events so that tokens given for `startTime` index the stream."""

    def get_log_events(
        self: LogStream,
        start_time: Any,
        end_time: Any,
        limit: Any,
        next_token: str | None,
        start_from_head: Any,
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        events, backward, forward = original(
            self, start_time, end_time, limit, next_token, start_from_head
        )
        if not start_time or next_token is not None:
            return events, backward, forward
        skipped = sum(1 for event in self.events if event.timestamp < start_time)

        def shifted(token: str | None) -> str | None:
            if token is None:
                return None
            return f"{token[0]}/{int(token[2:]) + skipped:056d}"

        return events, shifted(backward), shifted(forward)

    return get_log_events


@contextmanager
def aws_pages() -> Iterator[None]:
    """Page GetLogEvents as AWS does (1 MB cap, startTime tokens) while the context is open."""
    original = LogStream.get_log_events
    LogStream.get_log_events = capped(anchored(original))  # type: ignore[method-assign]
    try:
        yield
    finally:
        LogStream.get_log_events = original  # type: ignore[method-assign]
