"""The log follower in step with the awslogs driver, on a virtual clock: a read just after each
flush, the fallback to --log-interval when lines do not come in the driver's batches, and every
line once."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio

from ecs_one_off_task.follower import LogFollower, LogPace
from tests.fakes import FakeStream, VirtualClock, throttled_between

START = 1000.0
"""The container starts (startedAt) when the follower starts: the virtual clock's origin."""


def make(
    stream: FakeStream, *, period: float = 5.0, jitter: float = 0.0
) -> tuple[LogFollower, list[str]]:
    """A follower reading `stream` in step with a driver flushing every `period` seconds; the
    virtual clock is both its monotonic and its wall clock."""
    printed: list[str] = []
    pace = LogPace(log_interval=1.0, rate_limit=0.0, jitter=lambda: 0.5)
    follower = LogFollower(
        fetch=stream.fetch,
        write=printed.extend,
        log_interval=1.0,
        rate_limit=0.0,
        clock=stream.clock,
        sleep=stream.clock.sleep,
        jitter=lambda: jitter,
        pace=pace,
        flush_period=period,
        wall_clock=stream.clock,
    )
    return follower, printed


async def run_scripted(
    follower: LogFollower, clock: VirtualClock, script: Callable[[], Coroutine[Any, Any, None]]
) -> float:
    """Run the follower on the virtual clock while `script` tells it what the status poll
    sees; the virtual time when it finished."""
    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        group.start_soon(script)
        await follower.run()
        done_at = clock.now
        group.cancel_scope.cancel()
    return done_at


async def follow(follower: LogFollower, clock: VirtualClock, *, stop_at: float) -> None:
    """RUNNING (startedAt = START) is known at once; STOPPED at `stop_at`, grace 5 s."""

    async def stop_later() -> None:
        await clock.sleep(stop_at - clock.now)
        follower.task_stopped(at=stop_at, grace=5.0)

    follower.wake({"lastStatus": "RUNNING", "startedAt": START})
    await run_scripted(follower, clock, stop_later)


def flushed(
    period: float, flushes: int, *, per_flush: int = 2, delay: float = 0.1
) -> list[tuple[float, str]]:
    """Lines printed twice a period, ingested at each tick + `delay`."""
    events: list[tuple[float, str]] = []
    for n in range(1, flushes + 1):
        at = START + n * period + delay
        events += [(at, f"flush {n} line {i}") for i in range(per_flush)]
    return events


def starts(stream: FakeStream) -> list[float]:
    return [round(at, 3) for at, _ in stream.calls]


def messages(events: Sequence[tuple[float, str]]) -> list[str]:
    return [m for _, m in events]


async def test_reads_come_just_after_each_flush_and_the_drain_after_the_exit_flush() -> None:
    """The first read --log-interval after RUNNING (nothing arrived off the grid), then one
    just after each flush, the grid corrected by the first flush's ingestion time (tick + 0.1);
    the drain reads once the exit flush has surely landed (1 s + margin after STOPPED, not at
    once) and at the end of the grace: 6 calls for 17 s of a task instead of about 23."""
    clock = VirtualClock(START)
    events = flushed(5.0, 3)
    stream = FakeStream(clock, events)
    follower, printed = make(stream)
    await follow(follower, clock, stop_at=START + 17)
    assert starts(stream) == [1001.0, 1005.4, 1010.5, 1015.5, 1018.4, 1022.0]
    assert printed == messages(events)


async def test_a_drain_grace_shorter_than_the_exit_flush_second_is_kept() -> None:
    """--drain-grace 0.3: the stop seen at 1007 is read at the end of the grace (1007.3), not
    1.4 s after STOPPED, and the follower is done then: a short grace is not made longer."""
    clock = VirtualClock(START)
    events = flushed(5.0, 1)
    stream = FakeStream(clock, events)
    follower, printed = make(stream)

    async def stop_later() -> None:
        await clock.sleep(7.0)
        follower.task_stopped(at=START + 7, grace=0.3)

    follower.wake({"lastStatus": "RUNNING", "startedAt": START})
    done_at = await run_scripted(follower, clock, stop_later)
    assert starts(stream) == [1001.0, 1005.4, 1007.3]
    assert done_at == 1007.3
    assert printed == messages(events)


async def test_lines_off_the_grid_are_read_at_the_usual_pace() -> None:
    """A writer that does not batch (lines ingested as printed, before the first tick could
    fire): the read --log-interval after RUNNING sees it, and every read after is 1 s apart."""
    clock = VirtualClock(START)
    events = [(START + 0.5 + 0.5 * i, f"line {i}") for i in range(20)]
    stream = FakeStream(clock, events)
    follower, printed = make(stream)
    await follow(follower, clock, stop_at=START + 12)
    running = [at for at in starts(stream) if at <= START + 12]
    assert running == [START + n for n in range(1, 13)]
    assert not follower.in_step
    assert printed == messages(events)


async def test_a_full_page_reads_back_to_back_then_falls_back_until_flushes_fit() -> None:
    """25,000 lines in one early flush (full batches): pages read back to back, then today's
    pace until three flushes in a row come on their ticks, then in step again."""
    clock = VirtualClock(START)
    flood = [(START + 2.0, f"flood {i}") for i in range(25_000)]
    events = flood + flushed(5.0, 5)
    stream = FakeStream(clock, events)
    follower, printed = make(stream)
    await follow(follower, clock, stop_at=START + 29)
    calls = starts(stream)
    assert calls[:4] == [1001.0, 1005.4, 1005.4, 1005.4]
    # Back to 1 s reads after the flood until the third fitting flush (1015.1) is read ...
    assert calls[4:14] == [round(1006.4 + n, 3) for n in range(10)]
    # ... then in step: just after the flushes at 1020.1 and 1025.1.
    assert calls[14:16] == [1020.5, 1025.5]
    assert printed == messages(events)


async def test_a_silent_stretch_keeps_the_grid_and_the_idle_slow_down() -> None:
    """A driver flushing every second and a task silent for a minute: the reads stay just after
    the flush ticks (learned at tick + 0.1), but the idle slow-down skips ticks after 30 s (11
    calls in the half-minute before the line instead of 30); the line after the silence is read
    at the first read after its flush, on the grid, and once."""
    clock = VirtualClock(START)
    events = [(START + 1.1, "first"), (START + 61.1, "after a minute")]
    stream = FakeStream(clock, events)
    follower, printed = make(stream, period=1.0)
    await follow(follower, clock, stop_at=START + 70)
    calls = [at for at in starts(stream) if at < START + 70]
    assert calls[:2] == [1001.0, 1001.4]
    assert {round(at % 1.0, 3) for at in calls[2:]} == {0.5}
    assert len([at for at in calls if START + 31 <= at < START + 61]) == 11
    assert follower.in_step
    assert printed == ["first", "after a minute"]


async def test_a_throttled_read_moves_the_reads_by_a_random_part_of_the_period() -> None:
    """The read just after the second flush is throttled: it is tried again at the slowed pace
    (1.25 s and 5% of the draw), and the later reads come a random part of the period later
    after each flush (the draw 0.6 x 30% of 5 s = 0.9 s), so that runs whose flushes come
    together stop reading together; every line once."""
    clock = VirtualClock(START)
    events = flushed(5.0, 4)
    stream = FakeStream(clock, events, refuse=throttled_between(START + 10, START + 11))
    follower, printed = make(stream, jitter=0.6)
    await follow(follower, clock, stop_at=START + 22)
    calls = starts(stream)
    assert calls[:5] == [1001.0, 1005.4, 1010.5, 1011.812, 1016.4]
    assert stream.refused == [1010.5]
    assert printed == messages(events)


async def test_no_read_before_the_status_poll_sees_the_container_start() -> None:
    """The task is PROVISIONING, then PENDING: no read at all (there is no stream yet, and a
    read would only spend the quota). The poll sees RUNNING at 1009, 6.5 s after startedAt:
    the first read comes at once and finds the first flush (ingested at tick + 0.1), then the
    reads come just after the next flushes, on the corrected grid."""
    clock = VirtualClock(START)
    started = START + 2.5
    events = [(started + 5 * n + 0.1, f"flush {n}") for n in range(1, 4)]
    stream = FakeStream(clock, events, created_at=started)
    follower, printed = make(stream)

    async def statuses() -> None:
        follower.wake({"lastStatus": "PROVISIONING"})
        await clock.sleep(3)
        follower.wake({"lastStatus": "PENDING"})
        await clock.sleep(START + 9 - clock.now)
        follower.wake({"lastStatus": "RUNNING", "startedAt": started})
        await clock.sleep(START + 19 - clock.now)
        follower.task_stopped(at=START + 19, grace=5.0)

    await run_scripted(follower, clock, statuses)
    assert starts(stream)[:4] == [1009.0, 1013.0, 1018.0, 1020.4]
    assert printed == messages(events)


async def test_a_failed_status_poll_lets_the_stream_be_read_without_waiting_for_running() -> None:
    """DescribeTasks fails (throttled, AWS unreachable) while the task is PENDING: the follower
    does not wait for a RUNNING it may not hear of for minutes; it reads at once and on at the
    usual pace, and prints every line of the task that started meanwhile."""
    clock = VirtualClock(START)
    events = [(START + 3.0 + i, f"line {i}") for i in range(3)]
    stream = FakeStream(clock, events, created_at=START + 2.5)
    follower, printed = make(stream)

    async def statuses() -> None:
        follower.wake({"lastStatus": "PENDING"})
        await clock.sleep(1.0)
        follower.status_unknown()
        await clock.sleep(START + 10 - clock.now)
        follower.task_stopped(at=START + 10, grace=5.0)

    await run_scripted(follower, clock, statuses)
    assert starts(stream)[:3] == [1001.0, 1002.0, 1003.0]
    assert printed == messages(events)
