"""The emulator's own behaviour, checked through boto3 over HTTP as the tool would see it.

If these fail, a failing tool test says nothing about the tool: fix the emulator first.
Timelines are tenths of seconds; waits go through the emulator's Condition-based helpers.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.emulator import Emulator, Fault, LogLine, Timeline, lines_every
from tests.emulator.seed import AMI_ID, seed_reference

CLUSTER = "emulator-tests"
LOG_GROUP = "/ecs/emulator-tests"
PREFIX = "one-off"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """The running emulator if another module started one (moto is process-global), else ours.

    These tests keep to names of their own and never reset, so sharing leaves others' state be.
    """
    running = Emulator.active()
    if running is not None:
        yield running
        return
    with Emulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def ecs(emu: Emulator) -> Any:
    """An ECS client on the emulator."""
    return emu.boto3_client("ecs")


@pytest.fixture(scope="module")
def logs(emu: Emulator) -> Any:
    """A CloudWatch Logs client on the emulator."""
    return emu.boto3_client("logs")


@pytest.fixture(autouse=True)
def cluster(emu: Emulator, ecs: Any, logs: Any) -> Iterator[str]:
    """A cluster with a container instance and a log group, re-created after any reset."""
    if not ecs.describe_clusters(clusters=[CLUSTER])["clusters"]:
        ecs.create_cluster(clusterName=CLUSTER)
        ec2 = emu.boto3_client("ec2")
        instance = ec2.run_instances(ImageId=AMI_ID, MinCount=1, MaxCount=1)["Instances"][0]
        ecs.register_container_instance(
            cluster=CLUSTER,
            instanceIdentityDocument=json.dumps({"instanceId": instance["InstanceId"]}),
        )
        logs.create_log_group(logGroupName=LOG_GROUP)
    yield CLUSTER
    emu.clear_faults()
    emu.set_log_quota(None)


def start(ecs: Any, family: str, *, log_group: str = LOG_GROUP) -> dict[str, Any]:
    """Register a one-container task definition with awslogs and run it; return the task."""
    ecs.register_task_definition(
        family=family,
        containerDefinitions=[
            {
                "name": family,
                "image": "busybox",
                "memory": 64,
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": log_group,
                        "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": PREFIX,
                    },
                },
            }
        ],
    )
    answer = ecs.run_task(cluster=CLUSTER, taskDefinition=family, startedBy="ecs-one-off-task")
    assert answer["failures"] == []
    task: dict[str, Any] = answer["tasks"][0]
    return task


def describe(ecs: Any, task_arn: str) -> dict[str, Any]:
    """Return DescribeTasks' view of one task."""
    task: dict[str, Any] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
    return task


def stream_of(family: str, task_arn: str) -> str:
    """The awslogs stream name ECS uses: prefix/container-name/task-id."""
    return f"{PREFIX}/{family}/{task_arn.rsplit('/', 1)[-1]}"


def read_stream(logs: Any, stream: str, token: str | None = None) -> tuple[list[str], str]:
    """Read a stream from the head (or `token`) to its end; return messages and the last token."""
    messages: list[str] = []
    while True:
        page = logs.get_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            startFromHead=True,
            **({"nextToken": token} if token else {}),
        )
        messages += [event["message"] for event in page["events"]]
        if page["nextForwardToken"] == token:
            return messages, page["nextForwardToken"]
        token = page["nextForwardToken"]


class TestLifecycle:
    """Tasks move through the ECS lifecycle on the scripted clock."""

    def test_phases_and_exit_code(self, emu: Emulator, ecs: Any) -> None:
        """A scripted task goes PROVISIONING -> PENDING -> RUNNING -> STOPPED with its exit code."""
        emu.script(
            "phases",
            Timeline(provisioning=0.6, pending=0.6, runs_for=0.6, exit_code=3, stopping=0.06),
        )
        task = start(ecs, "phases")
        arn = task["taskArn"]
        assert (task["lastStatus"], task["desiredStatus"]) == ("PROVISIONING", "RUNNING")

        emu.wait_until_status(arn, "PENDING")
        assert describe(ecs, arn)["lastStatus"] == "PENDING"

        emu.wait_until_status(arn, "RUNNING")
        running = describe(ecs, arn)
        assert running["lastStatus"] == "RUNNING"
        assert "startedAt" in running
        assert "stopCode" not in running
        assert "stoppedReason" not in running
        container = running["containers"][0]
        assert (container["name"], container["lastStatus"]) == ("phases", "RUNNING")
        assert "exitCode" not in container
        assert container["taskArn"] == arn

        record = emu.wait_until_status(arn, "STOPPED")
        stopped = describe(ecs, arn)
        assert (stopped["lastStatus"], stopped["desiredStatus"]) == ("STOPPED", "STOPPED")
        assert stopped["stopCode"] == "EssentialContainerExited"
        assert stopped["stoppedReason"] == "Essential container in task exited"
        assert stopped["startedAt"] < stopped["stoppedAt"]
        assert stopped["containers"][0]["exitCode"] == 3
        assert stopped["containers"][0]["lastStatus"] == "STOPPED"
        assert [change.status for change in record.statuses] == [
            "PROVISIONING",
            "PENDING",
            "RUNNING",
            "DEACTIVATING",
            "STOPPING",
            "DEPROVISIONING",
            "STOPPED",
        ]
        assert emu.calls_to("RunTask")[-1].params["startedBy"] == "ecs-one-off-task"

    def test_unscripted_family_gets_the_default(self, emu: Emulator, ecs: Any) -> None:
        """A family without a script runs the default timeline: a couple of lines, exit 0."""
        arn = start(ecs, "unscripted")["taskArn"]
        record = emu.wait_until_status(arn, "STOPPED")
        assert describe(ecs, arn)["containers"][0]["exitCode"] == 0
        assert len(record.lines) == 2

    @pytest.mark.parametrize(
        ("timeline", "log_group", "reason"),
        [
            (Timeline(pending=0.05, fails_to_start=True), LOG_GROUP, "CannotPullContainerError"),
            (Timeline(), "/ecs/does-not-exist", "ResourceInitializationError"),
        ],
        ids=["image-pull", "log-group-missing"],
    )
    def test_fails_to_start(
        self, emu: Emulator, ecs: Any, timeline: Timeline, log_group: str, reason: str
    ) -> None:
        """A task that cannot start stops with TaskFailedToStart, a reason and no exit code."""
        family = f"no-start-{reason}"
        emu.script(family, timeline)
        arn = start(ecs, family, log_group=log_group)["taskArn"]
        record = emu.wait_until_status(arn, "STOPPED")
        stopped = describe(ecs, arn)
        assert stopped["stopCode"] == "TaskFailedToStart"
        assert stopped["stoppedReason"].startswith(reason)
        assert "startedAt" not in stopped
        container = stopped["containers"][0]
        assert "exitCode" not in container
        assert container["reason"].startswith(reason)
        assert record.reached("RUNNING") is None


class TestLogs:
    """Log lines land in CloudWatch Logs where and when the awslogs driver would put them."""

    def test_stream_appears_at_start_with_exactly_the_scripted_lines(
        self, emu: Emulator, ecs: Any, logs: Any
    ) -> None:
        """The stream is absent until the container starts, then holds exactly the lines printed."""
        scripted = lines_every(5, 0.01)
        emu.script(
            "lines",
            Timeline(
                provisioning=1.0,
                lines=(*scripted, LogLine(1.0, "after the exit")),
                runs_for=0.1,
            ),
        )
        arn = start(ecs, "lines")["taskArn"]
        with pytest.raises(logs.exceptions.ResourceNotFoundException):
            logs.get_log_events(
                logGroupName=LOG_GROUP, logStreamName=stream_of("lines", arn), startFromHead=True
            )

        record = emu.wait_until_status(arn, "STOPPED")
        messages, _ = read_stream(logs, stream_of("lines", arn))
        assert messages == [line.message for line in scripted]
        assert record.messages == tuple(messages)
        timestamps = [line.timestamp for line in record.lines]
        assert timestamps == sorted(timestamps)

    def test_late_lines_arrive_after_stopped(self, emu: Emulator, ecs: Any, logs: Any) -> None:
        """Late lines are ingested after STOPPED and are read from the token held at STOPPED."""
        emu.script(
            "late",
            Timeline(
                lines=(LogLine(0.0, "early"),),
                runs_for=0.05,
                late_lines=(LogLine(1.0, "late"),),
            ),
        )
        arn = start(ecs, "late")["taskArn"]
        stopped = emu.wait_until_status(arn, "STOPPED")
        messages, token = read_stream(logs, stream_of("late", arn))
        assert messages == ["early"]

        record = emu.wait_for_lines(arn, 2)
        assert read_stream(logs, stream_of("late", arn), token)[0] == ["late"]
        late = record.lines[-1]
        assert late.late
        assert stopped.stopped is not None
        assert late.written_monotonic > stopped.stopped.monotonic


class TestStopTask:
    """StopTask behaves like ECS: desired STOPPED at once, SIGTERM exit code later."""

    def test_stop_gives_143_and_user_initiated(self, emu: Emulator, ecs: Any) -> None:
        """StopTask stops a running task with exit code 143, UserInitiated and the given reason."""
        emu.script(
            "forever",
            Timeline(
                lines=(LogLine(0.0, "started"), LogLine(5.0, "never printed")),
                runs_for=math.inf,
                stopping=0.1,
            ),
        )
        arn = start(ecs, "forever")["taskArn"]
        emu.wait_until_status(arn, "RUNNING")

        answer = ecs.stop_task(cluster=CLUSTER, task=arn, reason="cancelled by user")["task"]
        assert answer["desiredStatus"] == "STOPPED"
        assert answer["lastStatus"] != "STOPPED"
        assert answer["stopCode"] == "UserInitiated"

        record = emu.wait_until_status(arn, "STOPPED")
        stopped = describe(ecs, arn)
        assert stopped["stopCode"] == "UserInitiated"
        assert stopped["stoppedReason"] == "cancelled by user"
        assert stopped["containers"][0]["exitCode"] == 143
        assert record.messages == ("started",)


class TestAnswers:
    """RunTask and DescribeTasks report failures the way ECS does."""

    def test_run_task_failure(self, emu: Emulator, ecs: Any) -> None:
        """A scripted placement failure gives tasks=[] and failures=[{arn, reason}], and no task."""
        emu.script("unplaceable", Timeline(run_task_failure="RESOURCE:MEMORY"))
        ecs.register_task_definition(
            family="unplaceable", containerDefinitions=[{"name": "x", "image": "x", "memory": 64}]
        )
        answer = ecs.run_task(cluster=CLUSTER, taskDefinition="unplaceable")
        assert answer["tasks"] == []
        assert [f["reason"] for f in answer["failures"]] == ["RESOURCE:MEMORY"]
        assert answer["failures"][0]["arn"].startswith("arn:aws:ecs:")
        assert not [r for r in emu.task_records() if r.family == "unplaceable"]

    def test_invisible_task_is_missing(self, emu: Emulator, ecs: Any) -> None:
        """Right after RunTask, DescribeTasks answers MISSING until invisible_for has passed."""
        emu.script("eventual", Timeline(invisible_for=1.0, provisioning=1.2))
        arn = start(ecs, "eventual")["taskArn"]
        answer = ecs.describe_tasks(cluster=CLUSTER, tasks=[arn])
        assert answer["tasks"] == []
        assert answer["failures"] == [{"arn": arn, "reason": "MISSING"}]

        emu.wait_until_status(arn, "PENDING")
        assert describe(ecs, arn)["taskArn"] == arn


class TestFaults:
    """Injected faults reach the client as AWS errors, broken connections or delays."""

    def test_throttle_every_second_call(self, emu: Emulator, ecs: Any) -> None:
        """A throttle rule with every=2 fails exactly the 2nd and 4th matching calls."""
        emu.inject(Fault(operation="ListClusters", kind="throttle", every=2))
        outcomes = []
        for _ in range(4):
            try:
                ecs.list_clusters()
                outcomes.append("ok")
            except botocore.exceptions.ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                outcomes.append(f"{status} {error.response['Error']['Code']}")
        throttled = "400 ThrottlingException"
        assert outcomes == ["ok", throttled, "ok", throttled]
        faults = [call.fault for call in emu.calls_to("ListClusters")[-4:]]
        assert faults == [None, "throttle", None, "throttle"]

    @pytest.mark.parametrize(
        ("fault", "status", "code"),
        [
            (
                Fault(kind="throttle", error_code="ExpiredTokenException"),
                400,
                "ExpiredTokenException",
            ),
            (Fault(kind="http500"), 500, "InternalFailure"),
            (Fault(kind="http503"), 503, "ServiceUnavailable"),
        ],
        ids=["custom-code", "http500", "http503"],
    )
    def test_error_kinds(
        self, emu: Emulator, ecs: Any, fault: Fault, status: int, code: str
    ) -> None:
        """Each error kind answers with its HTTP status and AWS error code, `times` limits it."""
        emu.inject(
            Fault(operation="ListClusters", kind=fault.kind, error_code=fault.error_code, times=1)
        )
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            ecs.list_clusters()
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        assert raised.value.response["Error"]["Code"] == code
        ecs.list_clusters()

    def test_drop_and_slow(self, emu: Emulator, ecs: Any) -> None:
        """A dropped call gets no answer at all; a slow one answers after its delay."""
        emu.inject(Fault(operation="ListClusters", kind="drop", times=1))
        with pytest.raises(botocore.exceptions.ConnectionClosedError):
            ecs.list_clusters()

        emu.inject(Fault(operation="ListClusters", kind="slow", delay=0.2, times=1))
        began = time.monotonic()
        assert f"cluster/{CLUSTER}" in " ".join(ecs.list_clusters()["clusterArns"])
        assert time.monotonic() - began >= 0.2


class TestLogQuota:
    """The account-wide GetLogEvents quota: calls per sliding second, across every client."""

    @staticmethod
    def read(logs: Any, stream: str) -> str:
        try:
            logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True)
        except botocore.exceptions.ClientError as error:
            return str(error.response["Error"]["Code"])
        return "ok"

    def test_calls_beyond_the_quota_are_throttled_for_every_client(
        self, emu: Emulator, logs: Any
    ) -> None:
        """With a quota of 4, eight calls at once from two clients on two streams: the first
        four are answered, the other four throttled and recorded as such; a second later the
        quota has room again."""
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="quota-a")
        other = emu.boto3_client("logs")
        emu.clear_calls()
        emu.set_log_quota(4)
        outcomes = [self.read(client, stream) for client, stream in [(logs, "quota-a"),
                    (other, "quota-missing")] * 4]  # fmt: skip
        assert outcomes == ["ok", "ResourceNotFoundException"] * 2 + ["ThrottlingException"] * 4
        faults = [call.fault for call in emu.calls_to("GetLogEvents")]
        assert faults == [None] * 4 + ["throttle"] * 4
        time.sleep(1.0)  # the quota's window is real time: nothing to await
        assert self.read(logs, "quota-a") == "ok"

    def test_off_by_default_and_when_set_to_none(self, emu: Emulator, logs: Any) -> None:
        """Without a quota twenty calls in a row are all answered."""
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="quota-off")
        emu.set_log_quota(2)
        emu.set_log_quota(None)
        assert {self.read(logs, "quota-off") for _ in range(20)} == {"ok"}

    def test_only_get_log_events_counts(self, emu: Emulator, logs: Any, ecs: Any) -> None:
        """Other calls neither count against the quota nor are throttled by it."""
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="quota-only")
        emu.set_log_quota(1)
        for _ in range(5):
            ecs.list_clusters()
            logs.describe_log_streams(logGroupName=LOG_GROUP)
        assert self.read(logs, "quota-only") == "ok"
        assert self.read(logs, "quota-only") == "ThrottlingException"


class TestEndpoint:
    """The endpoint can go away and come back without losing state."""

    def test_restart_keeps_port_and_state(self, emu: Emulator, ecs: Any) -> None:
        """While down the endpoint refuses connections; back on the same port, state is kept."""
        url = emu.endpoint_url
        ecs.create_cluster(clusterName="survives-restart")
        back = emu.restart(down_for=1.0)
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            ecs.list_clusters()
        assert back.wait(timeout=5)
        assert emu.endpoint_url == url
        names = [arn.rsplit("/", 1)[-1] for arn in ecs.list_clusters()["clusterArns"]]
        assert "survives-restart" in names

    def test_reset_rehooks_the_agent(self) -> None:
        """A reset empties moto and the agent's hooks move to the new backend objects.

        Stock moto never answers MISSING, so a MISSING after the reset shows the hooks are in
        place. In a child process: a reset empties moto for the whole process, other tests too.
        """
        child = subprocess.run(
            [sys.executable, "-c", _RESET_SCENARIO],
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (child.returncode, child.stderr) == (0, "")
        assert child.stdout.split() == ["clusters=0", "failures=MISSING"]


_RESET_SCENARIO = """
from tests.emulator import Emulator
with Emulator() as emu:
    ecs = emu.boto3_client("ecs")
    ecs.create_cluster(clusterName="c")
    emu.reset()
    print("clusters=%d" % len(ecs.list_clusters()["clusterArns"]))
    ecs.create_cluster(clusterName="c")
    answer = ecs.describe_tasks(cluster="c", tasks=["0123456789abcdef"])
    print("failures=" + ",".join(f["reason"] for f in answer["failures"]))
"""


class TestSeed:
    """The reference account is complete enough to copy from and to run."""

    def test_reference_runs_on_ec2_and_fargate(self, emu: Emulator, ecs: Any) -> None:
        """The seeded reference task definition runs on EC2 and its variant on FARGATE."""
        reference = seed_reference(emu, cluster="seed-tests", family="seedapp")
        definition = ecs.describe_task_definition(taskDefinition=reference.family)["taskDefinition"]
        container = definition["containerDefinitions"][0]
        assert {"name": "PLANTED_VALUE", "value": reference.planted_value} in container[
            "environment"
        ]
        assert [s["valueFrom"] for s in container["secrets"]] == [
            reference.database_url_parameter_arn,
            reference.secret_key_base_arn,
        ]
        ec2_task = ecs.run_task(cluster=reference.cluster, taskDefinition=reference.family)
        fargate_task = ecs.run_task(
            cluster=reference.cluster,
            taskDefinition=reference.fargate_family,
            launchType="FARGATE",
            networkConfiguration=reference.awsvpc_configuration,
        )
        for answer in (ec2_task, fargate_task):
            emu.wait_until_status(answer["tasks"][0]["taskArn"], "STOPPED")
