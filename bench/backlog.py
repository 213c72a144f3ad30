"""Log streams that already hold a large backlog, and a GetLogEvents fast enough to page them.

The throughput and memory figures need a stream with up to 1,000,000 events before the tool
starts reading. Writing them through the fake agent's timeline would take minutes (one scheduled
event per line), so the events are put straight into moto's CloudWatch Logs backend, in order,
in batches of 10,000 (`LogsBackend.put_log_events`, what moto's PutLogEvents handler calls).

moto's `LogStream.get_log_events` sorts every event of the stream by timestamp on every call:
paging 1,000,000 events would cost 100 sorts of 1,000,000 events, and the emulator, not the
tool, would be measured. For the streams it fills, the bench installs an equivalent method
(an instance attribute, which `LogsBackend.get_log_events` finds first) that slices the events by
index instead: the events were put in non-decreasing timestamp order (checked), and Python's sort
is stable, so the sorted list moto would build is the stored list itself. Tokens, page size
(`limit`, default 10,000), the same-token-at-the-end rule and the answers past either end are
moto's, line for line; a call with startTime or endTime falls back to the stream class's own
method. The emulator caps every page at 1 MB as CloudWatch does (tests/emulator/pages.py): the
bench's method goes through that same cap, so an 80-byte line's pages hold 9,892 events.
`check_equivalence` compares the bench's method with the emulator's, answer for answer, before
any figure is taken.
"""

from __future__ import annotations

import itertools
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.logs.exceptions import InvalidParameterException
from moto.logs.models import LogStream, logs_backends
from tests.emulator import Emulator
from tests.emulator.pages import capped

LINE_BYTES = 80
"""Bytes of each backlog message (the line on stdout is one more: the newline)."""
_PUT_BATCH = 10_000
"""PutLogEvents' own maximum batch size."""
_BACKLOG_GROUP = "/bench/backlog"


@dataclass(frozen=True)
class Backlog:
    """Events already written (moto LogEvent objects, in stream order) and what stdout must be."""

    events: tuple[Any, ...]
    """moto's LogEvent objects; shared, read-only, by every stream filled from this backlog."""
    stdout_crc32: int
    """zlib.crc32 of the exact bytes the tool must print: every message and a newline, in order."""
    last_message: str

    @property
    def count(self) -> int:
        """How many events (lines)."""
        return len(self.events)

    def head(self, count: int) -> Backlog:
        """The first `count` events, as a backlog of its own."""
        events = self.events[:count]
        crc = 0
        for event in events:
            crc = zlib.crc32(event.message.encode() + b"\n", crc)
        return Backlog(events=events, stdout_crc32=crc, last_message=events[-1].message)


def message(number: int) -> str:
    """Backlog line `number` (from 1): unique, LINE_BYTES long, printable ASCII."""
    text = f"backlog line {number:09d} "
    return text + "x" * (LINE_BYTES - len(text))


def build_backlog(emu: Emulator, count: int) -> Backlog:
    """Write `count` events into a stream of moto's backend; return them and stdout's CRC."""
    backend = logs_backends[emu.account_id][emu.region]
    stream_name = f"backlog-{count}"
    if _BACKLOG_GROUP not in backend.groups:
        backend.create_log_group(_BACKLOG_GROUP, {})
    backend.create_log_stream(_BACKLOG_GROUP, stream_name)
    # One millisecond apart, ending now: PutLogEvents refuses events older than 14 days.
    first_ms = int(time.time() * 1000) - count
    crc = 0
    for start in range(0, count, _PUT_BATCH):
        numbers = range(start + 1, min(start + _PUT_BATCH, count) + 1)
        batch: list[dict[str, Any]] = [
            {"timestamp": first_ms + n, "message": message(n)} for n in numbers
        ]
        _, rejected = backend.put_log_events(_BACKLOG_GROUP, stream_name, batch)
        if rejected:
            raise RuntimeError(f"moto rejected backlog events: {rejected}")
        crc = zlib.crc32("".join(e["message"] + "\n" for e in batch).encode(), crc)
    events = tuple(backend.groups[_BACKLOG_GROUP].streams[stream_name].events)
    if len(events) != count:
        raise RuntimeError(f"the backlog holds {len(events)} events, not {count}")
    if any(a.timestamp > b.timestamp for a, b in itertools.pairwise(events)):
        raise RuntimeError("backlog events are not in timestamp order")
    return Backlog(events=events, stdout_crc32=crc, last_message=events[-1].message)


@dataclass(frozen=True)
class Served:
    """A snapshot of `ServedCalls`."""

    first_at: float | None
    calls: int
    events: int


@dataclass
class ServedCalls:
    """When the fast GetLogEvents of one stream answered, for the throughput window."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    first_at: float | None = None
    """time.monotonic() when the first call since the last `reset` that returned events came."""
    calls: int = 0
    events: int = 0

    def note(self, at: float, events: int) -> None:
        """Record one answered call."""
        with self._lock:
            if self.first_at is None and events:
                self.first_at = at
            self.calls += 1
            self.events += events

    def snapshot(self) -> Served:
        """What was served so far, frozen."""
        with self._lock:
            return Served(first_at=self.first_at, calls=self.calls, events=self.events)

    def reset(self) -> None:
        """Forget the calls so far (before another reader pages the same stream)."""
        with self._lock:
            self.first_at = None
            self.calls = 0
            self.events = 0


def _sort_free(  # noqa: PLR0917 - moto's signature
    stream: Any,  # noqa: ANN401 - moto's LogStream
    start_time: str,
    end_time: str,
    limit: int | None,
    next_token: str | None,
    start_from_head: str,
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """What moto's LogStream.get_log_events answers, without its sort (events are in order)."""
    if start_time or end_time:
        live: Any = type(stream).get_log_events
        answer: tuple[list[dict[str, Any]], str | None, str | None] = live(
            stream, start_time, end_time, limit, next_token, start_from_head
        )
        return answer
    return _page(stream.events, limit, next_token, start_from_head)


_fast: Callable[..., tuple[list[dict[str, Any]], str | None, str | None]] = capped(_sort_free)
"""The sort-free method behind the emulator's own 1 MB page cap, as every other stream has."""


def _page(  # noqa: C901, PLR0912 - moto's code, line for line
    events: list[Any], limit: int | None, next_token: str | None, start_from_head: str
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """The arithmetic of moto 5.2.5's LogStream.get_log_events, over events already in order."""
    if limit is None:
        limit = 10000
    direction: str | None = None
    index = 0
    if next_token is not None:
        try:
            direction, index = next_token[0], int(next_token[2:])
        except Exception as error:
            raise InvalidParameterException("The specified nextToken is invalid.") from error
    limit_index = limit - 1
    final_index = len(events) - 1
    if direction is None:
        if start_from_head:
            start_index = 0
            end_index = start_index + limit_index
        else:
            end_index = final_index
            start_index = end_index - limit_index
    elif direction == "f":
        start_index = index + 1
        end_index = start_index + limit_index
    elif direction == "b":
        end_index = index - 1
        start_index = end_index - limit_index
    else:
        raise InvalidParameterException("The specified nextToken is invalid.")
    if start_index < 0:
        start_index = 0
    elif start_index > final_index:
        return ([], f"b/{final_index:056d}", f"f/{final_index:056d}")
    if end_index > final_index:
        end_index = final_index
    elif end_index < 0:
        return ([], f"b/{0:056d}", f"f/{0:056d}")
    page = [event.to_response_dict() for event in events[start_index : end_index + 1]]
    return (page, f"b/{start_index:056d}", f"f/{end_index:056d}")


def fill_stream(emu: Emulator, group: str, stream_name: str, backlog: Backlog) -> ServedCalls:
    """Make `group`/`stream_name` hold the backlog (creating the stream) and page it fast.

    The stream gets its own list of the backlog's events (shared event objects), so a later
    PutLogEvents to it appends as usual without touching other streams.
    """
    backend = logs_backends[emu.account_id][emu.region]
    backend.ensure_log_stream(group, stream_name)
    stream = backend.groups[group].streams[stream_name]
    served = ServedCalls()

    def get_log_events(
        *arguments: Any,  # noqa: ANN401 - moto's parameters, passed through
    ) -> tuple[list[dict[str, Any]], str | None, str | None]:
        arrived = time.monotonic()
        answer = _fast(stream, *arguments)
        served.note(arrived, len(answer[0]))
        return answer

    events = list(backlog.events)
    stream.stored_bytes = LINE_BYTES * len(events)
    stream.first_event_timestamp = events[0].timestamp
    stream.last_event_timestamp = events[-1].timestamp
    # Replace the method before the events: a call in between sees an empty stream, never a
    # full stream being sorted on every page.
    vars(stream)["get_log_events"] = get_log_events
    stream.events = events
    return served


def check_equivalence(backlog: Backlog, *, size: int = 25_000) -> None:
    """Raise AssertionError unless the fast method answers exactly as the emulator's own.

    The reference is `LogStream.get_log_events` as the running emulator has it (moto's, behind
    the 1 MB cap), on a detached LogStream holding the first `size` backlog events, for the
    tokens a forward reader uses (none, each page's, the end's), backward tokens, odd limits and
    a token past the end. Call it while the Emulator runs.
    """
    events = list(backlog.events[:size])
    group = type("Group", (), {"account_id": "0", "region": "us-east-1", "name": "g"})()
    stream = LogStream(log_group=group, name="equivalence")
    stream.events = events
    reference: Any = LogStream.get_log_events
    per_page = capped(_sort_free)(stream, None, None, None, None, "true")[0]
    tokens: list[str | None] = [None, f"f/{size + 5:056d}", f"f/{-1:056d}"]
    for n in (0, 1, len(per_page) - 1, len(per_page), 2 * len(per_page) - 1, 10_000, size - 2):
        tokens += [f"f/{n:056d}", f"b/{n:056d}"]
    tokens.append(f"f/{size - 1:056d}")
    for token, limit, head in itertools.product(tokens, (None, 1, 7, 10_000), ("true", "")):
        expected = reference(stream, None, None, limit, token, head)
        actual = _fast(stream, None, None, limit, token, head)
        if expected != actual:
            raise AssertionError(
                f"the bench's GetLogEvents differs from the emulator's for token={token}"
                f" limit={limit} startFromHead={head!r}"
            )
