"""Build the one-off task definition from the reference one. Pure: no I/O, no AWS client.

The app's own task definition is only read. The one-off revision carries what the app needs to
start (secrets, environment files, inline environment, roles, registry credentials) and nothing
that only a long-running service needs (ports, health checks, volumes, sidecars).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_one_off_task.config import LaunchType, TaskSpec
from ecs_one_off_task.errors import UsageError

# The seed's manifest: used when the reference container sets none of them.
DEFAULT_CPU = 128
DEFAULT_MEMORY = 400
DEFAULT_MEMORY_RESERVATION = 300
# Fargate needs task-level sizes; the smallest size that fits the default container.
DEFAULT_FARGATE_CPU = "256"
DEFAULT_FARGATE_MEMORY = "512"

# Copied from the reference container as they are: the app cannot start without them.
_CARRIED_CONTAINER_FIELDS = (
    "secrets",
    "environmentFiles",
    "environment",
    "repositoryCredentials",
    "workingDirectory",
    "user",
)
_CARRIED_TASK_FIELDS = ("executionRoleArn", "taskRoleArn", "runtimePlatform")
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


def select_container(reference: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    """Pick the reference container the one-off task inherits from.

    The one named by --container; else the only one; else the first essential one (ECS treats a
    container without `essential` as essential).
    """
    containers: Sequence[Mapping[str, Any]] = reference.get("containerDefinitions", ())
    if not containers:
        raise UsageError(f"reference task definition {_describe(reference)} has no containers")
    if name is not None:
        for container in containers:
            if container.get("name") == name:
                return container
        known = ", ".join(str(c.get("name")) for c in containers)
        raise UsageError(
            f"container {name!r} is not in reference task definition {_describe(reference)}"
            f" (it has: {known})"
        )
    if len(containers) == 1:
        return containers[0]
    for container in containers:
        if container.get("essential", True):
            return container
    return containers[0]


def build_task_definition(
    reference: Mapping[str, Any],
    spec: TaskSpec,
    *,
    region: str,
    launch_type: LaunchType,
) -> dict[str, Any]:
    """Return the RegisterTaskDefinition arguments of the one-off revision."""
    source = select_container(reference, spec.container)
    container: dict[str, Any] = {
        "name": spec.task_name,
        "image": spec.image,
        "essential": True,
        "command": list(spec.command),
    }
    if spec.entrypoint:
        container["entryPoint"] = list(spec.entrypoint)
    container.update(_container_size(source))
    for field in _CARRIED_CONTAINER_FIELDS:
        if source.get(field):
            container[field] = source[field]
    container["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": spec.log_group,
            "awslogs-region": region,
            "awslogs-stream-prefix": spec.log_stream_prefix,
        },
    }

    definition: dict[str, Any] = {"family": spec.task_name, "containerDefinitions": [container]}
    for field in _CARRIED_TASK_FIELDS:
        if reference.get(field):
            definition[field] = reference[field]
    definition.update(_task_placement_fields(reference, launch_type))
    return definition


def _container_size(source: Mapping[str, Any]) -> dict[str, int]:
    """Inherit the reference container's sizes; the seed's 128/400/300 where it sets none.

    Memory fields go together: mixing the reference's memory with the default reservation could
    make the reservation larger than the limit, which ECS refuses.
    """
    size = {"cpu": source.get("cpu") or DEFAULT_CPU}
    memory, reservation = source.get("memory"), source.get("memoryReservation")
    if memory is None and reservation is None:
        size["memory"] = DEFAULT_MEMORY
        size["memoryReservation"] = DEFAULT_MEMORY_RESERVATION
    else:
        if memory is not None:
            size["memory"] = memory
        if reservation is not None:
            size["memoryReservation"] = reservation
    return size


def _task_placement_fields(reference: Mapping[str, Any], launch_type: LaunchType) -> dict[str, Any]:
    """Network mode, compatibilities and task-level sizes that let the task run on `launch_type`."""
    fields: dict[str, Any] = {}
    if launch_type is LaunchType.FARGATE:
        fields["networkMode"] = "awsvpc"
        fields["requiresCompatibilities"] = ["FARGATE"]
        fields["cpu"] = str(reference.get("cpu") or DEFAULT_FARGATE_CPU)
        fields["memory"] = str(reference.get("memory") or DEFAULT_FARGATE_MEMORY)
        return fields
    if reference.get("networkMode"):
        fields["networkMode"] = reference["networkMode"]
    if reference.get("requiresCompatibilities"):
        fields["requiresCompatibilities"] = [launch_type.value]
    for field in ("cpu", "memory"):
        if reference.get(field):
            fields[field] = str(reference[field])
    return fields


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


def environment_values(reference: Mapping[str, Any]) -> frozenset[str]:
    """Values of the inline environment of every reference container: never to be printed."""
    return frozenset(
        str(item["value"])
        for container in reference.get("containerDefinitions", ())
        for item in container.get("environment", ())
        if item.get("value")
    )


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


def _describe(reference: Mapping[str, Any]) -> str:
    family, revision = reference.get("family"), reference.get("revision")
    return f"{family}:{revision}" if revision else str(family)
