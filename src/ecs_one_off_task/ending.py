"""The end of every run, however it ended: the last lines.

The error that ended the run is said first, then how the run ended, then the task ARN and its
two console links: the last lines a person sees.
"""

from __future__ import annotations

import structlog

from ecs_one_off_task._version import __version__
from ecs_one_off_task.errors import OneOffTaskError
from ecs_one_off_task.facts import RunFacts
from ecs_one_off_task.report import Report, build_report, end_lines

log = structlog.get_logger("ecs_one_off_task")


def finish(
    *,
    facts: RunFacts,
    exit_code: int,
    error: OneOffTaskError | None,
    ended_at: float,
    ended_wall: float,
) -> Report:
    """Say how the run ended; return its report."""
    if error is not None:
        facts.failed(error)
    report = build_report(
        facts,
        exit_code=exit_code,
        ended_at=ended_at,
        ended_wall=ended_wall,
        tool_version=__version__,
    )
    if error is not None:
        log.error(str(error), exit_code=error.exit_code)
    for line in end_lines(report):
        getattr(log, line.level)(line.text, said=line.said, **line.fields)
    return report
