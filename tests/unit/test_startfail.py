"""Which failed starts are started again: the table of real ECS messages, and the rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ecs_one_off_task.startfail import (
    KNOWN_MESSAGES,
    Verdict,
    run_task_failure,
    stopped_before_running,
    verdict_of,
)

ARN = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0f3a9c2e1b7d4e56a8c9d2e4f6a8b0c1"


def stopped(
    *,
    reason: str | None,
    stop_code: str = "TaskFailedToStart",
    exit_code: int | None = None,
    started: bool = False,
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskArn": ARN,
        "lastStatus": "STOPPED",
        "stopCode": stop_code,
        "stoppedReason": reason,
        "containers": [{"name": "migrate", "exitCode": exit_code, "reason": reason}],
    }
    if started:
        task["startedAt"] = datetime(2026, 12, 1, tzinfo=UTC)
    return task


@pytest.mark.parametrize(("message", "verdict"), KNOWN_MESSAGES)
def test_every_known_message_gets_its_verdict(message: str, verdict: Verdict) -> None:
    """Each real ECS message of the table gets the verdict written beside it."""
    assert verdict_of(message) is verdict


@pytest.mark.parametrize(
    "message",
    [
        "CannotPullContainerError: pull access denied: i/o timeout",
        "ResourceInitializationError: AccessDeniedException: context deadline exceeded",
        "Timeout waiting for network interface provisioning: subnet-0a not found",
    ],
)
def test_never_retry_wins_over_transient_words(message: str) -> None:
    """A reason that says both (denied and timed out, not found and timeout): never retried."""
    assert verdict_of(message) is Verdict.NEVER


def test_an_unknown_reason_is_not_retried() -> None:
    """A reason not known to pass ends the run, as before (exit 125)."""
    assert verdict_of("Something nobody has seen before") is Verdict.NEVER


class TestStoppedTask:
    def test_a_passing_reason_before_the_container_ran_is_retried(self) -> None:
        """No exit code, no startedAt, an ENI timeout: start again, naming the reason once."""
        failure = stopped_before_running(
            stopped(reason="Timeout waiting for network interface provisioning to complete."),
            "migrate",
        )
        assert failure is not None
        assert failure.retry
        assert failure.reason == "Timeout waiting for network interface provisioning to complete."
        assert (failure.task_arn, failure.stop_code) == (ARN, "TaskFailedToStart")

    @pytest.mark.parametrize(
        "task",
        [
            stopped(reason="Essential container in task exited", exit_code=1),
            stopped(reason="Essential container in task exited", exit_code=0),
            stopped(reason="Host EC2 (instance i-0a1b2c3d4e5f67890) terminated.", started=True),
        ],
    )
    def test_a_container_that_started_is_never_started_again(self, task: dict[str, Any]) -> None:
        """Any exit code, or a startedAt: the command may have begun; not a failed start."""
        assert stopped_before_running(task, "migrate") is None

    def test_a_spot_interruption_before_the_start_is_retried(self) -> None:
        """A stopCode SpotInterruption with the Spot reason, before the container started."""
        task = stopped(reason="Your Spot Task was interrupted.", stop_code="SpotInterruption")
        failure = stopped_before_running(task, "migrate")
        assert failure is not None
        assert failure.retry

    def test_a_task_someone_stopped_is_not_started_again(self) -> None:
        """A stopCode UserInitiated: someone called StopTask; starting again overrules them."""
        task = stopped(reason="Timeout: stopped during deploy", stop_code="UserInitiated")
        failure = stopped_before_running(task, "migrate")
        assert failure is not None
        assert not failure.retry


class TestRunTaskFailures:
    def test_every_reason_passing_is_retried(self) -> None:
        """RESOURCE:MEMORY and AGENT for two tasks: both pass, start again."""
        failure = run_task_failure(("RESOURCE:MEMORY", "AGENT"))
        assert failure.retry
        assert (failure.task_arn, failure.reason) == (None, "RESOURCE:MEMORY; AGENT")

    def test_one_reason_that_does_not_pass_stops_the_retries(self) -> None:
        """RESOURCE:CPU beside ATTRIBUTE (a placement constraint nothing meets): not retried."""
        assert not run_task_failure(("RESOURCE:CPU", "ATTRIBUTE")).retry

    def test_no_reason_is_not_retried(self) -> None:
        """A RunTask with no task and no failure: nothing says it would pass."""
        assert not run_task_failure(()).retry
