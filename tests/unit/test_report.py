"""The report: durations as people read them, console links, the summary and its schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from ecs_one_off_task.errors import TaskNotRun
from ecs_one_off_task.facts import Outcome, RunFacts
from ecs_one_off_task.report import (
    build_report,
    end_lines,
    format_duration,
    log_console_url,
    markdown,
    task_console_url,
)
from ecs_one_off_task.summary import SUMMARY_SCHEMA, summary

TASK_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/myEcsCluster/0123456789abcdef0123456789abcdef"
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC)


def stopped_task(exit_code: int | None = 0) -> dict[str, object]:
    """A DescribeTasks answer for a task that ran 42.5 s and exited with `exit_code`."""
    container: dict[str, object] = {"name": "mig"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    return {
        "lastStatus": "STOPPED",
        "launchType": "EC2",
        "stopCode": "EssentialContainerExited",
        "stoppedReason": "Essential container in task exited",
        "createdAt": at(1.0),
        "startedAt": at(13.0),
        "executionStoppedAt": at(55.5),
        "stoppedAt": at(57.0),
        "containers": [container],
    }


def facts_of_a_run(exit_code: int | None = 0) -> RunFacts:
    """A run that read the reference, registered revision 4 and followed one task."""
    facts = RunFacts(
        began_at=100.0,
        began_wall=T0.timestamp(),
        task_name="mig",
        cluster="myEcsCluster",
        log_group="/ecs/mig",
        region="eu-west-1",
        reference_arn="arn:aws:ecs:eu-west-1:123456789012:task-definition/myapp:7",
        task_definition_arn="arn:aws:ecs:eu-west-1:123456789012:task-definition/mig:4",
        revision=4,
        revision_reused=False,
        runs_on="launch type EC2 (default)",
        launch_type="EC2",
    )
    task = facts.track(task_arn=TASK_ARN, log_stream="ecs/mig/0123456789abcdef0123456789abcdef")
    task.saw("PROVISIONING", {}, at=101.0)
    task.saw("PENDING", {}, at=113.0)
    task.saw("RUNNING", {}, at=114.0)
    facts.wrote(task, 3, at=130.0)
    task.saw("STOPPED", stopped_task(exit_code), at=157.0)
    return facts


class TestDurations:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (0.0, "0 s"),
            (0.49, "0 s"),
            (0.5, "1 s"),
            (12.2, "12 s"),
            (59.6, "1m 00s"),
            (845.0, "14m 05s"),
            (190.0, "3m 10s"),
            (7389.0, "2h 03m 09s"),
        ],
    )
    def test_as_people_read_them(self, seconds: float, text: str) -> None:
        """Whole seconds under a minute, then minutes and two-digit seconds, then hours."""
        assert format_duration(seconds) == text


class TestConsoleLinks:
    def test_task_in_the_ecs_console(self) -> None:
        """The task's page in the ECS console of its region."""
        assert task_console_url(region="eu-west-1", cluster="myEcsCluster", task_id="abc") == (
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/myEcsCluster/tasks/abc"
            "/configuration?region=eu-west-1"
        )

    def test_log_stream_in_the_cloudwatch_console(self) -> None:
        """Group and stream are encoded as the console does: twice, then % written as $."""
        url = log_console_url(
            region="us-east-1", log_group="/aws/lambda/fn", log_stream="2026/11/27/[$LATEST]ab"
        )
        assert url == (
            "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
            "#logsV2:log-groups/log-group/$252Faws$252Flambda$252Ffn"
            "/log-events/2026$252F11$252F27$252F$255B$2524LATEST$255Dab"
        )

    @pytest.mark.parametrize(
        ("region", "console"),
        [
            ("cn-north-1", "https://console.amazonaws.cn/"),
            ("us-gov-west-1", "https://console.amazonaws-us-gov.com/"),
        ],
    )
    def test_other_partitions(self, region: str, console: str) -> None:
        """China and GovCloud regions link to their own consoles."""
        assert task_console_url(region=region, cluster="c", task_id="t").startswith(console)


class TestSummary:
    def test_a_success_against_the_schema(self) -> None:
        """A finished run's summary validates against the documented schema and says what
        happened: revision, times in each status from what was seen, RUNNING from ECS's own
        startedAt to the container's stop, links."""
        report = build_report(
            facts_of_a_run(), exit_code=0, ended_at=163.0, ended_wall=0.0, tool_version="1.0"
        )
        document = summary(report)
        jsonschema.validate(document, SUMMARY_SCHEMA, format_checker=jsonschema.FormatChecker())
        assert document["outcome"] == "succeeded"
        assert (document["revision"], document["revision_reused"]) == (4, False)
        assert document["seconds"] == 63.0
        assert document["lines"] == 3
        task = document["tasks"][0]
        assert task["seconds_in_status"] == {"PROVISIONING": 12.0, "PENDING": 1.0, "RUNNING": 43.0}
        assert task["seconds_running"] == 42.5
        assert task["started_at"] == "2026-11-27T10:00:13.000Z"
        assert task["stopped_at"] == "2026-11-27T10:00:57.000Z"
        assert task["console_url"].startswith("https://eu-west-1.console.aws.amazon.com/ecs/")
        assert task["lines"] == 3

    def test_a_task_left_running_counts_from_its_startedat(self) -> None:
        """An attached task left running (Ctrl-C): its time RUNNING is from ECS's startedAt
        to the end of the run, not only the part this command saw."""
        facts = RunFacts(began_at=100.0, began_wall=T0.timestamp() + 600, task_name="mig")
        task = facts.track(task_arn=TASK_ARN, log_stream="s")
        task.saw("RUNNING", {"lastStatus": "RUNNING", "startedAt": at(13.0)}, at=100.5)
        report = build_report(
            facts,
            exit_code=130,
            ended_at=110.0,
            ended_wall=T0.timestamp() + 610,
            tool_version="1",
        )
        assert report.tasks[0].seconds_running == 597.0
        assert dict(report.tasks[0].seconds_in_status) == {"RUNNING": 9.5}

    def test_an_error_before_any_task(self) -> None:
        """A run that ended before RunTask has no tasks, and its error."""
        facts = RunFacts(began_at=0.0, began_wall=0.0, task_name="mig", cluster="c")
        facts.failed(TaskNotRun("RunTask started no task: RESOURCE:MEMORY"))
        document = summary(
            build_report(facts, exit_code=125, ended_at=1.0, ended_wall=1.0, tool_version="1")
        )
        jsonschema.validate(document, SUMMARY_SCHEMA)
        assert (document["outcome"], document["tasks"]) == ("not-run", [])
        assert document["error"] == "RunTask started no task: RESOURCE:MEMORY"

    def test_the_schema_lists_every_outcome(self) -> None:
        """The schema's outcome enum is the tool's list of outcomes."""
        assert SUMMARY_SCHEMA["properties"]["outcome"]["enum"] == [o.value for o in Outcome]


class TestEndLines:
    def test_exit_code_times_then_the_task_and_its_links(self) -> None:
        """The end says the exit code, the time RUNNING and in all, then the task ARN and the
        two links, last."""
        report = build_report(
            facts_of_a_run(exit_code=3), exit_code=3, ended_at=163.0, ended_wall=0, tool_version="1"
        )
        lines = end_lines(report)
        assert [(line.level, line.text) for line in lines] == [
            ("error", "exit code 3 after 43 s RUNNING, 1m 03s in all"),
            ("info", f"task {TASK_ARN}"),
            ("info", f"ECS console: {report.tasks[0].console_url}"),
            ("info", f"CloudWatch Logs: {report.tasks[0].log_url}"),
        ]
        assert lines[0].fields == {
            "stop_code": "EssentialContainerExited",
            "stopped_reason": "Essential container in task exited",
            "lines": 3,
        }

    def test_with_several_tasks_the_end_names_the_failing_one(self) -> None:
        """--count 2 where the second task failed: the exit-code line starts with that task's
        label, as its lines on stdout did."""
        facts = facts_of_a_run(exit_code=0)
        facts.tasks[0].label = "[01234567] "
        second = facts.track(
            task_arn=TASK_ARN.replace("0123", "fedc"),
            log_stream="ecs/mig/fedc",
            label="[fedc4567] ",
        )
        second.saw("RUNNING", {}, at=114.0)
        second.saw("STOPPED", stopped_task(exit_code=5), at=157.0)
        report = build_report(facts, exit_code=5, ended_at=163.0, ended_wall=0, tool_version="1")
        assert (
            end_lines(report)[0].text == "[fedc4567] exit code 5 after 43 s RUNNING, 1m 03s in all"
        )


class TestMarkdown:
    def test_run_and_task_tables(self) -> None:
        """The step summary has the run's table, then a row for the task with its links."""
        report = build_report(
            facts_of_a_run(exit_code=3), exit_code=3, ended_at=163.0, ended_wall=0, tool_version="1"
        )
        text = markdown(report)
        assert text.startswith("### ecs-one-off-task: `mig` failed: exit code 3\n")
        assert "| outcome | failed: the container exited with code 3 |" in text
        assert (
            "| task definition | `arn:aws:ecs:eu-west-1:123456789012:task-definition/mig:4`"
            " (revision 4, registered) |"
        ) in text
        assert (
            f"| [`0123456789abcdef0123456789abcdef`]({report.tasks[0].console_url}) | STOPPED"
            " | 3 | EssentialContainerExited | Essential container in task exited"
            " | PROVISIONING 12 s, PENDING 1 s, RUNNING 43 s |"
        ) in text


class TestDocumentation:
    def test_the_readme_documents_every_summary_field(self) -> None:
        """Every field of the summary schema, and of its tasks, has a row in the README."""
        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
        section = readme[readme.index("### The summary file") : readme.index("## In CI")]
        documented = set(re.findall(r"`((?:tasks\[\]\.)?[a-z_]+)`", section))
        task_fields = SUMMARY_SCHEMA["properties"]["tasks"]["items"]["properties"]
        expected = set(SUMMARY_SCHEMA["properties"]) | {f"tasks[].{name}" for name in task_fields}
        assert expected - documented == set()
