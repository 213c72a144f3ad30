"""The real CLI against the emulator: never the same migration twice, and `attach`.

A run killed with SIGKILL leaves its task running in the emulator (as in ECS); the same command
again must attach to it, another image must wait for it, and `attach` follows any task.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliRun, migration_args, signal_on_first_write, writes
from tests.emulator import DEFAULT_TIMELINE, Emulator, Timeline, lines_every

Cli = Callable[..., CliRun]
CLUSTER = "myEcsCluster"


def start_and_kill(emu: Emulator, args: list[str], after_lines: int = 1) -> str:
    """Run the CLI as a process, SIGKILL it once `after_lines` lines came out; the task's ARN."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ecs_one_off_task", "--log-format", "json", *args],
        env=emu.subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    for _ in range(after_lines):
        assert process.stdout.readline()
    process.kill()
    process.wait(timeout=10)
    process.stdout.close()
    return emu.task_records()[-1].task_arn


def foreign_task(emu: Emulator, family: str, timeline: Timeline, *, image: str = "other:1") -> str:
    """A task of `family` started by someone else (another deploy), logging with awslogs."""
    ecs = emu.boto3_client("ecs")
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": family,
                "image": image,
                "memory": 128,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": f"/ecs/{family}",
                        "awslogs-region": emu.region,
                        "awslogs-stream-prefix": "other",
                        "awslogs-create-group": "true",
                    },
                },
            }
        ],
    )
    emu.script(family, timeline)
    task = ecs.run_task(cluster=CLUSTER, taskDefinition=family, startedBy="someone-else")
    return str(task["tasks"][0]["taskArn"])


@pytest.fixture
def endless(emu: Emulator, task_name: str, cleanup: list[str]) -> Callable[[], str]:
    """Starts a task of the family that runs until stopped (another deploy's), RUNNING when
    returned, and stopped after the test."""

    def start() -> str:
        arn = foreign_task(emu, task_name, Timeline(runs_for=math.inf))
        cleanup.append(arn)
        emu.wait_until_status(arn, "RUNNING")
        return arn

    return start


def signal_when(emu: Emulator, operation: str, count: int, signum: int) -> None:
    """Send `signum` to this process once `count` calls to `operation` arrived."""

    def send() -> None:
        emu.wait_for_calls(operation, count, timeout=20)
        os.kill(os.getpid(), signum)

    threading.Thread(target=send, daemon=True).start()


def stop_when(emu: Emulator, operation: str, count: int, task_arn: str) -> None:
    """StopTask `task_arn` once `count` calls to `operation` arrived."""

    def stop() -> None:
        emu.wait_for_calls(operation, count, timeout=20)
        emu.boto3_client("ecs").stop_task(cluster=CLUSTER, task=task_arn, reason="test: done")

    threading.Thread(target=stop, daemon=True).start()


class TestRetry:
    def test_a_killed_run_retried_attaches_and_prints_everything_once(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """SIGKILL mid-stream, then the same command: exactly one RunTask in all, the second run
        prints every line of the task once from the first, makes no write, exits with its code."""
        emu.script(task_name, Timeline(lines=lines_every(20, 0.1), runs_for=2.2, exit_code=3))
        args = migration_args(task_name, "--", "rake", "db:migrate")
        arn = start_and_kill(emu, args, after_lines=2)
        emu.clear_calls()
        run = cli(*args)
        assert run.exit_code == 3
        assert run.lines == [f"line {i}" for i in range(1, 21)]
        assert writes(emu) == []
        attached = run.event("attaching to a running task: following it from the head")
        assert (attached["task_arn"], attached["started_by"]) == (arn, "ecs-one-off-task")
        assert len([r for r in emu.task_records() if r.family == task_name]) == 1

    def test_a_killed_count_run_retried_attaches_to_every_task(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--count 3 killed mid-stream, then the same command: still one RunTask in all; the
        retry follows all three tasks (none left running unseen), each line once with its task's
        prefix, and exits with the failing task's code."""
        emu.script(
            task_name,
            # Long enough that all three still run when the retry looks (not a timing assert).
            Timeline(lines=lines_every(8, 0.1), runs_for=3.0, exit_codes=(0, 6, 0)),
        )
        args = migration_args(task_name, "--count", "3", "--", "x")
        start_and_kill(emu, args)
        emu.clear_calls()
        run = cli(*args)
        assert run.exit_code == 6
        assert writes(emu) == []
        task_ids = [r.task_id for r in emu.task_records() if r.family == task_name]
        assert len(task_ids) == 3
        expected = [f"line {i}" for i in range(1, 9)]
        assert run.lines_by_task(task_ids) == dict.fromkeys(task_ids, expected) | {"": []}

    def test_a_new_image_waits_for_the_running_task_then_starts_its_own(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """The same family with a new image: the second run waits for the first task to stop,
        then starts its own (never two RUNNING at once) and prints only its own lines."""
        emu.script(task_name, Timeline(lines=lines_every(10, 0.1), runs_for=math.inf, stopping=0.2))
        first = start_and_kill(emu, migration_args(task_name, "--", "x"))
        emu.script(task_name, Timeline(lines=lines_every(10, 0.1), runs_for=1.5))
        emu.clear_calls()
        # The first task ends once the second run waits for it: the lookup's DescribeTasks,
        # then the wait's first poll.
        stop_when(emu, "DescribeTasks", 2, first)
        run = cli(*migration_args(task_name, "--image", "myapp:v3", "--", "x"))
        assert run.exit_code == 0
        records = [r for r in emu.task_records() if r.family == task_name]
        assert records[0].task_arn == first
        assert len(records) == 2
        first_stopped, second_running = records[0].stopped, records[1].reached("RUNNING")
        assert first_stopped is not None
        assert second_running is not None
        assert second_running.monotonic > first_stopped.monotonic
        assert run.lines == [f"line {i}" for i in range(1, 11)]
        streams = {c.params["logStreamName"] for c in emu.calls_to("GetLogEvents")}
        assert streams == {records[1].log_stream}
        waited = run.event("another run's task is running: waiting for it to stop before starting")
        assert waited["task_arn"] == first

    def test_if_running_fail_is_125_with_no_write(
        self, emu: Emulator, cli: Cli, task_name: str, endless: Callable[[], str]
    ) -> None:
        """--if-running fail with a task of the family running: 125 naming it, zero writes."""
        arn = endless()
        emu.clear_calls()
        run = cli(*migration_args(task_name, "--if-running", "fail", "--", "x"))
        assert run.exit_code == 125
        assert run.final_error == f"--if-running fail: {arn} is RUNNING"
        assert writes(emu) == []

    def test_if_running_start_starts_another(
        self, emu: Emulator, cli: Cli, task_name: str, endless: Callable[[], str]
    ) -> None:
        """--if-running start: the original script's behaviour, a second task beside the first."""
        endless()
        emu.script(task_name, DEFAULT_TIMELINE)  # ours ends at once
        run = cli(*migration_args(task_name, "--if-running", "start", "--", "x"))
        assert run.exit_code == 0
        assert len(emu.calls_to("RunTask")) == 2  # the foreign one, and ours
        assert emu.calls_to("ListTasks") == []

    def test_a_signal_while_waiting_stops_nothing(
        self, emu: Emulator, cli: Cli, task_name: str, endless: Callable[[], str], tmp_path: Path
    ) -> None:
        """SIGTERM while waiting for another run's task: 143, no StopTask, no RunTask, and the
        tool says (and its summary records) that nothing was started, not that it stops a task."""
        endless()
        emu.clear_calls()
        signal_when(emu, "DescribeTasks", 3, signal.SIGTERM)
        summary = tmp_path / "summary.json"
        run = cli(*migration_args(task_name, "--summary-json", str(summary), "--", "x"))
        assert run.exit_code == 143
        assert writes(emu) == []
        warned = [e["event"] for e in run.events if e.get("signal")]
        assert warned == ["signal received: no task was started; exiting"]
        assert json.loads(summary.read_text())["reason"] == (
            "interrupted by SIGTERM: nothing was started"
        )

    def test_waiting_counts_against_the_timeout(
        self, emu: Emulator, cli: Cli, task_name: str, endless: Callable[[], str]
    ) -> None:
        """--timeout spent waiting for another run's task: 124 with no RunTask, no StopTask."""
        endless()
        emu.clear_calls()
        run = cli(*migration_args(task_name, "--timeout", "0.5", "--", "x"))
        assert run.exit_code == 124
        assert "--timeout passed while waiting" in run.final_error
        assert writes(emu) == []

    def test_sigterm_while_attached_stops_the_attached_task(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """The retried job owns the migration now: SIGTERM stops the task it attached to."""
        emu.script(task_name, Timeline(lines=lines_every(50, 0.1), runs_for=math.inf))
        args = migration_args(task_name, "--", "x")
        arn = start_and_kill(emu, args)
        emu.clear_calls()
        run = cli(*args, on_write=signal_on_first_write(signal.SIGTERM))
        assert run.exit_code == 143
        assert [c.params["task"] for c in emu.calls_to("StopTask")] == [arn]

    def test_the_lookup_follows_every_page(
        self, emu: Emulator, cli: Cli, task_name: str, cleanup: list[str], monkeypatch: Any
    ) -> None:
        """ListTasks pages of one task: the lookup reads all three pages and names the most
        recently started task, which is on the last one."""
        monkeypatch.setattr(emu.agent, "list_tasks_page_size", 1)
        for _ in range(3):
            cleanup.append(foreign_task(emu, task_name, Timeline(runs_for=math.inf)))
            time.sleep(0.002)  # distinct createdAt for "the most recent"
        emu.clear_calls()
        run = cli(*migration_args(task_name, "--if-running", "fail", "--", "x"))
        assert run.exit_code == 125
        assert len(emu.calls_to("ListTasks")) == 3
        assert cleanup[-1] in run.final_error

    def test_a_run_that_finds_nothing_pays_one_list_tasks(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """With nothing running, the lookup costs one ListTasks and no DescribeTasks."""
        run = cli(*migration_args(task_name, "--", "x"))
        assert run.exit_code == 0
        operations = emu.operations("ecs")
        before_run_task = operations[: operations.index("RunTask")]
        assert before_run_task.count("ListTasks") == 1
        assert before_run_task.count("DescribeTasks") == 0
        [listed] = emu.calls_to("ListTasks")
        assert (listed.params["family"], listed.params["desiredStatus"]) == (task_name, "RUNNING")
        assert "startedBy" not in listed.params

    def test_dry_run_reports_the_lookup(
        self, cli: Cli, task_name: str, endless: Callable[[], str]
    ) -> None:
        """--dry-run says which tasks the lookup found and what the run would do."""
        arn = endless()
        run = cli(*migration_args(task_name, "--dry-run", "--", "x"))
        assert run.exit_code == 0
        document = json.loads(run.stdout)
        assert document["ifRunning"] == {
            "found": [{"taskArn": arn, "lastStatus": "RUNNING"}],
            "action": "wait for 1 running task(s) to stop, then start",
        }


def attach(cli: Cli, *args: str, **kwargs: Any) -> CliRun:
    """`ecs-one-off-task attach` with fast reading options."""
    fast = ["--poll-interval", "0.1", "--log-interval", "0.05", "--drain-grace", "0.3"]
    return cli("attach", "--cluster", CLUSTER, *fast, *args, **kwargs)


class TestAttachCommand:
    def test_a_running_task_from_the_head_to_its_exit_code(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Attach TASK-ID on a running task: every line from the first, then its exit code,
        and no write call."""
        arn = foreign_task(
            emu, task_name, Timeline(lines=lines_every(10, 0.1), runs_for=1.2, exit_code=7)
        )
        emu.wait_for_lines(arn, 3)
        emu.clear_calls()
        run = attach(cli, arn.rsplit("/", 1)[-1])
        assert run.exit_code == 7
        assert run.lines == [f"line {i}" for i in range(1, 11)]
        assert writes(emu) == []

    def test_a_stopped_task_prints_its_log_and_exits_at_once(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Attach on a task stopped long ago: its whole log and its code after one status call
        and one read."""
        arn = foreign_task(emu, task_name, Timeline(lines=lines_every(5, 0.0), runs_for=0.05))
        emu.wait_until_status(arn, "STOPPED")
        time.sleep(0.4)  # the drain grace (0.3 s) counted from stoppedAt is over before attaching
        emu.clear_calls()
        run = attach(cli, arn)
        assert run.exit_code == 0
        assert run.lines == [f"line {i}" for i in range(1, 6)]
        # The lookup's description is the watcher's first answer: no second DescribeTasks, and
        # the drain begins before the first read. That read started after STOPPED was seen,
        # longer than the grace after stoppedAt, and was not cut short: it is the last.
        assert len(emu.calls_to("DescribeTasks")) == 1
        assert len(emu.calls_to("GetLogEvents")) == 1
        assert run.event("reading a stopped task")["status"] == "STOPPED"

    def test_since_starts_with_recent_lines_and_repeats_none(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--since 10m skips the lines of two hours ago; following the token afterwards reads
        no line twice (the emulator keeps AWS's place in the stream)."""
        arn = foreign_task(emu, task_name, Timeline(runs_for=0.05))
        record = emu.wait_until_status(arn, "STOPPED")
        now_ms = int(time.time() * 1000)
        assert record.log_group is not None
        assert record.log_stream is not None
        emu.boto3_client("logs").put_log_events(
            logGroupName=record.log_group,
            logStreamName=record.log_stream,
            logEvents=[
                {"timestamp": now_ms - 7_200_000, "message": "two hours ago"},
                {"timestamp": now_ms - 7_100_000, "message": "a bit later"},
                {"timestamp": now_ms - 300_000, "message": "five minutes ago"},
                {"timestamp": now_ms - 240_000, "message": "four minutes ago"},
            ],
        )
        run = attach(cli, "--since", "10m", arn)
        assert run.exit_code == 0
        assert run.lines == ["five minutes ago", "four minutes ago"]

    def test_a_container_logging_elsewhere_is_2(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """A task whose container logs with another driver: exit 2 naming the driver."""
        ecs = emu.boto3_client("ecs")
        ecs.register_task_definition(
            family=task_name,
            containerDefinitions=[
                {
                    "name": "app",
                    "image": "app:1",
                    "memory": 128,
                    "logConfiguration": {"logDriver": "json-file"},
                }
            ],
        )
        arn = ecs.run_task(cluster=CLUSTER, taskDefinition=task_name)["tasks"][0]["taskArn"]
        run = attach(cli, arn)
        assert run.exit_code == 2
        assert run.final_error == (
            "container 'app' logs with the json-file driver, not awslogs:"
            " there is no CloudWatch Logs stream to follow"
        )

    def test_ctrl_c_leaves_the_task_running_and_says_how_to_follow_again(
        self, emu: Emulator, cli: Cli, task_name: str, cleanup: list[str]
    ) -> None:
        """Ctrl-C on attach: exit 130, no StopTask, the task still RUNNING, and stderr gives
        the command that follows it again."""
        arn = foreign_task(emu, task_name, Timeline(lines=lines_every(50, 0.1), runs_for=math.inf))
        cleanup.append(arn)
        emu.wait_for_lines(arn, 1)
        emu.clear_calls()
        run = attach(cli, arn, on_write=signal_on_first_write(signal.SIGINT))
        assert run.exit_code == 130
        assert emu.calls_to("StopTask") == []
        assert emu.task_record(arn).status == "RUNNING"
        again = run.event("the task goes on; to follow it again")["command"]
        assert again == f"ecs-one-off-task attach --cluster {CLUSTER} {arn.rsplit('/', 1)[-1]}"

    def test_an_unknown_task_is_2(self, cli: Cli) -> None:
        """An unknown task to attach to: exit 2 naming it."""
        run = attach(cli, "0123456789abcdef0123456789abcdef")
        assert run.exit_code == 2
        assert run.final_error == (
            f"task '0123456789abcdef0123456789abcdef' not found on cluster '{CLUSTER}'"
        )
