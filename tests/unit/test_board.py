"""The task board: the watchers of one run share one DescribeTasks a poll."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import anyio
import pytest

from ecs_one_off_task.aws import Described
from ecs_one_off_task.board import TaskBoard
from ecs_one_off_task.errors import AwsError, Throttled
from ecs_one_off_task.watcher import StatusWatcher, Stopped
from tests.fakes import VirtualClock

ARNS = [f"arn:aws:ecs:us-east-1:123456789012:task/c/{n:032x}" for n in (1, 2, 3)]
NEVER = 1e9


class Rig:
    """A board on the virtual clock over a fake DescribeTasks: each call takes `takes` s, and
    a task is STOPPED from its time in `stops_at` on."""

    def __init__(
        self, stops_at: Mapping[str, float], *, takes: float = 0.05, fresh: float = 1.0
    ) -> None:
        self.clock = VirtualClock(start=0.0)
        self.stops_at = stops_at
        self.takes = takes
        self.calls: list[tuple[float, list[str]]] = []
        self.refuse: Exception | None = None
        self.board = TaskBoard(fetch=self.fetch, clock=self.clock, fresh=fresh)
        self.board.watch(stops_at)
        self.answers: list[tuple[float, str, Mapping[str, Any] | Exception | None]] = []

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

    async def ask(self, arn: str) -> None:
        """One question to the board; its answer (or error) is noted with the time."""
        try:
            answer: Mapping[str, Any] | Exception | None = await self.board.describe(arn)
        except Throttled as error:
            answer = error
        self.answers.append((self.clock.now, arn, answer))

    async def run(self, *steps: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `steps` side by side, virtual time moving whenever all of them wait."""
        async with anyio.create_task_group() as group:
            group.start_soon(self.clock.drive)
            async with anyio.create_task_group() as running:
                for step in steps:
                    running.start_soon(step)
            group.cancel_scope.cancel()

    def statuses(self) -> list[tuple[float, str | None]]:
        return [
            (round(at, 2), None if not isinstance(a, Mapping) else a["lastStatus"])
            for at, _, a in self.answers
        ]


async def test_three_tasks_one_call_a_poll_until_each_stops() -> None:
    """Three watchers polling every 6 s make one DescribeTasks a poll, of every task not yet
    seen STOPPED: 3 tasks until 13 s, then 2, then 1 (not 3 calls a poll)."""
    rig = Rig({ARNS[0]: 10.0, ARNS[1]: 20.0, ARNS[2]: 25.0}, fresh=1.0)

    def watch(arn: str) -> Callable[[], Coroutine[Any, Any, None]]:
        async def describe() -> Mapping[str, Any] | None:
            return await rig.board.describe(arn)

        async def run() -> None:
            watcher = StatusWatcher(
                describe=describe,
                on_status=lambda _status, _task: None,
                poll_interval=6.0,
                max_attempts=None,
                deadline=None,
                clock=rig.clock,
                sleep=rig.clock.sleep,
            )
            assert isinstance(await watcher.run(), Stopped)

        return run

    await rig.run(*map(watch, ARNS))
    assert [(round(at, 2), len(arns)) for at, arns in rig.calls] == [
        (0.0, 3),
        (6.0, 3),
        (12.0, 3),
        (18.0, 2),
        (24.0, 2),
        (30.0, 1),
    ]
    assert rig.calls[-1][1] == [ARNS[2]]


async def test_a_stale_answer_is_not_shared() -> None:
    """An answer older than `fresh` is not used: a task asked about later gets a call of its
    own, which describes every watched task."""
    rig = Rig(dict.fromkeys(ARNS[:2], NEVER))

    async def questions() -> None:
        await rig.ask(ARNS[0])
        await rig.ask(ARNS[1])
        await rig.clock.sleep(2.0)
        await rig.ask(ARNS[1])

    await rig.run(questions)
    assert rig.statuses() == [(0.05, "RUNNING"), (0.05, "RUNNING"), (2.1, "RUNNING")]
    assert [(round(at, 2), arns) for at, arns in rig.calls] == [(0.0, ARNS[:2]), (2.05, ARNS[:2])]


async def test_a_failed_call_is_shared_not_repeated() -> None:
    """A throttled DescribeTasks reaches every watcher that asks within `fresh`, from one call."""
    rig = Rig(dict.fromkeys(ARNS, NEVER))
    rig.refuse = Throttled("Rate exceeded")
    await rig.run(*(lambda arn=arn: rig.ask(arn) for arn in ARNS))
    assert len(rig.calls) == 1
    assert [type(answer) for _, _, answer in rig.answers] == [Throttled] * 3


async def test_a_slow_call_is_shared_by_every_watcher_waiting_for_it() -> None:
    """A DescribeTasks that takes 1.5 s (longer than `fresh`) answers the three watchers that
    asked while it was in flight: one call, every answer at 1.5 s."""
    rig = Rig(dict.fromkeys(ARNS, NEVER), takes=1.5)
    await rig.run(*(lambda arn=arn: rig.ask(arn) for arn in ARNS))
    assert rig.calls == [(0.0, ARNS)]
    assert rig.statuses() == [(1.5, "RUNNING")] * 3


async def test_a_task_is_never_given_the_same_answer_twice() -> None:
    """A task asked about again within `fresh` (its next poll, or its first poll after
    StopTask) gets a new call, not the answer it already has."""
    rig = Rig({ARNS[0]: 0.3})

    async def questions() -> None:
        await rig.ask(ARNS[0])
        await rig.clock.sleep(0.3)
        await rig.ask(ARNS[0])

    await rig.run(questions)
    assert rig.statuses() == [(0.05, "RUNNING"), (0.4, "STOPPED")]
    assert len(rig.calls) == 2


async def test_a_description_in_hand_is_the_first_answer() -> None:
    """An attached task's lookup answers its first question without a call; a STOPPED one is
    dropped from the calls made for the other tasks."""
    rig = Rig(dict.fromkeys(ARNS[:2], NEVER))
    rig.board.know(ARNS[0], {"taskArn": ARNS[0], "lastStatus": "STOPPED"})

    async def questions() -> None:
        await rig.ask(ARNS[0])
        await rig.ask(ARNS[1])

    await rig.run(questions)
    assert rig.statuses() == [(0.0, "STOPPED"), (0.05, "RUNNING")]
    assert rig.calls == [(0.0, [ARNS[1]])]


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
