"""The task board: the watchers of one run share one DescribeTasks a poll."""

from __future__ import annotations

import anyio
import pytest

from ecs_one_off_task.aws import Described
from ecs_one_off_task.board import TaskBoard
from ecs_one_off_task.errors import AwsError, Throttled
from ecs_one_off_task.watcher import StatusWatcher, Stopped
from tests.fakes import VirtualClock

ARNS = [f"arn:aws:ecs:us-east-1:123456789012:task/c/{n:032x}" for n in (1, 2, 3)]


class FakeEcs:
    """DescribeTasks on the virtual clock: each call takes `takes` s; a task stops at its time."""

    def __init__(
        self, clock: VirtualClock, stops_at: dict[str, float], *, takes: float = 0.05
    ) -> None:
        self.clock = clock
        self.stops_at = stops_at
        self.takes = takes
        self.calls: list[tuple[float, list[str]]] = []
        self.refuse: Exception | None = None

    async def fetch(self, arns: list[str]) -> Described:
        self.calls.append((self.clock.now, list(arns)))
        await self.clock.sleep(self.takes)
        if self.refuse is not None:
            raise self.refuse
        return Described(
            tasks=tuple(
                {
                    "taskArn": arn,
                    "lastStatus": "STOPPED" if self.clock.now >= self.stops_at[arn] else "RUNNING",
                }
                for arn in arns
            )
        )


async def watch_all(stops_at: dict[str, float], *, poll_interval: float = 6.0) -> FakeEcs:
    """Watch the tasks of `stops_at` (seconds from the start) with one board, to their stop."""
    clock = VirtualClock(start=0.0)
    ecs = FakeEcs(clock, stops_at)
    board = TaskBoard(fetch=ecs.fetch, clock=clock, fresh=min(1.0, poll_interval / 2))
    board.watch(stops_at)
    endings: dict[str, object] = {}

    async def watch(arn: str) -> None:
        async def describe() -> object:
            return await board.describe(arn)

        watcher = StatusWatcher(
            describe=describe,  # type: ignore[arg-type]
            on_status=lambda _status, _task: None,
            poll_interval=poll_interval,
            max_attempts=None,
            deadline=None,
            clock=clock,
            sleep=clock.sleep,
        )
        endings[arn] = await watcher.run()

    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        async with anyio.create_task_group() as watching:
            for arn in stops_at:
                watching.start_soon(watch, arn)
        group.cancel_scope.cancel()
    assert all(isinstance(ending, Stopped) for ending in endings.values())
    return ecs


async def test_three_tasks_one_call_a_poll_until_each_stops() -> None:
    """Three watchers polling every 6 s make one DescribeTasks a poll, of every task not yet
    seen STOPPED: 3 tasks until 13 s, then 2, then 1 (not 3 calls a poll)."""
    ecs = await watch_all({ARNS[0]: 10.0, ARNS[1]: 20.0, ARNS[2]: 25.0})
    assert [(round(at, 2), len(arns)) for at, arns in ecs.calls] == [
        (0.0, 3),
        (6.0, 3),
        (12.0, 3),
        (18.0, 2),
        (24.0, 2),
        (30.0, 1),
    ]
    assert ecs.calls[-1][1] == [ARNS[2]]


async def test_a_stale_answer_is_not_shared() -> None:
    """An answer older than `fresh` is not used: a task asked about later gets a call of its
    own, which describes every watched task."""
    clock = VirtualClock(start=0.0)
    ecs = FakeEcs(clock, dict.fromkeys(ARNS[:2], 100.0))
    board = TaskBoard(fetch=ecs.fetch, clock=clock, fresh=1.0)
    board.watch(ARNS[:2])
    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        first = await board.describe(ARNS[0])
        shared = await board.describe(ARNS[1])
        await clock.sleep(2.0)
        later = await board.describe(ARNS[1])
        group.cancel_scope.cancel()
    assert first is not None
    assert shared is not None
    assert later is not None
    assert [(round(at, 2), arns) for at, arns in ecs.calls] == [(0.0, ARNS[:2]), (2.05, ARNS[:2])]


async def test_a_failed_call_is_shared_not_repeated() -> None:
    """A throttled DescribeTasks reaches every watcher that asks within `fresh`, from one call."""
    clock = VirtualClock(start=0.0)
    ecs = FakeEcs(clock, dict.fromkeys(ARNS, 100.0))
    ecs.refuse = Throttled("Rate exceeded")
    board = TaskBoard(fetch=ecs.fetch, clock=clock, fresh=1.0)
    board.watch(ARNS)
    errors: list[BaseException] = []

    async def ask(arn: str) -> None:
        try:
            await board.describe(arn)
        except Throttled as error:
            errors.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        async with anyio.create_task_group() as asking:
            for arn in ARNS:
                asking.start_soon(ask, arn)
        group.cancel_scope.cancel()
    assert len(ecs.calls) == 1
    assert len(errors) == 3


def test_missing_is_none_and_other_failures_are_errors() -> None:
    """MISSING (right after RunTask) reads as "not visible yet"; another reason is an error
    naming it; a task found by its id is found."""
    answer = Described(
        tasks=({"taskArn": ARNS[0], "lastStatus": "RUNNING"},),
        failures=((ARNS[1], "MISSING"), (ARNS[2], "ACCESS_DENIED")),
    )
    task = answer.task(ARNS[0].rsplit("/", 1)[-1])
    assert task is not None
    assert task["lastStatus"] == "RUNNING"
    assert answer.task(ARNS[1]) is None
    with pytest.raises(AwsError, match="ACCESS_DENIED"):
        answer.task(ARNS[2])


async def test_a_description_in_hand_is_the_first_answer() -> None:
    """An attached task's lookup answers its first question without a call; a STOPPED one is
    dropped from the calls made for the other tasks."""
    clock = VirtualClock(start=0.0)
    ecs = FakeEcs(clock, dict.fromkeys(ARNS[:2], 100.0))
    board = TaskBoard(fetch=ecs.fetch, clock=clock, fresh=1.0)
    board.watch(ARNS[:2])
    board.know(ARNS[0], {"taskArn": ARNS[0], "lastStatus": "STOPPED"})
    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        first = await board.describe(ARNS[0])
        other = await board.describe(ARNS[1])
        group.cancel_scope.cancel()
    assert first == {"taskArn": ARNS[0], "lastStatus": "STOPPED"}
    assert other is not None
    assert ecs.calls == [(0.0, [ARNS[1]])]


async def test_a_slow_call_is_shared_by_every_watcher_waiting_for_it() -> None:
    """A DescribeTasks that takes 1.5 s (longer than `fresh`) answers the three watchers that
    asked while it was in flight: one call, every answer at 1.5 s."""
    clock = VirtualClock(start=0.0)
    ecs = FakeEcs(clock, dict.fromkeys(ARNS, 100.0), takes=1.5)
    board = TaskBoard(fetch=ecs.fetch, clock=clock, fresh=1.0)
    board.watch(ARNS)
    answered: list[float] = []

    async def ask(arn: str) -> None:
        await board.describe(arn)
        answered.append(clock.now)

    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        async with anyio.create_task_group() as asking:
            for arn in ARNS:
                asking.start_soon(ask, arn)
        group.cancel_scope.cancel()
    assert ecs.calls == [(0.0, ARNS)]
    assert answered == [1.5, 1.5, 1.5]


async def test_a_task_is_never_given_the_same_answer_twice() -> None:
    """A task asked about again within `fresh` (its next poll, or its first poll after
    StopTask) gets a new call, not the answer it already has."""
    clock = VirtualClock(start=0.0)
    ecs = FakeEcs(clock, {ARNS[0]: 0.3})
    board = TaskBoard(fetch=ecs.fetch, clock=clock, fresh=1.0)
    board.watch(ARNS[:1])
    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        first = await board.describe(ARNS[0])
        await clock.sleep(0.3)
        second = await board.describe(ARNS[0])
        group.cancel_scope.cancel()
    assert first is not None
    assert second is not None
    assert (first["lastStatus"], second["lastStatus"]) == ("RUNNING", "STOPPED")
    assert len(ecs.calls) == 2
