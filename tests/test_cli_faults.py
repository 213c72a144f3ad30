"""The real CLI under faults injected on the emulator's HTTP path: every line exactly once,
the right exit code, and never a task left running unseen."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from tests.conftest import CliRun, migration_args
from tests.emulator import Emulator, Fault, LogLine, Timeline, lines_every

Cli = Callable[..., CliRun]
LINES = lines_every(30, 0.03)
EXPECTED = [f"line {i}" for i in range(1, 31)]


def faulted(emu: Emulator, operation: str) -> int:
    """How many calls to `operation` got an injected fault."""
    return sum(1 for call in emu.calls_to(operation) if call.fault)


class TestTransientFaults:
    @pytest.mark.parametrize(
        "code", ["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"]
    )
    def test_throttling_loses_and_repeats_nothing(
        self, emu: Emulator, cli: Cli, task_name: str, code: str
    ) -> None:
        """Throttling on every 2nd GetLogEvents and 3rd DescribeTasks: all 30 lines once, in
        order, and the container's exit code."""
        emu.script(task_name, Timeline(lines=LINES, runs_for=1.0, exit_code=3))
        emu.inject(Fault(operation="GetLogEvents", every=2, error_code=code))
        emu.inject(Fault(operation="DescribeTasks", every=3, error_code=code))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.lines == EXPECTED
        assert run.exit_code == 3
        assert faulted(emu, "GetLogEvents") >= 2
        assert faulted(emu, "DescribeTasks") >= 1

    @pytest.mark.parametrize("kind", ["http500", "http503", "drop"])
    def test_server_errors_and_dropped_connections(
        self, emu: Emulator, cli: Cli, task_name: str, kind: str
    ) -> None:
        """HTTP 500/503 or a connection closed without an answer on every 2nd call of both
        loops: all lines once, exit code passed through, no traceback."""
        emu.script(task_name, Timeline(lines=LINES, runs_for=1.0, exit_code=0))
        emu.inject(Fault(operation="GetLogEvents", kind=kind, every=2))  # type: ignore[arg-type]
        emu.inject(Fault(operation="DescribeTasks", kind=kind, every=2))  # type: ignore[arg-type]
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.lines == EXPECTED
        assert run.exit_code == 0
        assert "Traceback" not in run.stderr
        assert faulted(emu, "GetLogEvents") >= 2

    def test_answers_that_never_come_time_out_and_are_retried(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """A GetLogEvents answer 2 s late with --call-timeout 0.5 is given up and asked again:
        every line once."""
        emu.script(task_name, Timeline(lines=LINES, runs_for=1.0))
        emu.inject(Fault(operation="GetLogEvents", kind="slow", delay=2.0, every=2, times=2))
        run = cli(*migration_args(task_name, "--call-timeout", "0.5", "--command", "x"))
        assert run.lines == EXPECTED
        assert run.exit_code == 0
        assert faulted(emu, "GetLogEvents") == 2

    def test_endpoint_away_for_ten_seconds(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """The endpoint refuses connections for 10 s mid-run and comes back: the run completes
        with every line, and stderr said once what it was waiting for, and when it was back."""
        emu.script(task_name, Timeline(lines=lines_every(40, 0.3), runs_for=12.5, exit_code=5))
        outage: list[object] = []

        def go_away_once() -> None:
            if not outage:
                outage.append(emu.restart(10.0))

        run = cli(
            *migration_args(task_name, "--timeout", "120", "--command", "x"), on_write=go_away_once
        )
        assert run.lines == [f"line {i}" for i in range(1, 41)]
        assert run.exit_code == 5
        # Which loop notices depends on where the SDK's own retries (up to ~14 s) fall.
        events = [e["event"] for e in run.events]
        said = {e.removesuffix(" unavailable: retrying") for e in events if "unavailable" in e}
        assert said
        assert all(f"{what} available again" in events for what in said), events

    def test_missing_right_after_run_task(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """DescribeTasks answering MISSING for 0.5 s after RunTask is "not visible yet"."""
        emu.script(task_name, Timeline(invisible_for=0.5, lines=LINES, runs_for=1.0))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 0
        assert run.lines == EXPECTED
        assert len(emu.calls_to("DescribeTasks")) >= 3


class TestUnrecoverable:
    def test_expired_credentials_stop_the_task_and_exit_125(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """Credentials expiring mid-run: the task ARN and log stream are printed, StopTask is
        sent, and the exit is 125 saying the credentials expired."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "running"),), runs_for=math.inf))
        expired: list[Fault] = []

        def expire_once() -> None:
            if not expired:
                expired.append(
                    emu.inject(Fault(operation="DescribeTasks", error_code="ExpiredTokenException"))
                )

        run = cli(*migration_args(task_name, "--command", "x"), on_write=expire_once)
        assert run.exit_code == 125
        lost = run.event("lost track of the task")
        assert lost["task_arn"].startswith("arn:aws:ecs:")
        assert lost["log_stream"].startswith(f"ecs/{task_name}/")
        assert "credentials expired" in run.final_error
        stops = emu.calls_to("StopTask")
        assert len(stops) == 1
        assert stops[0].params["task"] == lost["task_arn"]

    def test_when_even_stop_task_is_refused_the_user_is_told_how(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """If StopTask is refused too, stderr gives the command that stops the task by hand."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "running"),), runs_for=math.inf))
        for operation in ("DescribeTasks", "StopTask"):
            emu.inject(Fault(operation=operation, error_code="ExpiredTokenException"))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 125
        hint = run.event("could not stop the task: stop it yourself")
        assert hint["command"].startswith("aws ecs stop-task --cluster myEcsCluster --task arn:")

    def test_access_denied_after_start_stops_the_task(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """AccessDenied on GetLogEvents once the task runs: the task is stopped, exit 125, and
        the message names logs:GetLogEvents."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "x"),), runs_for=math.inf))
        emu.inject(Fault(operation="GetLogEvents", error_code="AccessDeniedException"))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 125
        assert "grant logs:GetLogEvents" in run.final_error
        assert len(emu.calls_to("StopTask")) == 1


class TestLogEventsAsStored:
    def test_messages_are_printed_byte_exact(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Multi-line events, carriage returns, tabs, emoji, CJK, empty messages and a 256 KB
        event come out byte-exact, each followed by one newline, in order."""
        messages = [
            "Traceback (most recent call last):\n  File \"m.py\", line 1\nKeyError: 'x'",
            "progress 10%\rprogress 100%",
            "col1\tcol2",
            "migrating 🚀 データベース 迁移",
            "",
            "x" * 256 * 1024,
            "last",
        ]
        lines = tuple(LogLine(0.01 * i, m) for i, m in enumerate(messages))
        emu.script(task_name, Timeline(lines=lines, runs_for=0.2))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 0
        assert run.stdout == b"".join(m.encode() + b"\n" for m in messages)

    def test_one_megabyte_pages_are_read_on(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Ten 256 KB events fill three 1 MB pages of fewer than 10,000 events: the follower
        reads on while the token moves and prints all ten once."""
        messages = [f"{i}:" + "y" * 256 * 1024 for i in range(10)]
        emu.script(task_name, Timeline(lines=tuple(LogLine(0.0, m) for m in messages)))
        run = cli(*migration_args(task_name, "--command", "x"))
        assert run.exit_code == 0
        assert run.stdout == b"".join(m.encode() + b"\n" for m in messages)
        tokens = {c.params.get("nextToken") for c in emu.calls_to("GetLogEvents")}
        assert len(tokens) >= 4  # none, then after each of three pages


class TestClosedStdout:
    def test_reader_going_away_does_not_stop_the_run(self, emu: Emulator, task_name: str) -> None:
        """`| head -n 2`: after the reader closes the pipe the tool still waits for the task
        and exits with its exit code, with no traceback."""
        emu.script(task_name, Timeline(lines=lines_every(50, 0.02), runs_for=1.2, exit_code=3))
        process = subprocess.Popen(
            [sys.executable, "-m", "ecs_one_off_task", "--log-format", "json",
             *migration_args(task_name, "--", "x")],
            env=emu.subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        assert process.stdout is not None
        assert process.stderr is not None
        assert [process.stdout.readline() for _ in range(2)] == [b"line 1\n", b"line 2\n"]
        process.stdout.close()
        with process.stderr:
            err = process.stderr.read()
        assert process.wait(timeout=30) == 3
        assert b"Traceback" not in err
        assert b'"outcome": "failed"' in err


class TestSharedQuota:
    """Several runs against the account-wide GetLogEvents quota of the emulator."""

    def test_four_runs_at_once_share_a_tight_quota(self, emu: Emulator, task_name: str) -> None:
        """Four processes follow their own tasks at once under a quota of 2 calls a second:
        each prints every line of its task exactly once, in order, and exits with its task's
        code; throttling shows on stderr once per run at most, not once per throttled call."""
        emu.set_log_quota(2)
        codes = [0, 3, 5, 7]
        names = [f"{task_name}-{n}" for n in range(len(codes))]
        for name, code in zip(names, codes, strict=True):
            lines = lines_every(12, 0.1, fmt=f"{name} line {{i}}")
            emu.script(name, Timeline(lines=lines, runs_for=1.3, exit_code=code))
        command = [sys.executable, "-m", "ecs_one_off_task", "--log-format", "json"]
        processes = [
            subprocess.Popen(
                [*command, *migration_args(name, "--", "x")],
                env=emu.subprocess_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for name in names
        ]
        results = [process.communicate(timeout=120) for process in processes]
        for name, code, process, (out, err) in zip(names, codes, processes, results, strict=True):
            assert out.decode().splitlines() == [f"{name} line {i}" for i in range(1, 13)]
            assert process.returncode == code
            assert b"Traceback" not in err
            assert err.count(b"throttled by AWS: slowing down") <= 1
        assert faulted(emu, "GetLogEvents") >= 4

    def test_a_drain_throttled_for_three_seconds_still_prints_the_last_lines(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """From the first line, before the task stops 0.5 s later, every GetLogEvents is
        throttled for 3 s, while the last lines land 1 s after the stop: a throttled call never
        makes the stream look quiet, so they are printed, and the exit code is the container's."""
        emu.script(
            task_name,
            Timeline(
                lines=(LogLine(0.0, "started"),),
                runs_for=0.5,
                exit_code=4,
                late_lines=(LogLine(1.0, "last words"), LogLine(1.05, "goodbye")),
            ),
        )
        outage: list[threading.Timer] = []

        def throttle_from_the_first_line() -> None:
            if not outage:
                emu.inject(Fault(operation="GetLogEvents", kind="throttle"))
                # The outage lasts 3 s of real time: nothing to await.
                outage.append(threading.Timer(3.0, emu.clear_faults))
                outage[0].start()

        run = cli(
            *migration_args(task_name, "--command", "x"), on_write=throttle_from_the_first_line
        )
        assert len(outage) == 1
        outage[0].join(timeout=30)
        assert run.lines == ["started", "last words", "goodbye"]
        assert run.exit_code == 4
        assert faulted(emu, "GetLogEvents") >= 2
