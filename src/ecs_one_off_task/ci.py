"""GitHub Actions and GitLab CI: the markers their log readers act on, and the files they read.

Nothing here happens outside those two (`GITHUB_ACTIONS=true`, `GITLAB_CI=true`).

Both fold the set-up events (reference read, revision, log group, task started) into a
collapsed group, closed before the container's first line. GitHub's runner also executes
*workflow commands*, lines starting with `::`, from a step's stdout and stderr alike: a
migration printing data could mask values, switch command processing off or fake an error.
So, unless --allow-workflow-commands, the container's lines are wrapped in
`::stop-commands::TOKEN` … `::TOKEN::` with a token the container cannot guess. Those two lines
go to stdout, the only stream that keeps them in order with the container's lines. The runner
reads stdout and stderr as one log, so the order of what goes to each matters: `::endgroup::`
comes before `::stop-commands::`, and the tool's own `::error` after the closing token.
At the end, GitHub also gets a Markdown summary appended to `$GITHUB_STEP_SUMMARY` and the
step's outputs `task-arn` and `exit-code` appended to `$GITHUB_OUTPUT`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from ecs_one_off_task.report import Report, markdown

GITLAB_SECTION = "ecs_one_off_task_setup"
_TITLE_LENGTH = 120


class CiSystem(StrEnum):
    """The CI system the tool runs in."""

    NONE = "none"
    GITHUB = "github"
    GITLAB = "gitlab"


def detect(environ: Mapping[str, str]) -> CiSystem:
    """Which CI system runs the tool, by the variable each one sets to `true`."""
    if environ.get("GITHUB_ACTIONS") == "true":
        return CiSystem.GITHUB
    if environ.get("GITLAB_CI") == "true":
        return CiSystem.GITLAB
    return CiSystem.NONE


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (title=…), escaped as the runner unescapes it."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_error(*, title: str, message: str) -> str:
    """An `::error` annotation."""
    return f"::error title={escape_property(title)}::{escape_data(message)}"


def gitlab_section_start(*, at: int, header: str) -> str:
    """The start of GitLab's collapsed section of the set-up events."""
    return f"\x1b[0Ksection_start:{at}:{GITLAB_SECTION}[collapsed=true]\r\x1b[0K{header}"


def gitlab_section_end(*, at: int) -> str:
    """The end of GitLab's collapsed section."""
    return f"\x1b[0Ksection_end:{at}:{GITLAB_SECTION}\r\x1b[0K"


def failure_annotation(report: Report) -> str:
    """The `::error` of a failed run: titled with the exit code and the reason."""
    reason = report.reason.splitlines()[0] if report.reason else report.outcome.value
    if len(reason) > _TITLE_LENGTH:
        reason = reason[: _TITLE_LENGTH - 1] + "…"
    lines = [f"{report.task_name}: {report.reason}"]
    task = report.deciding_task
    if task is not None:
        lines.append(f"task {task.task_arn}")
        if task.stop_code or task.stopped_reason:
            lines.append(f"stopCode: {task.stop_code}; stoppedReason: {task.stopped_reason}")
        if task.console_url:
            lines.append(f"ECS console: {task.console_url}")
        if task.log_url:
            lines.append(f"CloudWatch Logs: {task.log_url}")
    return github_error(title=f"exit code {report.exit_code}: {reason}", message="\n".join(lines))


def github_outputs(report: Report) -> str:
    """The step outputs, as `name=value` lines for $GITHUB_OUTPUT."""
    arns = " ".join(task.task_arn for task in report.tasks)
    return f"task-arn={arns}\nexit-code={report.exit_code}\n"


def _append(path: str | None, text: str) -> None:
    """Append to a file the runner gave us; never overwrite it (other steps wrote there)."""
    if path:
        with Path(path).open("a", encoding="utf-8") as file:
            file.write(text)


class CiMarkers:
    """Writes the CI system's markers around the parts of a run, in the order it needs them.

    The calls are made in the run's order (`setup_begins`, `setup_ends`, `output_begins`,
    `output_ends`, `finished`); each marker is written once, and closing what is not open does
    nothing, so the end of a run can close whatever the run left open.
    """

    def __init__(  # noqa: PLR0913 - every collaborator is injected on purpose
        self,
        *,
        system: CiSystem,
        stderr: TextIO,
        write: Callable[[Sequence[str]], None],
        environ: Mapping[str, str],
        wall_clock: Callable[[], float],
        allow_workflow_commands: bool = False,
        new_token: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        """`write` writes lines to stdout, in order with the container's lines."""
        self.system = system
        self._stderr = stderr
        self._write = write
        self._environ = environ
        self._wall_clock = wall_clock
        self._allow_workflow_commands = allow_workflow_commands
        self._new_token = new_token
        self._setup_open = False
        self._token: str | None = None

    def _say(self, line: str) -> None:
        self._stderr.write(line + "\n")
        self._stderr.flush()

    def setup_begins(self, title: str) -> None:
        """Open the collapsed group of the set-up events."""
        if self.system is CiSystem.GITHUB:
            self._say(f"::group::{escape_data(title)}")
        elif self.system is CiSystem.GITLAB:
            self._say(gitlab_section_start(at=int(self._wall_clock()), header=title))
        else:
            return
        self._setup_open = True

    def setup_ends(self) -> None:
        """Close the group, if it is open."""
        if not self._setup_open:
            return
        self._setup_open = False
        if self.system is CiSystem.GITHUB:
            self._say("::endgroup::")
        else:
            self._say(gitlab_section_end(at=int(self._wall_clock())))

    def output_begins(self) -> None:
        """The container's lines come next: close the group, stop GitHub's command processing."""
        self.setup_ends()
        if self.system is CiSystem.GITHUB and not self._allow_workflow_commands:
            self._token = self._new_token()
            self._write([f"::stop-commands::{self._token}"])

    def output_ends(self) -> None:
        """The container's lines are over: resume command processing, if it was stopped."""
        if self._token is not None:
            self._write([f"::{self._token}::"])
            self._token = None

    def finished(self, report: Report, *, scrub: Callable[[Any], Any]) -> None:
        """After the end lines: the failure annotation, the step summary and outputs.

        `scrub` redacts secret values from what is written.
        """
        self.output_ends()
        self.setup_ends()
        if self.system is not CiSystem.GITHUB:
            return
        if report.failed:
            self._say(scrub(failure_annotation(report)))
        _append(self._environ.get("GITHUB_STEP_SUMMARY"), scrub(markdown(report)))
        _append(self._environ.get("GITHUB_OUTPUT"), scrub(github_outputs(report)))
