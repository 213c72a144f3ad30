"""The real CLI against the emulator: the one-off revision, reuse, and input it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import WRITES, CliRun, migration_args
from tests.emulator import Emulator, Fault, LogLine, Timeline
from tests.emulator.seed import Reference

Cli = Callable[..., CliRun]
PASSROLE_REFUSED = (
    "User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform:"
    " iam:PassRole on resource: arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
)


class TestOneOffRevision:
    def test_registered_task_definition(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """The registered revision has the new image, command and entry point, the reference's
        secrets, environment file, environment and roles, and our awslogs settings."""
        run = cli(*migration_args(task_name, "--entrypoint", "sh -c", "--", "rake db:migrate"))
        assert run.exit_code == 0
        ecs = emu.boto3_client("ecs")
        definition = ecs.describe_task_definition(taskDefinition=task_name)["taskDefinition"]
        source = ecs.describe_task_definition(taskDefinition="myapp")["taskDefinition"]
        container = definition["containerDefinitions"][0]
        original = source["containerDefinitions"][0]
        assert definition["family"] == task_name
        assert definition["executionRoleArn"] == reference.execution_role_arn
        assert definition["taskRoleArn"] == reference.task_role_arn
        assert container["name"] == task_name
        assert container["image"] == "myapp:v2"
        assert container["entryPoint"] == ["sh", "-c"]
        assert container["command"] == ["rake db:migrate"]
        assert container["secrets"] == original["secrets"]
        assert container["environmentFiles"] == original["environmentFiles"]
        assert container["environment"] == original["environment"]
        assert (container["cpu"], container["memory"]) == (original["cpu"], original["memory"])
        assert "portMappings" not in container or container["portMappings"] == []
        assert container["logConfiguration"] == {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{task_name}",
                "awslogs-region": "us-east-1",
                "awslogs-stream-prefix": "ecs",
            },
        }
        logs = emu.boto3_client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=f"/ecs/{task_name}")["logGroups"]
        assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [
            (f"/ecs/{task_name}", 7)
        ]
        run_task = emu.calls_to("RunTask")[0].params
        assert run_task["startedBy"] == "ecs-one-off-task"
        assert run_task["launchType"] == "EC2"

    def test_an_existing_log_groups_retention_is_kept_unless_asked(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """A log group that exists keeps its 30-day retention; --log-retention-days 14 sets it."""
        logs = emu.boto3_client("logs")
        group = f"/ecs/{task_name}"
        logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=30)

        def retention() -> int:
            return int(
                logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0][
                    "retentionInDays"
                ]
            )

        assert cli(*migration_args(task_name, "--command", "x")).exit_code == 0
        assert retention() == 30
        assert (
            cli(*migration_args(task_name, "--log-retention-days", "14", "--", "x")).exit_code == 0
        )
        assert retention() == 14

    def test_the_reference_is_never_modified(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Running a one-off task leaves the reference family's revisions as they were."""
        ecs = emu.boto3_client("ecs")
        before = ecs.list_task_definitions(familyPrefix="myapp")["taskDefinitionArns"]
        assert cli(*migration_args(task_name, "--command", "x")).exit_code == 0
        assert ecs.list_task_definitions(familyPrefix="myapp")["taskDefinitionArns"] == before

    def test_identical_revision_is_reused(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Re-running the same migration registers nothing new; a new image registers one."""
        args = migration_args(task_name, "--command", "rake", "db:migrate")
        assert cli(*args).exit_code == 0
        assert cli(*args).exit_code == 0
        assert emu.operations().count("RegisterTaskDefinition") == 1
        v3 = [a if a != "myapp:v2" else "myapp:v3" for a in args]
        assert cli(*v3).exit_code == 0
        ecs = emu.boto3_client("ecs")
        revisions = ecs.list_task_definitions(familyPrefix=task_name)["taskDefinitionArns"]
        assert [arn.rsplit(":", 1)[-1] for arn in revisions] == ["1", "2"]
        run_tasks = [c.params["taskDefinition"] for c in emu.calls_to("RunTask")]
        assert [arn.rsplit(":", 1)[-1] for arn in run_tasks] == ["1", "1", "2"]


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (("--from-task", "nosuchapp"), "reference task definition 'nosuchapp' not found"),
            (("--cluster", "nosuchcluster"), "ECS cluster 'nosuchcluster' not found"),
            (("--container", "nosuch"), "container 'nosuch' is not in reference task definition"),
            (("--task-name", "myapp"), "is the reference's own family"),
        ],
    )
    def test_unknown_names_are_2_and_leave_nothing_behind(
        self, emu: Emulator, cli: Cli, task_name: str, change: tuple[str, str], message: str
    ) -> None:
        """An unknown reference, cluster or container is exit 2 with one line naming it, and
        no revision is registered, no log group made, no task started."""
        args = migration_args(task_name, "--command", "x")
        if change[0] in args:
            args[args.index(change[0]) + 1] = change[1]
        else:
            args += list(change)
        run = cli(*args)
        assert run.exit_code == 2
        errors = [e for e in run.events if e["level"] == "error"]
        assert len(errors) == 1
        assert message in errors[0]["event"]
        assert not WRITES & set(emu.operations())

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--cluster", "c", "--image", "i", "--command", "x"], "required: --task-name"),
            (["--task-name", "t", "--cluster", "c", "--image", "i", "--", "x"], "--from-task"),
            (["--from-task", "myapp", "--image", "", "--", "x"], "--image must not be empty"),
            (["--from-task", "myapp", "--image", "i"], "no command"),
            (["--from-task", "myapp", "--image", "i", "--launch-type", "FARGATE", "--", "x"],
             "--launch-type FARGATE needs --subnets"),
            (["--from-task", "myapp", "--image", "i", "--log-retention-days", "10", "--", "x"],
             "argument --log-retention-days: CloudWatch accepts only 1, 3, 5, 7, 14"),
            (["--from-task", "myapp", "--image", "i", "--poll-interval", "0", "--", "x"],
             "argument --poll-interval: must be greater than 0"),
            (["--from-task", "myapp", "--image", "i", "--log-interval", "-1", "--", "x"],
             "argument --log-interval: must be greater than 0"),
            (["--from-task", "myapp", "--image", "i", "--max-attempts", "0", "--", "x"],
             "argument --max-attempts: must be a whole number greater than 0"),
        ],
    )  # fmt: skip
    def test_bad_options_are_one_plain_line_and_no_call(
        self, emu: Emulator, cli: Cli, task_name: str, args: list[str], message: str
    ) -> None:
        """A missing or bad option is refused before any AWS call, in one line on stderr."""
        if "--task-name" not in args and "required: --task-name" not in message:
            args = ["--task-name", task_name, "--cluster", "myEcsCluster", *args]
        run = cli(*args)
        assert run.exit_code == 2
        assert run.stderr.count("\n") == 1
        assert run.stderr.startswith("ecs-one-off-task: error: ")
        assert message in run.stderr
        assert emu.operations() == []

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--region", "mars-1"], "unknown AWS region 'mars-1'"),
            (["--profile", "nosuchprofile"], "AWS profile 'nosuchprofile' not found"),
            (["--no-credentials"], "no AWS credentials found (set a profile or AWS_* variables)"),
        ],
    )
    def test_unknown_region_or_profile(
        self,
        emu: Emulator,
        cli: Cli,
        task_name: str,
        args: list[str],
        message: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An unknown region or profile, or no credentials at all, is exit 2 with one line,
        before any call reaches AWS."""
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
        if args == ["--no-credentials"]:
            args = []
            monkeypatch.delenv("AWS_ACCESS_KEY_ID")
            monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        run = cli(*migration_args(task_name, *args, "--command", "x"))
        assert run.exit_code == 2
        assert [e["event"] for e in run.events] == [message]
        assert emu.operations() == []

    @pytest.mark.parametrize(
        ("operation", "message", "action"),
        [
            ("RegisterTaskDefinition", "not authorized", "ecs:RegisterTaskDefinition"),
            ("RegisterTaskDefinition", PASSROLE_REFUSED, "iam:PassRole"),
            ("CreateLogGroup", "not authorized", "logs:CreateLogGroup"),
            ("RunTask", "not authorized", "ecs:RunTask"),
            ("DescribeTaskDefinition", "not authorized", "ecs:DescribeTaskDefinition"),
        ],
    )
    def test_access_denied_names_the_iam_action(
        self, emu: Emulator, cli: Cli, task_name: str, operation: str, message: str, action: str
    ) -> None:
        """AccessDenied is exit 125 with one line naming the IAM action to grant, and no task
        is started."""
        emu.inject(Fault(operation=operation, error_code="AccessDeniedException", message=message))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 125
        errors = [e for e in run.events if e["level"] == "error"]
        assert len(errors) == 1
        assert f"access denied: grant {action} to the caller" in errors[0]["event"]
        assert not [c for c in emu.calls_to("RunTask") if not c.fault]


class TestSecrets:
    def test_environment_values_never_appear_in_the_tools_output(
        self, emu: Emulator, cli: Cli, task_name: str, reference: Reference
    ) -> None:
        """The reference's planted environment value is nowhere in what the tool printed,
        though the container's own line is passed through as written."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "hello"),), runs_for=0.1))
        run = cli(*migration_args(task_name, "--command", "echo", reference.planted_value))
        assert run.exit_code == 0
        assert reference.planted_value not in run.stderr
        assert run.stdout == b"hello\n"


class TestProcess:
    def test_sigterm_stops_the_task_and_exits_143(self, emu: Emulator, task_name: str) -> None:
        """A cancelled pipeline (SIGTERM to `python -m ecs_one_off_task`) stops the task and the
        process exits 143; stdout is a pipe and the first line arrives through it live."""
        import math  # noqa: PLC0415

        emu.script(task_name, Timeline(lines=(LogLine(0.0, "started"),), runs_for=math.inf))
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecs_one_off_task",
                "--log-format",
                "json",
                *migration_args(task_name, "--", "x"),
            ],
            env=emu.subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None
        assert process.stdout.readline() == b"started\n"
        process.terminate()
        out, err = process.communicate(timeout=30)
        assert process.returncode == 143
        assert out == b""
        events = [json.loads(line) for line in err.decode().splitlines()]
        assert any(e["event"] == "StopTask sent" for e in events)
        assert len(emu.calls_to("StopTask")) == 1

    def test_help_lists_every_flag_with_its_default(self) -> None:
        """The console script's --help names the seed's flags and shows defaults."""
        result = subprocess.run(
            [sys.executable, "-m", "ecs_one_off_task", "--help"],
            capture_output=True,
            text=True,
            check=True,
        )
        for flag in (
            "--task-name", "--from-task", "--cluster", "--image", "--command", "--entrypoint",
            "--launch-type", "--networks-id", "--security-groups-id", "--profile", "--region",
            "--endpoint-url", "--poll-interval", "--max-attempts", "--log-interval",
            "--drain-grace", "--timeout", "--log-rate-limit", "--log-format",
        ):  # fmt: skip
            assert flag in result.stdout
        assert "(default: 6.0)" in result.stdout
        assert "(default: 100;" in result.stdout
