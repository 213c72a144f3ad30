"""The end of every run, however it ended: the last lines, the CI's outputs, the summary file.

In this order, because CI log readers need it: whatever the run left open is closed (the CI
group, GitHub's stop-commands), the error that ended the run is said, then how the run ended,
the task ARN and its two console links (the last lines a person sees), then the CI's failure
annotation, step summary and outputs, and the --summary-json file.
"""

from __future__ import annotations

import json
from pathlib import Path

import structlog

from ecs_one_off_task._version import __version__
from ecs_one_off_task.ci import CiMarkers
from ecs_one_off_task.errors import OneOffTaskError
from ecs_one_off_task.facts import RunFacts
from ecs_one_off_task.output import Redactor, write_atomically
from ecs_one_off_task.report import Report, build_report, end_lines
from ecs_one_off_task.summary import summary

log = structlog.get_logger("ecs_one_off_task")


def finish(  # noqa: PLR0913 - what the end of a run needs, named
    *,
    facts: RunFacts,
    exit_code: int,
    error: OneOffTaskError | None,
    ci: CiMarkers,
    redactor: Redactor,
    summary_path: str | None,
    ended_at: float,
    ended_wall: float,
) -> Report:
    """Say and write how the run ended; return its report."""
    if error is not None:
        facts.failed(error)
    report = build_report(
        facts,
        exit_code=exit_code,
        ended_at=ended_at,
        ended_wall=ended_wall,
        tool_version=__version__,
    )
    ci.output_ends()
    ci.setup_ends()
    if error is not None:
        log.error(str(error), exit_code=error.exit_code)
    for line in end_lines(report):
        getattr(log, line.level)(line.text, said=line.said, **line.fields)
    ci.finished(report, scrub=redactor.scrub)
    if summary_path is not None:
        try:
            document = redactor.scrub(summary(report))
            write_atomically(summary_path, json.dumps(document, indent=2) + "\n")
        except OSError as problem:
            log.error("could not write the summary file", path=summary_path, error=str(problem))
    return report


def check_summary_path(path: str | None) -> str | None:
    """A problem with --summary-json FILE found before the run (it must be writable at the end).

    Only the directory is checked: the file itself is replaced at the end.
    """
    if path is None:
        return None
    directory = Path(path).parent
    if not directory.is_dir():
        return f"--summary-json {path}: directory {str(directory)!r} does not exist"
    if Path(path).is_dir():
        return f"--summary-json {path}: is a directory"
    return None
