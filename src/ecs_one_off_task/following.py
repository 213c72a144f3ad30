"""One follow: a set of tasks watched and read to their end, and the tasks started during it.

Every task has a StatusWatcher (in the watching group, inside the interrupt's phase) and a
LogFollower (in the reading group, which the drain's deadline bounds). A task seen STOPPED has
its follower drain. When a task stopped before its container ran, `after_stop` may answer with
a restart: it waits, starts a task again, and the new task joins this follow while the others
go on running (--count: only the task that failed to start is started again). A restart that
cannot start a task (no start left, --timeout too close) stops the run's other tasks as a
timeout would, and its error is the follow's.

Giving up on one task (--timeout, --max-attempts) or a first signal ends the watch of all; then
the tasks not yet STOPPED are stopped (unless the watch only ends), watched until STOPPED and
drained: the shutdown's lines are shown.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio
import anyio.abc
import anyio.lowlevel
import structlog

from ecs_one_off_task.config import Timing
from ecs_one_off_task.errors import GaveUpWaiting, OneOffTaskError
from ecs_one_off_task.follower import LogFollower
from ecs_one_off_task.interrupt import Interrupt
from ecs_one_off_task.pulse import Pulse
from ecs_one_off_task.targets import Ending, Followed, Target
from ecs_one_off_task.watcher import GaveUp, StatusWatcher, Stopped

log = structlog.get_logger("ecs_one_off_task")

# However quiet the stream, draining never outlasts this (AWS unreachable during the drain).
DRAIN_LIMIT = 60.0
# After StopTask: how long to wait for STOPPED (ECS's default stopTimeout is 30 s), and how
# often to look.
STOP_WAIT = 45.0
STOP_POLL_INTERVAL = 2.0
RESTART_FAILED = "a task of the run could not be started again"

Restart = Callable[[], Awaitable[Target]]
"""Starts a task again after a failed start and returns it; OneOffTaskError when it cannot."""
AfterStop = Callable[[Target, Stopped], Restart | None]
"""Told of each task seen STOPPED; a Restart when the task is to be started again."""


class Parts(Protocol):
    """What a follow takes from its tracker: each task's follower and watcher, StopTask."""

    interrupt: Interrupt
    timing: Timing
    clock: Callable[[], float]

    def prepare(self, target: Target) -> LogFollower:
        """Note the task as followed; its log follower."""

    def watcher(
        self,
        target: Target,
        follower: LogFollower,
        deadline: float | None,
        *,
        poll_interval: float | None = None,
        checks: int | None = None,
    ) -> StatusWatcher:
        """The task's status watcher, waking `follower` on each new status.

        `checks`: --max-attempts for a task started during the follow (what is left).
        """

    def pulse(self, deadline: float | None) -> Pulse:
        """Heartbeats and the warning before the budget runs out."""

    async def stop(self, task_arn: str, reason: str) -> None:
        """StopTask, once per task, shielded."""

    def begin_drain(self, target: Target, follower: LogFollower, stopped: Stopped) -> None:
        """Tell the follower to finish once the stream is quiet after the stop."""


class Following:
    """The tasks of one follow, in the order they came; `run` follows them to their end."""

    def __init__(
        self,
        parts: Parts,
        targets: list[Target],
        *,
        deadline: float | None,
        owns_tasks: bool,
        after_stop: AfterStop | None = None,
    ) -> None:
        """`owns_tasks` False: a signal leaves the tasks running (`attach` did not start them)."""
        self.parts = parts
        self.deadline = deadline
        self.owns_tasks = owns_tasks
        self.after_stop = after_stop
        self.targets: list[Target] = []
        self.followers: list[LogFollower] = []
        self.endings: list[Ending] = []
        self.failure: OneOffTaskError | None = None
        """Why a restart could not start a task: the follow's error, raised by the tracker."""
        self._began = parts.clock()
        self._reading: anyio.abc.TaskGroup | None = None
        self._watching: anyio.abc.TaskGroup | None = None
        for target in targets:
            self._add(target)

    def followed(self) -> list[Followed]:
        """What following each task came to, so far."""
        return [
            Followed(target=t, ending=e, lines=f.lines)
            for t, e, f in zip(self.targets, self.endings, self.followers, strict=True)
        ]

    async def run(self) -> list[Followed]:
        """Watch and read every task until drained."""
        interrupt = self.parts.interrupt
        drain = anyio.CancelScope()
        watch_over = anyio.Event()

        async def read_all(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            with drain:
                async with anyio.create_task_group() as reading:
                    # Open while watching: a task started meanwhile is read in this group too.
                    reading.start_soon(watch_over.wait)
                    for follower in self.followers:
                        reading.start_soon(follower.run)
                    self._reading = reading
                    task_status.started()

        async with anyio.create_task_group() as group:
            await group.start(read_all)
            with interrupt.phase():
                async with anyio.create_task_group() as pulsing:
                    pulsing.start_soon(self.parts.pulse(self.deadline).run)
                    async with anyio.create_task_group() as watching:
                        self._watching = watching
                        for index in range(len(self.targets)):
                            watching.start_soon(self._watch, index)
                    pulsing.cancel_scope.cancel()
            watch_over.set()
            watch_ended = any(isinstance(e, GaveUp) and e.task_goes_on for e in self.endings)
            if (interrupt.received and not self.owns_tasks) or watch_ended:
                group.cancel_scope.cancel()
                return self.followed()
            await self._stop_the_rest()
            drain.deadline = anyio.current_time() + self.parts.timing.drain_grace + DRAIN_LIMIT
            if not interrupt.received:
                # A first signal while draining ends the drain: the tasks are stopped already.
                interrupt.track(drain)

        if drain.cancelled_caught:
            log.warning(
                "stopped reading the logs before the stream was quiet",
                log_stream=[t.log_stream for t in self.targets],
            )
        return self.followed()

    def _add(self, target: Target) -> int:
        self.targets.append(target)
        self.followers.append(self.parts.prepare(target))
        self.endings.append(None)
        return len(self.targets) - 1

    async def _watch(self, index: int, *, checks: int | None = None) -> None:
        target, follower = self.targets[index], self.followers[index]
        watcher = self.parts.watcher(target, follower, self.deadline, checks=checks)
        ending = await watcher.run()
        self.endings[index] = ending
        if not isinstance(ending, Stopped):
            self._end_watch()  # giving up on one task gives up on all
            return
        self.parts.begin_drain(target, follower, ending)
        restart = None if self.after_stop is None else self.after_stop(target, ending)
        if restart is not None:
            await self._restart(restart)

    async def _restart(self, restart: Restart) -> None:
        """Start the task again; the new one is watched here and read with the others."""
        try:
            target = await restart()
        except OneOffTaskError as error:
            self.failure = error
            self._end_watch()
            return
        index = self._add(target)
        # RunTask was shielded: a signal that came meanwhile ends the watch here, and the new
        # task is stopped with the rest (the reading group may be gone after a second one).
        await anyio.lowlevel.checkpoint()
        assert self._reading is not None  # noqa: S101 - open until the watch is over
        self._reading.start_soon(self.followers[index].run)
        await self._watch(index, checks=self._checks_left())

    def _checks_left(self) -> int | None:
        """The --max-attempts checks of a task started during the follow: what is left of it.

        So the watch ends when the start line and the warning said it would.
        """
        timing = self.parts.timing
        if timing.max_attempts is None:
            return None
        spent = math.floor((self.parts.clock() - self._began) / timing.poll_interval)
        return max(1, timing.max_attempts - spent)

    def _end_watch(self) -> None:
        assert self._watching is not None  # noqa: S101 - only called while watching
        self._watching.cancel_scope.cancel()

    def _why_stop(self) -> str:
        """Why the tasks not seen STOPPED are stopped: the StopTask reason."""
        gave_up = next((e for e in self.endings if isinstance(e, GaveUp)), None)
        if gave_up is not None:
            return gave_up.why
        if isinstance(self.failure, GaveUpWaiting):
            return "timeout reached"
        if self.failure is not None:
            return RESTART_FAILED
        return "interrupted by a signal"

    async def _stop_the_rest(self) -> None:
        """StopTask each task not seen STOPPED, watch it until STOPPED, then let it drain."""
        endings = self.endings
        left = [i for i, ending in enumerate(endings) if not isinstance(ending, Stopped)]
        if not left:
            return
        why = self._why_stop()
        for i in left:
            log.warning("stopping the task", reason=why, task_arn=self.targets[i].task_arn)
        async with anyio.create_task_group() as stopping:
            for i in left:
                stopping.start_soon(
                    self.parts.stop, self.targets[i].task_arn, f"ecs-one-off-task: {why}"
                )
        log.info("waiting for the task to stop", at_most_seconds=STOP_WAIT)
        seen: list[Ending] = [None] * len(self.targets)
        timing, clock = self.parts.timing, self.parts.clock

        async def await_stop(i: int) -> None:
            seen[i] = await self.parts.watcher(
                self.targets[i],
                self.followers[i],
                clock() + STOP_WAIT,
                poll_interval=min(timing.poll_interval, STOP_POLL_INTERVAL),
            ).run()

        # A first signal (when the wait follows a timeout) or a second one ends the wait early.
        interrupt = self.parts.interrupt
        with interrupt.phase() if not interrupt.received else anyio.CancelScope():
            async with anyio.create_task_group() as waiting:
                for i in left:
                    waiting.start_soon(await_stop, i)
        for i in left:
            stopped = seen[i]
            if isinstance(stopped, Stopped):
                self.parts.begin_drain(self.targets[i], self.followers[i], stopped)
            else:
                log.warning("task not STOPPED yet: reading the last lines anyway")
                self.followers[i].task_stopped(at=clock(), grace=timing.drain_grace)
