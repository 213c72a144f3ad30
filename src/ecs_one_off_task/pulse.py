"""Say something while nothing happens: heartbeats on silence, one warning before waiting ends.

A migration can print nothing for many minutes, and CI systems kill steps that are silent too
long (CircleCI after 10 minutes by default). When nothing has been printed for --heartbeat
seconds (no container line, and no status change either: that is a line too) the pulse says the
task is still there, and again after each further --heartbeat seconds of silence.

Two budgets end the wait: --timeout is the task's deadline (StopTask when it passes);
--max-attempts x --poll-interval ends only the watch (the task goes on running). One warning a
minute ahead (half the budget ahead when it is under two minutes) says which comes first, when,
and which flag changes it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from ecs_one_off_task.config import Timing
from ecs_one_off_task.facts import RunFacts, TaskFacts
from ecs_one_off_task.report import format_duration

log = structlog.get_logger("ecs_one_off_task")

WARNING_LEAD = 60.0
"""Warn this long before the budget runs out, when the budget is at least twice as long."""


@dataclass(frozen=True, kw_only=True)
class Budget:
    """When waiting gives up (on the run's clock), when to warn, and which flag gives longer."""

    ends_at: float
    warn_at: float
    stops_task: bool
    """True: --timeout ends it (StopTask); False: --max-attempts ends only the watch."""

    @classmethod
    def of(cls, timing: Timing, *, now: float, deadline: float | None) -> Budget | None:
        """The budget of a watch that starts `now`; `deadline` is --timeout's end, if any.

        The first DescribeTasks is at once and the last of --max-attempts is (N - 1) poll
        intervals later; waiting gives up at that one or at the deadline, whichever comes first.
        """
        # On a tie the deadline wins: the task is stopped, as --timeout says.
        ends: list[tuple[float, bool]] = []
        if deadline is not None:
            ends.append((deadline, False))
        if timing.max_attempts is not None:
            ends.append((now + (timing.max_attempts - 1) * timing.poll_interval, True))
        if not ends:
            return None
        ends_at, watch_only = min(ends)
        total = ends_at - now
        lead = WARNING_LEAD if total >= 2 * WARNING_LEAD else total / 2
        return cls(ends_at=ends_at, warn_at=ends_at - lead, stops_task=not watch_only)


def heartbeat_message(tasks: list[TaskFacts], *, now: float, last_line_at: float | None) -> str:
    """`still RUNNING after 14m 05s; last log line 3m 10s ago`, for one task or several."""
    parts = []
    for task in tasks:
        if task.status is None or task.status_since is None:
            parts.append(f"{task.label}waiting for ECS to show the task")
        else:
            since = format_duration(now - task.status_since)
            parts.append(f"{task.label}still {task.status} after {since}")
    quiet = (
        "no log line yet"
        if last_line_at is None
        else f"last log line {format_duration(now - last_line_at)} ago"
    )
    return f"{', '.join(parts)}; {quiet}"


class Pulse:
    """Heartbeats and the budget warning, while the tasks are watched; cancelled after."""

    def __init__(  # noqa: PLR0913 - every collaborator is injected on purpose
        self,
        *,
        facts: RunFacts,
        every: float,
        budget: Budget | None,
        stops_task: bool,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        """`every` 0: no heartbeats; `stops_task`: the end of waiting stops the task."""
        self._facts = facts
        self._every = every
        self._budget = budget
        self._stops_task = stops_task
        self._clock = clock
        self._sleep = sleep
        self.beats = 0

    async def run(self) -> None:
        """Sleep until the next heartbeat or the warning is due, say it, and again."""
        began = self._clock()
        last_beat = began
        warn_at = self._budget.warn_at if self._budget is not None else None
        while True:
            now = self._clock()
            due: list[float] = []
            beat_at = None
            if self._every > 0:
                quiet_since = max(
                    last_beat,
                    self._facts.last_line_at or began,
                    *(t.status_since or began for t in self._facts.tasks),
                )
                beat_at = quiet_since + self._every
                due.append(beat_at)
            if warn_at is not None:
                due.append(warn_at)
            if not due:
                return
            if min(due) > now:
                await self._sleep(min(due) - now)
                continue
            if warn_at is not None and now >= warn_at:
                warn_at = None
                self._warn(now)
            elif beat_at is not None and now >= beat_at:
                last_beat = now
                self.beats += 1
                last_line_at = self._facts.last_line_at
                log.info(
                    heartbeat_message(self._facts.tasks, now=now, last_line_at=last_line_at),
                    said={
                        "statuses": [t.status for t in self._facts.tasks],
                        "seconds_since_last_line": None
                        if last_line_at is None
                        else round(now - last_line_at, 3),
                    },
                )

    def _warn(self, now: float) -> None:
        assert self._budget is not None  # noqa: S101 - only called with a budget
        left = format_duration(self._budget.ends_at - now)
        if not self._budget.stops_task:
            text = (
                f"watching ends in {left}; the task will go on running: watch longer with"
                " --max-attempts, or give it a deadline with --timeout"
            )
        elif self._stops_task:
            text = (
                f"the task will be stopped in {left} if it is still running: give it longer"
                " with --timeout"
            )
        else:
            text = f"waiting will end in {left} if the task is still running: see --timeout"
        log.warning(text, said={"seconds_left": round(self._budget.ends_at - now, 3)})
