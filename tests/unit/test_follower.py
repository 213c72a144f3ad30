"""The log follower: every line exactly once, pacing, and the drain after the stop."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from ecs_one_off_task.errors import AwsUnavailable
from ecs_one_off_task.follower import LogFollower
from tests.fakes import FakeStream, VirtualClock


class Printed:
    """Collects what the follower writes, page by page, with the virtual time of each write."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.pages: list[tuple[float, list[str]]] = []

    def __call__(self, messages: Sequence[str]) -> None:
        self.pages.append((self.clock.now, list(messages)))

    @property
    def lines(self) -> list[str]:
        return [line for _, page in self.pages for line in page]


def make(
    stream: FakeStream, *, log_interval: float = 1.0, rate_limit: float = 0.0
) -> tuple[LogFollower, Printed]:
    printed = Printed(stream.clock)
    follower = LogFollower(
        fetch=stream.fetch,
        write=printed,
        log_interval=log_interval,
        rate_limit=rate_limit,
        clock=stream.clock,
        sleep=stream.clock.sleep,
        jitter=lambda: 0.0,
    )
    return follower, printed


async def run_until(
    follower: LogFollower,
    clock: VirtualClock,
    *,
    stop_at: float,
    stopped_at: float | None = None,
    grace: float = 5.0,
) -> None:
    """Run the follower; at virtual time `stop_at` tell it the task stopped at `stopped_at`."""

    async def stop_later() -> None:
        await clock.sleep(stop_at - clock.now)
        follower.task_stopped(at=stop_at if stopped_at is None else stopped_at, grace=grace)

    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        group.start_soon(stop_later)
        await follower.run()
        group.cancel_scope.cancel()


class TestEveryLineOnce:
    async def test_full_pages_are_read_back_to_back(self) -> None:
        """25,000 lines come out once each, in order, in pages of 10,000 (GetLogEvents' cap)
        read one after the other without waiting: a full page may not be the end."""
        clock = VirtualClock()
        lines = [f"line {i}" for i in range(25_000)]
        stream = FakeStream(clock, [(0.0, line) for line in lines])
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=clock.now + 0.5, grace=0.0)
        assert printed.lines == lines
        assert [len(page) for _, page in printed.pages] == [10_000, 10_000, 5_000]
        assert {at for at, _ in printed.pages} == {1000.0}

    async def test_pages_near_the_byte_cap_are_read_back_to_back(self) -> None:
        """Pages of three 100,000-character lines may have been cut by the 1 MB cap: the next
        page is read at once."""
        clock = VirtualClock()
        lines = [f"{i}:" + "x" * 100_000 for i in range(7)]
        stream = FakeStream(clock, [(0.0, line) for line in lines], page_size=3)
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=clock.now + 0.5, grace=0.0)
        assert printed.lines == lines
        assert {at for at, _ in printed.pages} == {1000.0}

    async def test_a_page_short_of_the_caps_is_not_read_again_at_once(self) -> None:
        """Lines trickling in cost one call per interval, not two: a page well under the caps
        reached the end of the stream, so the next read waits for the pace."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(1000.5 + i, f"line {i}") for i in range(5)])
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=1005.8, grace=0.0)
        assert printed.lines == [f"line {i}" for i in range(5)]
        starts = [round(at - 1000.0, 3) for at, _ in stream.calls]
        assert starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.8]

    async def test_empty_pages_with_a_moving_token_are_not_the_end(self) -> None:
        """GetLogEvents may answer an empty page while more exists: after the first page, an
        empty page whose token moved is followed by another read at once."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, "a"), (0.0, "b")], empty_pages=3)
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=1003.0, grace=0.0)
        assert printed.pages == [(1001.0, ["a", "b"])]
        assert [round(at - 1000.0, 3) for at, _ in stream.calls[:4]] == [0.0, 1.0, 1.0, 1.0]

    async def test_retries_back_off_and_keep_to_the_rate_limit(self) -> None:
        """Three throttled calls in a row are retried after 0.25, 0.5 and 1 s (backoff with
        the jitter at its lowest, longer than the 5 calls/s cap), and no line is lost."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, "a")])
        stream.failures = [AwsUnavailable("throttled")] * 3
        follower, printed = make(stream, rate_limit=5.0)
        await run_until(follower, clock, stop_at=1003.0, grace=0.0)
        starts = [round(at - 1000.0, 3) for at, _ in stream.calls[:4]]
        assert starts == [0.0, 0.25, 0.75, 1.75]
        assert printed.lines == ["a"]

    async def test_a_failed_call_does_not_move_the_cursor(self) -> None:
        """After a throttled call the same token is asked again: no line lost or repeated."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, "a"), (1001.5, "b")])
        stream.failures = [AwsUnavailable("throttled")]
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=1003.0, grace=0.0)
        assert printed.lines == ["a", "b"]
        tokens = [token for _, token in stream.calls]
        assert tokens[:2] == [None, None]

    async def test_messages_are_passed_byte_exact(self) -> None:
        """Multi-line events, carriage returns, tabs, emoji, CJK and empty messages are one
        record each, unchanged."""
        messages = ["Traceback:\n  File x\nError", "progress\r50%", "a\tb", "🚀 移行", ""]
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, m) for m in messages])
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=clock.now + 0.1, grace=0.0)
        assert printed.lines == messages


class TestPacing:
    async def test_waits_log_interval_when_caught_up(self) -> None:
        """Caught up (same token), the follower waits --log-interval before the next call; the
        first, empty page of a new stream is no reason to read again at once."""
        clock = VirtualClock()
        stream = FakeStream(clock, [])
        follower, _ = make(stream, log_interval=1.0)
        await run_until(follower, clock, stop_at=1003.5, grace=0.0)
        starts = [round(at - 1000.0, 3) for at, _ in stream.calls]
        assert starts == [0.0, 1.0, 2.0, 3.0, 3.5]

    async def test_slows_down_when_idle_and_speeds_up_on_new_lines(self) -> None:
        """After 30 s without a line calls thin out to one per 3.5 s; a new line restores 1 s."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(1100.0, "late line")])
        follower, printed = make(stream, log_interval=1.0)
        await run_until(follower, clock, stop_at=1110.0, grace=0.0)
        assert printed.lines == ["late line"]
        gaps = [b[0] - a[0] for a, b in zip(stream.calls, stream.calls[1:], strict=False)]
        before = [g for (at, _), g in zip(stream.calls, gaps, strict=False) if 1060 < at < 1095]
        after = [g for (at, _), g in zip(stream.calls, gaps, strict=False) if 1102.5 < at < 1108]
        assert before
        assert all(g == pytest.approx(3.5) for g in before)
        assert after
        assert all(g == pytest.approx(1.0) for g in after)

    async def test_rate_limit_spaces_back_to_back_calls(self) -> None:
        """Catching up on a backlog at --log-rate-limit 5, calls start 0.2 s apart."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, str(i)) for i in range(30_000)])
        follower, printed = make(stream, rate_limit=5.0)
        await run_until(follower, clock, stop_at=clock.now + 0.1, grace=0.0)
        starts = [round(at - 1000.0, 3) for at, _ in stream.calls[:4]]
        assert starts == [0.0, 0.2, 0.4, 0.6]
        assert len(printed.lines) == 30_000

    async def test_wake_reads_at_once(self) -> None:
        """A status change wakes the follower: the stream is read without waiting the interval."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, "hello")], created_at=1000.5)
        follower, printed = make(stream, log_interval=1.0)

        async def wake_at_half_second() -> None:
            await clock.sleep(0.5)
            follower.wake()
            await clock.sleep(0.2)
            follower.task_stopped(at=clock.now, grace=0.0)

        async with anyio.create_task_group() as group:
            group.start_soon(clock.drive)
            group.start_soon(wake_at_half_second)
            await follower.run()
            group.cancel_scope.cancel()
        assert printed.pages[0] == (1000.5, ["hello"])


class TestDrain:
    async def test_lines_ingested_after_the_stop_are_printed(self) -> None:
        """Lines that land 3 s after STOPPED (awslogs flush) are read before finishing."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(1000.0, "early"), (1013.0, "flushed late")])
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=1010.0, grace=5.0)
        assert printed.lines == ["early", "flushed late"]

    async def test_quiet_is_counted_from_the_last_new_line(self) -> None:
        """The drain ends once the stream has been quiet for the grace after the last line,
        with a final read that starts at or after that moment."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(1013.0, "flushed late")])
        follower, _ = make(stream)
        await run_until(follower, clock, stop_at=1010.0, grace=5.0)
        last_call = stream.calls[-1][0]
        assert 1018.0 <= last_call < 1019.0

    async def test_grace_counts_from_stopped_at_not_from_when_the_stop_was_seen(self) -> None:
        """A stop that the poll noticed 6 s late ends the drain with one more read, at once."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(1000.0, "only line")])
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=1010.0, stopped_at=1004.0, grace=5.0)
        assert printed.lines == ["only line"]
        assert stream.calls[-1][0] == pytest.approx(1010.0, abs=0.01)

    async def test_at_least_one_read_after_the_stop_is_seen(self) -> None:
        """Even with no grace, a read starts after the stop was seen: nothing is left behind."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(1000.0, "a"), (1002.0, "b")])
        follower, printed = make(stream, log_interval=10.0)
        await run_until(follower, clock, stop_at=1002.0, stopped_at=990.0, grace=0.0)
        assert printed.lines == ["a", "b"]
