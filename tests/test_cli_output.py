"""The real CLI against the emulator: what a person reads in a CI log, and what CI systems get.

stderr is a StringIO here, i.e. not a terminal: the default format is plain text.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from ecs_one_off_task.summary import SUMMARY_SCHEMA
from tests.conftest import CliRun, migration_args
from tests.emulator import Emulator, LogLine, TaskRecord, Timeline

Cli = Callable[..., CliRun]
TIME = re.compile(r"^\d\d:\d\d:\d\d ")
QUICK = r"\d+\.\d\d s"
ANSI = "\x1b["


def plain(*args: str) -> list[str]:
    """Arguments for a run with plain text on stderr (the default off a terminal)."""
    return ["--log-format", "auto", *args]


def without_time(stderr: str) -> list[str]:
    """The lines of stderr without the time of day that starts each one."""
    lines = stderr.splitlines()
    assert all(TIME.match(line) for line in lines), lines
    return [TIME.sub("", line) for line in lines]


def links(record: TaskRecord, task_name: str) -> list[str]:
    task_id = record.task_id
    console = "https://us-east-1.console.aws.amazon.com"
    return [
        f"task {record.task_arn}",
        (
            f"ECS console: {console}/ecs/v2/clusters/myEcsCluster/tasks/{task_id}/configuration"
            "?region=us-east-1"
        ),
        (
            f"CloudWatch Logs: {console}/cloudwatch/home?region=us-east-1#logsV2:log-groups/"
            f"log-group/$252Fecs$252F{task_name}/log-events/ecs$252F{task_name}$252F{task_id}"
        ),
    ]


class TestReadableProgress:
    def test_the_exact_lines_of_a_run(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Off a terminal: one plain line per event with phases and durations, the time spent in
        each status, a heartbeat on a silent stretch, the budget warning, and the end with the
        task ARN and two console links last. None of it reaches stdout.

        Figures a poll measures are matched as any number of seconds (their exact values are
        unit-tested on a virtual clock); the time RUNNING comes from ECS's timestamps, exactly.
        The timeline keeps each silence 0.75 s or more away from 1.8 s (the heartbeat) and
        3.6 s (a second one), and the budget warning (5 s after the start) 1 s away from the
        heartbeat and from STOPPED, so a loaded machine prints the same lines in the same
        order."""
        emu.script(
            task_name,
            Timeline(
                provisioning=1.0,
                pending=1.0,
                lines=(LogLine(0.0, "migrating"), LogLine(2.6, "step 2"), LogLine(3.4, "done")),
                runs_for=4.2,
            ),
        )
        args = ("--heartbeat", "1.8", "--timeout", "10", "--drain-grace", "0.8", "--", "x")
        run = cli(*plain(*migration_args(task_name, *args)))
        assert run.exit_code == 0
        assert run.stdout == b"migrating\nstep 2\ndone\n"
        record = emu.task_records()[-1]
        definition = f"arn:aws:ecs:us-east-1:123456789012:task-definition/{task_name}:1"
        reference = "arn:aws:ecs:us-east-1:123456789012:task-definition/myapp:1"
        reason = "Essential container in task exited"
        expected = [
            f"reference read in {QUICK}"
            + re.escape(
                f' reference={reference} container="myapp (the only container)"'
                " secrets=2 environment_files=1 environment=[PLANTED_VALUE,RAILS_ENV]"
            ),
            f"revision 1 registered in {QUICK} task_definition={re.escape(definition)}",
            re.escape(f"log group created log_group=/ecs/{task_name} retention_days=7"),
            re.escape(f"task {record.task_id} started in ")
            + QUICK
            + re.escape(
                " on myEcsCluster with launch type EC2 (default)"
                f" log_stream=ecs/{task_name}/{record.task_id}"
                ' gives_up_after="the task is stopped after 10 s (--timeout)"'
                " started_by=ecs-one-off-task"
            ),
            "PROVISIONING",
            r"PENDING after \d+ s in PROVISIONING",
            r"RUNNING after \d+ s in PENDING",
            r"still RUNNING after \d+ s; last log line \d+ s ago",
            (
                r"warning: the task will be stopped in \d+ s if it is still running:"
                " give it longer with --timeout"
            ),
            r"STOPPED after \d+ s in RUNNING",
            re.escape(
                "task stopped: reading the last lines exit_code=0"
                f' reason="stopCode: EssentialContainerExited; stoppedReason: {reason}"'
                " quiet_for=0.8"
            ),
            re.escape("exit code 0 after 4 s RUNNING, ")
            + r"\d+ s in all"
            + re.escape(f' stop_code=EssentialContainerExited stopped_reason="{reason}" lines=3'),
            *map(re.escape, links(record, task_name)),
        ]
        lines = without_time(run.stderr)
        assert len(lines) == len(expected), lines
        for line, pattern in zip(lines, expected, strict=True):
            assert re.fullmatch(pattern, line), (line, pattern)

    def test_json_only_when_asked(self, emu: Emulator, cli: Cli, task_name: str) -> None:
        """Off a terminal the default is plain text, not JSON; --log-format json gives one
        complete JSON object a line, with the values the sentences say as fields."""
        emu.script(
            task_name, Timeline(provisioning=0.3, lines=(LogLine(0.0, "hello"),), runs_for=0.1)
        )
        text = cli(*plain(*migration_args(task_name, "--", "x")))
        assert text.exit_code == 0
        assert not [line for line in text.stderr.splitlines() if line.startswith("{")]
        structured = cli(*migration_args(task_name, "--", "x"))
        events = [json.loads(line) for line in structured.stderr.splitlines()]
        assert len(events) == len(structured.stderr.splitlines())
        # The first change after PROVISIONING: RUNNING, or STOPPED when no poll fell in the
        # 0.1 s the task ran (PENDING lasts 0 s here and is never seen).
        changed = next(e for e in events if e.get("previous_status"))
        assert changed["status"] in {"RUNNING", "STOPPED"}
        assert changed["previous_status"] == "PROVISIONING"
        assert changed["seconds_in_previous"] > 0
        end = next(e for e in events if e.get("outcome"))
        assert (end["exit_code"], end["outcome"], end["lines"]) == (0, "succeeded", 1)
        assert events[-1]["log_url"].startswith("https://us-east-1.console.aws.amazon.com/")

    def test_a_first_poll_that_sees_running_still_says_how_long_it_was_not(
        self, emu: Emulator, cli: Cli, task_name: str, tmp_path: Path
    ) -> None:
        """DescribeTasks does not see the task until it is RUNNING: RunTask's answer
        (PROVISIONING) is the status before, so the first status line says how long the task
        was PROVISIONING, and the summary counts that time (the 1.5 s it was hidden)."""
        emu.script(
            task_name,
            Timeline(provisioning=0.5, invisible_for=1.5, lines=(LogLine(0.0, "hi"),), runs_for=2),
        )
        path = tmp_path / "summary.json"
        run = cli(*plain(*migration_args(task_name, "--summary-json", str(path), "--", "x")))
        assert run.exit_code == 0
        statuses = [
            line
            for line in without_time(run.stderr)
            if line.split(" ", 1)[0] in {"PROVISIONING", "PENDING", "RUNNING"}
        ]
        assert len(statuses) == 1, statuses
        assert re.fullmatch(r"RUNNING after \d+ s in PROVISIONING", statuses[0]), statuses
        spent = json.loads(path.read_text())["tasks"][0]["seconds_in_status"]
        assert sorted(spent) == ["PROVISIONING", "RUNNING"]
        # Counted from RunTask's answer to the first answered poll: the 1.5 s hidden, less the
        # time RunTask's answer took to reach the tool (a loaded machine may take a while).
        assert spent["PROVISIONING"] > 1.0

    def test_quiet_keeps_only_warnings_errors_and_the_container(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """-q: the container's lines on stdout, and on stderr only the tool's warnings and
        errors (here the failing end line); no phase, no link."""
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "boom"),), runs_for=0.1, exit_code=3))
        run = cli(*plain(*migration_args(task_name, "-q", "--", "x")))
        assert run.exit_code == 3
        assert run.stdout == b"boom\n"
        lines = without_time(run.stderr)
        assert len(lines) == 1
        assert lines[0].startswith("error: exit code 3 after 0 s RUNNING, ")

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


class TestSummaryFile:
    @pytest.mark.parametrize(
        ("timeline", "exit_code", "outcome"),
        [
            (Timeline(lines=(LogLine(0.0, "ok"),), runs_for=0.1), 0, "succeeded"),
            (Timeline(lines=(LogLine(0.0, "PG::Error"),), runs_for=0.1, exit_code=3), 3, "failed"),
            (Timeline(run_task_failure="RESOURCE:MEMORY"), 125, "not-run"),
        ],
    )
    def test_written_on_every_end(
        self,
        emu: Emulator,
        cli: Cli,
        task_name: str,
        tmp_path: Path,
        timeline: Timeline,
        exit_code: int,
        outcome: str,
    ) -> None:
        """--summary-json: one JSON object valid against the documented schema, for a success,
        a container failure and a refused RunTask (with its error), and nothing else left in
        the directory; the time running comes from ECS's timestamps."""
        emu.script(task_name, timeline)
        path = tmp_path / "summary.json"
        run = cli(
            *migration_args(
                task_name, "--summary-json", str(path), "--start-retries", "0", "--", "x"
            )
        )
        assert run.exit_code == exit_code
        document = json.loads(path.read_text())
        jsonschema.validate(document, SUMMARY_SCHEMA, format_checker=jsonschema.FormatChecker())
        assert (document["exit_code"], document["outcome"]) == (exit_code, outcome)
        assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
        assert document["task_definition_arn"].endswith(f"task-definition/{task_name}:1")
        if outcome == "not-run":
            assert "RESOURCE:MEMORY" in document["error"]
            assert document["tasks"] == []
            return
        record = emu.task_records()[-1]
        (task,) = document["tasks"]
        assert task["task_arn"] == record.task_arn
        assert task["exit_code"] == exit_code
        assert task["stop_code"] == "EssentialContainerExited"
        assert task["log_stream"] == record.log_stream
        assert task["lines"] == document["lines"] == 1
        # From ECS's own timestamps (the scripted 0.1 s), not from the statuses a poll saw:
        # a task this short may be STOPPED before any poll sees it RUNNING.
        assert task["seconds_running"] == pytest.approx(0.1, abs=0.002)
        assert set(task["seconds_in_status"]) <= {"PROVISIONING", "PENDING", "RUNNING"}
        assert task["started_at"].endswith("Z")

    def test_a_missing_directory_is_refused_before_any_call(
        self, emu: Emulator, cli: Cli, task_name: str, tmp_path: Path
    ) -> None:
        """A summary file that could not be written at the end is a usage error up front."""
        path = tmp_path / "nowhere" / "summary.json"
        run = cli(*migration_args(task_name, "--summary-json", str(path), "--", "x"))
        assert run.exit_code == 2
        assert "does not exist" in run.stderr
        assert emu.operations() == []


class TestTimestamps:
    def test_each_line_after_its_events_timestamp(
        self, emu: Emulator, cli: Cli, task_name: str
    ) -> None:
        """--timestamps: each container line follows its CloudWatch event's timestamp, ISO 8601
        in UTC with milliseconds."""
        emu.script(
            task_name, Timeline(lines=(LogLine(0.0, "one"), LogLine(0.1, "two")), runs_for=0.2)
        )
        run = cli(*migration_args(task_name, "--timestamps", "--", "x"))
        assert run.exit_code == 0
        from ecs_one_off_task.output import timestamped  # noqa: PLC0415

        record = emu.task_records()[-1]
        assert run.lines == [timestamped(line.timestamp, line.message) for line in record.lines]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z one", run.lines[0])


class RunnerLog:
    """stdout and stderr in the order written, as GitHub's runner reads a step's output."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str | None]] = []
        self.stderr = self._Stderr(self.entries)

    class _Stderr(io.StringIO):
        def __init__(self, entries: list[tuple[str, str | None]]) -> None:
            super().__init__()
            self.entries = entries

        def write(self, text: str) -> int:
            self.entries.append(("err", text))
            return super().write(text)

    def stdout_written(self) -> None:
        self.entries.append(("out", None))

    def lines(self, run: CliRun) -> list[tuple[str, str]]:
        """Each complete line with its stream, stdout's writes put back in their places."""
        writes = iter(data.decode() for data, _ in run.writes)
        lines: list[tuple[str, str]] = []
        pending = {"out": "", "err": ""}
        for stream, text in self.entries:
            pending[stream] += next(writes) if text is None else text
            *complete, pending[stream] = pending[stream].split("\n")
            lines.extend((stream, line) for line in complete)
        return lines


def executed_commands(lines: list[tuple[str, str]]) -> list[str]:
    """The workflow commands GitHub's runner would execute, by its rules: `::name ...::data`
    at the start of a line, none between `::stop-commands::TOKEN` and `::TOKEN::`."""
    executed = []
    token = None
    for _, line in lines:
        if token is not None:
            if line == f"::{token}::":
                token = None
                executed.append("(resumed)")
            continue
        match = re.match(r"::([a-z-]+)( [^:]*)?::(.*)", line)
        if match:
            executed.append(line)
            if match[1] == "stop-commands":
                token = match[3]
    return executed


class TestGitHubActions:
    def test_commands_in_the_containers_output_are_not_executed(
        self,
        emu: Emulator,
        cli: Cli,
        task_name: str,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """A container printing `::error::injected` and `::add-mask::x`: the runner would run
        only the tool's own commands: the set-up group, closed before stop-commands, and the
        tool's ::error after the closing token; the container's lines stay byte for byte."""
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        summary, outputs = tmp_path / "summary.md", tmp_path / "output"
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
        printed = ("::error::injected", "::add-mask::x", "::stop-commands::guess", "plain")
        emu.script(
            task_name,
            Timeline(
                lines=tuple(LogLine(0.01 * i, m) for i, m in enumerate(printed)),
                runs_for=0.2,
                exit_code=2,
            ),
        )
        log = RunnerLog()
        run = cli(
            *plain(*migration_args(task_name, "--", "x")),
            stderr=log.stderr,
            on_write=log.stdout_written,
        )
        assert run.exit_code == 2
        stdout = run.lines
        token = stdout[0].removeprefix("::stop-commands::")
        assert re.fullmatch(r"[0-9a-f]{32}", token)
        assert stdout == [f"::stop-commands::{token}", *printed, f"::{token}::"]
        commands = executed_commands(log.lines(run))
        assert commands[:3] == [
            f"::group::ecs-one-off-task: set up {task_name}",
            "::endgroup::",
            f"::stop-commands::{token}",
        ]
        assert commands[3] == "(resumed)"
        assert commands[4].startswith("::error title=exit code 2%3A the container exited")
        assert len(commands) == 5
        record = emu.task_records()[-1]
        assert outputs.read_text() == f"task-arn={record.task_arn}\nexit-code=2\n"
        assert summary.read_text().startswith(
            f"### ecs-one-off-task: `{task_name}` failed: exit code 2\n"
        )

    def test_nothing_of_it_outside_github_actions(
        self,
        emu: Emulator,
        cli: Cli,
        task_name: str,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,
    ) -> None:
        """Without GITHUB_ACTIONS=true: stdout is the container's lines alone, no marker on
        stderr, and the files are not written even when their variables are set."""
        outputs = tmp_path / "output"
        monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "::warning::x"),), runs_for=0.1))
        run = cli(*plain(*migration_args(task_name, "--", "x")))
        assert run.exit_code == 0
        assert run.stdout == b"::warning::x\n"
        assert "::" not in "".join(line[:11] for line in without_time(run.stderr))
        assert not outputs.exists()

    def test_allowed_workflow_commands(
        self, emu: Emulator, cli: Cli, task_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """--allow-workflow-commands: the container's lines are not wrapped."""
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "::notice::hi"),), runs_for=0.1))
        run = cli(*migration_args(task_name, "--allow-workflow-commands", "--", "x"))
        assert run.stdout == b"::notice::hi\n"


class TestGitLabCi:
    def test_setup_in_a_collapsed_section(
        self, emu: Emulator, cli: Cli, task_name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """GITLAB_CI=true: the set-up events are in a collapsed section on stderr, closed before
        the container's first line; stdout is the container's lines alone."""
        monkeypatch.setenv("GITLAB_CI", "true")
        emu.script(task_name, Timeline(lines=(LogLine(0.0, "hello"),), runs_for=0.1))
        log = RunnerLog()
        run = cli(
            *plain(*migration_args(task_name, "--", "x")),
            stderr=log.stderr,
            on_write=log.stdout_written,
        )
        assert run.stdout == b"hello\n"
        lines = log.lines(run)
        start = next(i for i, (_, text) in enumerate(lines) if "section_start:" in text)
        end = next(i for i, (_, text) in enumerate(lines) if "section_end:" in text)
        first = lines.index(("out", "hello"))
        assert start == 0
        assert re.fullmatch(
            r"\x1b\[0Ksection_start:\d+:ecs_one_off_task_setup\[collapsed=true\]\r\x1b\[0K"
            + re.escape(f"ecs-one-off-task: set up {task_name}"),
            lines[start][1],
        )
        assert start < end < first
        assert "started in" in lines[end - 1][1]
