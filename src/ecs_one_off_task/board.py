"""One DescribeTasks for every task a process watches, instead of one per task (--count).

Each task's StatusWatcher asks the board for its task. The board describes every task it was
told to watch in one call, and a watcher that asks soon after (within `fresh` seconds of that
call) is answered from it: the watchers of one run start together and poll at the same pace,
so N tasks cost one call a poll, not N. One call is in flight at a time. A failed call is
shared the same way, so a throttled DescribeTasks is not repeated by every watcher at once.
A task is dropped from later calls once its STOPPED description has been handed out. A
description already in hand (an attached task's lookup) is the first answer for its task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
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
        self._last: tuple[float, Described | Exception, frozenset[str]] | None = None
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
        """The task from the last answer if fresh, else from a new call for every task."""
        async with self._lock:
            answer = self._recent(task_arn)
            if answer is None:
                asked = list(self._watched)
                began = self._clock()
                try:
                    answer = await self._fetch(asked)
                except Exception as error:
                    self._last = (began, error, frozenset(asked))
                    raise
                self._last = (began, answer, frozenset(asked))
        if isinstance(answer, Exception):
            raise answer
        return answer.task(task_arn)

    def _recent(self, task_arn: str) -> Described | Exception | None:
        """The last answer, if it is fresh and asked about this task."""
        if self._last is None:
            return None
        began, answer, asked = self._last
        if task_arn not in asked or self._clock() - began > self._fresh:
            return None
        return answer
