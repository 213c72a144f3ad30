"""`make demo`: the real CLI against the local emulator, running a scripted Rails migration.

Run from the repository root: `python -m tests.emulator.demo`. It needs no AWS account and no
network: moto serves the AWS APIs on 127.0.0.1 and the fake ECS agent plays the migration, so
anyone can watch what the tool prints (phases, live log lines, the exit code) in about 15 s.
The CLI runs as a child process with the terminal inherited, exactly as a user would run it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .emulator import Emulator
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
    (7.9, '-- change_column_default(:users, :role, {:from=>nil, :to=>"member"})'),
    (8.8, "   -> 0.0038s"),
    (9.6, "== 20261126094500 AddConfirmedAtToUsers: migrated (0.0081s) ==================="),
)

MIGRATION = Timeline(
    provisioning=1.0,
    pending=1.0,
    stream_delay=0.2,
    lines=tuple(LogLine(at, message) for at, message in _MIGRATION_OUTPUT),
    runs_for=10.0,
    exit_code=0,
    stopping=0.5,
)
"""~1 s PROVISIONING, ~1 s PENDING, 12 lines over ~10 s, exit 0, STOPPED 0.5 s later."""

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
    "--command",
    "bundle",
    "exec",
    "rake",
    "db:migrate",
)
COMMAND = (sys.executable, "-m", "ecs_one_off_task", *CLI_ARGUMENTS)


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


def run_demo(command: Sequence[str] = COMMAND, *, timeline: Timeline = MIGRATION) -> int:
    """Start and seed the emulator, run `command` against it, return its exit code."""
    with Emulator() as emu:
        seed_reference(emu)
        emu.script(TASK_NAME, timeline)
        shown = shlex.join(["ecs-one-off-task", *CLI_ARGUMENTS])
        _say(
            f"== demo: local AWS (moto + a fake ECS agent) at {emu.endpoint_url}\n"
            "   seeded: cluster myEcsCluster, reference task definition 'myapp' (myapp:v1,\n"
            "   SSM + Secrets Manager secrets, S3 env file, awslogs).\n"
            f"   the fake agent plays a Rails migration for '{TASK_NAME}': "
            f"~{timeline.provisioning:g} s PROVISIONING,\n"
            f"   ~{timeline.pending:g} s PENDING, {len(timeline.lines)} log lines over "
            f"~{timeline.runs_for:g} s, exit {timeline.exit_code}.\n"
            f"$ {shown}"
        )
        process = subprocess.Popen(command, env=_child_env(emu), cwd=REPO_ROOT)
        code = _wait(process)
        _say(f"== demo: exit code: {code}")
        return code


def main() -> int:
    """Entry point of `python -m tests.emulator.demo`."""
    return run_demo()


if __name__ == "__main__":
    sys.exit(main())
