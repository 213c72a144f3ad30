"""The one-off task definition built from the reference one."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import pytest

from ecs_one_off_task.config import LaunchType, Overrides, TaskSpec
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.taskdef import (
    Built,
    build_task_definition,
    environment_values,
    is_same_definition,
)

REFERENCE: dict[str, Any] = {
    "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/myapp:7",
    "family": "myapp",
    "revision": 7,
    "status": "ACTIVE",
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "taskRoleArn": "arn:aws:iam::123456789012:role/myappTaskRole",
    "networkMode": "bridge",
    "requiresCompatibilities": ["EC2"],
    "compatibilities": ["EC2"],
    "containerDefinitions": [
        {
            "name": "myapp",
            "image": "myapp:v1",
            "cpu": 256,
            "memory": 512,
            "memoryReservation": 256,
            "essential": True,
            "command": ["rails", "server"],
            "portMappings": [{"containerPort": 3000, "hostPort": 0, "protocol": "tcp"}],
            "environment": [{"name": "RAILS_ENV", "value": "production"}],
            "secrets": [{"name": "DATABASE_URL", "valueFrom": "arn:aws:ssm:::parameter/db"}],
            "environmentFiles": [{"value": "arn:aws:s3:::myapp-config/myapp.env", "type": "s3"}],
            "healthCheck": {"command": ["CMD", "true"]},
        }
    ],
}

SPEC = TaskSpec(
    task_name="myapp-db-migrations",
    reference="myapp",
    image="myapp:v2",
    command=("bundle", "exec", "rake", "db:migrate"),
    log_group="/ecs/myapp-db-migrations",
)


def built(
    reference: dict[str, Any] = REFERENCE,
    *,
    launch_type: LaunchType = LaunchType.EC2,
    **changes: Any,
) -> Built:
    spec = TaskSpec(**{**SPEC.__dict__, **changes})
    return build_task_definition(reference, spec, region="us-east-1", compatibility=launch_type)


def build(
    reference: dict[str, Any] = REFERENCE,
    *,
    launch_type: LaunchType = LaunchType.EC2,
    **changes: Any,
) -> dict[str, Any]:
    return built(reference, launch_type=launch_type, **changes).definition


class TestBuildTaskDefinition:
    def test_carries_what_the_app_needs_and_nothing_a_service_needs(self) -> None:
        """The one-off container gets the new image and command, the reference's secrets,
        environment files, environment, roles and sizes, our awslogs config, and no ports or
        health check."""
        assert build() == {
            "family": "myapp-db-migrations",
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
            "taskRoleArn": "arn:aws:iam::123456789012:role/myappTaskRole",
            "networkMode": "bridge",
            "requiresCompatibilities": ["EC2"],
            "containerDefinitions": [
                {
                    "name": "myapp-db-migrations",
                    "image": "myapp:v2",
                    "essential": True,
                    "command": ["bundle", "exec", "rake", "db:migrate"],
                    "cpu": 256,
                    "memory": 512,
                    "memoryReservation": 256,
                    "environment": [{"name": "RAILS_ENV", "value": "production"}],
                    "secrets": [
                        {"name": "DATABASE_URL", "valueFrom": "arn:aws:ssm:::parameter/db"}
                    ],
                    "environmentFiles": [
                        {"value": "arn:aws:s3:::myapp-config/myapp.env", "type": "s3"}
                    ],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": "/ecs/myapp-db-migrations",
                            "awslogs-region": "us-east-1",
                            "awslogs-stream-prefix": "ecs",
                        },
                    },
                }
            ],
        }

    def test_does_not_modify_the_reference(self) -> None:
        """Building reads the reference only: it is equal to itself before and after."""
        reference = copy.deepcopy(REFERENCE)
        build(reference)
        assert reference == REFERENCE

    def test_entrypoint_is_set_only_when_given(self) -> None:
        """An entry point given as words replaces the image's; none given keeps the image's."""
        assert "entryPoint" not in build()["containerDefinitions"][0]
        with_entrypoint = build(entrypoint=("sh", "-c"))
        assert with_entrypoint["containerDefinitions"][0]["entryPoint"] == ["sh", "-c"]

    def test_seed_sizes_when_the_reference_sets_none(self) -> None:
        """Without container sizes in the reference the seed's 128/400/300 apply."""
        reference = copy.deepcopy(REFERENCE)
        for field in ("cpu", "memory", "memoryReservation"):
            del reference["containerDefinitions"][0][field]
        container = build(reference)["containerDefinitions"][0]
        assert (container["cpu"], container["memory"], container["memoryReservation"]) == (
            128,
            400,
            300,
        )

    def test_memory_fields_are_inherited_together(self) -> None:
        """A reference with only a hard memory limit keeps it alone: no default reservation
        larger than the limit."""
        reference = copy.deepcopy(REFERENCE)
        reference["containerDefinitions"][0]["memory"] = 256
        del reference["containerDefinitions"][0]["memoryReservation"]
        container = build(reference)["containerDefinitions"][0]
        assert container["memory"] == 256
        assert "memoryReservation" not in container

    def test_absent_roles_stay_absent(self) -> None:
        """A reference without a task role gives a definition without one (not an empty one)."""
        reference = copy.deepcopy(REFERENCE)
        del reference["taskRoleArn"]
        assert "taskRoleArn" not in build(reference)

    def test_fargate_gets_awsvpc_and_task_sizes(self) -> None:
        """FARGATE needs awsvpc, the FARGATE compatibility and task-level cpu and memory."""
        definition = build(launch_type=LaunchType.FARGATE)
        assert definition["networkMode"] == "awsvpc"
        assert definition["requiresCompatibilities"] == ["FARGATE"]
        assert (definition["cpu"], definition["memory"]) == ("256", "512")

    def test_custom_log_settings(self) -> None:
        """--log-group and --log-stream-prefix land in the awslogs options."""
        options = build(log_group="/custom", log_stream_prefix="one-off")["containerDefinitions"][
            0
        ]["logConfiguration"]["options"]
        assert options["awslogs-group"] == "/custom"
        assert options["awslogs-stream-prefix"] == "one-off"


class TestIsSameDefinition:
    def described(self, desired: dict[str, Any]) -> dict[str, Any]:
        """What DescribeTaskDefinition gives back for `desired`: bookkeeping and empty
        defaults added, list order of the environment changed."""
        described = copy.deepcopy(desired)
        described.update(
            taskDefinitionArn="arn:aws:ecs:us-east-1:1:task-definition/myapp-db-migrations:3",
            revision=3,
            status="ACTIVE",
            compatibilities=["EC2"],
            volumes=[],
            placementConstraints=[],
            registeredAt="2026-11-26T00:00:00Z",
        )
        container = described["containerDefinitions"][0]
        container.update(mountPoints=[], volumesFrom=[], portMappings=[], systemControls=[])
        container["environment"] = [*reversed(container["environment"])]
        return described

    def test_identical_revision_is_recognised(self) -> None:
        """A revision equal but for AWS's bookkeeping and defaults counts as the same."""
        reference = copy.deepcopy(REFERENCE)
        reference["containerDefinitions"][0]["environment"].append({"name": "B", "value": "b"})
        desired = build(reference)
        assert is_same_definition(desired, self.described(desired))

    @pytest.mark.parametrize(
        ("path", "value"),
        [
            (("image",), "myapp:v3"),
            (("command",), ["rake", "db:seed"]),
            (("environment",), [{"name": "RAILS_ENV", "value": "staging"}]),
            (("secrets",), []),
        ],
    )
    def test_any_change_needs_a_new_revision(self, path: tuple[str, ...], value: Any) -> None:
        """A new image, command, environment or secret list is not the same definition."""
        desired = build()
        existing = self.described(desired)
        existing["containerDefinitions"][0][path[0]] = value
        assert not is_same_definition(desired, existing)

    def test_changed_role_needs_a_new_revision(self) -> None:
        """A different execution role is not the same definition."""
        desired = build()
        existing = self.described(desired)
        existing["executionRoleArn"] = "arn:aws:iam::123456789012:role/other"
        assert not is_same_definition(desired, existing)


def test_environment_values_are_collected_for_redaction() -> None:
    """Every inline environment value of every reference container is to be redacted."""
    assert environment_values(REFERENCE) == frozenset({"production"})


class TestOverrides:
    def test_env_and_secrets_replace_by_name_and_add(self) -> None:
        """--env and --secret replace the same-named entries and add the others at the end."""
        spec_overrides = Overrides(
            environment=(("RAILS_ENV", "staging"), ("NEW", "1")),
            secrets=(("DATABASE_URL", "arn:other"),),
        )
        [container] = build(overrides=spec_overrides)["containerDefinitions"]
        assert container["environment"] == [
            {"name": "RAILS_ENV", "value": "staging"},
            {"name": "NEW", "value": "1"},
        ]
        assert container["secrets"] == [{"name": "DATABASE_URL", "valueFrom": "arn:other"}]

    def test_cpu_and_memory_size_the_container_on_ec2(self) -> None:
        """On EC2 --cpu/--memory are the one-off container's, and the reservation goes."""
        [container] = build(overrides=Overrides(cpu=512, memory=2048))["containerDefinitions"]
        assert (container["cpu"], container["memory"]) == (512, 2048)
        assert "memoryReservation" not in container

    def test_cpu_and_memory_size_the_task_on_fargate(self) -> None:
        """On Fargate --cpu/--memory are the task's and the container sets no limits."""
        definition = build(
            launch_type=LaunchType.FARGATE, overrides=Overrides(cpu=1024, memory=3072)
        )
        assert (definition["cpu"], definition["memory"]) == ("1024", "3072")
        assert not {"cpu", "memory", "memoryReservation"} & set(
            definition["containerDefinitions"][0]
        )

    def test_a_fargate_task_is_never_grown_to_fit(self) -> None:
        """A container bigger than the default 256/512 task is an error, not a bigger task."""
        reference = copy.deepcopy(REFERENCE)
        reference["containerDefinitions"][0]["memory"] = 1024
        with pytest.raises(UsageError, match="more than the task's 512 MiB"):
            build(reference, launch_type=LaunchType.FARGATE)

    def test_roles_are_replaced(self) -> None:
        """--task-role-arn and --execution-role-arn replace the reference's roles."""
        definition = build(overrides=Overrides(task_role_arn="arn:t", execution_role_arn="arn:e"))
        assert (definition["taskRoleArn"], definition["executionRoleArn"]) == ("arn:t", "arn:e")


class TestSidecars:
    REFERENCE: ClassVar[dict[str, Any]] = {
        "family": "app",
        "volumes": [{"name": "shared"}, {"name": "unused"}],
        "containerDefinitions": [
            {"name": "router", "image": "fluent-bit", "memory": 64},
            {
                "name": "web",
                "image": "web:1",
                "memory": 256,
                "dependsOn": [{"containerName": "router", "condition": "START"}],
                "mountPoints": [{"sourceVolume": "shared", "containerPath": "/shared"}],
            },
            {
                "name": "agent",
                "image": "agent:1",
                "dependsOn": [{"containerName": "web", "condition": "HEALTHY"}],
            },
        ],
    }

    def test_sidecars_stay_in_place_with_dependencies_renamed(self) -> None:
        """--with-sidecars keeps every other container as it is, the one-off container where
        the chosen one stood, dependsOn pointing at it by its new name (HEALTHY becoming START:
        the one-off container has no health check), and the volumes mounted."""
        definition = build(self.REFERENCE, container="web", with_sidecars=True)
        names = [c["name"] for c in definition["containerDefinitions"]]
        assert names == ["router", "myapp-db-migrations", "agent"]
        router, one_off, agent = definition["containerDefinitions"]
        assert router == self.REFERENCE["containerDefinitions"][0]
        assert one_off["dependsOn"] == [{"containerName": "router", "condition": "START"}]
        assert agent["dependsOn"] == [
            {"containerName": "myapp-db-migrations", "condition": "START"}
        ]
        assert definition["volumes"] == [{"name": "shared"}]

    def test_without_the_flag_only_the_chosen_container(self) -> None:
        """Without --with-sidecars the one-off revision has one container and the volume it
        mounts; its dependsOn is dropped, named with the reason."""
        result = built(self.REFERENCE, container="web")
        definition = result.definition
        assert [c["name"] for c in definition["containerDefinitions"]] == ["myapp-db-migrations"]
        assert "dependsOn" not in definition["containerDefinitions"][0]
        assert definition["volumes"] == [{"name": "shared"}]
        assert set(result.dropped) == {"dependsOn", "volume unused"}
