"""GetLogEvents pages capped at 1 MB, as CloudWatch Logs caps them and moto does not.

AWS returns at most 10,000 events or 1,048,576 bytes a page, counting each event as its UTF-8
message plus 26 bytes. A follower that assumed "fewer than 10,000 events means the end" would
stop early on large events; with the cap in the emulator, tests see the pages AWS would give.
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


@contextmanager
def one_megabyte_pages() -> Iterator[None]:
    """Cap every stream's GetLogEvents pages at 1 MB while the context is open."""
    original = LogStream.get_log_events
    LogStream.get_log_events = capped(original)  # type: ignore[method-assign]
    try:
        yield
    finally:
        LogStream.get_log_events = original  # type: ignore[method-assign]
