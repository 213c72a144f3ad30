"""One follow with a task started again during it, on fake parts: a signal while the restart's
RunTask is in flight, and the watch budget the new task gets."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from ecs_one_off_task.config import Timing
from ecs_one_off_task.following import Following
from ecs_one_off_task.interrupt import Interrupt
from ecs_one_off_task.targets import Target
from ecs_one_off_task.watcher import Stopped

STOPPED = Stopped(task={"lastStatus": "STOPPED"})


class FakeFollower:
    """Reads until told the task stopped."""

    def __init__(self) -> None:
        self.lines = 0
        self.stream_found = False
        self.drained = anyio.Event()
        self.ended = anyio.Event()

    async def run(self) -> None:
        try:
            await self.drained.wait()
        finally:
            self.ended.set()

    def task_stopped(self, *, at: float, grace: float) -> None:
        del at, grace
        self.drained.set()


class FakeWatcher:
    """A ends only when cancelled (it runs on); B is STOPPED at once (it failed to start); a
    watch after StopTask sees STOPPED at once."""

    def __init__(self, task_arn: str, *, after_stop: bool) -> None:
        self.task_arn = task_arn
        self.after_stop = after_stop

    async def run(self) -> Stopped:
        if self.after_stop or self.task_arn == "B":
            return STOPPED
        await anyio.sleep_forever()
        raise AssertionError


class FakePulse:
    async def run(self) -> None:
        await anyio.sleep_forever()


class FakeParts:
    """What a follow takes from its tracker, recording StopTask and each watcher's budget."""

    def __init__(self, timing: Timing) -> None:
        self.interrupt = Interrupt()
        self.timing = timing
        self.now = 0.0
        self.clock: Callable[[], float] = lambda: self.now
        self.stopped: list[str] = []
        self.checks: dict[str, int | None] = {}
        self.watching: dict[str, anyio.Event] = {}
        self.followers: dict[str, FakeFollower] = {}

    def prepare(self, target: Target) -> Any:
        follower = self.followers[target.task_arn] = FakeFollower()
        return follower

    def watcher(
        self,
        target: Target,
        follower: Any,
        deadline: float | None,
        *,
        poll_interval: float | None = None,
        checks: int | None = None,
    ) -> Any:
        del follower, deadline
        if poll_interval is None:
            self.checks[target.task_arn] = checks
            self.watching.setdefault(target.task_arn, anyio.Event()).set()
        return FakeWatcher(target.task_arn, after_stop=poll_interval is not None)

    def pulse(self, deadline: float | None) -> Any:
        del deadline
        return FakePulse()

    async def stop(self, task_arn: str, reason: str) -> None:
        del reason
        self.stopped.append(task_arn)

    def begin_drain(self, target: Target, follower: Any, stopped: Stopped) -> None:
        del target, stopped
        follower.task_stopped(at=self.now, grace=0.0)


def target(task_arn: str) -> Target:
    return Target(task_arn=task_arn, container="app", log_group="g", log_stream=f"s/{task_arn}")


class InFlight:
    """A restart whose RunTask (shielded, as the starter's) answers only when told to."""

    def __init__(self, parts: FakeParts, *, answers_at: float = 0.0) -> None:
        self.parts = parts
        self.answers_at = answers_at
        self.sent = anyio.Event()
        self.answer = anyio.Event()

    def after_stop(self, stopped_target: Target, stopped: Stopped) -> Any:
        del stopped
        return self.restart if stopped_target.task_arn == "B" else None

    async def restart(self) -> Target:
        with anyio.CancelScope(shield=True):
            self.sent.set()
            await self.answer.wait()
        self.parts.now = self.answers_at
        return target("C")


@pytest.mark.parametrize("second_signal", [False, True], ids=["first signal", "second signal"])
async def test_a_signal_while_the_restarts_run_task_is_in_flight(second_signal: bool) -> None:
    """A runs, B failed to start and its RunTask is in flight when the signal comes. A first
    signal: the new task C joins the follow and is stopped with A. A second one cancels all at
    once: the follow ends cancelled (not with "this task group is not active"), and C is among
    its tasks, so the tracker stops it."""
    parts = FakeParts(Timing())
    run_task = InFlight(parts)
    following = Following(
        parts,
        [target("A"), target("B")],
        deadline=None,
        owns_tasks=True,
        after_stop=run_task.after_stop,
    )
    # A guard, not a measure: the follow takes milliseconds; a regression hung here.
    with anyio.fail_after(10), anyio.CancelScope() as hard:
        async with anyio.create_task_group() as group:

            async def signal_during_run_task() -> None:
                await run_task.sent.wait()
                parts.interrupt.signum = signal.SIGTERM
                parts.interrupt._phase.cancel()
                if second_signal:
                    hard.cancel()
                    with anyio.move_on_after(5, shield=True):
                        # RunTask answers after the readers are gone, their group closed.
                        await parts.followers["A"].ended.wait()
                run_task.answer.set()

            group.start_soon(signal_during_run_task)
            await following.run()
    assert [t.task_arn for t in following.targets] == ["A", "B", "C"]
    assert following.endings[2] is None
    assert parts.stopped == ([] if second_signal else ["A", "C"])


async def test_a_task_started_again_gets_what_is_left_of_the_watch_budget() -> None:
    """--max-attempts 10 every 6 s: a task started again 30 s into the follow gets 5 checks,
    so the watch ends when the start line and the warning said, not 30 s later."""
    parts = FakeParts(Timing(max_attempts=10, poll_interval=6.0))
    run_task = InFlight(parts, answers_at=30.0)
    run_task.answer.set()
    following = Following(
        parts, [target("A"), target("B")], deadline=None, owns_tasks=True,
        after_stop=run_task.after_stop,
    )  # fmt: skip
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:

            async def end_when_c_is_watched() -> None:
                await parts.watching.setdefault("C", anyio.Event()).wait()
                scope.cancel()

            group.start_soon(end_when_c_is_watched)
            await following.run()
    assert parts.checks == {"A": None, "B": None, "C": 5}
