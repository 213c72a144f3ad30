"""The real CLI against the emulator: what a person reads in a CI log, and what it leaves.

stderr is a StringIO here, i.e. not a terminal: the default format is plain text.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import pytest

from tests.conftest import CliRun, migration_args
from tests.emulator import Emulator, LogLine, Timeline

Cli = Callable[..., CliRun]
TIME = re.compile(r"^\d\d:\d\d:\d\d ")
ANSI = "\x1b["


def plain(*args: str) -> list[str]:
    """Arguments for a run with plain text on stderr (the default off a terminal)."""
    return ["--log-format", "auto", *args]


def without_time(stderr: str) -> list[str]:
    """The lines of stderr without the time of day that starts each one."""
    lines = stderr.splitlines()
    assert all(TIME.match(line) for line in lines), lines
    return [TIME.sub("", line) for line in lines]


class TestReadableProgress:
    def test_json_only_when_asked(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Off a terminal the default is plain text (a time of day, then the event), not JSON;
        --log-format json gives one JSON object a line."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "hello"),), runs_for=0.1))
        text = cli(*plain(*migration_args(task_name, "--", "x")))
        assert text.exit_code == 0
        assert not [line for line in text.stderr.splitlines() if line.startswith("{")]
        assert any(line.startswith("task started ") for line in without_time(text.stderr))
        structured = cli(*migration_args(task_name, "--", "x"))
        events = [json.loads(line) for line in structured.stderr.splitlines()]
        assert len(events) == len(structured.stderr.splitlines())
        assert events[-1]["event"] == "done"

    def test_verbose_times_every_aws_call(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """-v: one debug line per AWS call, with its operation and duration."""
        emu.script(task_name, Timeline(runs_for=0.1))
        run = cli(*migration_args(task_name, "-v", "--", "x"))
        calls = [e for e in run.events if e["level"] == "debug" and e["event"] == "AWS call"]
        operations = [e["operation"] for e in calls]
        for operation in ("ecs:DescribeTaskDefinition", "ecs:RunTask", "logs:GetLogEvents"):
            assert operation in operations
        assert operations.count("ecs:DescribeTasks") == len(emu.calls_to("DescribeTasks"))
        assert all(isinstance(e["ms"], int) and e["ms"] >= 0 for e in calls)
        quiet = cli(*migration_args(task_name, "--", "x"))
        assert not [e for e in quiet.events if e["level"] == "debug"]


class TerminalStringIO(io.StringIO):
    """stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class TestColour:
    @pytest.mark.parametrize(
        ("terminal", "environ", "coloured"),
        [
            (True, {}, True),
            (True, {"NO_COLOR": "1"}, False),
            (False, {}, False),
            (False, {"FORCE_COLOR": "1"}, True),
        ],
    )
    def test_no_color_and_force_color(
        self,
        emu: Emulator,
        cli: Cli,
        task_name: str,
        monkeypatch: pytest.MonkeyPatch,
        terminal: bool,
        environ: dict[str, str],
        coloured: bool,
    ) -> None:
        """Colour on a terminal unless NO_COLOR; off a terminal only with FORCE_COLOR."""
        del emu
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        stderr = TerminalStringIO() if terminal else io.StringIO()
        run = cli(*plain(*migration_args(task_name, "--", "x")), stderr=stderr)
        assert run.exit_code == 0
        assert (ANSI in run.stderr) is coloured
        assert ANSI not in run.stdout.decode()
