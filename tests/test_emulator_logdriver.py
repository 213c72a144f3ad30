"""The emulator's model of the awslogs driver: lines reach CloudWatch in the driver's batches."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator import Emulator, LogDriver, LogLine, Timeline, lines_every
from tests.emulator.seed import Reference

CLUSTER = "myEcsCluster"
LOG_GROUP = "/ecs/emulator-driver-tests"


@pytest.fixture
def driven(emu: Emulator) -> Iterator[Emulator]:
    """The seeded emulator with the driver model on (5 s by default), off again after."""
    logs = emu.boto3_client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)
    emu.use_log_driver(LogDriver())
    yield emu
    emu.use_log_driver(None)


def run(emu: Emulator, family: str, options: dict[str, str], **fargate: Any) -> dict[str, Any]:
    """Register `family` logging to LOG_GROUP with these extra awslogs options, and run it."""
    ecs = emu.boto3_client("ecs")
    container: dict[str, Any] = {
        "name": family,
        "image": "busybox",
        "memory": 64,
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": LOG_GROUP,
                "awslogs-region": emu.region,
                "awslogs-stream-prefix": "one-off",
                **options,
            },
        },
    }
    if fargate:
        ecs.register_task_definition(
            family=family,
            containerDefinitions=[container],
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
        )
        answer = ecs.run_task(
            cluster=CLUSTER, taskDefinition=family, launchType="FARGATE", **fargate
        )
    else:
        ecs.register_task_definition(family=family, containerDefinitions=[container])
        answer = ecs.run_task(cluster=CLUSTER, taskDefinition=family, launchType="EC2")
    assert answer["failures"] == []
    task: dict[str, Any] = answer["tasks"][0]
    return task


def batches(emu: Emulator, arn: str) -> list[list[str]]:
    """The task's lines grouped by the PutLogEvents that wrote them, in order."""
    groups: list[list[str]] = []
    last: float | None = None
    for line in emu.task_record(arn).lines:
        if line.written_monotonic != last:
            groups.append([])
            last = line.written_monotonic
        groups[-1].append(line.message)
    return groups


def test_lines_wait_for_the_tick_and_the_rest_comes_at_the_exit(
    driven: Emulator, reference: Reference
) -> None:
    """On EC2 with awslogs-force-flush-interval-seconds 1: the two lines printed before the
    first tick come together after it, the last one with the exit; each event keeps its print
    time as timestamp, and one batch is one ingestionTime."""
    del reference
    lines = (LogLine(0.1, "a"), LogLine(0.3, "b"), LogLine(1.2, "c"))
    driven.script("driver-ec2", Timeline(lines=lines, runs_for=1.5, stopping=0.5))
    arn = run(driven, "driver-ec2", {"awslogs-force-flush-interval-seconds": "1"})["taskArn"]
    driven.wait_until_status(arn, "STOPPED", timeout=30)
    record = driven.wait_for_lines(arn, 3, timeout=30)
    running = record.reached("RUNNING")
    assert running is not None
    assert batches(driven, arn) == [["a", "b"], ["c"]]
    assert record.lines[0].written_monotonic >= running.monotonic + 1.0
    events = driven.boto3_client("logs").get_log_events(
        logGroupName=LOG_GROUP, logStreamName=record.log_stream, startFromHead=True
    )["events"]
    assert [e["timestamp"] for e in events] == [line.timestamp for line in record.lines]
    assert len({e["ingestionTime"] for e in events[:2]}) == 1
    assert all(e["ingestionTime"] > e["timestamp"] for e in events)


def test_a_full_batch_is_sent_before_the_tick(driven: Emulator, reference: Reference) -> None:
    """10,001 lines at once: the driver sends 10,000 at once (its batch is full), the last one
    later (at the exit here: the 5 s tick never comes)."""
    del reference
    burst = lines_every(10_001, 0.0, start=0.2)
    driven.script("driver-full", Timeline(lines=burst, runs_for=0.5))
    arn = run(driven, "driver-full", {})["taskArn"]
    driven.wait_until_status(arn, "STOPPED", timeout=30)
    driven.wait_for_lines(arn, 10_001, timeout=30)
    assert [len(batch) for batch in batches(driven, arn)] == [10_000, 1]


def test_fargate_ignores_the_flush_option(driven: Emulator, reference: Reference) -> None:
    """Fargate's logger does not pass awslogs-force-flush-interval-seconds on: lines printed a
    second apart still come in one batch, at the 5 s tick."""
    lines = lines_every(3, 1.0, start=0.2)
    driven.script("driver-fargate", Timeline(lines=lines, runs_for=6.0))
    arn = run(
        driven,
        "driver-fargate",
        {"awslogs-force-flush-interval-seconds": "1"},
        networkConfiguration=reference.awsvpc_configuration,
    )["taskArn"]
    record = driven.wait_for_lines(arn, 3, timeout=30)
    running = record.reached("RUNNING")
    assert running is not None
    assert Counter(line.written_monotonic for line in record.lines).most_common(1)[0][1] == 3
    assert record.lines[0].written_monotonic >= running.monotonic + 5.0
