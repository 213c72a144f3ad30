"""The real CLI against the emulator: run, stream live, drain, exit with the container's code."""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Callable

from tests.conftest import CliRun, migration_args, signal_on_first_write
from tests.emulator import Emulator, Fault, LogLine, Timeline, lines_every

Cli = Callable[..., CliRun]


class TestStreaming:
    def test_lines_reach_stdout_while_the_task_is_running(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Lines are written to stdout while ECS still reports the task RUNNING, not after."""
        # The last line comes 1.2 s after the first and the task runs 1.3 s longer: two
        # writes while RUNNING need only a first read within a second of the start.
        emu.script(task_name, Timeline(lines=lines_every(5, 0.3), runs_for=2.5))
        run = cli(*migration_args(task_name, "--command", "rake", "db:migrate"))
        assert run.exit_code == 0
        assert run.lines == [f"line {i}" for i in range(1, 6)]
        statuses = [status for data, status in run.writes if data]
        assert statuses[0] == "RUNNING"
        assert statuses.count("RUNNING") >= 2

    def test_every_line_once_in_order_across_pages(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """10,050 lines written at once need two full GetLogEvents pages, and lines that follow
        over time need more: each line is printed once, in order."""
        burst = lines_every(10_050, 0.0, fmt="burst {i}")
        trickle = lines_every(20, 0.05, start=0.3, fmt="trickle {i}")
        emu.script(task_name, Timeline(lines=burst + trickle, runs_for=1.5))
        run = cli(*migration_args(task_name, "--log-rate-limit", "0", "--command", "x"))
        assert run.exit_code == 0
        expected = [f"burst {i}" for i in range(1, 10_051)] + [f"trickle {i}" for i in range(1, 21)]
        assert run.lines == expected
        tokens = {c.params.get("nextToken") for c in emu.calls_to("GetLogEvents")}
        assert len(tokens) >= 4  # no token, after page 1, after page 2, and later ones

    def test_stream_that_appears_late(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """GetLogEvents answering ResourceNotFound before the container starts means "not yet"."""
        emu.script(
            task_name,
            Timeline(
                provisioning=0.3,
                pending=0.3,
                stream_delay=0.5,
                lines=(LogLine(0.6, "first"), LogLine(0.7, "second")),
                runs_for=0.8,
            ),
        )
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 0
        assert run.lines == ["first", "second"]

    def test_lines_ingested_after_stopped_are_printed(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Lines the awslogs driver delivers 0.2 s after STOPPED are still printed."""
        emu.script(
            task_name,
            Timeline(
                lines=(LogLine(0.0, "migrating"),),
                runs_for=0.2,
                late_lines=(LogLine(0.2, "migrated"), LogLine(0.25, "done")),
            ),
        )
        run = cli(*migration_args(task_name, "--drain-grace", "1", "--command", "x"))
        assert run.exit_code == 0
        assert run.lines == ["migrating", "migrated", "done"]

    def test_task_that_stops_before_the_first_poll(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """A task that is STOPPED before the first DescribeTasks still shows its lines and code."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "fast"),), runs_for=0.0, exit_code=4))
        run = cli(*migration_args(task_name, "--poll-interval", "5", "--command", "x"))
        assert run.exit_code == 4
        assert run.lines == ["fast"]
        assert len(emu.calls_to("DescribeTasks")) == 1


class TestExitCodes:
    def test_container_exit_code_passes_through(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """A migration that exits 3 makes the tool exit 3, after printing its lines."""
        emu.script(
            task_name,
            Timeline(lines=(LogLine(0.0, "PG::UndefinedTable"),), runs_for=0.1, exit_code=3),
        )
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 3
        assert run.lines == ["PG::UndefinedTable"]
        assert run.event("task stopped: reading the last lines")["exit_code"] == 3

    def test_run_task_failures_are_125(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """RunTask answering failures[] RESOURCE:MEMORY, with no start retries, is exit 125 with
        the reason."""
        emu.script(task_name, Timeline(run_task_failure="RESOURCE:MEMORY"))
        run = cli(*migration_args(task_name, "--start-retries", "0", "--command", "x"))
        assert run.exit_code == 125
        assert len(run.errors) == 1
        assert "RESOURCE:MEMORY" in run.errors[0]
        assert emu.operations("ecs").count("DescribeTasks") == 0

    def test_task_failed_to_start_is_125(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """A task that stops with TaskFailedToStart and no exit code is 125, naming why."""
        emu.script(task_name, Timeline(provisioning=0.1, fails_to_start=True))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 125
        message = run.final_error
        assert "stopCode: TaskFailedToStart" in message
        assert "CannotPullContainerError" in message
        assert run.stdout == b""
        assert emu.calls_to("StopTask") == []
        assert "lost track of the task" not in [e["event"] for e in run.events]


def ecs_calls_after_run_task(emu: Emulator) -> list[str]:
    """The ECS operations the tool made once the task was started, in order."""
    operations = emu.operations("ecs")
    return operations[operations.index("RunTask") + 1 :]


class TestStopping:
    def test_sigint_stops_the_task_drains_and_exits_130(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Ctrl-C after the first line sends StopTask naming the tool, waits for STOPPED, prints
        every line the container wrote until it stopped, and exits 130."""
        emu.script(
            task_name,
            Timeline(lines=lines_every(100, 0.1), runs_for=math.inf, stopping=0.3),
        )
        run = cli(
            *migration_args(task_name, "--command", "x"),
            on_write=signal_on_first_write(signal.SIGINT),
        )
        assert run.exit_code == 130
        stops = emu.calls_to("StopTask")
        assert len(stops) == 1
        assert stops[0].params["reason"] == "ecs-one-off-task: interrupted by a signal"
        record = emu.task_records()[-1]
        assert (record.status, record.stop_code, record.exit_code) == (
            "STOPPED",
            "UserInitiated",
            143,
        )
        assert run.event("task stopped: reading the last lines")["exit_code"] == 143
        assert 1 <= len(record.messages) < 100
        assert run.lines == list(record.messages)

    def test_the_deadline_stops_the_task_and_exits_124(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """When --timeout passes the task is stopped, watched until STOPPED, and the exit is
        124; the watching after StopTask reports only real status changes (a first poll that
        still sees RUNNING is not "RUNNING after 1 s in RUNNING")."""
        emu.script(
            task_name, Timeline(lines=(LogLine(0.0, "working"),), runs_for=math.inf, stopping=0.2)
        )
        run = cli(*migration_args(task_name, "--timeout", "1", "--command", "x"))
        assert run.exit_code == 124
        after = ecs_calls_after_run_task(emu)
        stop = after.index("StopTask")
        assert set(after[:stop]) == {"DescribeTasks"}
        assert set(after[stop + 1 :]) == {"DescribeTasks"}
        assert emu.task_records()[-1].status == "STOPPED"
        assert run.lines == ["working"]
        changes = [
            (e["previous_status"], e["status"]) for e in run.events if "previous_status" in e
        ]
        assert all(before != after for before, after in changes), changes
        assert changes[-1][1] == "STOPPED"

    def test_timeout_stops_the_task_and_exits_124(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--timeout passed with the task still running: StopTask, exit 124."""
        emu.script(task_name, Timeline(runs_for=math.inf))
        run = cli(*migration_args(task_name, "--timeout", "0.5", "--command", "x"))
        assert run.exit_code == 124
        assert len(emu.calls_to("StopTask")) == 1
        assert run.event("stopping the task")["reason"] == "timeout reached"
        assert emu.task_records()[-1].status == "STOPPED"

    def test_two_signals_during_run_task_still_stop_the_task(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Two Ctrl-Cs while RunTask is in flight quit at once, but StopTask is still sent for
        the task RunTask started: no migration is left running unseen."""
        emu.script(task_name, Timeline(runs_for=math.inf))
        emu.inject(Fault(operation="RunTask", kind="slow", delay=1.0))

        def interrupt_twice_once_run_task_is_sent() -> None:
            emu.wait_for_calls("RunTask")
            for _ in range(2):
                os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_twice_once_run_task_is_sent, daemon=True).start()
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 130
        assert len(emu.calls_to("StopTask")) == 1
        record = emu.wait_until_status(emu.task_records()[-1].task_arn, "STOPPED")
        assert record.stop_code == "UserInitiated"
