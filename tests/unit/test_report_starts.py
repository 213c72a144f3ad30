"""How the report tells the starts a run took, the identity and a task left running."""

from __future__ import annotations

from typing import Any

from ecs_one_off_task.facts import RunFacts, StartFacts
from ecs_one_off_task.report import build_report, markdown
from ecs_one_off_task.summary import summary

FAILED = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0a0a0a0a0a0a4a0a8a0a0a0a0a0a0a0a"
RAN = "arn:aws:ecs:eu-west-1:123456789012:task/prod/0123456789abcdef0123456789abcdef"
ENI = "Timeout waiting for network interface provisioning to complete."


def facts_of_a_second_start() -> RunFacts:
    facts = RunFacts(began_at=0.0, began_wall=1_764_000_000.0, task_name="mig", cluster="prod")
    facts.starts = [
        StartFacts(attempt=1, task_arn=FAILED, stop_code="TaskFailedToStart", reason=ENI),
        StartFacts(attempt=2, task_arn=RAN),
    ]
    task = facts.track(task_arn=RAN, log_stream="ecs/mig/0123")
    ended: dict[str, Any] = {
        "lastStatus": "STOPPED",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "mig", "exitCode": 0}],
    }
    task.saw("STOPPED", ended, at=5.0)
    facts.started_by = "ecs-one-off-task/0123"
    facts.run_identity = "--run-id: run_id=deploy-42"
    return facts


def test_the_step_summary_says_how_many_starts_it_took() -> None:
    """Two starts, the first failed: the table says so with the reason, and the identity."""
    report = build_report(
        facts_of_a_second_start(), exit_code=0, ended_at=9.0, ended_wall=1_764_000_009.0,
        tool_version="0",
    )  # fmt: skip
    text = markdown(report)
    assert f"| starts | 2: 1 could not start ({ENI}) |" in text
    assert "| run identity | --run-id: run_id=deploy-42 (`ecs-one-off-task/0123`) |" in text


def test_every_start_is_in_the_summary_and_a_task_that_ran_ends_as_its_task() -> None:
    """`attempts` lists both starts; the one that ran has its task's stop code and reason."""
    report = build_report(
        facts_of_a_second_start(), exit_code=0, ended_at=9.0, ended_wall=1_764_000_009.0,
        tool_version="0",
    )  # fmt: skip
    document = summary(report)
    assert document["attempts"] == [
        {"attempt": 1, "task_arn": FAILED, "stop_code": "TaskFailedToStart", "reason": ENI},
        {
            "attempt": 2,
            "task_arn": RAN,
            "stop_code": "EssentialContainerExited",
            "reason": "Essential container in task exited",
        },
    ]
    assert [t["task_arn"] for t in document["tasks"]] == [RAN]
    assert document["left_running"] is False
