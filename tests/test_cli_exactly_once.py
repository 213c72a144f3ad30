"""The real CLI against the emulator: a migration runs once — not zero times, not twice, not half.

A start that fails for a passing reason is started again; a retried job whose migration already
succeeded does not run it again; running out of status checks ends the watch, not the task.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, migration_args, writes
from tests.emulator import Emulator, FailedStart, LogLine, Timeline, lines_every

Cli = Callable[..., CliRun]
CLUSTER = "myEcsCluster"
FAST_RETRY = ("--start-retry-wait", "0.05")

CAPACITY = (
    "Capacity is unavailable at this time. Please try again later or in a different"
    " availability zone"
)
ENI_TIMEOUT = "Timeout waiting for network interface provisioning to complete."
SECRETS_TIMEOUT = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource"
    " retrieval failed: unable to retrieve secrets from ssm: service call has been retried 5"
    " time(s): RequestCanceled: request context canceled caused by: context deadline exceeded"
)
MANIFEST_UNKNOWN = (
    "CannotPullContainerError: Error response from daemon: manifest for myapp:v2 not found:"
    " manifest unknown: Requested image not found"
)
ASM_DENIED = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource"
    " retrieval failed: unable to retrieve secret from asm: service call has been retried 1"
    " time(s): AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
    "ecsTaskExecutionRole/0f3a is not authorized to perform: secretsmanager:GetSecretValue"
)
RETRY_LINE = re.compile(
    r"^(RunTask|task [0-9a-f]{8}…) could not start: (?P<reason>.+); starting again in"
    r" 0\.\d+ s \(attempt (?P<attempt>\d) of (?P<of>\d)\)$"
)

GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "9123456789",
    "GITHUB_JOB": "migrate",
}
IDENTITY_VARIABLES = (
    "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_JOB", "GITHUB_RUN_ATTEMPT", "CI_PROJECT_ID",
    "CI_PIPELINE_ID", "CI_JOB_NAME", "BUILDKITE", "CIRCLECI",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_identity_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def retry_lines(run: CliRun) -> list[re.Match[str]]:
    """The start-retry warnings, parsed."""
    found = (RETRY_LINE.match(e["event"]) for e in run.events if e["level"] == "warning")
    return [m for m in found if m is not None]


def container_lines(run: CliRun) -> list[str]:
    """The stdout lines without GitHub's stop-commands markers (GITHUB_ACTIONS=true runs)."""
    return [line for line in run.lines if not line.startswith("::")]


def family(emu: Emulator, task_name: str) -> list[Any]:
    return [r for r in emu.task_records() if r.family == task_name]


class TestStartRetries:
    def test_capacity_unavailable_then_a_start_that_runs(
        self, emu: Emulator, cli: Cli, task_name: str, tmp_path: Path
    ) -> None:
        """Fargate Spot out of capacity on the first RunTask, then a task that runs: the
        container's exit code, two RunTasks, one retry line; the summary has both starts."""
        emu.script(
            task_name,
            Timeline(
                failed_starts=(FailedStart(run_task_failure=CAPACITY),),
                lines=(LogLine(0.0, "migrating"),),
                runs_for=0.1,
                exit_code=3,
            ),
        )
        summary = tmp_path / "summary.json"
        run = cli(
            *migration_args(task_name, *FAST_RETRY, "--summary-json", str(summary), "--", "x")
        )
        assert run.exit_code == 3
        assert len(emu.calls_to("RunTask")) == 2
        [line] = retry_lines(run)
        assert (line["reason"], line["attempt"], line["of"]) == (CAPACITY, "2", "3")
        assert line.group(1) == "RunTask"
        assert run.lines == ["migrating"]
        [task] = family(emu, task_name)
        document = json.loads(summary.read_text())
        assert document["attempts"] == [
            {"attempt": 1, "task_arn": None, "stop_code": None, "reason": CAPACITY},
            {
                "attempt": 2,
                "task_arn": task.task_arn,
                "stop_code": "EssentialContainerExited",
                "reason": "Essential container in task exited",
            },
        ]
        assert [t["task_arn"] for t in document["tasks"]] == [task.task_arn]
        assert document["outcome"] == "failed"

    def test_a_task_stopped_by_a_secrets_timeout_is_started_again(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """ResourceInitializationError … context deadline exceeded before the container ran: the
        task is started again with the same revision, and the second one's lines are printed."""
        emu.script(
            task_name,
            Timeline(
                failed_starts=(FailedStart(stopped_reason=SECRETS_TIMEOUT),),
                lines=(LogLine(0.0, "done"),),
                runs_for=0.1,
            ),
        )
        run = cli(*migration_args(task_name, *FAST_RETRY, "--", "x"))
        assert run.exit_code == 0
        first, second = family(emu, task_name)
        assert (first.stop_code, first.exit_code) == ("TaskFailedToStart", None)
        assert second.exit_code == 0
        definitions = {c.params["taskDefinition"] for c in emu.calls_to("RunTask")}
        assert len(definitions) == 1
        assert len(emu.calls_to("RegisterTaskDefinition")) == 1
        [line] = retry_lines(run)
        assert line.group(1) == f"task {first.task_id[:8]}…"
        assert line["reason"] == SECRETS_TIMEOUT
        assert run.lines == ["done"]
        assert emu.calls_to("StopTask") == []

    @pytest.mark.parametrize("reason", [MANIFEST_UNKNOWN, ASM_DENIED])
    def test_a_reason_that_would_fail_again_is_125_after_one_run_task(
        self, emu: Emulator, cli: Cli, task_name: str, reason: str
    ) -> None:
        """A missing image (manifest unknown) or a secret the role may not read: never started
        again, even where the reason also names a retry; 125 after one RunTask."""
        emu.script(
            task_name,
            Timeline(failed_starts=(FailedStart(stopped_reason=reason),), runs_for=0.1),
        )
        run = cli(*migration_args(task_name, *FAST_RETRY, "--", "x"))
        assert run.exit_code == 125
        assert len(emu.calls_to("RunTask")) == 1
        assert retry_lines(run) == []
        assert reason in run.final_error

    def test_no_start_retries_is_125(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """--start-retries 0: a passing reason ends the run too, 125 after one RunTask."""
        emu.script(
            task_name,
            Timeline(failed_starts=(FailedStart(run_task_failure=CAPACITY),), runs_for=0.1),
        )
        run = cli(*migration_args(task_name, "--start-retries", "0", "--", "x"))
        assert run.exit_code == 125
        assert len(emu.calls_to("RunTask")) == 1
        assert run.final_error == f"RunTask started no task: {CAPACITY}"

    def test_retries_run_out_with_125_naming_every_attempt(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Three starts, three passing failures (capacity, an ENI, a Spot interruption before
        the container started): 125 naming each attempt; two retry lines."""
        emu.script(
            task_name,
            Timeline(
                failed_starts=(
                    FailedStart(run_task_failure=CAPACITY),
                    FailedStart(stopped_reason=ENI_TIMEOUT),
                    FailedStart(
                        stopped_reason="Your Spot Task was interrupted.",
                        stop_code="SpotInterruption",
                    ),
                ),
                runs_for=0.1,
            ),
        )
        run = cli(*migration_args(task_name, *FAST_RETRY, "--", "x"))
        assert run.exit_code == 125
        assert len(emu.calls_to("RunTask")) == 3
        eni, spot = family(emu, task_name)
        assert [(m["attempt"], m["of"]) for m in retry_lines(run)] == [("2", "3"), ("3", "3")]
        assert run.final_error == (
            "the task could not start in 3 attempts:"
            f" attempt 1: RunTask {CAPACITY};"
            f" attempt 2: task {eni.task_id[:8]}… {ENI_TIMEOUT};"
            f" attempt 3: task {spot.task_id[:8]}… Your Spot Task was interrupted."
        )

    def test_sigterm_during_the_wait_is_143_with_nothing_to_stop(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """SIGTERM while waiting to start again: 143 at once, no StopTask, no second RunTask,
        and the warning says nothing is running."""
        emu.script(
            task_name,
            Timeline(failed_starts=(FailedStart(stopped_reason=ENI_TIMEOUT),), runs_for=0.1),
        )
        run = cli(
            *migration_args(task_name, "--start-retry-wait", "60", "--", "x"),
            stderr=SignalOnRetryLine(),
        )
        assert run.exit_code == 143
        assert writes(emu).count("RunTask") == 1
        assert emu.calls_to("StopTask") == []
        warned = [e["event"] for e in run.events if e.get("signal")]
        assert warned == ["signal received: no task is running; exiting"]


class TestCountStartRetries:
    """--count: only the task that failed to start is started again, while the others run."""

    def test_the_task_that_failed_is_started_again_while_the_others_run(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--count 3 with the second task stopped by an ENI timeout: one more RunTask of one
        task, sent while the other two are still RUNNING; every line of the three that ran
        is printed with its task's label."""
        emu.script(
            task_name,
            Timeline(
                failed_starts=(None, FailedStart(stopped_reason=ENI_TIMEOUT)),
                lines=(LogLine(0.0, "ran"),),
                runs_for=1.5,
            ),
        )
        run = cli(*migration_args(task_name, *FAST_RETRY, "--count", "3", "--", "x"))
        assert run.exit_code == 0
        first, again = emu.calls_to("RunTask")
        assert (first.params["count"], again.params["count"]) == (3, 1)
        ran = [r for r in family(emu, task_name) if r.exit_code == 0]
        assert len(ran) == 3
        others = [r for r in ran if r.run_task_monotonic < again.at]
        assert len(others) == 2
        for other in others:
            stopped = other.reached("STOPPED")
            assert stopped is not None
            assert again.at < stopped.monotonic
        ids = [r.task_id for r in ran]
        assert run.lines_by_task(ids) == {task_id: ["ran"] for task_id in ids} | {"": []}
        assert emu.calls_to("StopTask") == []

    def test_starts_run_out_the_others_are_stopped_and_the_exit_is_125(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--count 2, the second task never starts (an ENI timeout three times) while the first
        runs on: after the third failure the first gets StopTask, and the exit is 125 naming
        every failed start."""
        emu.script(
            task_name,
            Timeline(
                failed_starts=(
                    None,
                    FailedStart(stopped_reason=ENI_TIMEOUT),
                    FailedStart(stopped_reason=ENI_TIMEOUT),
                    FailedStart(stopped_reason=ENI_TIMEOUT),
                ),
                lines=(LogLine(0.0, "working"),),
                runs_for=math.inf,
            ),
        )
        run = cli(*migration_args(task_name, *FAST_RETRY, "--count", "2", "--", "x"))
        assert run.exit_code == 125
        assert [c.params["count"] for c in emu.calls_to("RunTask")] == [2, 1, 1]
        runner, *failed = family(emu, task_name)
        assert [c.params["task"] for c in emu.calls_to("StopTask")] == [runner.task_arn]
        [stop] = emu.calls_to("StopTask")
        assert stop.params["reason"] == (
            "ecs-one-off-task: a task of the run could not be started again"
        )
        assert runner.status == "STOPPED"
        assert [f.stop_code for f in failed] == ["TaskFailedToStart"] * 3
        assert run.final_error == (
            "the task could not start in 3 attempts:"
            + ";".join(
                f" attempt {n}: task {f.task_id[:8]}… {ENI_TIMEOUT}"
                for n, f in enumerate(failed, start=1)
            )
        )
        assert run.lines_by_task([runner.task_id])[runner.task_id] == ["working"]

    def test_sigterm_while_one_waits_to_start_again_stops_the_others(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """SIGTERM while the second task waits to start again and the first runs: the first
        gets StopTask, no third RunTask, 143, and the warning says the task is stopped."""
        emu.script(
            task_name,
            Timeline(
                failed_starts=(None, FailedStart(stopped_reason=ENI_TIMEOUT)),
                runs_for=math.inf,
            ),
        )
        run = cli(
            *migration_args(task_name, "--start-retry-wait", "60", "--count", "2", "--", "x"),
            stderr=SignalOnRetryLine(),
        )
        assert run.exit_code == 143
        assert writes(emu).count("RunTask") == 1
        runner, _failed = family(emu, task_name)
        assert [c.params["task"] for c in emu.calls_to("StopTask")] == [runner.task_arn]
        warned = [e["event"] for e in run.events if e.get("signal")]
        assert warned == ["signal received: stopping the task"]


class SignalOnRetryLine(io.StringIO):
    """stderr that sends this process SIGTERM when the retry line is written to it."""

    def write(self, text: str) -> int:
        if "could not start" in text:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().write(text)


def run_and_kill(emu: Emulator, args: list[str], env: dict[str, str]) -> str:
    """Run the CLI as a process with `env` added, SIGKILL it at its first line; the task ARN."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ecs_one_off_task", "--log-format", "json", *args],
        env=emu.subprocess_env() | env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    while True:  # GitHub's ::stop-commands:: marker comes first
        line = process.stdout.readline()
        assert line
        if not line.startswith(b"::"):
            break
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    return emu.task_records()[-1].task_arn


class TestFinishedSuccess:
    def test_a_retried_job_after_success_prints_the_log_and_starts_nothing(
        self, emu: Emulator, cli: Cli, task_name: str, monkeypatch: Any, tmp_path: Path
    ) -> None:
        """A GitHub job killed while its migration ran, retried after the task succeeded: no
        RunTask (no write at all), the whole log from the head, exit 0, outcome
        already-succeeded; the lookup asked ListTasks by startedBy alone, STOPPED."""
        emu.script(task_name, Timeline(lines=lines_every(6, 0.1), runs_for=0.7))
        summary = tmp_path / "summary.json"
        args = migration_args(task_name, "--summary-json", str(summary), "--", "x")
        arn = run_and_kill(emu, args, GITHUB)
        emu.wait_until_status(arn, "STOPPED")
        emu.clear_calls()
        for name, value in GITHUB.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("GITHUB_RUN_ATTEMPT", "2")  # "re-run jobs": the same identity
        run = cli(*args)
        assert run.exit_code == 0
        assert writes(emu) == []
        assert container_lines(run) == [f"line {i}" for i in range(1, 7)]
        document = json.loads(summary.read_text())
        assert document["outcome"] == "already-succeeded"
        assert document["run_identity"] == (
            "github: repository=acme/shop run=9123456789 job=migrate"
        )
        started_by = document["started_by"]
        assert re.fullmatch(r"ecs-one-off-task/[0-9a-f]{40}", started_by)
        stopped_lookup = [c for c in emu.calls_to("ListTasks") if "startedBy" in c.params]
        assert [c.params for c in stopped_lookup] == [
            {"cluster": CLUSTER, "startedBy": started_by, "desiredStatus": "STOPPED"}
        ]
        said = next(e for e in run.events if e["event"].startswith("this run already succeeded"))
        assert said["task_arn"] == arn

    def test_a_retried_job_after_a_failure_starts_again(
        self, emu: Emulator, cli: Cli, task_name: str, monkeypatch: Any
    ) -> None:
        """The same, but the first task exited 3: a re-run means "try again", a second RunTask
        with the same startedBy."""
        emu.script(task_name, Timeline(lines=lines_every(3, 0.1), runs_for=0.5, exit_code=3))
        args = migration_args(task_name, "--", "x")
        arn = run_and_kill(emu, args, GITHUB)
        emu.wait_until_status(arn, "STOPPED")
        for name, value in GITHUB.items():
            monkeypatch.setenv(name, value)
        run = cli(*args)
        assert run.exit_code == 3
        runs = emu.calls_to("RunTask")
        assert len(runs) == 2
        assert runs[0].params["startedBy"] == runs[1].params["startedBy"]

    def test_another_run_id_starts_again(
        self, emu: Emulator, cli: Cli, task_name: str, monkeypatch: Any
    ) -> None:
        """A success of another pipeline (another GITHUB_RUN_ID) is not this run's: a second
        RunTask, with another startedBy."""
        args = migration_args(task_name, "--", "x")
        for name, value in GITHUB.items():
            monkeypatch.setenv(name, value)
        assert cli(*args).exit_code == 0
        monkeypatch.setenv("GITHUB_RUN_ID", "9123456790")
        assert cli(*args).exit_code == 0
        runs = emu.calls_to("RunTask")
        assert len(runs) == 2
        assert runs[0].params["startedBy"] != runs[1].params["startedBy"]

    def test_the_lookups_cost(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """No identity: one ListTasks before RunTask, as before, and startedBy stays
        ecs-one-off-task. --run-id (another fresh task name): one more ListTasks (startedBy,
        STOPPED) and no other call."""

        def before_run_task() -> list[str]:
            operations = emu.operations()
            return operations[: operations.index("RunTask")]

        assert cli(*migration_args(task_name, "--", "x")).exit_code == 0
        plain = before_run_task()
        assert plain.count("ListTasks") == 1
        assert emu.calls_to("RunTask")[0].params["startedBy"] == "ecs-one-off-task"
        emu.clear_calls()
        args = migration_args(f"{task_name}-id", "--run-id", "deploy-42", "--", "x")
        assert cli(*args).exit_code == 0
        with_identity = before_run_task()
        assert with_identity.count("ListTasks") == 2
        extra = list(with_identity)
        extra.remove("ListTasks")
        assert extra == plain

    def test_if_running_start_skips_the_lookup(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--if-running start with an identity: no ListTasks at all, the identity's startedBy
        on the RunTask all the same."""
        run = cli(*migration_args(task_name, "--run-id", "r1", "--if-running", "start", "--", "x"))
        assert run.exit_code == 0
        assert emu.calls_to("ListTasks") == []
        [started] = emu.calls_to("RunTask")
        assert started.params["startedBy"].startswith("ecs-one-off-task/")


class TestWatchBudget:
    def test_running_out_of_checks_leaves_the_task_running(
        self, emu: Emulator, cli: Cli, task_name: str, cleanup: list[str], tmp_path: Path
    ) -> None:
        """A task that outlives --max-attempts: exit 124, no StopTask, the task still RUNNING;
        stderr gives the attach and stop-task commands; the summary says gave-up and
        left_running."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "working"),), runs_for=math.inf))
        summary = tmp_path / "summary.json"
        run = cli(
            *migration_args(
                task_name, "--max-attempts", "3", "--summary-json", str(summary), "--", "x"
            )
        )
        [task] = family(emu, task_name)
        cleanup.append(task.task_arn)
        assert run.exit_code == 124
        assert emu.calls_to("StopTask") == []
        assert emu.task_record(task.task_arn).status == "RUNNING"
        said = run.event_with("attach_command")
        assert said["attach_command"] == (
            f"ecs-one-off-task attach --cluster {CLUSTER} --region us-east-1 {task.task_id}"
        )
        assert said["stop_command"] == (
            f"aws ecs stop-task --cluster {CLUSTER} --task {task.task_arn} --region us-east-1"
            " --reason 'stopped by hand after ecs-one-off-task stopped watching'"
        )
        assert said["event"].startswith(
            "stopped watching (task not STOPPED after 3 status checks): the task goes on running"
        )
        document = json.loads(summary.read_text())
        assert (document["outcome"], document["left_running"]) == ("gave-up", True)

    def test_the_deadline_stops_the_task(
        self, emu: Emulator, cli: Cli, task_name: str, tmp_path: Path
    ) -> None:
        """--timeout with --max-attempts to spare: StopTask, 124, left_running false."""
        emu.script(task_name, Timeline(runs_for=math.inf))
        summary = tmp_path / "summary.json"
        run = cli(
            *migration_args(
                task_name, "--timeout", "0.5", "--max-attempts", "1000", "--summary-json",
                str(summary), "--", "x",
            )
        )  # fmt: skip
        assert run.exit_code == 124
        assert len(emu.calls_to("StopTask")) == 1
        document = json.loads(summary.read_text())
        assert (document["outcome"], document["left_running"]) == ("gave-up", False)
