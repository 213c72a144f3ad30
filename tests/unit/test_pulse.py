"""The pulse on a virtual clock: heartbeats on silence, one warning before waiting ends."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import anyio
import pytest
from structlog.testing import capture_logs

from ecs_one_off_task.config import Timing
from ecs_one_off_task.facts import RunFacts
from ecs_one_off_task.pulse import Budget, Pulse, heartbeat_message
from tests.fakes import VirtualClock

Step = tuple[float, Callable[[RunFacts, float], None]]


def status(name: str) -> Callable[[RunFacts, float], None]:
    def change(facts: RunFacts, at: float) -> None:
        facts.tasks[0].saw(name, {"lastStatus": name}, at=at)

    return change


def line(facts: RunFacts, at: float) -> None:
    facts.wrote(facts.tasks[0], 1, at=at)


async def pulse(
    *,
    every: float,
    budget_seconds: float | None = None,
    max_attempts: int | None = None,
    steps: tuple[Step, ...] = (),
    run_for: float,
) -> list[tuple[float, str, str]]:
    """Run a pulse for `run_for` virtual seconds from 1000 with `steps` applied on time;
    return (seconds from the start, level, text) of each event."""
    clock = VirtualClock()
    facts = RunFacts(began_at=clock.now, began_wall=0.0)
    facts.track(task_arn="arn:aws:ecs:us-east-1:1:task/c/0123456789abcdef", log_stream="s")
    budget = None
    if budget_seconds is not None:
        budget = Budget.of(
            Timing(max_attempts=None), now=clock.now, deadline=clock.now + budget_seconds
        )
    if max_attempts is not None:
        budget = Budget.of(Timing(max_attempts=max_attempts), now=clock.now, deadline=None)
    subject = Pulse(
        facts=facts, every=every, budget=budget, stops_task=True, clock=clock, sleep=clock.sleep
    )

    async def play() -> None:
        for at, step in steps:
            await clock.sleep(1000.0 + at - clock.now)
            step(facts, clock.now)

    async def stop_after(seconds: float, scope: anyio.CancelScope) -> None:
        await clock.sleep(seconds)
        scope.cancel()

    def stamp(_logger: object, _name: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
        return {**event, "at": round(clock.now - 1000.0, 3)}

    with capture_logs(processors=[stamp]) as events:
        async with anyio.create_task_group() as group:
            group.start_soon(clock.drive)
            group.start_soon(play)
            group.start_soon(stop_after, run_for, group.cancel_scope)
            await subject.run()
    return [(e["at"], e["log_level"], e["event"]) for e in events]


class TestBudget:
    @pytest.mark.parametrize(
        ("timing", "deadline", "ends", "warn", "stops_task"),
        [
            (Timing(), None, 594.0, 534.0, False),
            (Timing(max_attempts=None), 3600.0, 3600.0, 3540.0, True),
            (Timing(max_attempts=None), 90.0, 90.0, 45.0, True),
            (Timing(max_attempts=10, poll_interval=6.0), 3600.0, 54.0, 27.0, False),
            (Timing(max_attempts=10, poll_interval=6.0), 54.0, 54.0, 27.0, True),
        ],
    )
    def test_when_waiting_ends_and_when_to_warn(
        self, timing: Timing, deadline: float | None, ends: float, warn: float, stops_task: bool
    ) -> None:
        """Waiting ends at the last of --max-attempts polls ((N - 1) intervals after the first)
        or at --timeout's deadline, whichever is first; the warning comes a minute ahead, or
        half the budget ahead when the budget is under two minutes. Only the deadline stops the
        task (it wins a tie); running out of checks ends the watch alone."""
        budget = Budget.of(timing, now=0.0, deadline=deadline)
        assert budget == Budget(ends_at=ends, warn_at=warn, stops_task=stops_task)

    def test_no_limit_no_budget(self) -> None:
        """Without --max-attempts or --timeout nothing ends the wait: nothing to warn of."""
        assert Budget.of(Timing(max_attempts=None), now=0.0, deadline=None) is None


class TestHeartbeat:
    async def test_beats_after_each_stretch_of_silence(self) -> None:
        """With --heartbeat 60, a task RUNNING from the start that prints at 30 s gets a beat at
        90 s and 150 s (each after 60 s of silence), saying how long it has been RUNNING and
        since the last line; a line at 170 s moves the next beat to 230 s."""
        events = await pulse(
            every=60.0,
            steps=((0.0, status("RUNNING")), (30.0, line), (170.0, line)),
            run_for=240.0,
        )
        assert events == [
            (90.0, "info", "still RUNNING after 1m 30s; last log line 1m 00s ago"),
            (150.0, "info", "still RUNNING after 2m 30s; last log line 2m 00s ago"),
            (230.0, "info", "still RUNNING after 3m 50s; last log line 1m 00s ago"),
        ]

    async def test_a_status_change_breaks_the_silence(self) -> None:
        """A status change is a line on stderr: the next beat is counted from it."""
        events = await pulse(
            every=10.0,
            steps=((0.0, status("PROVISIONING")), (8.0, status("PENDING"))),
            run_for=30.0,
        )
        assert events == [
            (18.0, "info", "still PENDING after 10 s; no log line yet"),
            (28.0, "info", "still PENDING after 20 s; no log line yet"),
        ]

    async def test_zero_turns_heartbeats_off(self) -> None:
        """--heartbeat 0: however long the silence, no beat."""
        assert await pulse(every=0.0, steps=((0.0, status("RUNNING")),), run_for=600.0) == []


class TestBudgetWarning:
    async def test_one_warning_a_minute_ahead(self) -> None:
        """--timeout 600: one warning at 540 s saying the task is stopped in a minute and that
        --timeout gives it longer; no second one."""
        events = await pulse(
            every=0.0, budget_seconds=600.0, steps=((0.0, status("RUNNING")),), run_for=700.0
        )
        assert events == [
            (
                540.0,
                "warning",
                (
                    "the task will be stopped in 1m 00s if it is still running:"
                    " give it longer with --timeout"
                ),
            )
        ]

    async def test_running_out_of_checks_ends_the_watch_not_the_task(self) -> None:
        """--max-attempts 100 every 6 s (the default): the warning at 534 s says watching ends
        in a minute, that the task will go on running, and which flag does what."""
        events = await pulse(
            every=0.0, max_attempts=100, steps=((0.0, status("RUNNING")),), run_for=700.0
        )
        assert events == [
            (
                534.0,
                "warning",
                (
                    "watching ends in 1m 00s; the task will go on running: watch longer with"
                    " --max-attempts, or give it a deadline with --timeout"
                ),
            )
        ]

    async def test_half_the_budget_ahead_when_it_is_short(self) -> None:
        """--timeout 90: the warning comes at 45 s, beside the heartbeats."""
        events = await pulse(
            every=30.0, budget_seconds=90.0, steps=((0.0, status("RUNNING")),), run_for=80.0
        )
        assert events == [
            (30.0, "info", "still RUNNING after 30 s; no log line yet"),
            (
                45.0,
                "warning",
                (
                    "the task will be stopped in 45 s if it is still running:"
                    " give it longer with --timeout"
                ),
            ),
            (60.0, "info", "still RUNNING after 1m 00s; no log line yet"),
        ]


class TestMessage:
    def test_several_tasks_are_each_named(self) -> None:
        """With --count 2 each task's status is said with its label."""
        facts = RunFacts(began_at=0.0, began_wall=0.0)
        first = facts.track(task_arn="arn/c/aaaa", log_stream="s1", label="[aaaa] ")
        facts.track(task_arn="arn/c/bbbb", log_stream="s2", label="[bbbb] ")
        first.saw("RUNNING", {}, at=5.0)
        assert (
            heartbeat_message(facts.tasks, now=65.0, last_line_at=None)
            == "[aaaa] still RUNNING after 1m 00s, [bbbb] waiting for ECS to show the task;"
            " no log line yet"
        )
