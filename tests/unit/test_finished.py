"""Which stopped tasks of this run count as "already succeeded"."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ecs_one_off_task.finished import all_succeeded, newest_that_ran


def task(n: int, exit_code: int | None, definition: str = "mig:1") -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:eu-west-1:1:task/prod/{n}",
        "taskDefinitionArn": definition,
        "createdAt": datetime(2026, 12, 1, 10, n, tzinfo=UTC),
        "containers": [{"name": "mig", "exitCode": exit_code}],
    }


def same(t: Any) -> bool:
    return bool(t["taskDefinitionArn"] == "mig:1")


def test_the_newest_that_ran_decides() -> None:
    """A failure, then a success: the success is the newest; the reverse is not a success."""
    assert newest_that_ran([task(1, 3), task(2, 0)], container="mig", count=1) == (task(2, 0),)
    newest = newest_that_ran([task(2, 3), task(1, 0)], container="mig", count=1)
    assert not all_succeeded(newest, container="mig", same_content=same)


def test_a_start_that_never_ran_does_not_count() -> None:
    """A failed start after the success (no exit code) is skipped: the success still counts."""
    newest = newest_that_ran([task(1, 0), task(2, None)], container="mig", count=1)
    assert all_succeeded(newest, container="mig", same_content=same)


def test_other_content_is_not_this_run() -> None:
    """An exit 0 of another definition's content: started again."""
    newest = newest_that_ran([task(1, 0, "mig:7")], container="mig", count=1)
    assert not all_succeeded(newest, container="mig", same_content=same)


def test_count_needs_as_many_successes() -> None:
    """--count 3 needs the newest three to have exited 0; two are not enough."""
    assert newest_that_ran([task(1, 0), task(2, 0)], container="mig", count=3) == ()
    three = newest_that_ran([task(1, 0), task(2, 0), task(3, 0)], container="mig", count=3)
    assert all_succeeded(three, container="mig", same_content=same)
