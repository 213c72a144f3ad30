"""The log follower: every line exactly once, pacing, throttling, and the drain after the stop."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import anyio
import pytest
from structlog.testing import capture_logs

from ecs_one_off_task.errors import AwsUnavailable, Throttled
from ecs_one_off_task.follower import LogFollower, LogPace
from tests.fakes import FakeStream, SlidingQuota, VirtualClock, throttled_between


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
    stream: FakeStream,
    *,
    log_interval: float = 1.0,
    rate_limit: float = 0.0,
    pace: LogPace | None = None,
    pace_jitter: float = 0.5,
) -> tuple[LogFollower, Printed]:
    """A follower of `stream` with fixed random draws.

    Retries after other failures wait their shortest; the pace's draw is `pace_jitter`: at
    0.5 a read at full pace waits exactly the interval, at 0.0 it waits 90% of it, and a slowed
    or retried read waits exactly the (lengthened) interval.
    """
    printed = Printed(stream.clock)
    if pace is None:
        pace = LogPace(log_interval=log_interval, rate_limit=rate_limit, jitter=lambda: pace_jitter)
    follower = LogFollower(
        fetch=stream.fetch,
        write=printed,
        log_interval=log_interval,
        rate_limit=rate_limit,
        clock=stream.clock,
        sleep=stream.clock.sleep,
        jitter=lambda: 0.0,
        pace=pace,
    )
    return follower, printed


def gaps(starts: Sequence[float]) -> list[float]:
    """Seconds between consecutive call starts, rounded to the millisecond."""
    return [round(b - a, 3) for a, b in itertools.pairwise(starts)]


async def run_until(
    follower: LogFollower,
    clock: VirtualClock,
    *,
    stop_at: float,
    stopped_at: float | None = None,
    grace: float = 5.0,
) -> None:
    """Run the follower; at virtual time `stop_at` tell it the task stopped at `stopped_at`."""
    await run_all(clock, [follower], stop_at=stop_at, stopped_at=stopped_at, grace=grace)


async def run_all(
    clock: VirtualClock,
    followers: Sequence[LogFollower],
    *,
    stop_at: float,
    stopped_at: float | None = None,
    grace: float = 5.0,
    stagger: float = 0.0,
) -> None:
    """Run several followers on one clock (one driver), the n-th starting `stagger` x n seconds
    late, until each has drained."""

    async def follow(follower: LogFollower, late: float) -> None:
        await clock.sleep(late)

        async def stop_later() -> None:
            await clock.sleep(stop_at - clock.now)
            follower.task_stopped(at=stop_at if stopped_at is None else stopped_at, grace=grace)

        async with anyio.create_task_group() as group:
            group.start_soon(stop_later)
            await follower.run()
            group.cancel_scope.cancel()

    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        async with anyio.create_task_group() as followers_group:
            for n, follower in enumerate(followers):
                followers_group.start_soon(follow, follower, stagger * n)
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

    async def test_failures_back_off_and_keep_to_the_rate_limit(self) -> None:
        """Three failed calls in a row (HTTP 503) are retried after 0.25, 0.5 and 1 s (backoff
        with the jitter at its lowest) but never closer than the 2 calls/s cap, which every
        try counts against; no line is lost."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, "a")])
        stream.failures = [AwsUnavailable("logs:GetLogEvents: 503")] * 3
        follower, printed = make(stream, rate_limit=2.0)
        await run_until(follower, clock, stop_at=1003.0, grace=0.0)
        starts = [round(at - 1000.0, 3) for at, _ in stream.calls[:4]]
        assert starts == [0.0, 0.5, 1.0, 2.0]
        assert printed.lines == ["a"]

    async def test_a_failed_call_does_not_move_the_cursor(self) -> None:
        """After a throttled call the same token is asked again: no line lost or repeated."""
        clock = VirtualClock()
        stream = FakeStream(clock, [(0.0, "a"), (1001.5, "b")])
        stream.failures = [Throttled("throttled")]
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

    async def test_waits_are_spread_around_log_interval(self) -> None:
        """At full pace each wait is drawn within 10% of --log-interval, 1 s on average: runs
        polling in step would keep the same slots of the account's quota to themselves."""
        clock = VirtualClock()
        draws = iter([0.0, 1.0, 0.5, 0.25] * 10)
        pace = LogPace(log_interval=1.0, rate_limit=0.0, jitter=lambda: next(draws))
        stream = FakeStream(clock, [])
        follower, _ = make(stream, pace=pace)
        await run_until(follower, clock, stop_at=1010.0, grace=0.0)
        starts = [at for at, _ in stream.calls]
        assert gaps(starts)[:4] == [0.9, 1.1, 1.0, 0.95]

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

    async def test_throttling_during_the_drain_never_ends_it(self) -> None:
        """Every call is throttled for 3 s from the stop, with a 0.5 s grace: the stream only
        looks quiet from answered calls, so the line ingested 1 s after the stop is printed."""
        clock = VirtualClock()
        events = [(1000.0, "early"), (1011.0, "last line")]
        stream = FakeStream(clock, events, refuse=throttled_between(1010.0, 1013.0))
        follower, printed = make(stream)
        await run_until(follower, clock, stop_at=1010.0, grace=0.5)
        assert printed.lines == ["early", "last line"]
        assert len(stream.refused) >= 2
        assert all(1010.0 <= at < 1013.0 for at in stream.refused)
        assert stream.answered[-1] >= 1013.0


class TestThrottling:
    """The pace's draws are at their lowest here: once slowed, a read waits the interval."""

    async def test_each_throttle_lengthens_the_interval_and_each_answer_shortens_it(
        self,
    ) -> None:
        """Two throttles in a row take the 1 s interval to 1.25 s, then 1.5625 s (the throttled
        call retried after each); every answered call then takes 1% of 1 s off."""
        clock = VirtualClock()
        stream = FakeStream(clock, [], refuse=throttled_between(1002.5, 1004.0))
        follower, _ = make(stream, pace_jitter=0.0)
        await run_until(follower, clock, stop_at=1016.0, grace=0.0)
        starts = [at for at, _ in stream.calls]
        assert [round(at - 1000.0, 3) for at in stream.refused] == [2.7, 3.95]
        expected = [0.9, 0.9, 0.9, 1.25, 1.5625, 1.5525, 1.5425]
        assert gaps(starts)[:7] == pytest.approx(expected, abs=0.001)

    async def test_the_interval_comes_back_to_log_interval_and_stays(self) -> None:
        """After one throttle (1.25 s) 25 answered calls bring the pace back to --log-interval
        (a line a second keeps the task from looking idle); it never drops below it."""
        clock = VirtualClock()
        lines = [(1000.5 + i, f"line {i}") for i in range(60)]
        stream = FakeStream(clock, lines, refuse=throttled_between(1002.5, 1003.5))
        follower, _ = make(stream, pace_jitter=0.5)
        await run_until(follower, clock, stop_at=1059.0, grace=0.0)
        intervals = gaps([at for at in stream.answered if at < 1058.5])
        assert [round(at - 1000.0, 3) for at in stream.refused] == [3.0]
        # Slowed, a wait is drawn between the interval and twice it: 1.5 x at this draw.
        assert intervals[2:6] == pytest.approx([2.3125, 1.86, 1.845, 1.83], abs=0.001)
        assert intervals[27:33] == [1.0] * 6
        assert min(intervals) == 1.0

    async def test_never_slower_than_the_ceiling(self) -> None:
        """Throttled for two minutes, the retries are never more than 10 s apart."""
        clock = VirtualClock()
        stream = FakeStream(clock, [], refuse=throttled_between(1001.0, 1121.0))
        follower, _ = make(stream, pace_jitter=0.0)
        await run_until(follower, clock, stop_at=1130.0, grace=0.0)
        intervals = gaps([at for at, _ in stream.calls])
        assert max(intervals) == 10.0
        assert intervals.count(10.0) >= 3

    async def test_a_throttled_call_is_retried_at_the_pace_and_counts_against_the_cap(
        self,
    ) -> None:
        """With --log-interval 0.1 and --log-rate-limit 2, a throttled call is retried 0.5 s
        later: the pace (0.125 s) would allow sooner, the 2 calls/s cap does not."""
        clock = VirtualClock()
        stream = FakeStream(clock, [], refuse=throttled_between(1000.25, 1000.75))
        follower, _ = make(stream, log_interval=0.1, rate_limit=2.0, pace_jitter=0.0)
        await run_until(follower, clock, stop_at=1002.0, grace=0.0)
        starts = [round(at - 1000.0, 3) for at, _ in stream.calls]
        assert starts[:4] == [0.0, 0.5, 1.0, 1.5]
        assert [round(at - 1000.0, 3) for at in stream.refused] == [0.5]

    async def test_one_notice_when_slowed_and_one_when_back_to_pace(self) -> None:
        """Two throttles say once on stderr that reads slow down (with the pace), and once that
        they are back to their normal pace; nothing per throttled call."""
        clock = VirtualClock()
        lines = [(1000.5 + i, f"line {i}") for i in range(150)]
        stream = FakeStream(clock, lines, refuse=throttled_between(1002.5, 1004.0))
        follower, _ = make(stream, pace_jitter=0.0)
        with capture_logs() as events:
            await run_until(follower, clock, stop_at=1150.0, grace=0.0)
        assert len(stream.refused) == 2
        notices = [(e["log_level"], e["event"], e["every_seconds"]) for e in events]
        assert notices == [
            (
                "warning",
                (
                    "log reads (GetLogEvents) throttled by AWS: slowing down to share the account's"
                    " quota"
                ),
                1.25,
            ),
            ("info", "log reads (GetLogEvents) back to their normal pace", 1.0),
        ]

    async def test_a_status_change_does_not_cut_a_slowed_wait(self) -> None:
        """While throttling slows the pace, a wake-up (the task changed state) keeps the wait:
        the next read still comes 1.24 s after the last one."""
        clock = VirtualClock()
        stream = FakeStream(clock, [], refuse=throttled_between(1002.5, 1003.0))
        follower, _ = make(stream, pace_jitter=0.0)

        async def wake_soon_after_the_retry() -> None:
            await clock.sleep(4.5)
            follower.wake()

        async with anyio.create_task_group() as group:
            group.start_soon(wake_soon_after_the_retry)
            await run_until(follower, clock, stop_at=1010.0, grace=0.0)
        assert [round(at - 1000.0, 3) for at in stream.answered[3:6]] == [3.95, 5.19, 6.42]


class TestSharedPace:
    async def test_a_throttle_seen_by_one_follower_slows_the_other(self) -> None:
        """Two followers on one pace: the first one's throttled call lengthens the second one's
        interval too, though its own calls were all answered."""
        clock = VirtualClock()
        pace = LogPace(log_interval=1.0, rate_limit=0.0, jitter=lambda: 0.0)
        throttled = FakeStream(clock, [], refuse=throttled_between(1002.5, 1003.0))
        answered = FakeStream(clock, [])
        first, _ = make(throttled, pace=pace)
        second, _ = make(answered, pace=pace)
        await run_all(clock, [first, second], stop_at=1012.0, grace=0.0)
        assert answered.refused == []
        intervals = gaps(answered.answered)
        assert intervals[:3] == [0.9, 0.9, 0.9]
        assert intervals[3] == 1.24
        assert all(1.1 < gap < 1.25 for gap in intervals[3:7])

    async def test_two_followers_share_one_rate_cap(self) -> None:
        """Two followers catching up on backlogs at --log-rate-limit 2 between them: their calls
        together never start less than 0.5 s apart, and each prints its lines once."""
        clock = VirtualClock()
        pace = LogPace(log_interval=1.0, rate_limit=2.0, jitter=lambda: 0.5)
        lines = [f"line {i}" for i in range(30_000)]
        streams = [FakeStream(clock, [(0.0, line) for line in lines]) for _ in range(2)]
        pairs = [make(stream, pace=pace) for stream in streams]
        await run_all(clock, [follower for follower, _ in pairs], stop_at=1000.1, grace=0.0)
        starts = sorted(at for stream in streams for at, _ in stream.calls)
        assert min(gaps(starts)) == 0.5
        assert [printed.lines for _, printed in pairs] == [lines, lines]


class TestCrowd:
    """k runs (each a process of its own: its own pace) follow their own tasks, started 0.3 s
    apart, against one account-wide quota of calls per sliding second."""

    async def crowd(
        self, k: int, quota: int, *, lines: int = 100, spacing: float = 0.7
    ) -> tuple[list[FakeStream], list[Printed], SlidingQuota]:
        clock = VirtualClock()
        account = SlidingQuota(quota)
        streams, pairs = [], []
        for n in range(k):
            start = 1000.0 + 0.3 * n
            events = [(start + spacing * (i + 1), f"{n}: line {i}") for i in range(lines)]
            stream = FakeStream(clock, events, refuse=account)
            pace = LogPace(log_interval=1.0, rate_limit=5.0, jitter=random.Random(n).random)
            streams.append(stream)
            pairs.append(make(stream, pace=pace))
        stop_at = 1000.0 + spacing * (lines + 1) + 0.3 * k
        followers = [follower for follower, _ in pairs]
        await run_all(clock, followers, stop_at=stop_at, grace=2.0, stagger=0.3)
        return streams, [printed for _, printed in pairs], account

    async def test_runs_settle_to_a_share_each_with_few_throttled_calls(self) -> None:
        """Twelve runs wanting a read a second each share a 10 calls/s quota (a fair share is
        a read every 1.2 s): every line is printed once, at most 10% of the calls are
        throttled, and over the last 30 s together they use most of the quota while none
        starves (each gets at least a fifth of its fair share) and none takes more than a read
        a second."""
        streams, printed, account = await self.crowd(12, 10)
        for n, (stream, out) in enumerate(zip(streams, printed, strict=True)):
            assert out.lines == [message for _, message in stream.events], f"run {n}"
        calls = sum(len(stream.calls) for stream in streams)
        assert account.throttled <= 0.10 * calls
        end = min(stream.answered[-1] for stream in streams)
        recent = [sum(1 for at in s.answered if end - 30.0 <= at < end) for s in streams]
        fair = 30.0 * 10 / 12
        assert sum(recent) >= 0.6 * 30.0 * 10
        assert min(recent) >= fair / 5, recent
        assert max(recent) <= 30.0 * 1.1, recent

    async def test_the_crowd_backs_off_from_the_quota_instead_of_hammering_it(self) -> None:
        """Once settled (after the first 20 s), the twelve runs together stay under the quota:
        calls a second, throttled ones included, at most 10 on average."""
        streams, _, account = await self.crowd(12, 10)
        end = min(stream.answered[-1] for stream in streams)
        steady = [at for stream in streams for at, _ in stream.calls if 1020.0 <= at < end]
        assert len(steady) / (end - 1020.0) <= 10.0
        assert account.admitted > 0
