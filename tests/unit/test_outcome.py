"""How a stopped task is classified, and which exit code the process ends with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ecs_one_off_task.outcome import exit_code_of, run_exit_code, task_end, to_monotonic

STOPPED_AT = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def task(*containers: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"lastStatus": "STOPPED", "containers": list(containers), **fields}


class TestExitCode:
    @pytest.mark.parametrize("code", [0, 1, 3, 137])
    def test_container_exit_code_passes_through(self, code: int) -> None:
        """The process ends with the container's own exit code."""
        end = task_end(task({"name": "mig", "exitCode": code}), "mig")
        assert exit_code_of(end) == code

    def test_only_our_container_counts(self) -> None:
        """A sidecar that exited 0 does not mask the migration's failure, and vice versa."""
        stopped = task({"name": "agent", "exitCode": 0}, {"name": "mig", "exitCode": 2})
        assert exit_code_of(task_end(stopped, "mig")) == 2

    def test_no_exit_code_is_125_with_the_reasons(self) -> None:
        """A task that never started its container ends 125 and says why."""
        end = task_end(
            task(
                {"name": "mig", "reason": "CannotPullContainerError: not found"},
                stopCode="TaskFailedToStart",
                stoppedReason="Task failed to start",
            ),
            "mig",
        )
        assert not end.ran
        assert exit_code_of(end) == 125
        assert end.describe() == (
            "stopCode: TaskFailedToStart; stoppedReason: Task failed to start; "
            "container reason: CannotPullContainerError: not found"
        )


class TestToMonotonic:
    def test_past_stop_is_placed_back_in_time(self) -> None:
        """A stop 4 s ago on the wall clock is 4 s before now on the monotonic clock."""
        now_wall = STOPPED_AT.timestamp() + 4
        assert to_monotonic(STOPPED_AT, now_monotonic=100.0, now_wall=now_wall) == 96.0

    def test_future_stop_is_clamped_to_now(self) -> None:
        """Clock skew cannot make the drain wait longer than the grace."""
        now_wall = STOPPED_AT.timestamp() - 3
        assert to_monotonic(STOPPED_AT, now_monotonic=100.0, now_wall=now_wall) == 100.0

    def test_missing_stop_time_is_now(self) -> None:
        """Without stoppedAt the stop counts from when it was seen."""
        assert to_monotonic(None, now_monotonic=100.0, now_wall=0.0) == 100.0


class TestSeveralTasksAndSidecars:
    @pytest.mark.parametrize(
        ("codes", "expected"),
        [((0, 0, 0), 0), ((0, 4, 2), 4), ((3, 0, 5), 3), ((0, None, 1), 125)],
    )
    def test_first_non_zero_in_task_order(
        self, codes: tuple[int | None, ...], expected: int
    ) -> None:
        """With --count, the run's code is the first non-zero one in task order (125 for a
        container that never ran), else 0."""
        ends = [task_end(task({"name": "mig", "exitCode": code}), "mig") for code in codes]
        assert run_exit_code(ends) == expected

    def test_failed_sidecars_are_listed_and_named_when_they_stopped_the_task(self) -> None:
        """A sidecar that exited 1 is reported; when our container never ran, the reason
        names it."""
        stopped = task(
            {"name": "router", "exitCode": 1},
            {"name": "proxy", "exitCode": 0},
            {"name": "mig"},
            stopCode="EssentialContainerExited",
        )
        end = task_end(stopped, "mig")
        assert [(s.name, s.exit_code) for s in end.failed_sidecars] == [("router", 1)]
        assert end.describe() == (
            "stopCode: EssentialContainerExited; stopped by sidecar 'router' (exit code 1)"
        )


class TestStarted:
    @pytest.mark.parametrize(("started_at", "started"), [(STOPPED_AT, True), (None, False)])
    def test_a_task_that_started_is_told_apart(self, started_at: Any, started: bool) -> None:
        """The task's startedAt says whether a task with no exit code had run at all."""
        end = task_end(task({"name": "mig"}, startedAt=started_at), "mig")
        assert (end.ran, end.started) == (False, started)
