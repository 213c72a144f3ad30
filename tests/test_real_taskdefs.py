"""Task definitions as real accounts hold them, through --dry-run against the emulator.

Each fixture in tests/fixtures/taskdefs/ is a DescribeTaskDefinition answer shaped like a
public example (AWS documentation, AWS samples, vendors' guides, app repositories: its `source`
says which), with the container a migration belongs in. Each is registered in the emulator (which
refuses what AWS refuses), then the real CLI plans a one-off from it. The test checks the chosen
container (or the exit 2 naming the candidates), what was carried and dropped, and that the
produced revision passes the rules ECS applies at registration (tests/emulator/refusals.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ecs_one_off_task.carrying import cleaned
from ecs_one_off_task.config import LaunchType, TaskSpec
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.output import secret_like
from ecs_one_off_task.taskdef import build_task_definition
from tests.conftest import CliRun, writes
from tests.emulator import Emulator
from tests.emulator.refusals import definition_problems
from tests.emulator.seed import Reference

Cli = Callable[..., CliRun]
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "taskdefs").glob("*.json"))
REGISTRABLE = (
    "containerDefinitions", "volumes", "networkMode", "placementConstraints",
    "requiresCompatibilities", "cpu", "memory", "taskRoleArn", "executionRoleArn",
    "proxyConfiguration", "runtimePlatform", "ipcMode", "pidMode", "ephemeralStorage",
)  # fmt: skip
# What a one-off container never has, by the rule (written here, not imported).
NEVER_CARRIED = {
    "entryPoint", "portMappings", "healthCheck", "restartPolicy", "firelensConfiguration",
    "interactive", "pseudoTerminal", "links", "dependsOn", "volumesFrom",
}  # fmt: skip
SET_BY_THE_ONE_OFF = {
    "name", "image", "command", "logConfiguration", "essential", "cpu", "memory",
    "memoryReservation",
}  # fmt: skip
TASK = "oneoff-migrate"


def load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads(path.read_text())
    return fixture


def at_launch(fixture: dict[str, Any]) -> list[str]:
    """The volumes configured at launch (EBS) the app's container mounts."""
    definition = fixture["describe"]["taskDefinition"]
    app = fixture["expect"]["app_container"]
    mounted = {
        point["sourceVolume"]
        for c in definition["containerDefinitions"]
        if c["name"] == app
        for point in c.get("mountPoints") or ()
    }
    return [
        v["name"]
        for v in definition.get("volumes") or ()
        if v.get("configuredAtLaunch") and v["name"] in mounted
    ]


def masked(text: str, fixture: dict[str, Any]) -> str:
    """`text` as the tool's lines print it: the reference's environment values that can be
    secrets masked."""
    for container in fixture["describe"]["taskDefinition"]["containerDefinitions"]:
        for item in container.get("environment") or ():
            if secret_like(item.get("value") or ""):
                text = text.replace(item["value"], "********")
    return text


def cluster_for(emu: Emulator, fixture: dict[str, Any]) -> str:
    """The seed's cluster; for Managed Instances, one whose default capacity provider strategy
    can place them (RunTask takes them through a capacity provider only)."""
    if fixture["expect"]["launch"] != "MANAGED_INSTANCES":
        return "myEcsCluster"
    ecs = emu.boto3_client("ecs")
    if not ecs.describe_clusters(clusters=["fx-managed"])["clusters"]:
        asg = "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/m"
        ecs.create_capacity_provider(
            name="fx-managed", autoScalingGroupProvider={"autoScalingGroupArn": asg}
        )
        ecs.create_cluster(
            clusterName="fx-managed",
            capacityProviders=["fx-managed"],
            defaultCapacityProviderStrategy=[{"capacityProvider": "fx-managed", "weight": 1}],
        )
    return "fx-managed"


def register(emu: Emulator, fixture: dict[str, Any], family: str) -> None:
    """Register the fixture as its owner did (the SDK never sends null: cleaned first)."""
    definition = cleaned(fixture["describe"]["taskDefinition"])
    request = {key: definition[key] for key in REGISTRABLE if key in definition}
    tags = fixture["describe"].get("tags") or []
    # AWS puts aws:* tags itself (CloudFormation); an owner cannot send them.
    tags = [t for t in tags if not t["key"].startswith("aws:")]
    emu.boto3_client("ecs").register_task_definition(
        family=family, **request, **({"tags": tags} if tags else {})
    )


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_a_real_reference_plans_the_app_container(
    emu: Emulator, cli: Cli, reference: Reference, path: Path
) -> None:
    """The real CLI's --dry-run of each real-shaped reference picks the app's container (or
    is exit 2 naming the candidates, with no write), carries its fields unchanged, drops only
    what a one-off must not have, and produces a revision AWS would register."""
    fixture = load(path)
    family = f"fx-{path.stem[:2]}-{fixture['describe']['taskDefinition']['family']}"[:255]
    register(emu, fixture, family)
    cluster = cluster_for(emu, fixture)
    emu.clear_calls()
    run = cli(
        *("--task-name", f"{TASK}-{path.stem[:2]}", "--from-task", family),
        *("--cluster", cluster, "--image", "app:v2", "--dry-run"),
        *("--subnets", *reference.subnets, "--command", "migrate"),
    )
    expect = fixture["expect"]
    assert writes(emu) == []
    app = expect["app_container"]
    if app is None:
        assert run.exit_code == 2, run.stderr
        if expect["candidates"]:
            names = masked(", ".join(expect["candidates"]), fixture)
            assert run.final_error == (
                f"the reference has several app containers ({names}): pass --container NAME"
            )
        else:
            assert run.final_error.startswith("the reference has no essential app container")
        return
    if at_launch(fixture):
        assert run.exit_code == 2, run.stderr
        assert f"volume {at_launch(fixture)[0]!r}" in run.final_error
        return
    assert run.exit_code == 0, run.stderr
    document = json.loads(run.stdout)
    assert document["container"]["name"] == app
    registered = document["registerTaskDefinition"]
    assert definition_problems(registered) == []
    source = next(
        cleaned(c)
        for c in fixture["describe"]["taskDefinition"]["containerDefinitions"]
        if c["name"] == app
    )
    [one_off] = registered["containerDefinitions"]
    carried = set(source) - NEVER_CARRIED - SET_BY_THE_ONE_OFF
    assert set(document["carried"]) == carried
    assert set(document["dropped"]) >= set(source) & NEVER_CARRIED
    for field in carried - {"environment"}:  # environment values are masked in --dry-run
        assert one_off[field] == source[field], field
    assert [e["name"] for e in one_off.get("environment", ())] == [
        e["name"] for e in source.get("environment", ())
    ]


LAUNCHES = {
    "EC2": LaunchType.EC2,
    "FARGATE": LaunchType.FARGATE,
    "EXTERNAL": LaunchType.EXTERNAL,
    "MANAGED_INSTANCES": LaunchType.MANAGED_INSTANCES,
}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_with_sidecars_every_real_reference_stays_registrable(path: Path) -> None:
    """With --with-sidecars, each real-shaped reference (its describe answer verbatim, nulls
    included) has its sidecars recognised, and gives a revision with no dangling reference, a
    router only when someone logs to it, no HEALTHY wait on the one-off container, and no null
    anywhere."""
    fixture = load(path)
    reference = copy.deepcopy(fixture["describe"]["taskDefinition"])
    expect = fixture["expect"]
    container = expect["app_container"] or (expect["candidates"] or [None])[0]
    if container is None:
        container = reference["containerDefinitions"][0]["name"]
    spec = TaskSpec(
        task_name=TASK,
        reference="ref",
        image="app:v2",
        command=("migrate",),
        container=container,
        log_group=f"/ecs/{TASK}",
        with_sidecars=True,
    )
    launch = LAUNCHES[expect["launch"]]
    volumes = {
        name: {"roleArn": "arn:aws:iam::123456789012:role/ebs"} for name in at_launch(fixture)
    }
    try:
        built = build_task_definition(
            reference,
            spec,
            region="us-east-1",
            compatibility=launch,
            reference_tags=fixture["describe"].get("tags") or (),
            launch_volumes=volumes,
        )
    except UsageError as error:
        pytest.fail(f"{path.stem}: {error}")
    assert sorted(built.choice.sidecars) == sorted(expect["sidecars"])
    definition = {**built.definition, "tags": [{"key": k, "value": v} for k, v in built.tags]}
    assert definition_problems(definition) == []
    assert "null" not in json.dumps(definition)
    for other in definition["containerDefinitions"]:
        for item in other.get("dependsOn") or ():
            assert (item["containerName"], item["condition"]) != (TASK, "HEALTHY")
