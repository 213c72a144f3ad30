"""What to do with tasks of the family that are already running: the pure decision."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from ecs_one_off_task.existing import Action, IfRunning, decide


def task(name: str, minute: int, definition: str) -> dict[str, Any]:
    return {
        "taskArn": f"arn:task/{name}",
        "taskDefinitionArn": definition,
        "lastStatus": "RUNNING",
        "createdAt": datetime(2026, 12, 1, 10, minute, tzinfo=UTC),
    }


OLD_MINE = task("old-mine", 1, "mine")
NEW_MINE = task("new-mine", 5, "mine")
OTHER = task("other", 9, "other")


def mine(candidate: Mapping[str, Any]) -> bool:
    return bool(candidate["taskDefinitionArn"] == "mine")


class TestDecide:
    @pytest.mark.parametrize(
        ("mode", "running", "action", "about"),
        [
            (IfRunning.AUTO, [], Action.START, None),
            (IfRunning.AUTO, [OLD_MINE, OTHER, NEW_MINE], Action.ATTACH, NEW_MINE),
            (IfRunning.AUTO, [OTHER], Action.WAIT, None),
            (IfRunning.ATTACH, [OLD_MINE, OTHER], Action.ATTACH, OTHER),
            (IfRunning.WAIT, [NEW_MINE], Action.WAIT, None),
            (IfRunning.FAIL, [OLD_MINE, NEW_MINE], Action.FAIL, NEW_MINE),
            (IfRunning.START, [NEW_MINE, OTHER], Action.START, None),
        ],
    )
    def test_each_mode(
        self,
        mode: IfRunning,
        running: list[dict[str, Any]],
        action: Action,
        about: dict[str, Any] | None,
    ) -> None:
        """Auto attaches to the newest task of this run's content, else waits; attach and fail
        take the newest task; wait always waits; start ignores what runs."""
        decision = decide(mode, running, same_content=mine)
        assert (decision.action, decision.task) == (action, about)

    def test_a_retried_count_run_attaches_to_as_many_of_its_tasks(self) -> None:
        """--count 2 retried: the two newest tasks of this run's content are attached to,
        oldest first (the order their lines are labelled in), the other content ignored."""
        decision = decide(IfRunning.AUTO, [OLD_MINE, OTHER, NEW_MINE], same_content=mine, count=2)
        assert decision.action is Action.ATTACH
        assert [t["taskArn"] for t in decision.attach_to] == [
            "arn:task/old-mine",
            "arn:task/new-mine",
        ]

    def test_waiting_is_for_every_task_newest_first(self) -> None:
        """A wait covers every running task, so none is started beside any of them."""
        decision = decide(IfRunning.WAIT, [OLD_MINE, OTHER, NEW_MINE], same_content=mine)
        assert [t["taskArn"] for t in decision.waiting_for] == [
            "arn:task/other",
            "arn:task/new-mine",
            "arn:task/old-mine",
        ]
