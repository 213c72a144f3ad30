"""The emulator's failed starts (scripted per start) and ListTasks by startedBy, as AWS has them.

Checked through boto3 over HTTP: if these fail, a test of start retries or of the finished-run
lookup that passes says nothing about AWS.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from tests.emulator import Emulator, FailedStart, Timeline

CLUSTER = "myEcsCluster"


def register(emu: Emulator, family: str) -> Any:
    ecs = emu.boto3_client("ecs")
    ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": family, "image": "x", "memory": 64}]
    )
    return ecs


def test_each_start_fails_as_scripted_then_runs(emu: Emulator, task_name: str) -> None:
    """Start 1: RunTask places nothing (failures[] names the reason); start 2: the task stops
    before running (TaskFailedToStart, no exit code, no startedAt); start 3: it runs."""
    emu.script(
        task_name,
        Timeline(
            failed_starts=(
                FailedStart(run_task_failure="RESOURCE:CPU"),
                FailedStart(stopped_reason="Timeout waiting for network interface provisioning"),
            ),
            runs_for=0.05,
        ),
    )
    ecs = register(emu, task_name)
    refused = ecs.run_task(cluster=CLUSTER, taskDefinition=task_name)
    assert refused["tasks"] == []
    assert [f["reason"] for f in refused["failures"]] == ["RESOURCE:CPU"]
    failed = ecs.run_task(cluster=CLUSTER, taskDefinition=task_name)["tasks"][0]["taskArn"]
    ran = ecs.run_task(cluster=CLUSTER, taskDefinition=task_name)["tasks"][0]["taskArn"]
    emu.wait_until_status(failed, "STOPPED")
    emu.wait_until_status(ran, "STOPPED")
    first, second = ecs.describe_tasks(cluster=CLUSTER, tasks=[failed, ran])["tasks"]
    assert (first["stopCode"], first["containers"][0].get("exitCode")) == (
        "TaskFailedToStart",
        None,
    )
    assert "startedAt" not in first
    assert first["stoppedReason"] == "Timeout waiting for network interface provisioning"
    assert second["containers"][0]["exitCode"] == 0


@pytest.mark.parametrize("other", ["family", "serviceName", "containerInstance"])
def test_started_by_must_be_the_only_filter(emu: Emulator, other: str) -> None:
    """ListTasks with startedBy beside family, serviceName or containerInstance is refused
    with InvalidParameterException, as AWS refuses it; desiredStatus beside it is allowed."""
    ecs = emu.boto3_client("ecs")
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        ecs.list_tasks(cluster=CLUSTER, startedBy="ecs-one-off-task", **{other: "x"})
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    ecs.list_tasks(cluster=CLUSTER, startedBy="ecs-one-off-task", desiredStatus="STOPPED")


def test_stopped_tasks_by_started_by_come_in_pages_of_100(emu: Emulator, task_name: str) -> None:
    """desiredStatus=STOPPED and startedBy list only that tag's stopped tasks, 100 a page."""
    emu.script(task_name, Timeline(runs_for=0.0))
    ecs = register(emu, task_name)
    tag = f"ecs-one-off-task/{task_name}"
    arns = [
        task["taskArn"]
        for _ in range(11)
        for task in ecs.run_task(cluster=CLUSTER, taskDefinition=task_name, count=10,
                                 startedBy=tag)["tasks"]
    ]  # fmt: skip
    ecs.run_task(cluster=CLUSTER, taskDefinition=task_name, startedBy="someone-else")
    for arn in arns:
        emu.wait_until_status(arn, "STOPPED")
    first = ecs.list_tasks(cluster=CLUSTER, startedBy=tag, desiredStatus="STOPPED")
    second = ecs.list_tasks(
        cluster=CLUSTER, startedBy=tag, desiredStatus="STOPPED", nextToken=first["nextToken"]
    )
    assert len(first["taskArns"]) == 100
    assert "nextToken" not in second
    assert sorted(first["taskArns"] + second["taskArns"]) == sorted(arns)
