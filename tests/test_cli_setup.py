"""The real CLI against the emulator: the one-off revision, reuse, and input it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.conftest import CliRun, migration_args
from tests.emulator import Emulator, LogLine, Timeline
from tests.emulator.seed import Reference

Cli = Callable[..., CliRun]
WRITES = {"RegisterTaskDefinition", "CreateLogGroup", "PutRetentionPolicy", "RunTask"}


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

    def test_bad_option_is_one_plain_line(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """A bad option value is refused before any AWS call, in one line on stderr."""
        run = cli(*migration_args(task_name, "--log-retention-days", "10", "--command", "x"))
        assert run.exit_code == 2
        assert run.stderr.count("\n") == 1
        assert run.stderr.startswith("ecs-one-off-task: error: argument --log-retention-days")
        assert emu.operations() == []


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
