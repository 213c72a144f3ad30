"""Where moto and AWS differ, the emulator answers as AWS does: refusals, services, sidecars,
ListTasks.

Checked through boto3 over HTTP: if these fail, a test of the tool that passes says nothing
about AWS.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import botocore.exceptions
import pytest

from tests.emulator import Emulator, Timeline
from tests.emulator.seed import Reference


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        call(**params)
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


class TestRefusals:
    @pytest.mark.parametrize(
        ("cpu", "memory", "accepted"),
        [
            ("256", "512", True), ("256", "2048", True), ("256", "3072", False),
            ("512", "4096", True), ("512", "5120", False), ("1024", "1536", False),
            ("4096", "30720", True), ("8192", "20480", True), ("8192", "18432", False),
            ("16384", "122880", True), ("16384", "40960", True), ("16384", "36864", False),
            ("300", "512", False),
        ],
    )  # fmt: skip
    def test_fargate_sizes(
        self, emu: Emulator, cpu: str, memory: str, accepted: bool, task_name: str
    ) -> None:
        """RegisterTaskDefinition of a Fargate pair AWS does not offer is a ClientException."""
        ecs = emu.boto3_client("ecs")
        params = {
            "family": task_name,
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            "cpu": cpu,
            "memory": memory,
            "containerDefinitions": [{"name": "app", "image": "app:1"}],
        }
        if accepted:
            assert ecs.register_task_definition(**params)["taskDefinition"]["cpu"] == cpu
        else:
            code, message = _error(ecs.register_task_definition, **params)
            assert code == "ClientException"
            assert message.startswith("No Fargate configuration exists for given values")

    def test_container_larger_than_its_task(self, emu: Emulator, task_name: str) -> None:
        """A container asking for more memory than the task has is a ClientException."""
        code, message = _error(
            emu.boto3_client("ecs").register_task_definition,
            family=task_name,
            cpu="256",
            memory="512",
            containerDefinitions=[{"name": "app", "image": "app:1", "memory": 1024}],
        )
        assert code == "ClientException"
        assert "greater than the task memory (512)" in message

    def test_awsvpc_without_a_network_configuration(
        self, emu: Emulator, reference: Reference
    ) -> None:
        """RunTask of an awsvpc definition without networkConfiguration is refused."""
        code, message = _error(
            emu.boto3_client("ecs").run_task,
            cluster=reference.cluster,
            taskDefinition=reference.fargate_family,
            launchType="FARGATE",
        )
        assert code == "InvalidParameterException"
        assert message == (
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )

    @pytest.mark.parametrize(
        "where",
        [
            {"launchType": "FARGATE"},
            {"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT"}]},
        ],
    )
    def test_fargate_for_a_definition_not_compatible(
        self, emu: Emulator, reference: Reference, where: dict[str, Any]
    ) -> None:
        """RunTask on Fargate of an EC2-only definition is refused."""
        code, message = _error(
            emu.boto3_client("ecs").run_task,
            cluster=reference.cluster,
            taskDefinition=reference.family,
            **where,
        )
        assert code == "InvalidParameterException"
        assert message == "Task definition does not support launch_type FARGATE."


class TestWorld:
    def test_services_keep_what_moto_drops(self, emu: Emulator, reference: Reference) -> None:
        """DescribeServices returns the capacity provider strategy and ECS Exec setting the
        services were created with, and no launch type for a strategy, as AWS does."""
        services = emu.boto3_client("ecs").describe_services(
            cluster=reference.cluster,
            services=[reference.fargate_service, reference.spot_service],
        )["services"]
        web, worker = services
        assert (web["launchType"], web["enableExecuteCommand"]) == ("FARGATE", True)
        assert "launchType" not in worker
        assert worker["capacityProviderStrategy"] == [
            {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
        ]

    def test_a_task_has_every_container_and_sidecars_exit_as_scripted(
        self, emu: Emulator, reference: Reference, task_name: str
    ) -> None:
        """A two-container task shows both containers; the one named after the family plays
        the timeline (exit 0) and the sidecar exits with `sidecar_exit_code` (1)."""
        ecs = emu.boto3_client("ecs")
        ecs.register_task_definition(
            family=task_name,
            containerDefinitions=[
                {"name": "proxy", "image": "envoy:1", "memory": 64},
                {"name": task_name, "image": "app:1", "memory": 128},
            ],
        )
        emu.script(task_name, Timeline(runs_for=0.05, exit_code=0, sidecar_exit_code=1))
        arn = ecs.run_task(cluster=reference.cluster, taskDefinition=task_name)["tasks"][0][
            "taskArn"
        ]
        emu.wait_until_status(arn, "STOPPED")
        [task] = ecs.describe_tasks(cluster=reference.cluster, tasks=[arn])["tasks"]
        assert [(c["name"], c.get("exitCode")) for c in task["containers"]] == [
            ("proxy", 1),
            (task_name, 0),
        ]


class TestListTasks:
    def test_family_desired_status_and_pages(
        self, emu: Emulator, reference: Reference, task_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ListTasks filters by family and by desiredStatus (RUNNING when not given), and pages
        with nextToken: three running tasks in pages of two, the stopped one left out."""
        monkeypatch.setattr(emu.agent, "list_tasks_page_size", 2)
        ecs = emu.boto3_client("ecs")
        ecs.register_task_definition(
            family=task_name, containerDefinitions=[{"name": "a", "image": "a", "memory": 64}]
        )
        emu.script(task_name, Timeline(runs_for=math.inf))
        arns = [
            ecs.run_task(cluster=reference.cluster, taskDefinition=task_name)["tasks"][0]["taskArn"]
            for _ in range(4)
        ]
        ecs.stop_task(cluster=reference.cluster, task=arns[0])
        first = ecs.list_tasks(cluster=reference.cluster, family=task_name)
        second = ecs.list_tasks(
            cluster=reference.cluster, family=task_name, nextToken=first["nextToken"]
        )
        assert first["taskArns"] + second["taskArns"] == arns[1:]
        assert "nextToken" not in second
        stopped = ecs.list_tasks(
            cluster=reference.cluster, family=task_name, desiredStatus="STOPPED"
        )
        assert stopped["taskArns"] == arns[:1]
        for arn in arns[1:]:
            ecs.stop_task(cluster=reference.cluster, task=arn)


class TestTaskDefinitionRules:
    """RegisterTaskDefinition and RunTask rules of the ECS developer guide that moto skips."""

    APP: ClassVar[dict[str, Any]] = {"name": "app", "image": "app:1", "memory": 256}

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"containerDefinitions": [APP, {**APP}]}, "Container names must be unique"),
            (
                {
                    "containerDefinitions": [
                        {**APP, "dependsOn": [{"containerName": "db", "condition": "START"}]}
                    ]
                },
                "Cannot depend on container + 'db' because it does not exist",
            ),
            (
                {
                    "containerDefinitions": [
                        {**APP, "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}]}
                    ]
                },
                "Unknown volume 'data'.",
            ),
            (
                {"containerDefinitions": [{**APP, "volumesFrom": [{"sourceContainer": "db"}]}]},
                "Invalid 'volumesFrom' setting. Unknown container: 'db'.",
            ),
            (
                {"containerDefinitions": [{**APP, "firelensConfiguration": {"type": "fluentbit"}}]},
                "When a firelensConfiguration object is specified",
            ),
            (
                {
                    "containerDefinitions": [
                        {**APP, "logConfiguration": {"logDriver": "awsfirelens"}}
                    ]
                },
                "When awsfirelens log driver is specified",
            ),
            (
                {
                    "containerDefinitions": [APP],
                    "tags": [{"key": "aws:cloudformation:stack-name", "value": "x"}],
                },
                "Tag key must not start with aws:",
            ),
            (
                {
                    "containerDefinitions": [{**APP, "privileged": True}],
                    "requiresCompatibilities": ["FARGATE"],
                    "networkMode": "awsvpc",
                    "cpu": "256",
                    "memory": "512",
                },
                "Fargate compatible task definitions do not support privileged",
            ),
            (
                {
                    "containerDefinitions": [APP],
                    "requiresCompatibilities": ["MANAGED_INSTANCES"],
                    "networkMode": "bridge",
                },
                "Managed Instances support the awsvpc and host network modes only",
            ),
        ],
    )
    def test_registration_refused_as_ecs_refuses(
        self, emu: Emulator, task_name: str, change: dict[str, Any], message: str
    ) -> None:
        """Each definition ECS refuses at registration is a ClientException naming why."""
        ecs = emu.boto3_client("ecs")
        code, said = _error(ecs.register_task_definition, family=task_name, **change)
        assert (code, message in said) == ("ClientException", True), said

    def test_runtask_volume_configurations_match_the_volumes_configured_at_launch(
        self, emu: Emulator, reference: Reference, task_name: str
    ) -> None:
        """RunTask of a definition with an EBS volume configured at launch needs its
        configuration, and a configuration for no such volume is refused."""
        ecs = emu.boto3_client("ecs")
        ecs.register_task_definition(
            family=task_name,
            containerDefinitions=[
                {**self.APP, "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}]}
            ],
            volumes=[{"name": "data", "configuredAtLaunch": True}],
        )
        run = {"cluster": reference.cluster, "taskDefinition": task_name, "launchType": "EC2"}
        code, message = _error(ecs.run_task, **run)
        assert (code, "configured at launch (data)" in message) == (
            "InvalidParameterException",
            True,
        )
        other = [
            {"name": "other", "managedEBSVolume": {"roleArn": "arn:aws:iam::123456789012:role/r"}}
        ]
        code, message = _error(ecs.run_task, **run, volumeConfigurations=other)
        assert message.startswith("Volume configuration provided but no matching")
