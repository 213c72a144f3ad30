"""The real CLI against the emulator: where the one-off task runs and what its revision carries.

Each test asserts the exact RegisterTaskDefinition and RunTask requests the emulator received.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import FAST, CliRun, writes
from tests.emulator import Emulator, LogLine, Timeline, lines_every
from tests.emulator.seed import Reference

Cli = Callable[..., CliRun]
TASK_DEFINITION_ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}"


def args(task_name: str, *extra: str, cluster: str = "myEcsCluster") -> list[str]:
    """A run of `task_name` on `cluster` with fast polling; the reference comes from `extra`."""
    return [
        "--task-name", task_name, "--cluster", cluster, "--image", "myapp:v2", *FAST, *extra,
        "--", "rake", "db:migrate",
    ]  # fmt: skip


def run_task(emu: Emulator) -> dict[str, Any]:
    """The one RunTask request of the test, without the clientToken the SDK adds."""
    [call] = emu.calls_to("RunTask")
    return {k: v for k, v in call.params.items() if k != "clientToken"}


def registered(emu: Emulator) -> dict[str, Any]:
    """The one RegisterTaskDefinition request of the test."""
    [call] = emu.calls_to("RegisterTaskDefinition")
    return call.params


def awsvpc(subnets: list[str], groups: list[str], public: str) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": subnets,
            "securityGroups": groups,
            "assignPublicIp": public,
        }
    }


class TestFromService:
    def test_a_fargate_service_is_a_whole_command(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """--from-service web with no --from-task: the service's task definition is the
        reference, and its launch type, platform version, network and ECS Exec are copied."""
        run = cli(*args(task_name, "--from-service", "web"))
        assert run.exit_code == 0
        assert run_task(emu) == {
            "cluster": "myEcsCluster",
            "count": 1,
            "startedBy": "ecs-one-off-task",
            "launchType": "FARGATE",
            "platformVersion": "1.4.0",
            "networkConfiguration": awsvpc(
                list(reference.subnets[:2]), [reference.security_group_id], "DISABLED"
            ),
            "enableExecuteCommand": True,
            "taskDefinition": TASK_DEFINITION_ARN.format(family=task_name, revision=1),
        }
        definition = registered(emu)
        assert (definition["requiresCompatibilities"], definition["networkMode"]) == (
            ["FARGATE"],
            "awsvpc",
        )
        assert (definition["cpu"], definition["memory"]) == ("256", "512")
        [container] = definition["containerDefinitions"]
        assert (container["image"], container["command"]) == ("myapp:v2", ["rake", "db:migrate"])
        assert container["secrets"][0]["name"] == "DATABASE_URL"
        started = run.event_with("runs_on")
        assert started["runs_on"] == "launch type FARGATE (service web)"
        assert started["from_service"] == [
            "launch type",
            "subnets",
            "security groups",
            "assignPublicIp",
            "platform version",
            "enableExecuteCommand",
        ]
        assert run.event_with("reference")["reference"] == (reference.fargate_task_definition_arn)

    def test_each_flag_overrides_the_field_it_names(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """--subnets, --assign-public-ip and --platform-version replace the service's values;
        the security groups still come from the service."""
        subnet = reference.subnets[3]
        run = cli(
            *args(
                task_name,
                "--from-service", "web", "--subnets", subnet, "--assign-public-ip",
                "--platform-version", "LATEST",
            )
        )  # fmt: skip
        assert run.exit_code == 0
        request = run_task(emu)
        assert request["networkConfiguration"] == awsvpc(
            [subnet], [reference.security_group_id], "ENABLED"
        )
        assert request["platformVersion"] == "LATEST"
        assert run.event_with("runs_on")["from_service"] == [
            "launch type",
            "security groups",
            "enableExecuteCommand",
        ]

    def test_a_capacity_provider_service(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """A service on FARGATE_SPOT and FARGATE passes its strategy (no launch type) and its
        public IP setting; --no-assign-public-ip turns that off."""
        run = cli(*args(task_name, "--from-service", "worker", "--no-assign-public-ip"))
        assert run.exit_code == 0
        request = run_task(emu)
        assert "launchType" not in request
        assert request["capacityProviderStrategy"] == [
            {"capacityProvider": "FARGATE_SPOT", "weight": 3, "base": 0},
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
        ]
        assert request["networkConfiguration"] == awsvpc(
            [reference.subnets[0]], [reference.security_group_id], "DISABLED"
        )
        assert run.event_with("runs_on")["runs_on"] == (
            "capacity providers FARGATE_SPOT:3:0, FARGATE:1:1 (service worker)"
        )

    def test_launch_type_beats_the_services_strategy(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--launch-type FARGATE with a capacity-provider service: a launch type, no strategy."""
        run = cli(*args(task_name, "--from-service", "worker", "--launch-type", "FARGATE"))
        assert run.exit_code == 0
        request = run_task(emu)
        assert request["launchType"] == "FARGATE"
        assert "capacityProviderStrategy" not in request

    @pytest.mark.parametrize("service", ["nosuch", "retired"])
    def test_unknown_or_inactive_service_is_2_before_any_write(
        self, emu: Emulator, cli: Cli, task_name: str, service: str
    ) -> None:
        """A service that does not exist, or was deleted (INACTIVE), is exit 2 naming cluster
        and service, with no write call."""
        if service == "retired":
            ecs = emu.boto3_client("ecs")
            ecs.create_service(
                cluster="myEcsCluster", serviceName="retired", taskDefinition="myapp"
            )
            ecs.delete_service(cluster="myEcsCluster", service="retired", force=True)
            emu.clear_calls()
        run = cli(*args(task_name, "--from-service", service))
        assert run.exit_code == 2
        assert run.final_error == (
            f"service {service!r} not found on cluster 'myEcsCluster' (or not ACTIVE)"
        )
        assert writes(emu) == []


class TestWhereTheTaskRuns:
    def test_the_seed_example_still_runs_on_ec2(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Without a launch flag, a service or a cluster default: EC2, as the original script."""
        run = cli(*args(task_name, "--from-task", "myapp"))
        assert run.exit_code == 0
        assert run_task(emu)["launchType"] == "EC2"
        assert run.event_with("runs_on")["runs_on"] == "launch type EC2 (default)"
        assert registered(emu)["requiresCompatibilities"] == ["EC2"]

    def test_the_clusters_default_strategy_is_left_to_aws(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """On a cluster whose default strategy is FARGATE_SPOT, RunTask gets neither a launch
        type nor a strategy, and the revision is a Fargate one."""
        run = cli(
            *args(
                task_name, "--from-task", "myapp-fargate", "--subnets", reference.subnets[0],
                "--security-groups", reference.security_group_id, cluster=reference.spot_cluster,
            )
        )  # fmt: skip
        assert run.exit_code == 0
        request = run_task(emu)
        assert "launchType" not in request
        assert "capacityProviderStrategy" not in request
        assert registered(emu)["requiresCompatibilities"] == ["FARGATE"]
        assert run.event_with("runs_on")["runs_on"] == (
            "capacity providers FARGATE_SPOT:1:0 (the cluster's default capacity provider strategy)"
        )

    def test_capacity_provider_flags(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """--capacity-provider NAME[:WEIGHT[:BASE]], repeated, is the strategy; FARGATE_SPOT
        makes the revision a Fargate one."""
        run = cli(
            *args(
                task_name, "--from-task", "myapp", "--capacity-provider", "FARGATE_SPOT:2:1",
                "--capacity-provider", "FARGATE", "--subnets", reference.subnets[0],
                "--security-groups", reference.security_group_id,
            )
        )  # fmt: skip
        assert run.exit_code == 0
        assert run_task(emu)["capacityProviderStrategy"] == [
            {"capacityProvider": "FARGATE_SPOT", "weight": 2, "base": 1},
            {"capacityProvider": "FARGATE", "weight": 1, "base": 0},
        ]
        definition = registered(emu)
        assert definition["requiresCompatibilities"] == ["FARGATE"]
        assert definition["networkMode"] == "awsvpc"


class TestRefusedBeforeAnyWrite:
    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (["--from-service", "web", "--cpu", "256", "--memory", "4096"],
             ("Fargate does not offer 4096 MiB with 256 CPU units; valid memory (MiB) for 256"
              " CPU: 512 (512 MiB), 1024 (1 GiB), 2048 (2 GiB)")),
            (["--from-service", "web", "--cpu", "1024", "--memory", "1536"],
             "valid memory (MiB) for 1024 CPU: 2048 (2 GiB), 3072 (3 GiB), 4096 (4 GiB)"),
            (["--from-service", "web", "--cpu", "300"],
             "Fargate has no task size with 300 CPU units"),
            (["--from-task", "big-container", "--launch-type", "FARGATE", "--subnets", "s"],
             "the containers ask for 1024 MiB, more than the task's 512 MiB"),
            (["--from-task", "myapp", "--capacity-provider", "NOPE"],
             ("capacity provider 'NOPE' is not available on cluster 'myEcsCluster'"
              " (it has: FARGATE, FARGATE_SPOT)")),
            (["--from-task", "myapp", "--launch-type", "EC2", "--capacity-provider", "FARGATE"],
             "give --launch-type or --capacity-provider, not both"),
            (["--from-task", "myapp", "--dry-run", "--from-service", "nosuch"],
             "service 'nosuch' not found on cluster 'myEcsCluster'"),
        ],
    )  # fmt: skip
    def test_mistakes_are_2_with_zero_writes(
        self, emu: Emulator, cli: Cli, task_name: str, extra: list[str], message: str
    ) -> None:
        """Invalid Fargate sizes, a container larger than its task, an unknown provider, both
        launch flags, an unknown service: exit 2, one line naming it, no write call at all."""
        ecs = emu.boto3_client("ecs")
        ecs.register_task_definition(
            family="big-container",
            containerDefinitions=[{"name": "app", "image": "app:1", "memory": 1024}],
        )
        emu.clear_calls()
        run = cli(*args(task_name, *extra))
        assert run.exit_code == 2
        assert message in (run.final_error if run.events else run.stderr)
        assert writes(emu) == []


class TestOverrides:
    def test_overrides_change_the_revision_and_the_same_inputs_reuse_it(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """--env replaces and adds, --secret replaces and adds, --cpu/--memory size the one-off
        container on EC2, the role flags replace the roles; run twice, one revision."""
        other = "arn:aws:ssm:us-east-1:123456789012:parameter/other"
        extra = "arn:aws:ssm:us-east-1:123456789012:parameter/extra"
        overrides = [
            "--from-task", "myapp", "--env", "RAILS_ENV=staging", "--env", "NEW=1",
            "--secret", f"DATABASE_URL={other}", "--secret", f"EXTRA={extra}",
            "--cpu", "512", "--memory", "1024",
            "--task-role-arn", reference.execution_role_arn,
            "--execution-role-arn", reference.task_role_arn,
        ]  # fmt: skip
        first = cli(*args(task_name, *overrides))
        assert first.exit_code == 0
        definition = registered(emu)
        [container] = definition["containerDefinitions"]
        assert container["environment"] == [
            {"name": "PLANTED_VALUE", "value": reference.planted_value},
            {"name": "RAILS_ENV", "value": "staging"},
            {"name": "NEW", "value": "1"},
        ]
        assert container["secrets"] == [
            {"name": "SECRET_KEY_BASE", "valueFrom": reference.secret_key_base_arn},
            {"name": "DATABASE_URL", "valueFrom": other},
            {"name": "EXTRA", "valueFrom": extra},
        ]
        assert (container["cpu"], container["memory"]) == (512, 1024)
        assert "memoryReservation" not in container
        assert definition["taskRoleArn"] == reference.execution_role_arn
        assert definition["executionRoleArn"] == reference.task_role_arn
        second = cli(*args(task_name, *overrides))
        assert second.exit_code == 0
        assert len(emu.calls_to("RegisterTaskDefinition")) == 1
        reused = next(e for e in second.events if e["event"].startswith("revision 1 reused"))
        assert reused["task_definition"] == TASK_DEFINITION_ARN.format(family=task_name, revision=1)

    def test_env_values_are_never_printed(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """An --env value is redacted in the tool's own output, as the reference's are."""
        secret = "tok-9f8e7d6c5b4a"  # noqa: S105 - a planted value to search for
        run = cli(*args(task_name, "--from-task", "myapp", "--env", f"API_TOKEN={secret}"))
        assert run.exit_code == 0
        assert secret not in run.stderr
        [container] = registered(emu)["containerDefinitions"]
        assert {"name": "API_TOKEN", "value": secret} in container["environment"]

    def test_on_fargate_cpu_and_memory_size_the_task(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """On Fargate, --cpu 1024 --memory 4096 are the task's size, and the one-off container
        sets no smaller limits of its own."""
        run = cli(*args(task_name, "--from-service", "web", "--cpu", "1024", "--memory", "4096"))
        assert run.exit_code == 0
        definition = registered(emu)
        assert (definition["cpu"], definition["memory"]) == ("1024", "4096")
        [container] = definition["containerDefinitions"]
        assert not {"cpu", "memory", "memoryReservation"} & set(container)

    def test_tags_go_on_the_revision_and_the_task(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--tag lands on RegisterTaskDefinition beside the reference's own tags (app=myapp),
        winning on the same key, and on RunTask, which propagates the revision's tags and adds
        ECS's managed tags."""
        tags = ("--tag", "team=data", "--tag", "x=1", "--tag", "app=one-off")
        run = cli(*args(task_name, "--from-task", "myapp", *tags))
        assert run.exit_code == 0
        given = [{"key": "team", "value": "data"}, {"key": "x", "value": "1"}]
        given.append({"key": "app", "value": "one-off"})
        assert registered(emu)["tags"] == [given[2], given[0], given[1]]
        request = run_task(emu)
        assert request["tags"] == given
        assert request["propagateTags"] == "TASK_DEFINITION"
        assert request["enableECSManagedTags"] is True


class TestDryRun:
    def test_prints_both_requests_and_writes_nothing(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """--dry-run reads, prints the RegisterTaskDefinition and RunTask requests as one JSON
        document with environment values redacted, exits 0, and makes no write call."""
        run = cli(
            *args(task_name, "--from-service", "web", "--env", "TOKEN=abcdef123456", "--dry-run")
        )
        assert run.exit_code == 0
        assert writes(emu) == []
        assert emu.calls_to("DescribeTasks") == []
        document = json.loads(run.stdout)
        container = document["registerTaskDefinition"]["containerDefinitions"][0]
        assert {item["value"] for item in container["environment"]} == {"********"}
        assert reference.planted_value not in run.stdout.decode()
        assert document["reuseTaskDefinition"] is None
        assert document["runTask"]["taskDefinition"] == f"{task_name}:1"
        assert document["runTask"]["launchType"] == "FARGATE"
        assert document["launch"] == "launch type FARGATE (service web)"

    def test_names_the_revision_it_would_reuse(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """After a real run, the same command with --dry-run names the revision to reuse."""
        assert cli(*args(task_name, "--from-task", "myapp")).exit_code == 0
        emu.clear_calls()
        run = cli(*args(task_name, "--from-task", "myapp", "--dry-run"))
        document = json.loads(run.stdout)
        arn = TASK_DEFINITION_ARN.format(family=task_name, revision=1)
        assert (document["registerTaskDefinition"], document["reuseTaskDefinition"]) == (None, arn)
        assert document["runTask"]["taskDefinition"] == arn
        assert writes(emu) == []


SIDECAR_REFERENCE: dict[str, Any] = {
    "family": "with-sidecars",
    "containerDefinitions": [
        {"name": "log-router", "image": "fluent-bit:3", "essential": True, "memory": 64},
        {
            "name": "app",
            "image": "app:1",
            "memory": 256,
            "dependsOn": [{"containerName": "log-router", "condition": "START"}],
            "environment": [{"name": "MODE", "value": "web"}],
        },
        {
            "name": "xray",
            "image": "xray:3",
            "essential": False,
            "memory": 64,
            "dependsOn": [{"containerName": "app", "condition": "START"}],
        },
    ],
}


@pytest.fixture
def sidecar_reference(emu: Emulator) -> str:
    """A reference of three containers: a log router, the app (chosen), an X-Ray agent."""
    emu.boto3_client("ecs").register_task_definition(**SIDECAR_REFERENCE)
    emu.clear_calls()
    return str(SIDECAR_REFERENCE["family"])


class TestSidecars:
    def test_sidecars_are_kept_and_their_failure_is_reported_not_returned(
        self, emu: Emulator, cli: Cli, task_name: str, sidecar_reference: str
    ) -> None:
        """--with-sidecars keeps the other containers and renames dependsOn on the chosen one;
        a sidecar exiting 1 while the migration exits 0 is a warning, and the exit is 0."""
        emu.script(
            task_name, Timeline(lines=(LogLine(0.0, "ok"),), runs_for=0.1, sidecar_exit_code=1)
        )
        run = cli(
            *args(
                task_name, "--from-task", sidecar_reference, "--container", "app", "--with-sidecars"
            )
        )
        assert run.exit_code == 0
        assert run.lines == ["ok"]
        containers = registered(emu)["containerDefinitions"]
        assert [c["name"] for c in containers] == ["log-router", task_name, "xray"]
        # As described by AWS (with its defaults filled in): every setting kept.
        assert SIDECAR_REFERENCE["containerDefinitions"][0].items() <= containers[0].items()
        assert containers[1]["dependsOn"] == [{"containerName": "log-router", "condition": "START"}]
        assert containers[2]["dependsOn"] == [{"containerName": task_name, "condition": "START"}]
        warned = [e for e in run.events if e["event"] == "a sidecar container exited with an error"]
        assert [(w["container"], w["exit_code"]) for w in warned] == [
            ("log-router", 1),
            ("xray", 1),
        ]

    def test_a_sidecar_that_stops_the_task_first_is_125_naming_it(
        self, emu: Emulator, cli: Cli, task_name: str, sidecar_reference: str
    ) -> None:
        """An essential sidecar that exits before the migration ran: exit 125, naming it."""
        emu.script(
            task_name,
            Timeline(
                fails_to_start=True,
                failure_stop_code="EssentialContainerExited",
                failure_reason="Essential container in task exited",
                sidecar_exit_code=1,
            ),
        )
        run = cli(
            *args(
                task_name, "--from-task", sidecar_reference, "--container", "app", "--with-sidecars"
            )
        )
        assert run.exit_code == 125
        message = run.final_error
        assert "stopCode: EssentialContainerExited" in message
        assert "stopped by sidecar 'log-router' (exit code 1)" in message

    def test_without_the_flag_only_the_chosen_container_is_taken(
        self, emu: Emulator, cli: Cli, task_name: str, sidecar_reference: str
    ) -> None:
        """The same reference without --with-sidecars: one container, no dependsOn."""
        run = cli(*args(task_name, "--from-task", sidecar_reference, "--container", "app"))
        assert run.exit_code == 0
        [container] = registered(emu)["containerDefinitions"]
        assert container["name"] == task_name
        assert "dependsOn" not in container


class TestCount:
    def test_three_tasks_every_line_once_prefixed_and_the_failing_code(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--count 3: one RunTask of 3; every line of every task once, in its task's order,
        prefixed with the task id; the exit code is the failing task's (4)."""
        emu.script(
            task_name,
            Timeline(lines=lines_every(5, 0.05), runs_for=0.4, exit_codes=(0, 4, 0)),
        )
        run = cli(*args(task_name, "--from-task", "myapp", "--count", "3"))
        assert run.exit_code == 4
        assert run_task(emu)["count"] == 3
        task_ids = [r.task_id for r in emu.task_records() if r.family == task_name]
        assert len(task_ids) == 3
        expected = [f"line {i}" for i in range(1, 6)]
        assert run.lines_by_task(task_ids) == dict.fromkeys(task_ids, expected) | {"": []}

    def test_one_describetasks_a_poll_for_all_the_tasks(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--count 3: each DescribeTasks after RunTask describes the three tasks together (they
        stop together), not one call per task."""
        emu.script(task_name, Timeline(lines=lines_every(3, 0.05), runs_for=0.5))
        run = cli(*args(task_name, "--from-task", "myapp", "--count", "3"))
        assert run.exit_code == 0
        arns = sorted(r.task_arn for r in emu.task_records() if r.family == task_name)
        described = [sorted(c.params["tasks"]) for c in emu.calls_to("DescribeTasks")]
        assert described
        assert described == [arns] * len(described)

    def test_fewer_tasks_than_asked_are_stopped_and_125(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """AWS starts 2 of 3 (no start retries): both are stopped and the exit is 125 naming
        the failure."""
        emu.script(task_name, Timeline(runs_for=math.inf, places_at_most=2))
        run = cli(*args(task_name, "--from-task", "myapp", "--count", "3", "--start-retries", "0"))
        assert run.exit_code == 125
        assert run.final_error == "RunTask started 2 of 3 tasks: RESOURCE:MEMORY"
        started = {r.task_arn for r in emu.task_records() if r.family == task_name}
        assert {c.params["task"] for c in emu.calls_to("StopTask")} == started

    def test_a_timeout_stops_every_task(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """--count 2 --timeout: both tasks are stopped, watched until STOPPED, exit 124."""
        emu.script(task_name, Timeline(runs_for=math.inf, stopping=0.1))
        run = cli(*args(task_name, "--from-task", "myapp", "--count", "2", "--timeout", "0.5"))
        assert run.exit_code == 124
        records = [r for r in emu.task_records() if r.family == task_name]
        assert {c.params["task"] for c in emu.calls_to("StopTask")} == {r.task_arn for r in records}
        assert all(emu.task_record(r.task_arn).status == "STOPPED" for r in records)
