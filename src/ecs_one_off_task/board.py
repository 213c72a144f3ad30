"""One DescribeTasks for every task a process watches, instead of one per task (--count).

Each task's StatusWatcher asks the board for its task. The board describes every task it was
told to watch in one call, and a watcher that asks soon after (within `fresh` seconds of that
call, or while it was in flight) is answered from it: the watchers of one run start together
and poll at the same pace, so N tasks cost one call a poll, not N. One call is in flight at a
time, and no task is given the same answer twice (its next poll, or its first after StopTask,
needs news). A failed call is shared the same way, so a throttled DescribeTasks is not repeated
by every watcher at once. A task is dropped from later calls once its STOPPED description has
been handed out. A description already in hand (an attached task's lookup) is the first answer
for its task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from ecs_one_off_task.aws import Described

FetchTasks = Callable[[list[str]], Awaitable[Described]]


class TaskBoard:
    """Describes the watched tasks together; see the module's docstring."""

    def __init__(self, *, fetch: FetchTasks, clock: Callable[[], float], fresh: float) -> None:
        """`fetch` describes a list of task ARNs; answers younger than `fresh` are shared."""
        self._fetch = fetch
        self._clock = clock
        self._fresh = fresh
        self._watched: dict[str, None] = {}  # ordered: the tasks in the order they came
        self._lock = anyio.Lock()
        self._last: _Answer | None = None
        self._served: dict[str, _Answer] = {}
        """The last answer each task was given: never given twice."""
        self._known: dict[str, Mapping[str, Any]] = {}

    def watch(self, task_arns: Iterable[str]) -> None:
        """Describe these tasks in every call from now on, until each is seen STOPPED."""
        for arn in task_arns:
            self._watched[arn] = None

    def know(self, task_arn: str, task: Mapping[str, Any]) -> None:
        """Answer the next question about this task with `task`, read a moment ago."""
        self._known[task_arn] = task

    async def describe(self, task_arn: str) -> Mapping[str, Any] | None:
        """The task as ECS sees it, or None while ECS does not show it yet."""
        self.watch([task_arn])
        task = self._known.pop(task_arn, None)
        if task is None:
            task = await self._ask(task_arn)
        if task is not None and task.get("lastStatus") == "STOPPED":
            self._watched.pop(task_arn, None)
        return task

    async def _ask(self, task_arn: str) -> Mapping[str, Any] | None:
        """The task from a call made since it was asked, or just before; else a new call."""
        asked_at = self._clock()
        async with self._lock:
            last = self._shared(task_arn, asked_at)
            if last is None:
                arns = list(self._watched)
                began = self._clock()
                try:
                    answer: Described | Exception = await self._fetch(arns)
                except Exception as error:  # noqa: BLE001 - raised below, to every asker
                    answer = error
                last = self._last = _Answer(began, answer, frozenset(arns))
            self._served[task_arn] = last
        if isinstance(last.answer, Exception):
            raise last.answer.with_traceback(None)
        return last.answer.task(task_arn)

    def _shared(self, task_arn: str, asked_at: float) -> _Answer | None:
        """The last answer, if it can answer this question.

        It must include the task, have begun no more than `fresh` before the question (a call
        that began while the question waited for the lock always can), and not have answered
        this task already: a watcher's next poll, or the first one after StopTask, needs news.
        """
        last = self._last
        if last is None or task_arn not in last.asked or self._served.get(task_arn) is last:
            return None
        return last if last.began >= asked_at - self._fresh else None


@dataclass(frozen=True, eq=False)
class _Answer:
    """One DescribeTasks call: when it began, what it answered (or raised), which tasks."""

    began: float
    answer: Described | Exception
    asked: frozenset[str]
