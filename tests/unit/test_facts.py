"""A task's statuses: what RunTask answered counts as the first one."""

from __future__ import annotations

from ecs_one_off_task.facts import TaskFacts

ARN = "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef"


def facts(started_as: tuple[str, float] | None) -> TaskFacts:
    return TaskFacts(task_arn=ARN, log_stream="s", started_as=started_as)


def test_a_first_poll_that_sees_running_knows_the_time_in_provisioning() -> None:
    """RunTask said PROVISIONING at t=10; the first poll, at 12.5, already sees RUNNING: the
    change is reported as 2.5 s in PROVISIONING, and both statuses are counted."""
    task = facts(("PROVISIONING", 10.0))
    assert task.saw("RUNNING", {}, at=12.5) == ("PROVISIONING", 2.5)
    assert task.seconds_in_status(until=20.0) == {"PROVISIONING": 2.5, "RUNNING": 7.5}


def test_a_first_poll_that_confirms_runtask_keeps_when_the_status_began() -> None:
    """A first poll that sees what RunTask said has no previous status, and the status is
    counted from RunTask's answer, not from the poll."""
    task = facts(("PROVISIONING", 10.0))
    assert task.saw("PROVISIONING", {}, at=11.0) is None
    assert task.saw("PENDING", {}, at=13.0) == ("PROVISIONING", 3.0)
    assert task.statuses == [("PROVISIONING", 10.0), ("PENDING", 13.0)]


def test_an_attached_task_starts_with_what_the_first_poll_sees() -> None:
    """Without RunTask's answer (an attached task), the first status seen has no previous."""
    task = facts(None)
    assert task.saw("RUNNING", {"lastStatus": "RUNNING"}, at=5.0) is None
    assert task.status == "RUNNING"
    assert task.description == {"lastStatus": "RUNNING"}
