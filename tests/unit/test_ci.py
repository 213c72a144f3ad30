"""CI markers: which CI runs the tool, and what its log reader gets, in which order."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest

from ecs_one_off_task.ci import (
    CiMarkers,
    CiSystem,
    detect,
    escape_data,
    escape_property,
    github_outputs,
)
from ecs_one_off_task.facts import RunFacts
from ecs_one_off_task.report import Report, build_report

ARN = "arn:aws:ecs:us-east-1:123456789012:task/c/0123456789abcdef"


class Log:
    """stdout and stderr as the runner reads them: one log, in the order written."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.stderr = _Stderr(self.lines)

    def stdout(self, lines: Sequence[str]) -> None:
        self.lines.extend(f"out {line}" for line in lines)


class _Stderr(io.StringIO):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self._lines = lines

    def write(self, text: str) -> int:
        self._lines.extend(f"err {line}" for line in text.removesuffix("\n").split("\n"))
        return len(text)


def report(exit_code: int) -> Report:
    facts = RunFacts(began_at=0.0, began_wall=0.0, task_name="mig", cluster="c", region="us-east-1")
    facts.track(task_arn=ARN, log_stream="ecs/mig/0123456789abcdef")
    return build_report(facts, exit_code=exit_code, ended_at=1.0, ended_wall=1.0, tool_version="1")


def markers(system: CiSystem, log: Log, environ: dict[str, str], **options: bool) -> CiMarkers:
    return CiMarkers(
        system=system,
        stderr=log.stderr,
        write=log.stdout,
        environ=environ,
        wall_clock=lambda: 1_795_000_000.5,
        new_token=lambda: "t0k3n",
        **options,
    )


def a_whole_run(ci: CiMarkers, exit_code: int) -> None:
    ci.setup_begins("ecs-one-off-task: set up mig")
    ci.output_begins()
    ci.output_ends()
    ci.finished(report(exit_code), scrub=lambda value: value)


class TestDetect:
    @pytest.mark.parametrize(
        ("environ", "system"),
        [
            ({"GITHUB_ACTIONS": "true"}, CiSystem.GITHUB),
            ({"GITLAB_CI": "true"}, CiSystem.GITLAB),
            ({"GITHUB_ACTIONS": "false", "CI": "true"}, CiSystem.NONE),
            ({}, CiSystem.NONE),
        ],
    )
    def test_by_the_variable_each_sets(self, environ: dict[str, str], system: CiSystem) -> None:
        """GITHUB_ACTIONS=true is GitHub Actions, GITLAB_CI=true GitLab CI; nothing else is."""
        assert detect(environ) is system


class TestGitHub:
    def test_order_of_markers_in_the_runners_log(self) -> None:
        """The group closes before ::stop-commands::, the container's output is between the
        token lines on stdout, and ::error comes after the closing token."""
        log = Log()
        a_whole_run(markers(CiSystem.GITHUB, log, {}), exit_code=3)
        assert log.lines[:4] == [
            "err ::group::ecs-one-off-task: set up mig",
            "err ::endgroup::",
            "out ::stop-commands::t0k3n",
            "out ::t0k3n::",
        ]
        assert log.lines[4].startswith("err ::error title=exit code 3%3A the container exited")
        assert len(log.lines) == 5

    def test_no_error_on_success(self) -> None:
        """A run that succeeds gets no annotation."""
        log = Log()
        a_whole_run(markers(CiSystem.GITHUB, log, {}), exit_code=0)
        assert not [line for line in log.lines if "::error" in line]

    def test_workflow_commands_allowed_on_request(self) -> None:
        """--allow-workflow-commands: no stop-commands around the container's lines."""
        log = Log()
        a_whole_run(markers(CiSystem.GITHUB, log, {}, allow_workflow_commands=True), 0)
        assert log.lines == ["err ::group::ecs-one-off-task: set up mig", "err ::endgroup::"]

    def test_step_summary_and_outputs_are_appended(self, tmp_path: Path) -> None:
        """What other steps wrote to $GITHUB_STEP_SUMMARY and $GITHUB_OUTPUT stays."""
        summary, outputs = tmp_path / "summary.md", tmp_path / "output"
        summary.write_text("# earlier step\n")
        outputs.write_text("other=1\n")
        environ = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
        a_whole_run(markers(CiSystem.GITHUB, Log(), environ), exit_code=3)
        assert outputs.read_text() == f"other=1\ntask-arn={ARN}\nexit-code=3\n"
        text = summary.read_text()
        assert text.startswith("# earlier step\n### ecs-one-off-task: `mig` failed: exit code 3")

    def test_outputs_of_several_tasks(self) -> None:
        """task-arn lists every task's ARN, space-separated."""
        facts = RunFacts(began_at=0.0, began_wall=0.0, task_name="m", cluster="c")
        facts.track(task_arn="arn:1", log_stream="s1")
        facts.track(task_arn="arn:2", log_stream="s2")
        done = build_report(facts, exit_code=0, ended_at=0, ended_wall=0, tool_version="1")
        assert github_outputs(done) == "task-arn=arn:1 arn:2\nexit-code=0\n"

    def test_escaping(self) -> None:
        """Messages escape %, CR and LF; properties also : and , (the runner's rules)."""
        assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
        assert escape_property("a: b, c") == "a%3A b%2C c"


class TestGitLab:
    def test_collapsed_section_closed_before_the_output(self) -> None:
        """The set-up events are in a collapsed section, ended before the first container line;
        nothing on stdout, no GitHub files."""
        log = Log()
        a_whole_run(markers(CiSystem.GITLAB, log, {}), exit_code=3)
        assert log.lines == [
            (
                "err \x1b[0Ksection_start:1795000000:ecs_one_off_task_setup[collapsed=true]\r"
                "\x1b[0Kecs-one-off-task: set up mig"
            ),
            "err \x1b[0Ksection_end:1795000000:ecs_one_off_task_setup\r\x1b[0K",
        ]


class TestNoCi:
    def test_nothing_is_written_anywhere(self, tmp_path: Path) -> None:
        """Outside GitHub Actions and GitLab CI: no marker, and the GitHub files are not
        touched even when their variables happen to be set."""
        outputs = tmp_path / "output"
        log = Log()
        a_whole_run(markers(CiSystem.NONE, log, {"GITHUB_OUTPUT": str(outputs)}), exit_code=3)
        assert log.lines == []
        assert not outputs.exists()
