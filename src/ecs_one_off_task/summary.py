"""The summary object of --summary-json, and its JSON Schema. Pure: no I/O.

The object is the run's report as data for a pipeline's next step; the schema (documented in
the README) says what each field is and is checked against real summaries by the tests.
"""

from __future__ import annotations

from typing import Any

from ecs_one_off_task.facts import Outcome
from ecs_one_off_task.report import Report, iso

SUMMARY_VERSION = 1


def summary(report: Report) -> dict[str, Any]:
    """The run as one JSON object; SUMMARY_SCHEMA says what each field is."""
    return {
        "version": SUMMARY_VERSION,
        "tool_version": report.tool_version,
        "outcome": report.outcome.value,
        "exit_code": report.exit_code,
        "reason": report.reason,
        "error": report.error,
        "region": report.region,
        "cluster": report.cluster,
        "task_name": report.task_name,
        "reference_arn": report.reference_arn,
        "task_definition_arn": report.task_definition_arn,
        "revision": report.revision,
        "revision_reused": report.revision_reused,
        "runs_on": report.runs_on,
        "launch_type": report.launch_type,
        "log_group": report.log_group,
        "lines": report.lines,
        "began_at": iso(report.began_at),
        "ended_at": iso(report.ended_at),
        "seconds": round(report.seconds, 3),
        "started_by": report.started_by,
        "run_identity": report.run_identity,
        "left_running": report.left_running,
        "attempts": [
            {
                "attempt": start.attempt,
                "task_arn": start.task_arn,
                "stop_code": start.stop_code,
                "reason": start.reason,
            }
            for start in report.starts
        ],
        "tasks": [
            {
                "task_arn": task.task_arn,
                "task_id": task.task_id,
                "last_status": task.last_status,
                "exit_code": task.exit_code,
                "stop_code": task.stop_code,
                "stopped_reason": task.stopped_reason,
                "container_reason": task.container_reason,
                "launch_type": task.launch_type,
                "created_at": iso(task.created_at),
                "started_at": iso(task.started_at),
                "stopped_at": iso(task.stopped_at),
                "seconds_in_status": {s: round(v, 3) for s, v in task.seconds_in_status},
                "seconds_running": None
                if task.seconds_running is None
                else round(task.seconds_running, 3),
                "log_stream": task.log_stream,
                "lines": task.lines,
                "console_url": task.console_url,
                "log_url": task.log_url,
            }
            for task in report.tasks
        ],
    }


def _nullable(kind: str, description: str, **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"type": [kind, "null"], "description": description, **extra}


def _required(kind: str, description: str, **extra: Any) -> dict[str, Any]:  # noqa: ANN401
    return {"type": kind, "description": description, **extra}


_TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "task_arn": _required("string", "The task's ARN."),
        "task_id": _required("string", "The last part of the task ARN."),
        "last_status": _nullable("string", "The last lastStatus seen (STOPPED once it ended)."),
        "exit_code": _nullable("integer", "The one-off container's exit code."),
        "stop_code": _nullable("string", "ECS's stopCode, e.g. EssentialContainerExited."),
        "stopped_reason": _nullable("string", "ECS's stoppedReason."),
        "container_reason": _nullable("string", "The container's reason, e.g. a failed pull."),
        "launch_type": _nullable("string", "EC2, FARGATE or EXTERNAL, as ECS reports it."),
        "created_at": _nullable("string", "ECS's createdAt (RunTask).", format="date-time"),
        "started_at": _nullable("string", "ECS's startedAt (RUNNING).", format="date-time"),
        "stopped_at": _nullable("string", "ECS's stoppedAt (STOPPED).", format="date-time"),
        "seconds_in_status": _required(
            "object",
            "Seconds spent in each status seen (PROVISIONING, PENDING, RUNNING, ...).",
            additionalProperties={"type": "number", "minimum": 0},
        ),
        "seconds_running": _nullable(
            "number",
            "From startedAt to the container's stop, or to the end of the run for a task left"
            " running.",
            minimum=0,
        ),
        "log_stream": _required("string", "The task's CloudWatch log stream."),
        "lines": _required("integer", "Lines of the task printed on stdout.", minimum=0),
        "console_url": _nullable("string", "The task in the ECS console.", format="uri"),
        "log_url": _nullable("string", "The log stream in the CloudWatch console.", format="uri"),
    },
}
_TASK_SCHEMA["required"] = list(_TASK_SCHEMA["properties"])

_ATTEMPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "attempt": _required("integer", "Which start: 1, then 2 for the first retry...", minimum=1),
        "task_arn": _nullable("string", "The task placed; null when RunTask placed none."),
        "stop_code": _nullable("string", "ECS's stopCode of the task."),
        "reason": _nullable("string", "Why it stopped, or why RunTask placed no task."),
    },
}
_ATTEMPT_SCHEMA["required"] = list(_ATTEMPT_SCHEMA["properties"])

SUMMARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:ecs-one-off-task:summary:1",
    "title": "ecs-one-off-task run summary",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": _required("integer", "Version of this schema.", const=SUMMARY_VERSION),
        "tool_version": _required("string", "The tool's version."),
        "outcome": _required(
            "string", "How the run ended.", enum=[outcome.value for outcome in Outcome]
        ),
        "exit_code": _required("integer", "The tool's exit code."),
        "reason": _required("string", "Why the run ended so, in a few words."),
        "error": _nullable("string", "The error that ended the run, if one did."),
        "region": _nullable("string", "The AWS region."),
        "cluster": _required("string", "The cluster, as given."),
        "task_name": _required("string", "Family and container name of the one-off task."),
        "reference_arn": _nullable("string", "The reference task definition read."),
        "task_definition_arn": _nullable("string", "The revision the task ran."),
        "revision": _nullable("integer", "Its revision number."),
        "revision_reused": _nullable(
            "boolean", "True: the latest revision was reused; false: a new one was registered."
        ),
        "runs_on": _nullable("string", "Where the task runs, and what decided it."),
        "launch_type": _nullable("string", "The launch type asked for, if one was."),
        "log_group": _required("string", "The CloudWatch log group."),
        "lines": _required("integer", "Container lines printed on stdout.", minimum=0),
        "began_at": _required("string", "When the run began.", format="date-time"),
        "ended_at": _required("string", "When the run ended.", format="date-time"),
        "seconds": _required("number", "How long the run took.", minimum=0),
        "started_by": _nullable("string", "The startedBy of the tasks this run started."),
        "run_identity": _nullable(
            "string", "The run's identity (--run-id or the CI job), in words; null: none."
        ),
        "left_running": _required(
            "boolean",
            "True when the run ended with a task still running (the watch ran out of status"
            " checks, or attach was interrupted).",
        ),
        "attempts": {
            "type": "array",
            "description": "Every start, start retries included, in order.",
            "items": _ATTEMPT_SCHEMA,
        },
        "tasks": {
            "type": "array",
            "description": "The tasks started: one, or --count of them.",
            "items": _TASK_SCHEMA,
        },
    },
}
SUMMARY_SCHEMA["required"] = list(SUMMARY_SCHEMA["properties"])
