"""What to do when tasks of the one-off family are already running. Pure: no I/O.

A CI runner that died (SIGKILL, lost network) leaves its migration running; the retried job
must not start a second copy. Another deploy's migration of a different image must finish
before this one starts. `--if-running` says which:

    auto    attach to a task of the same content (this run, retried), else wait for the others
    attach  attach to the most recently started running task, whatever its definition
    wait    wait until none is running, then start
    fail    exit 125 naming the running task
    start   start another one regardless (the original script's behaviour)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class IfRunning(StrEnum):
    """--if-running: what to do with a task of the family that has not stopped."""

    AUTO = "auto"
    ATTACH = "attach"
    WAIT = "wait"
    FAIL = "fail"
    START = "start"


class Action(StrEnum):
    """What the run does next."""

    START = "start"
    ATTACH = "attach"
    WAIT = "wait"
    FAIL = "fail"


@dataclass(frozen=True, kw_only=True)
class Decision:
    """The action, and the task it is about (attach, fail) or the tasks to wait for."""

    action: Action
    task: Mapping[str, Any] | None = None
    """The task failed on, or the newest one attached to."""
    attach_to: tuple[Mapping[str, Any], ...] = ()
    """Every task attached to, oldest first: a retried --count N run has N of them."""
    waiting_for: tuple[Mapping[str, Any], ...] = ()

    def describe(self) -> str:
        """One line for stderr and for --dry-run."""
        if self.action is Action.ATTACH:
            return "attach to " + ", ".join(str(t["taskArn"]) for t in self.attach_to)
        if self.action is Action.FAIL and self.task is not None:
            return f"{self.task['taskArn']} is {self.task.get('lastStatus')}"
        if self.action is Action.WAIT:
            return f"wait for {len(self.waiting_for)} running task(s) to stop, then start"
        return "start a new task"


START_NEW = Decision(action=Action.START)
"""Nothing is running (or --if-running start): start a task."""


def _newest_first(tasks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(tasks, key=_sort_key, reverse=True)


def _sort_key(task: Mapping[str, Any]) -> float:
    when = task.get("createdAt") or task.get("startedAt")
    return when.timestamp() if isinstance(when, datetime) else float("-inf")


def decide(
    mode: IfRunning,
    running: Sequence[Mapping[str, Any]],
    *,
    same_content: Callable[[Mapping[str, Any]], bool],
    count: int = 1,
) -> Decision:
    """Decide from the tasks of the family that have not stopped (every page of them).

    `same_content` tells whether a task's definition is what this run would register or reuse;
    `count` is how many tasks the run starts (--count): a retry attaches to as many.
    """
    if not running or mode is IfRunning.START:
        return START_NEW
    newest = _newest_first(running)
    if mode is IfRunning.FAIL:
        return Decision(action=Action.FAIL, task=newest[0])
    if mode is IfRunning.ATTACH:
        return _attach(newest[:count])
    if mode is IfRunning.AUTO:
        mine = [task for task in newest if same_content(task)][:count]
        if mine:
            return _attach(mine)
    return Decision(action=Action.WAIT, waiting_for=tuple(newest))


def _attach(newest_first: Sequence[Mapping[str, Any]]) -> Decision:
    return Decision(
        action=Action.ATTACH, task=newest_first[0], attach_to=tuple(reversed(newest_first))
    )
