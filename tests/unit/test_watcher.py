"""The status watcher: immediate first poll, steady rhythm, and the waiting budget."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from ecs_one_off_task.errors import AwsUnavailable, Throttled
from ecs_one_off_task.pacing import AdaptiveInterval
from ecs_one_off_task.watcher import GaveUp, StatusWatcher, Stopped
from tests.fakes import VirtualClock


class ScriptedTask:
    """DescribeTasks answers from a script of (from virtual time, answer); an answer may be
    None (MISSING) or an exception to raise."""

    def __init__(self, clock: VirtualClock, script: list[tuple[float, Any]]) -> None:
        self.clock = clock
        self.script = script
        self.calls: list[float] = []

    async def describe(self) -> Mapping[str, Any] | None:
        self.calls.append(self.clock.now)
        answer = None
        for since, scripted in self.script:
            if self.clock.now >= since:
                answer = scripted
        if isinstance(answer, Exception):
            raise answer
        return None if answer is None else {"lastStatus": answer}


async def watch(
    script: list[tuple[float, Any]],
    *,
    poll_interval: float = 6.0,
    max_attempts: int | None = 100,
    give_up_after: float | None = None,
    pace: AdaptiveInterval | None = None,
    early_interval: float | None = None,
) -> tuple[Stopped | GaveUp, ScriptedTask, list[str]]:
    clock = VirtualClock()
    task = ScriptedTask(clock, [(1000.0 + at, answer) for at, answer in script])
    seen: list[str] = []
    watcher = StatusWatcher(
        describe=task.describe,
        on_status=lambda status, _task: seen.append(status),
        poll_interval=poll_interval,
        max_attempts=max_attempts,
        deadline=None if give_up_after is None else clock.now + give_up_after,
        clock=clock,
        sleep=clock.sleep,
        pace=pace,
        jitter=lambda: 0.0,
        early_interval=early_interval,
    )
    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        outcome = await watcher.run()
        group.cancel_scope.cancel()
    return outcome, task, seen


async def test_task_stopped_before_the_first_poll_is_seen_at_once() -> None:
    """A task already STOPPED is found by the first, immediate call: no interval is waited."""
    outcome, task, seen = await watch([(0, "STOPPED")])
    assert isinstance(outcome, Stopped)
    assert task.calls == [1000.0]
    assert seen == ["STOPPED"]


async def test_each_change_of_status_is_reported_once() -> None:
    """PROVISIONING, PENDING, RUNNING, STOPPED are each reported once, polls 6 s apart."""
    outcome, task, seen = await watch(
        [(0, "PROVISIONING"), (7, "PENDING"), (13, "RUNNING"), (40, "STOPPED")]
    )
    assert isinstance(outcome, Stopped)
    assert seen == ["PROVISIONING", "PENDING", "RUNNING", "STOPPED"]
    assert [at - 1000.0 for at in task.calls] == [0, 6, 12, 18, 24, 30, 36, 42]


async def test_a_start_is_seen_within_a_second_and_the_early_looks_are_not_checks() -> None:
    """With early looks every second, RUNNING (at 4.5 s) is seen at 5 s, not at the 6 s check;
    then the checks keep their 6 s rhythm. Three checks of --max-attempts 3 end the watch: the
    five early looks did not count."""
    outcome, task, seen = await watch(
        [(0, "PROVISIONING"), (2.5, "PENDING"), (4.5, "RUNNING")],
        max_attempts=3,
        early_interval=1.0,
    )
    assert seen == ["PROVISIONING", "PENDING", "RUNNING"]
    assert [at - 1000.0 for at in task.calls] == [0, 1, 2, 3, 4, 5, 6, 12]
    assert outcome == GaveUp(why="task not STOPPED after 3 status checks", task_goes_on=True)


async def test_early_looks_end_after_ten_seconds_of_a_slow_start() -> None:
    """A task PROVISIONING for a minute (Fargate capacity, an ENI): a look every second for the
    first ten seconds, then only the checks, 6 s apart."""
    outcome, task, _ = await watch(
        [(0, "PROVISIONING"), (60, "RUNNING"), (70, "STOPPED")], early_interval=1.0
    )
    assert isinstance(outcome, Stopped)
    assert [at - 1000.0 for at in task.calls] == [*range(10), *range(12, 73, 6)]


async def test_no_early_look_while_throttled() -> None:
    """DescribeTasks throttled after the first answer, the task not started yet: the look at
    1 s is refused, and no look follows; the checks keep their schedule (6 s) and slow down as
    throttling says (9.375 s after a second refusal)."""
    _, task, _ = await watch(
        [(0, "PROVISIONING"), (0.5, THROTTLED), (20, "RUNNING"), (30, "STOPPED")],
        early_interval=1.0,
    )
    assert [at - 1000.0 for at in task.calls][:4] == [0, 1, 6, 15.375]


async def test_an_early_look_is_never_closer_than_a_second_to_a_check() -> None:
    """Checks every 1.5 s and looks every second: a look at 1 s would put the check at 1.5 s
    half a second after it, so there is none; the checks alone are 1.5 s apart."""
    _, task, _ = await watch(
        [(0, "PENDING"), (4, "RUNNING"), (5, "STOPPED")],
        poll_interval=1.5,
        early_interval=1.0,
    )
    assert [at - 1000.0 for at in task.calls] == [0, 1.5, 3.0, 4.5, 6.0]


async def test_missing_right_after_run_task_is_not_the_end() -> None:
    """DescribeTasks answering MISSING (None) for a while means "not visible yet"."""
    outcome, _, seen = await watch([(0, None), (10, "RUNNING"), (20, "STOPPED")])
    assert isinstance(outcome, Stopped)
    assert seen == ["RUNNING", "STOPPED"]


async def test_gives_up_after_max_attempts() -> None:
    """The 3rd unanswered poll of 3 ends the watch, and says the task goes on."""
    outcome, task, _ = await watch([(0, "RUNNING")], max_attempts=3)
    assert outcome == GaveUp(why="task not STOPPED after 3 status checks", task_goes_on=True)
    assert len(task.calls) == 3


async def test_gives_up_at_the_timeout() -> None:
    """--timeout 20 with 6 s polls ends the wait at 20 s, after one last look then, not at the
    next poll."""
    clock_start = 1000.0
    outcome, task, _ = await watch([(0, "RUNNING")], give_up_after=20.0, max_attempts=None)
    assert outcome == GaveUp(why="timeout reached")
    assert [at - clock_start for at in task.calls] == [0, 6, 12, 18, 20]


async def test_a_task_that_stops_just_before_the_timeout_is_not_given_up_on() -> None:
    """The task stops at 19 s, between the last poll and a 20 s timeout: the look at the
    deadline sees STOPPED, so the run ends with the container's code, not 124."""
    outcome, _, _ = await watch(
        [(0, "RUNNING"), (19, "STOPPED")], give_up_after=20.0, max_attempts=None
    )
    assert isinstance(outcome, Stopped)


async def test_unavailable_aws_is_retried_at_the_next_poll() -> None:
    """A DescribeTasks that failed (HTTP 503) is tried again at the next poll, and counts as an
    attempt."""
    outcome, task, seen = await watch(
        [(0, AwsUnavailable("ecs:DescribeTasks: 503")), (5, "STOPPED")], max_attempts=5
    )
    assert isinstance(outcome, Stopped)
    assert seen == ["STOPPED"]
    assert len(task.calls) == 2


async def test_a_task_stuck_waiting_to_start_is_explained_once() -> None:
    """After 60 s in PROVISIONING one notice says what ECS waits for; PENDING gets its own."""
    with capture_logs() as events:
        outcome, _, _ = await watch(
            [(0, "PROVISIONING"), (100, "PENDING"), (250, "RUNNING"), (260, "STOPPED")]
        )
    assert isinstance(outcome, Stopped)
    notices = [
        (e["status"], e["seconds"]) for e in events if e["event"] == "task still waiting to start"
    ]
    assert notices == [("PROVISIONING", 60), ("PENDING", 60)]
    assert "capacity" in events[0]["ecs_is_waiting_for"]


THROTTLED = Throttled("ecs:DescribeTasks: ThrottlingException: Rate exceeded")


def gaps(calls: list[float]) -> list[float]:
    return [round(b - a, 3) for a, b in itertools.pairwise(calls)]


async def test_throttling_lengthens_the_polls_and_answers_bring_them_back() -> None:
    """Two throttled polls take the 6 s interval to 7.5 s then 9.375 s; each answered poll
    then takes 1% of 6 s off. Throttled polls count as attempts."""
    outcome, task, seen = await watch(
        [(0, "RUNNING"), (10, THROTTLED), (20, "RUNNING"), (60, "STOPPED")], max_attempts=None
    )
    assert isinstance(outcome, Stopped)
    assert seen == ["RUNNING", "STOPPED"]
    assert gaps(task.calls)[:6] == pytest.approx([6, 6, 7.5, 9.375, 9.315, 9.255])


async def test_throttled_polls_are_never_more_than_30_s_apart() -> None:
    """Throttled for ten minutes, the status is still asked at least every 30 s."""
    outcome, task, _ = await watch(
        [(0, "RUNNING"), (10, THROTTLED), (600, "STOPPED")], max_attempts=None
    )
    assert isinstance(outcome, Stopped)
    assert max(gaps(task.calls)) == 30.0
    assert task.calls[-1] <= 1000.0 + 630.0


async def test_one_notice_when_throttling_slows_the_polls_and_one_when_back() -> None:
    """Throttling says once that status checks slow down, with the pace, and once that they
    are back to --poll-interval; the throttled polls themselves say nothing more."""
    with capture_logs() as events:
        await watch(
            [(0, "RUNNING"), (10, THROTTLED), (20, "RUNNING"), (900, "STOPPED")],
            max_attempts=None,
        )
    notices = [(e["log_level"], e["event"], e["every_seconds"]) for e in events]
    assert notices == [
        (
            "warning",
            (
                "task status checks (DescribeTasks) throttled by AWS: slowing down to share the"
                " account's quota"
            ),
            7.5,
        ),
        ("info", "task status checks (DescribeTasks) back to their normal pace", 6.0),
    ]


async def test_watchers_can_share_one_pace() -> None:
    """A pace handed to two watchers: the throttle one of them meets slows the other (7.5 s,
    less the 1% its own answer at that moment took off)."""
    shared = AdaptiveInterval(floor=6.0, floor_jitter=0.0)
    clock = VirtualClock()
    script = [(1000.0, "RUNNING"), (1010.0, THROTTLED), (1015.0, "RUNNING")]
    throttled = ScriptedTask(clock, script)
    answered = ScriptedTask(clock, [(1000.0, "RUNNING"), (1050.0, "STOPPED")])
    watchers = [
        StatusWatcher(
            describe=task.describe,
            on_status=lambda _status, _task: None,
            poll_interval=6.0,
            max_attempts=None,
            deadline=1050.0 if task is throttled else None,
            clock=clock,
            sleep=clock.sleep,
            pace=shared,
            jitter=lambda: 0.0,
        )
        for task in (throttled, answered)
    ]
    async with anyio.create_task_group() as group:
        group.start_soon(clock.drive)
        async with anyio.create_task_group() as both:
            for watcher in watchers:
                both.start_soon(watcher.run)
        group.cancel_scope.cancel()
    assert gaps(answered.calls)[:3] == pytest.approx([6, 6, 7.44])
