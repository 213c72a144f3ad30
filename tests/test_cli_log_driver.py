"""The real CLI against the emulator with the awslogs driver modelled: lines come in the
driver's batches, the tool reads just after each one, and --log-flush-interval."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import FAST, CliRun, writes
from tests.emulator import Emulator, LogDriver, LogLine, Timeline, lines_every
from tests.emulator.seed import Reference

Cli = Callable[..., CliRun]
FLUSH_OPTION = "awslogs-force-flush-interval-seconds"
FARGATE_REFUSAL = (
    "--log-flush-interval: Fargate's log driver ignores awslogs-force-flush-interval-seconds:"
    " the flush stays at 5 s"
)


@pytest.fixture
def driven(emu: Emulator) -> Iterator[Callable[[float], None]]:
    """Turn the driver model on with a given default period; immediate writes again after."""

    def use(period: float) -> None:
        emu.use_log_driver(LogDriver(period=period))

    yield use
    emu.use_log_driver(None)


def args(task_name: str, *extra: str) -> list[str]:
    return [
        "--task-name", task_name, "--from-task", "myapp", "--cluster", "myEcsCluster",
        "--image", "myapp:v2", *FAST, *extra, "--", "rake", "db:migrate",
    ]  # fmt: skip


def test_steady_bursts_and_a_silent_stretch_every_line_once_few_calls(
    emu: Emulator, cli: Cli, task_name: str, driven: Callable[[float], None]
) -> None:
    """A task prints steadily, then a burst of 300 lines, then nothing for 20 s, then three
    more: every line is printed once and in order. Read in step with a driver flushing every
    second (--log-flush-interval 1 on EC2), GetLogEvents is called about once per flush period
    while the task runs, not every --log-interval (0.05 s here: 5 a second, the rate cap)."""
    driven(5.0)
    steady = lines_every(10, 0.3, start=0.2, fmt="steady {i}")
    burst = lines_every(300, 0.0, start=3.6, fmt="burst {i}")
    after = lines_every(3, 0.1, start=24.0, fmt="after {i}")
    emu.script(task_name, Timeline(lines=steady + burst + after, runs_for=24.6))
    # The exit flush can land up to a second after STOPPED: a grace longer than that.
    run = cli(
        *args(task_name, "--log-flush-interval", "1", "--timeout", "120", "--drain-grace", "2")
    )
    assert run.exit_code == 0
    assert run.lines == [line.message for line in steady + burst + after]
    record = emu.task_record(run.event_with("task_arn")["task_arn"])
    running, stopped = record.reached("RUNNING"), record.stopped
    assert running is not None
    assert stopped is not None
    calls = [
        c for c in emu.calls_to("GetLogEvents") if running.monotonic <= c.at <= stopped.monotonic
    ]
    periods = stopped.monotonic - running.monotonic  # one-second flush periods
    assert len(calls) <= periods + 6


def test_no_read_before_the_container_starts(
    emu: Emulator, cli: Cli, task_name: str, driven: Callable[[float], None]
) -> None:
    """Read in step with the driver: while the task is PROVISIONING and PENDING (there is no
    stream yet) no GetLogEvents is made; every line is printed once and in order."""
    driven(1.0)
    lines = lines_every(6, 0.2, start=0.1, fmt="line {i}")
    emu.script(task_name, Timeline(provisioning=0.6, pending=0.6, lines=lines, runs_for=1.3))
    run = cli(*args(task_name, "--drain-grace", "1.5"))
    assert run.exit_code == 0
    assert run.lines == [line.message for line in lines]
    record = emu.task_record(run.event_with("task_arn")["task_arn"])
    running = record.reached("RUNNING")
    assert running is not None
    reads = [
        c.at for c in emu.calls_to("GetLogEvents") if c.params["logStreamName"] == record.log_stream
    ]
    assert reads
    assert min(reads) > running.monotonic


def test_early_status_looks_come_at_most_once_a_second(
    emu: Emulator, cli: Cli, task_name: str, driven: Callable[[float], None]
) -> None:
    """--log-interval 0.2 with status checks every 4 s: while the task is PROVISIONING and
    PENDING (2.5 s) DescribeTasks looks at most once a second, not every 0.2 s, and not only at
    the 4 s check: a look sees RUNNING before it."""
    driven(1.0)
    emu.script(
        task_name,
        Timeline(provisioning=1.5, pending=1.0, lines=(LogLine(0.1, "ran"),), runs_for=0.5),
    )
    run = cli(
        "--task-name", task_name, "--from-task", "myapp", "--cluster", "myEcsCluster",
        "--image", "myapp:v2", "--poll-interval", "4", "--log-interval", "0.2",
        "--drain-grace", "1.5", "--", "rake", "db:migrate",
    )  # fmt: skip
    assert run.exit_code == 0
    assert run.lines == ["ran"]
    record = emu.task_record(run.event_with("task_arn")["task_arn"])
    running = record.reached("RUNNING")
    assert running is not None
    [run_task] = emu.calls_to("RunTask")
    looks = [c.at for c in emu.calls_to("DescribeTasks") if c.at > run_task.at]
    # One a second at most: 2.5 s hold three (at 0, 1 and 2 s); every 0.2 s would be 13.
    assert len([at for at in looks if at < running.monotonic]) <= 3
    assert any(running.monotonic < at < run_task.at + 4 for at in looks)


def test_flush_interval_is_in_the_ec2_revision_and_the_revision_is_reused(
    emu: Emulator, cli: Cli, task_name: str, driven: Callable[[float], None]
) -> None:
    """--log-flush-interval 1 sets awslogs-force-flush-interval-seconds on the one-off
    container of an EC2 task; the driver then flushes every second (its default here is 60 s:
    the lines would otherwise come only with the exit flush); the same run again reuses the
    revision."""
    driven(60.0)
    lines = lines_every(4, 0.5, start=0.3)
    emu.script(task_name, Timeline(lines=lines, runs_for=2.6, stopping=0.5))
    run = cli(*args(task_name, "--launch-type", "EC2", "--log-flush-interval", "1"))
    assert run.exit_code == 0
    assert run.lines == [line.message for line in lines]
    [register] = emu.calls_to("RegisterTaskDefinition")
    [container] = register.params["containerDefinitions"]
    assert container["logConfiguration"]["options"][FLUSH_OPTION] == "1"
    record = emu.task_record(run.event_with("task_arn")["task_arn"])
    stopped = record.stopped
    assert stopped is not None
    assert [line.written_monotonic < stopped.monotonic for line in record.lines] == [True] * 4
    emu.clear_calls()
    again = cli(*args(task_name, "--launch-type", "EC2", "--log-flush-interval", "1"))
    assert again.exit_code == 0
    assert emu.calls_to("RegisterTaskDefinition") == []
    assert again.lines == run.lines


@pytest.mark.parametrize(
    "where",
    [
        ["--from-task", "myapp", "--launch-type", "FARGATE", "--subnets", "subnet-0a"],
        ["--from-service", "worker"],
    ],
    ids=["launch type", "FARGATE_SPOT service"],
)
def test_flush_interval_is_refused_on_fargate_before_any_write(
    emu: Emulator, cli: Cli, task_name: str, reference: Reference, where: list[str]
) -> None:
    """On Fargate (by launch type, or a service's FARGATE_SPOT / FARGATE strategy) the option
    would do nothing: one line says so, exit 2, and nothing was written."""
    del reference
    run = cli(
        "--task-name", task_name, "--cluster", "myEcsCluster", "--image", "myapp:v2", *FAST,
        *where, "--log-flush-interval", "1", "--", "rake", "db:migrate",
    )  # fmt: skip
    assert run.exit_code == 2
    assert run.final_error == FARGATE_REFUSAL
    assert writes(emu) == []


def test_lines_of_a_writer_that_does_not_batch_come_at_the_usual_pace(
    emu: Emulator, cli: Cli, task_name: str
) -> None:
    """Immediate delivery (the driver model off): the read --log-interval after RUNNING finds
    lines off the grid, and they are printed while the task still runs."""
    emu.script(
        task_name, Timeline(lines=(LogLine(0.0, "at once"), LogLine(0.5, "later")), runs_for=1.5)
    )
    run = cli(*args(task_name))
    assert run.exit_code == 0
    assert run.lines == ["at once", "later"]
    statuses = [status for data, status in run.writes if data]
    assert statuses == ["RUNNING", "RUNNING"]
