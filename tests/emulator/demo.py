"""`make demo`: the real CLI against the local emulator, running a scripted Rails migration.

Run from the repository root: `python -m tests.emulator.demo`. It needs no AWS account and no
network: moto serves the AWS APIs on 127.0.0.1 and the fake ECS agent plays the migration, so
anyone can watch what the tool prints (phases with their durations, live log lines, a heartbeat
on a silent stretch, the exit code, console links, the summary file) in about 20 s.
The CLI runs as a child process as it runs in CI: its stdout is the terminal, its stderr a pipe
that the demo passes on line by line, so the tool's events come out in the plain format a CI log
shows.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .emulator import Emulator
from .logdriver import LogDriver
from .seed import seed_reference
from .timeline import LogLine, Timeline

TASK_NAME = "myapp-db-migrations"
REPO_ROOT = Path(__file__).resolve().parents[2]

_MIGRATION_OUTPUT = (
    (0.4, "== 20261126093000 CreateUsers: migrating ======================================"),
    (1.1, "-- create_table(:users)"),
    (2.0, "   -> 0.0123s"),
    (2.7, "-- add_index(:users, :email, {:unique=>true})"),
    (3.5, "   -> 0.0061s"),
    (4.2, "== 20261126093000 CreateUsers: migrated (0.0185s) ============================="),
    (5.3, "== 20261126094500 AddConfirmedAtToUsers: migrating ============================"),
    (6.1, "-- add_column(:users, :confirmed_at, :datetime)"),
    (7.0, "   -> 0.0042s"),
    (7.6, '-- execute("UPDATE users SET confirmed_at = created_at")'),
    (12.4, "   -> 4.7731s"),
    (13.0, '-- change_column_default(:users, :role, {:from=>nil, :to=>"member"})'),
    (13.8, "   -> 0.0038s"),
    (14.5, "== 20261126094500 AddConfirmedAtToUsers: migrated (4.7812s) ==================="),
)

HEARTBEAT = 3
"""Seconds of silence before the tool says the task is still there (60 by default)."""

MIGRATION = Timeline(
    provisioning=1.0,
    pending=1.0,
    stream_delay=0.2,
    lines=tuple(LogLine(at, message) for at, message in _MIGRATION_OUTPUT),
    runs_for=15.0,
    exit_code=0,
    stopping=0.5,
)
"""~1 s PROVISIONING, ~1 s PENDING, 13 lines over ~15 s with a silent UPDATE of ~5 s (longer
than the heartbeat), exit 0, STOPPED 0.5 s later."""

CLI_ARGUMENTS = (
    "--task-name",
    TASK_NAME,
    "--from-task",
    "myapp",
    "--cluster",
    "myEcsCluster",
    "--image",
    "myapp:v2",
    "--poll-interval",
    "1",
    "--heartbeat",
    str(HEARTBEAT),
    "--command",
    "bundle",
    "exec",
    "rake",
    "db:migrate",
)
COMMAND = (sys.executable, "-m", "ecs_one_off_task", *CLI_ARGUMENTS)
SUMMARY_FILE = "migration-summary.json"


def _say(text: str) -> None:
    """Write a banner line to stderr, so stdout stays the CLI's alone."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _child_env(emu: Emulator) -> dict[str, str]:
    """Return the emulator's environment, with src/ importable even when not installed."""
    env = emu.subprocess_env()
    source = str(REPO_ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH", "")) if p)
    return env


def _pass_on(stream: IO[bytes]) -> None:
    """Copy the CLI's stderr to ours line by line, as a CI runner shows it."""
    for line in iter(stream.readline, b""):
        sys.stderr.buffer.write(line)
        sys.stderr.flush()
    stream.close()


def _wait(process: subprocess.Popen[bytes]) -> int:
    """Wait for the CLI, riding out Ctrl-C: the CLI gets the same SIGINT and must clean up.

    The emulator has to stay up while the CLI stops its task and drains the logs; a second
    Ctrl-C gives up on that and terminates the CLI.
    """
    interrupts = 0
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts >= 2:
                process.terminate()


def run_demo(
    command: Sequence[str] = COMMAND,
    *,
    timeline: Timeline = MIGRATION,
    log_driver: LogDriver | None = LogDriver(),  # noqa: B008 - frozen, shared safely
) -> int:
    """Start and seed the emulator, run `command` against it, return its exit code.

    `log_driver` models the awslogs driver (lines reach CloudWatch in its batches, every 5 s,
    as in AWS); None writes each line as it is printed.
    """
    with (
        Emulator(log_driver=log_driver) as emu,
        tempfile.TemporaryDirectory() as directory,
    ):
        seed_reference(emu)
        emu.script(TASK_NAME, timeline)
        summary = Path(directory) / SUMMARY_FILE
        arguments = [*CLI_ARGUMENTS]
        arguments[arguments.index("--command") : 0] = ["--summary-json", SUMMARY_FILE]
        shown = shlex.join(["ecs-one-off-task", *arguments])
        _say(
            f"== demo: local AWS (moto + a fake ECS agent) at {emu.endpoint_url}\n"
            "   seeded: cluster myEcsCluster, reference task definition 'myapp' (myapp:v1,\n"
            "   SSM + Secrets Manager secrets, S3 env file, awslogs).\n"
            f"   the fake agent plays a Rails migration for '{TASK_NAME}': "
            f"~{timeline.provisioning:g} s PROVISIONING,\n"
            f"   ~{timeline.pending:g} s PENDING, {len(timeline.lines)} log lines over "
            f"~{timeline.runs_for:g} s (one silent stretch of ~5 s), exit {timeline.exit_code}.\n"
            + (
                f"   the awslogs driver is modelled: lines reach CloudWatch in its batches,\n"
                f"   every {log_driver.period:g} s, as in AWS; the tool reads just after each.\n"
                if log_driver is not None
                else ""
            )
            + "   stderr is a pipe, as in CI: the tool's events are plain text.\n"
            f"$ {shown}"
        )
        full_command = [*command]
        full_command[full_command.index("--command") : 0] = ["--summary-json", str(summary)]
        process = subprocess.Popen(
            full_command, env=_child_env(emu), cwd=REPO_ROOT, stderr=subprocess.PIPE
        )
        assert process.stderr is not None
        relay = threading.Thread(target=_pass_on, args=(process.stderr,), daemon=True)
        relay.start()
        code = _wait(process)
        relay.join()
        _say(f"== demo: exit code: {code}")
        if summary.exists():
            _say(f"$ cat {SUMMARY_FILE}\n{summary.read_text().rstrip()}")
        return code


def main() -> int:
    """Entry point of `python -m tests.emulator.demo`."""
    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
