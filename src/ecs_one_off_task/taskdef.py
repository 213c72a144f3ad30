"""Build the one-off task definition from the reference one. Pure: no I/O, no AWS client.

The app's own task definition is only read. The one-off revision is the app's container with a
new image and command (`choosing.py` picks it, `carrying.py` makes it), in a task shaped like
the reference's: roles, the volumes its containers mount, placement constraints, PID and IPC
modes, runtime platform and tags; with `--with-sidecars`, the other containers (`keeping.py`).
Where the one-off runs on Fargate or Managed Instances and the reference did not, a field they
refuse is a usage error naming it (`platforms.py`), never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_one_off_task import fargate, platforms
from ecs_one_off_task.carrying import cleaned, one_off_container
from ecs_one_off_task.choosing import Choice, choose_container
from ecs_one_off_task.config import LaunchType, Overrides, TaskSpec
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.keeping import with_sidecars

_CARRIED_TASK_FIELDS = (
    "executionRoleArn",
    "taskRoleArn",
    "runtimePlatform",
    "pidMode",
    "ipcMode",
    "placementConstraints",
    "enableFaultInjection",
)
# Fields RegisterTaskDefinition accepts: the rest of a described definition is AWS's bookkeeping.
_REGISTRABLE_FIELDS = frozenset(
    {
        "family",
        "taskRoleArn",
        "executionRoleArn",
        "networkMode",
        "containerDefinitions",
        "volumes",
        "placementConstraints",
        "requiresCompatibilities",
        "cpu",
        "memory",
        "pidMode",
        "ipcMode",
        "proxyConfiguration",
        "inferenceAccelerators",
        "ephemeralStorage",
        "runtimePlatform",
        "enableFaultInjection",
    }
)
# Lists whose order means nothing to ECS: compared as sets.
_UNORDERED_LISTS = frozenset({"environment", "secrets", "environmentFiles"})
# AWS reserves tag keys starting with aws: (CloudFormation puts its own on what it creates).
_RESERVED_TAG_PREFIX = "aws:"
WITHOUT_PROXY = "names a proxy container the one-off revision does not have (--with-sidecars)"
UNMOUNTED = "no container of the one-off revision mounts it"


@dataclass(frozen=True, kw_only=True)
class Built:
    """The one-off revision, and how it differs from the reference."""

    definition: dict[str, Any]
    """The RegisterTaskDefinition arguments, tags apart."""
    choice: Choice
    carried: tuple[str, ...]
    """Fields of the chosen container the one-off container has as they were."""
    dropped: Mapping[str, str] = field(default_factory=dict)
    """What the one-off revision does not have, each with the reason: fields of the chosen
    container by name, the rest as `volume NAME`, `container NAME`, `proxyConfiguration`."""
    tags: tuple[tuple[str, str], ...] = ()
    """The revision's tags: the reference's (but aws:*) with --tag winning."""
    volume_configurations: tuple[dict[str, Any], ...] = ()
    """RunTask's volumeConfigurations: the service's, for volumes configured at launch."""


def build_task_definition(  # noqa: PLR0913 - the reference and what it is built for
    reference: Mapping[str, Any],
    spec: TaskSpec,
    *,
    region: str,
    compatibility: LaunchType,
    reference_tags: Sequence[Mapping[str, str]] = (),
    launch_volumes: Mapping[str, Mapping[str, Any]] | None = None,
) -> Built:
    """Return the one-off revision built from `reference` for where it runs.

    `launch_volumes` are the service's volume configurations by volume name (None: no
    service). Raises UsageError, before anything is registered, for a container that cannot be
    chosen, a Fargate size or field AWS would refuse, a volume configured at launch without a
    service to configure it.
    """
    choice = choose_container(reference, spec.container)
    on_fargate = compatibility is LaunchType.FARGATE
    made = one_off_container(choice.container, spec, region=region, on_fargate=on_fargate)
    dropped: dict[str, str] = dict(made.dropped)
    containers = [made.container]
    if spec.with_sidecars:
        kept = with_sidecars(reference, choice.container, made.container)
        containers = kept.containers
        dropped.update({f"container {name}": why for name, why in kept.dropped.items()})
    _check_unique_names(containers, spec.task_name)
    definition: dict[str, Any] = {"family": spec.task_name, "containerDefinitions": containers}
    for name in _CARRIED_TASK_FIELDS:
        if reference.get(name) not in (None, "", [], {}):
            definition[name] = cleaned(reference[name])
    _override_roles(definition, spec.overrides)
    proxy = reference.get("proxyConfiguration")
    if proxy:
        if any(c["name"] == proxy.get("containerName") for c in containers):
            definition["proxyConfiguration"] = cleaned(proxy)
        else:
            dropped["proxyConfiguration"] = WITHOUT_PROXY
    volumes, unmounted = _volumes(reference, containers)
    dropped.update({f"volume {name}": UNMOUNTED for name in unmounted})
    if volumes:
        definition["volumes"] = volumes
    if on_fargate:
        definition.update(_fargate_fields(reference, spec.overrides, containers))
    else:
        definition.update(_ec2_fields(reference, compatibility))
    platforms.check_fields(definition, compatibility)
    return Built(
        definition=definition,
        choice=choice,
        carried=made.carried,
        dropped=dropped,
        tags=merged_tags(reference_tags, spec.tags),
        volume_configurations=_launch_volumes(volumes, launch_volumes),
    )


def _check_unique_names(containers: Sequence[Mapping[str, Any]], task_name: str) -> None:
    names = [c["name"] for c in containers]
    if names.count(task_name) > 1:
        raise UsageError(
            f"--task-name {task_name!r} is also the name of a container --with-sidecars keeps:"
            " choose another name"
        )


def _override_roles(definition: dict[str, Any], overrides: Overrides) -> None:
    if overrides.task_role_arn:
        definition["taskRoleArn"] = overrides.task_role_arn
    if overrides.execution_role_arn:
        definition["executionRoleArn"] = overrides.execution_role_arn


def _volumes(
    reference: Mapping[str, Any], containers: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The reference's volumes a kept container mounts, and the names of the others."""
    mounted = {
        str(point.get("sourceVolume"))
        for container in containers
        for point in container.get("mountPoints") or ()
    }
    volumes, unmounted = [], []
    for volume in reference.get("volumes") or ():
        if volume.get("name") in mounted:
            volumes.append(cleaned(volume))
        else:
            unmounted.append(str(volume.get("name")))
    return volumes, unmounted


def _launch_volumes(
    volumes: Sequence[Mapping[str, Any]], configured: Mapping[str, Mapping[str, Any]] | None
) -> tuple[dict[str, Any], ...]:
    """RunTask's volumeConfigurations for the volumes configured at launch (EBS)."""
    at_launch = [str(v["name"]) for v in volumes if v.get("configuredAtLaunch")]
    missing = [name for name in at_launch if name not in (configured or {})]
    if missing:
        where = (
            "the service (--from-service) does not configure it"
            if configured is not None
            else "only a service (--from-service) says how to make it"
        )
        raise UsageError(
            f"volume {missing[0]!r} of the reference is configured at launch (EBS) and {where}"
        )
    return tuple(
        {"name": name, "managedEBSVolume": dict((configured or {})[name])} for name in at_launch
    )


def merged_tags(
    reference_tags: Sequence[Mapping[str, str]], given: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """The reference's tags, but AWS's reserved aws:* ones, with --tag winning on a key.

    AWS reserves the prefix for keys and values alike.
    """
    tags = {
        str(tag["key"]): str(tag.get("value", ""))
        for tag in reference_tags
        if not any(
            str(tag.get(part, "")).lower().startswith(_RESERVED_TAG_PREFIX)
            for part in ("key", "value")
        )
    }
    tags.update(dict(given))
    return tuple(tags.items())


def _fargate_fields(
    reference: Mapping[str, Any], overrides: Overrides, containers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """awsvpc, FARGATE and a task size AWS offers, into which the containers fit."""
    cpu = overrides.cpu or _int(reference.get("cpu")) or fargate.DEFAULT_CPU
    memory = overrides.memory or _int(reference.get("memory")) or fargate.DEFAULT_MEMORY
    fargate.check_task_size(cpu, memory)
    fargate.check_containers_fit(cpu, memory, containers)
    fields: dict[str, Any] = {
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(cpu),
        "memory": str(memory),
    }
    if reference.get("ephemeralStorage"):
        fields["ephemeralStorage"] = reference["ephemeralStorage"]
    return fields


def _ec2_fields(reference: Mapping[str, Any], compatibility: LaunchType) -> dict[str, Any]:
    """The reference's network mode and task-level sizes (EC2, EXTERNAL, Managed Instances)."""
    fields: dict[str, Any] = {}
    if reference.get("networkMode"):
        fields["networkMode"] = reference["networkMode"]
    if compatibility is LaunchType.MANAGED_INSTANCES and fields.get("networkMode") != "host":
        # Managed Instances offer awsvpc and host only; awsvpc is what a bridge task becomes.
        fields["networkMode"] = "awsvpc"
    if reference.get("requiresCompatibilities") or compatibility is LaunchType.MANAGED_INSTANCES:
        fields["requiresCompatibilities"] = [compatibility.value]
    for name in ("cpu", "memory"):
        if reference.get(name):
            fields[name] = str(reference[name])
    return fields


def _int(value: Any) -> int | None:  # noqa: ANN401 - AWS gives sizes as strings
    return int(value) if value not in (None, "") else None


def needs_network_configuration(definition: Mapping[str, Any]) -> bool:
    """Tell whether RunTask must be given subnets (awsvpc network mode)."""
    return definition.get("networkMode") == "awsvpc"


def is_same_definition(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    """Tell whether registering `desired` would give what `existing` already is.

    `existing` is a described revision: AWS adds bookkeeping fields (revision, status, ARN) and
    fills defaults with empty values, so both sides are compared on registrable fields with empty
    values dropped.
    """
    registrable = {k: v for k, v in existing.items() if k in _REGISTRABLE_FIELDS}
    same: bool = _normalized(desired) == _normalized(registrable)
    return same


def environment_values(definition: Mapping[str, Any]) -> frozenset[str]:
    """Values of the inline environment of every container: never to be printed."""
    return frozenset(
        str(item["value"])
        for container in definition.get("containerDefinitions", ())
        for item in container.get("environment", ())
        if item.get("value")
    )


def redacted(definition: Mapping[str, Any], mask: str) -> dict[str, Any]:
    """A copy of a task definition with every inline environment value replaced by `mask`."""
    copy = dict(definition)
    copy["containerDefinitions"] = [
        {
            **container,
            "environment": [{**item, "value": mask} for item in container["environment"]],
        }
        if container.get("environment")
        else dict(container)
        for container in definition.get("containerDefinitions", ())
    ]
    return copy


def _normalized(value: Any, key: str = "") -> Any:  # noqa: ANN401 - JSON-shaped data
    if isinstance(value, Mapping):
        return {
            k: _normalized(v, k) for k, v in value.items() if v is not None and v not in ([], {})
        }
    if isinstance(value, list | tuple):
        items = [_normalized(v) for v in value]
        if key in _UNORDERED_LISTS:
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
        return items
    return value


def log_stream_of(
    definition: Mapping[str, Any], container_name: str | None, task_id: str
) -> tuple[str, str, str | None]:
    """(log group, log stream, region) of a task's container, from its definition's awslogs.

    Raises UsageError when the container does not log with awslogs (the driver is named) or has
    no stream prefix (the stream name then cannot be known from the task alone).
    """
    container = choose_container(definition, container_name).container
    config = container.get("logConfiguration") or {}
    driver = config.get("logDriver")
    name = container.get("name")
    if driver != "awslogs":
        raise UsageError(
            f"container {name!r} logs with the {driver or 'default'} driver, not awslogs:"
            " there is no CloudWatch Logs stream to follow"
        )
    options = config.get("options") or {}
    prefix = options.get("awslogs-stream-prefix")
    if not prefix or not options.get("awslogs-group"):
        raise UsageError(
            f"container {name!r} logs with awslogs but without a stream prefix:"
            " its log stream cannot be found from the task"
        )
    return (
        str(options["awslogs-group"]),
        f"{prefix}/{name}/{task_id}",
        options.get("awslogs-region"),
    )
