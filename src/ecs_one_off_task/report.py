"""The report of a run, built once from its facts when it ends. Pure: no I/O.

One frozen `Report` feeds everything the end of a run leaves behind: the end lines on stderr
(the task ARN and two console links last), the summary object of --summary-json (summary.py),
and the Markdown table of a GitHub step summary. Durations are written the way a
person reads them in a log (`12 s`, `14m 05s`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ecs_one_off_task.facts import Outcome, RunFacts, TaskFacts
from ecs_one_off_task.outcome import TaskEnd, task_end

# -- durations ---------------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """Whole seconds, rounded half up: `12 s`, then `14m 05s`, then `2h 03m 09s`."""
    whole = int(seconds + 0.5) if seconds > 0 else 0
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s"


def format_quick(seconds: float) -> str:
    """A set-up step's duration, which is mostly under a second: `0.31 s`."""
    return f"{max(seconds, 0.0):.2f} s"


def iso(instant: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z, or None."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- console links -----------------------------------------------------------------------------


def _console(region: str) -> str:
    """The AWS console's address for `region`'s partition."""
    if region.startswith("cn-"):
        return "https://console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "https://console.amazonaws-us-gov.com"
    return f"https://{region}.console.aws.amazon.com"


def _console_encoded(name: str) -> str:
    """A log group or stream name as the CloudWatch console writes it in its URL fragment.

    The console encodes the name twice as encodeURIComponent does, then writes each `%` as `$`:
    `/ecs/app` becomes `$252Fecs$252Fapp`.
    """
    once = quote(name, safe="!*'()")
    return quote(once, safe="!*'()").replace("%", "$")


def task_console_url(*, region: str, cluster: str, task_id: str) -> str:
    """The task's page in the ECS console."""
    return (
        f"{_console(region)}/ecs/v2/clusters/{quote(cluster, safe='')}/tasks/"
        f"{quote(task_id, safe='')}/configuration?region={region}"
    )


def log_console_url(*, region: str, log_group: str, log_stream: str) -> str:
    """The log stream's page in the CloudWatch console."""
    return (
        f"{_console(region)}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/"
        f"{_console_encoded(log_group)}/log-events/{_console_encoded(log_stream)}"
    )


def cluster_name(task_arn: str, fallback: str) -> str:
    """The cluster's name: from the task ARN (…:task/CLUSTER/ID), else from `fallback`."""
    resource = task_arn.split(":", 5)[-1].split("/")
    if len(resource) == 3:
        return resource[1]
    return fallback.rsplit("/", 1)[-1]


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TaskReport:
    """One task as it ended."""

    task_arn: str
    task_id: str
    label: str
    log_stream: str
    last_status: str | None
    exit_code: int | None
    stop_code: str | None
    stopped_reason: str | None
    container_reason: str | None
    launch_type: str | None
    created_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    seconds_in_status: tuple[tuple[str, float], ...]
    seconds_running: float | None
    lines: int
    console_url: str | None
    log_url: str | None


@dataclass(frozen=True, kw_only=True)
class StartReport:
    """One start: the task placed (None: RunTask placed none), and how it ended."""

    attempt: int
    task_arn: str | None
    stop_code: str | None
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class Report:
    """The run as it ended."""

    tool_version: str
    outcome: Outcome
    exit_code: int
    reason: str
    error: str | None
    region: str | None
    cluster: str
    task_name: str
    reference_arn: str | None
    task_definition_arn: str | None
    revision: int | None
    revision_reused: bool | None
    runs_on: str | None
    launch_type: str | None
    log_group: str
    lines: int
    began_at: datetime
    ended_at: datetime
    seconds: float
    tasks: tuple[TaskReport, ...] = field(default=())
    starts: tuple[StartReport, ...] = field(default=())
    """Every start, start retries included."""
    started_by: str | None = None
    run_identity: str | None = None
    left_running: bool = False

    @property
    def attempts(self) -> int:
        """How many starts the run took (0: it started nothing)."""
        return max((s.attempt for s in self.starts), default=0)

    @property
    def failed(self) -> bool:
        """Whether the run fails its CI step."""
        return self.exit_code != 0

    @property
    def deciding_task(self) -> TaskReport | None:
        """The task whose end decided the exit code: the first failing one, else the first."""
        failing = [t for t in self.tasks if t.exit_code != 0]
        return next(iter(failing or self.tasks), None)


def _reason(facts: RunFacts, outcome: Outcome, exit_code: int) -> str:
    if facts.reason:
        return facts.reason
    if outcome in (Outcome.SUCCEEDED, Outcome.FAILED):
        return f"the container exited with code {exit_code}"
    return outcome.value


def _seconds_running(
    task: TaskFacts, end: TaskEnd, spent: Mapping[str, float], *, ended_wall: float
) -> float | None:
    """Seconds from ECS's own startedAt to the container's stop; else the RUNNING time seen.

    A task left running (an interrupted attach) counts until the end of the run.
    """
    description = task.description or {}
    started = description.get("startedAt")
    stopped = description.get("executionStoppedAt") or end.stopped_at
    if stopped is None and task.status == "RUNNING":
        stopped = datetime.fromtimestamp(ended_wall, tz=UTC)
    if isinstance(started, datetime) and isinstance(stopped, datetime):
        return max(0.0, (stopped - started).total_seconds())
    return spent.get("RUNNING")


def _task_report(
    task: TaskFacts, *, facts: RunFacts, until: float, until_wall: float, region: str | None
) -> TaskReport:
    description = task.description or {}
    end = task_end(description, facts.task_name)
    spent = task.seconds_in_status(until=until)
    cluster = cluster_name(task.task_arn, facts.cluster)
    return TaskReport(
        task_arn=task.task_arn,
        task_id=task.task_id,
        label=task.label,
        log_stream=task.log_stream,
        last_status=task.status,
        exit_code=end.exit_code,
        stop_code=end.stop_code,
        stopped_reason=end.stopped_reason,
        container_reason=end.container_reason,
        launch_type=description.get("launchType") or facts.launch_type,
        created_at=description.get("createdAt"),
        started_at=description.get("startedAt"),
        stopped_at=end.stopped_at,
        seconds_in_status=tuple(spent.items()),
        seconds_running=_seconds_running(task, end, spent, ended_wall=until_wall),
        lines=task.lines,
        console_url=task_console_url(region=region, cluster=cluster, task_id=task.task_id)
        if region
        else None,
        log_url=log_console_url(
            region=region, log_group=facts.log_group, log_stream=task.log_stream
        )
        if region
        else None,
    )


def build_report(
    facts: RunFacts, *, exit_code: int, ended_at: float, ended_wall: float, tool_version: str
) -> Report:
    """The report of a run that ended at `ended_at` (on the facts' clock) with `exit_code`."""
    outcome = facts.outcome or (Outcome.SUCCEEDED if exit_code == 0 else Outcome.FAILED)
    tasks = tuple(
        _task_report(task, facts=facts, until=ended_at, until_wall=ended_wall, region=facts.region)
        for task in facts.tasks
    )
    return Report(
        tool_version=tool_version,
        outcome=outcome,
        exit_code=exit_code,
        reason=_reason(facts, outcome, exit_code),
        error=facts.error,
        region=facts.region,
        cluster=facts.cluster,
        task_name=facts.task_name,
        reference_arn=facts.reference_arn,
        task_definition_arn=facts.task_definition_arn,
        revision=facts.revision,
        revision_reused=facts.revision_reused,
        runs_on=facts.runs_on,
        launch_type=facts.launch_type,
        log_group=facts.log_group,
        lines=facts.lines,
        began_at=datetime.fromtimestamp(facts.began_wall, tz=UTC),
        ended_at=datetime.fromtimestamp(ended_wall, tz=UTC),
        seconds=max(0.0, ended_at - facts.began_at),
        tasks=tasks,
        starts=_starts(facts, tasks),
        started_by=facts.started_by,
        run_identity=facts.run_identity,
        left_running=facts.left_running,
    )


def _starts(facts: RunFacts, tasks: tuple[TaskReport, ...]) -> tuple[StartReport, ...]:
    """Each start; a task that ran ends as its task report says."""
    ended = {t.task_arn: t for t in tasks}
    starts = []
    for start in facts.starts:
        task = ended.get(start.task_arn or "")
        stop_code, reason = start.stop_code, start.reason
        if reason is None and task is not None:
            stop_code, reason = task.stop_code, task.stopped_reason
        starts.append(
            StartReport(
                attempt=start.attempt, task_arn=start.task_arn, stop_code=stop_code, reason=reason
            )
        )
    return tuple(starts)


# -- the Markdown table (GitHub step summary) ---------------------------------------------------


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _code(value: object) -> str:
    return f"`{_cell(value)}`" if value not in (None, "") else ""


def _link(text: str, url: str | None) -> str:
    return f"[{text}]({url})" if url else text


def _statuses(task: TaskReport) -> str:
    return ", ".join(f"{status} {format_duration(s)}" for status, s in task.seconds_in_status)


def _starts_cell(report: Report) -> str:
    """`1`, or `3: 2 could not start (reason; reason)`."""
    failed = [s for s in report.starts if s.task_arn not in {t.task_arn for t in report.tasks}]
    if not failed:
        return str(report.attempts)
    reasons = "; ".join(_cell(s.reason) for s in failed)
    return f"{report.attempts}: {len(failed)} could not start ({reasons})"


def markdown(report: Report) -> str:
    """The run as Markdown: a table of the run, then one row per task."""
    title = "succeeded" if not report.failed else f"failed: exit code {report.exit_code}"
    revision = ""
    if report.revision is not None:
        how = "reused" if report.revision_reused else "registered"
        revision = f" (revision {report.revision}, {how})"
    rows = [
        ("outcome", f"{report.outcome.value}: {_cell(report.reason)}"),
        ("exit code", str(report.exit_code)),
        ("task definition", _code(report.task_definition_arn) + revision),
        ("cluster", _code(report.cluster)),
        ("runs on", _cell(report.runs_on)),
        ("log group", _code(report.log_group)),
        ("lines printed", str(report.lines)),
        ("total time", format_duration(report.seconds)),
    ]
    if report.attempts:
        rows.append(("starts", _starts_cell(report)))
    if report.run_identity:
        rows.append(("run identity", f"{_cell(report.run_identity)} ({_code(report.started_by)})"))
    if report.left_running:
        rows.append(("left running", "yes: the watch ended, the task goes on"))
    if report.error:
        rows.append(("error", _cell(report.error)))
    lines = [
        f"### ecs-one-off-task: `{_cell(report.task_name)}` {title}",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
    ]
    if report.tasks:
        lines += [
            "",
            (
                "| task | status | exit code | stopCode | stoppedReason | time in each status"
                " | started | stopped | log stream | lines |"
            ),
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines.extend(
            f"| {_link(_code(t.task_id), t.console_url)} | {_cell(t.last_status)}"
            f" | {_cell(t.exit_code)} | {_cell(t.stop_code)} | {_cell(t.stopped_reason)}"
            f" | {_statuses(t)} | {_cell(iso(t.started_at))} | {_cell(iso(t.stopped_at))}"
            f" | {_link(_code(t.log_stream), t.log_url)} | {t.lines} |"
            for t in report.tasks
        )
    return "\n".join(lines) + "\n"


# -- the end lines -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Line:
    """One event of the end of a run: a sentence, what it says, and what it adds."""

    level: str
    text: str
    said: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)


def end_lines(report: Report) -> list[Line]:
    """How the run ended, then each task's ARN and console links: the last lines of a run.

    A run that started no task ends with its error line alone.
    """
    deciding = report.deciding_task
    if deciding is None:
        return []
    # With --count the task whose code it is goes first, with the label its lines had.
    text = f"{deciding.label if len(report.tasks) > 1 else ''}exit code {report.exit_code}"
    if deciding.seconds_running is not None:
        text += f" after {format_duration(deciding.seconds_running)} RUNNING"
    text += f", {format_duration(report.seconds)} in all"
    lines = [
        Line(
            level="info" if not report.failed else "error",
            text=text,
            said={
                "exit_code": report.exit_code,
                "seconds_running": None
                if deciding.seconds_running is None
                else round(deciding.seconds_running, 3),
                "seconds": round(report.seconds, 3),
                "outcome": report.outcome.value,
            },
            fields={
                "stop_code": deciding.stop_code,
                "stopped_reason": deciding.stopped_reason,
                "lines": report.lines,
            },
        )
    ]
    for task in report.tasks:
        for key, name, value in (
            ("task_arn", "task", task.task_arn),
            ("console_url", "ECS console:", task.console_url),
            ("log_url", "CloudWatch Logs:", task.log_url),
        ):
            if value:
                lines.append(
                    Line(level="info", text=f"{task.label}{name} {value}", said={key: value})
                )
    return lines
