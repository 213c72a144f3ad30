"""The status lines of a followed task: one for each real change."""

from __future__ import annotations

from structlog.testing import capture_logs

from ecs_one_off_task.facts import TaskFacts
from ecs_one_off_task.tracking import _status_changed

ARN = "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef"


def test_the_same_status_seen_by_a_new_watcher_is_not_a_change() -> None:
    """After StopTask a new watcher starts; its first poll may still see RUNNING (ECS keeps it
    until the container exits): no "RUNNING after 9 s in RUNNING" line, and the time in
    RUNNING runs on; the next real change is said with the whole time RUNNING."""
    task = TaskFacts(task_arn=ARN, log_stream="s", started_as=("PROVISIONING", 0.0))
    with capture_logs() as logs:
        _status_changed(task, "RUNNING", {"lastStatus": "RUNNING"}, at=1.0)
        _status_changed(
            task, "RUNNING", {"lastStatus": "RUNNING", "desiredStatus": "STOPPED"}, at=10.0
        )
        _status_changed(task, "DEACTIVATING", {"desiredStatus": "STOPPED"}, at=12.0)
    assert [entry["event"] for entry in logs] == [
        "RUNNING after 1 s in PROVISIONING",
        "DEACTIVATING after 11 s in RUNNING (desired STOPPED)",
    ]
    assert task.description == {"desiredStatus": "STOPPED"}
    assert task.statuses == [("PROVISIONING", 0.0), ("RUNNING", 1.0), ("DEACTIVATING", 12.0)]
