"""Fixtures for the tests that run the real CLI against the local AWS emulator."""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ecs_one_off_task.cli import run_cli
from tests.emulator import Emulator, TaskRecord
from tests.emulator.seed import Reference, seed_reference

WRITES = frozenset(
    {
        "RegisterTaskDefinition",
        "DeregisterTaskDefinition",
        "CreateLogGroup",
        "PutRetentionPolicy",
        "RunTask",
        "StopTask",
        "TagResource",
    }
)
"""The calls that change the account: a bad input or a read-only command makes none of them."""

# Fast settings so a scripted task of a second takes about a second to follow.
FAST = ["--poll-interval", "0.1", "--log-interval", "0.05", "--drain-grace", "0.3"]
_names = itertools.count(1)


# Variables that change what the tool prints: a test sets the ones it is about, no other leaks
# in from the shell or the CI system running the suite.
OUTPUT_VARIABLES = (
    "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITLAB_CI", "NO_COLOR",
    "FORCE_COLOR",
)  # fmt: skip


@pytest.fixture(autouse=True)
def _no_output_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OUTPUT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """One emulator for the session: tests keep apart by using task names of their own."""
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def reference(emulator: Emulator) -> Reference:
    """The seeded account: cluster myEcsCluster, reference task definition myapp, and more."""
    return seed_reference(emulator, container_instances=4)


@pytest.fixture
def emu(emulator: Emulator, reference: Reference) -> Iterator[Emulator]:
    """The emulator with the reference seeded and this test's calls, faults and quota only."""
    del reference
    emulator.clear_calls()
    emulator.clear_faults()
    emulator.set_log_quota(None)
    yield emulator
    emulator.clear_faults()
    emulator.set_log_quota(None)


@pytest.fixture
def cleanup(emu: Emulator) -> Iterator[list[str]]:
    """Task ARNs (on myEcsCluster) to stop after the test, so no endless task outlives it."""
    arns: list[str] = []
    yield arns
    ecs = emu.boto3_client("ecs")
    for arn in arns:
        ecs.stop_task(cluster="myEcsCluster", task=arn, reason="test over")


@pytest.fixture
def task_name() -> str:
    """A task name (family) no other test uses."""
    return f"mig-{next(_names)}"


@dataclass
class CliRun:
    """What one run of the CLI did."""

    exit_code: int
    stdout: bytes
    stderr: str
    writes: list[tuple[bytes, str | None]] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """The stdout split into lines (one container line each)."""
        return self.stdout.decode().splitlines()

    def lines_by_task(self, task_ids: list[str]) -> dict[str, list[str]]:
        """The stdout lines of each task of a --count run, by their `[<id[:8]>] ` prefix
        (removed); a line with no known prefix is under ""."""
        by_task: dict[str, list[str]] = {task_id: [] for task_id in task_ids}
        by_task[""] = []
        for line in self.lines:
            owner = next((t for t in task_ids if line.startswith(f"[{t[:8]}] ")), "")
            by_task[owner].append(line[11:] if owner else line)
        return by_task

    @property
    def events(self) -> list[dict[str, Any]]:
        """The tool's own JSON events on stderr."""
        return [json.loads(line) for line in self.stderr.splitlines() if line.startswith("{")]

    def event(self, name: str) -> dict[str, Any]:
        """The first event called `name`."""
        return next(e for e in self.events if e["event"] == name)

    def event_with(self, field: str) -> dict[str, Any]:
        """The first event that has `field` (events whose text is a sentence with figures)."""
        return next(e for e in self.events if field in e)

    @property
    def errors(self) -> list[str]:
        """The tool's error events, in order."""
        return [e["event"] for e in self.events if e["level"] == "error"]

    @property
    def final_error(self) -> str:
        """The error that ended the run (said before the end line, which has the outcome)."""
        errors = [e for e in self.events if e["level"] == "error" and "outcome" not in e]
        return str(errors[-1]["event"])


class WatchingStdout(io.BytesIO):
    """stdout that notes, at each write, the task's status in the emulator at that moment."""

    def __init__(self, status: Callable[[], str | None]) -> None:
        super().__init__()
        self.status = status
        self.writes: list[tuple[bytes, str | None]] = []
        self.on_write: Callable[[], None] | None = None

    def write(self, data: Any) -> int:
        self.writes.append((bytes(data), self.status()))
        if self.on_write is not None:
            self.on_write()
        return super().write(data)


@pytest.fixture
def cli(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliRun]:
    """Run the real CLI in this process against the emulator, with JSON events on stderr."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in emu.env().items():
        monkeypatch.setenv(name, value)

    def run(
        *args: str,
        on_write: Callable[[], None] | None = None,
        stderr: io.StringIO | None = None,
    ) -> CliRun:
        """Run with `args` after `--log-format json` (a later --log-format wins)."""
        records: list[TaskRecord] = []

        def status() -> str | None:
            current = emu.task_records()
            records[:] = current
            return current[-1].status if current else None

        stdout = WatchingStdout(status)
        stdout.on_write = on_write
        stderr = stderr if stderr is not None else io.StringIO()
        command = ["--log-format", "json", *args]
        if args[:1] == ("attach",):  # a subcommand's options follow its name
            command = ["attach", "--log-format", "json", *args[1:]]
        code = run_cli(command, stdout=stdout, stderr=stderr)
        return CliRun(
            exit_code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue(), writes=stdout.writes
        )

    return run


def migration_args(task_name: str, *extra: str) -> list[str]:
    """The seed's example command line with fast polling, for task `task_name`."""
    return [
        "--task-name", task_name, "--from-task", "myapp", "--cluster", "myEcsCluster",
        "--image", "myapp:v2", *FAST, *extra,
    ]  # fmt: skip


def writes(emu: Emulator) -> list[str]:
    """The write calls the emulator received (since the last clear), in order."""
    return [c.operation for c in emu.calls if c.operation in WRITES]


def signal_on_first_write(signum: int) -> Callable[[], None]:
    """An `on_write` hook for the `cli` fixture: send `signum` to this process once, at the
    first container line written to stdout."""
    sent: list[bool] = []

    def send_once() -> None:
        if not sent:
            sent.append(True)
            os.kill(os.getpid(), signum)

    return send_once
