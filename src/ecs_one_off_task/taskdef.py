"""Build the one-off task definition from the reference one. Pure: no I/O, no AWS client.

The app's own task definition is only read. The one-off revision carries what the app needs to
start (secrets, environment files, inline environment, roles, registry credentials) and nothing
that only a long-running service needs (ports, health checks, volumes, sidecars).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_one_off_task import fargate
from ecs_one_off_task.config import LaunchType, Overrides, TaskSpec
from ecs_one_off_task.errors import UsageError

# The seed's manifest: used when the reference container sets none of them.
DEFAULT_CPU = 128
DEFAULT_MEMORY = 400
DEFAULT_MEMORY_RESERVATION = 300

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
    compatibility: LaunchType,
) -> dict[str, Any]:
    """Return the RegisterTaskDefinition arguments of the one-off revision (tags apart).

    Raises UsageError for a Fargate size AWS would refuse, before anything is registered.
    """
    source = select_container(reference, spec.container)
    on_fargate = compatibility is LaunchType.FARGATE
    container = _one_off_container(source, spec, region=region, on_fargate=on_fargate)
    containers = _with_sidecars(reference, source, container) if spec.with_sidecars else [container]
    definition: dict[str, Any] = {"family": spec.task_name, "containerDefinitions": containers}
    for field in _CARRIED_TASK_FIELDS:
        if reference.get(field):
            definition[field] = reference[field]
    overrides = spec.overrides
    if overrides.task_role_arn:
        definition["taskRoleArn"] = overrides.task_role_arn
    if overrides.execution_role_arn:
        definition["executionRoleArn"] = overrides.execution_role_arn
    if spec.with_sidecars and reference.get("volumes"):
        definition["volumes"] = reference["volumes"]
    if on_fargate:
        definition.update(_fargate_fields(reference, overrides, containers))
    else:
        definition.update(_ec2_fields(reference, compatibility))
    return definition


def _one_off_container(
    source: Mapping[str, Any], spec: TaskSpec, *, region: str, on_fargate: bool
) -> dict[str, Any]:
    """The new image and command, with what the app needs to start from `source`."""
    overrides = spec.overrides
    container: dict[str, Any] = {
        "name": spec.task_name,
        "image": spec.image,
        "essential": True,
        "command": list(spec.command),
    }
    if spec.entrypoint:
        container["entryPoint"] = list(spec.entrypoint)
    # On Fargate --cpu/--memory size the task; a smaller container limit would undo that.
    if not on_fargate or (overrides.cpu is None and overrides.memory is None):
        container.update(_container_size(source, overrides))
    for field in _CARRIED_CONTAINER_FIELDS:
        if source.get(field):
            container[field] = source[field]
    _override_named(container, "environment", "value", overrides.environment)
    _override_named(container, "secrets", "valueFrom", overrides.secrets)
    if spec.with_sidecars and source.get("dependsOn"):
        container["dependsOn"] = source["dependsOn"]
    container["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": spec.log_group,
            "awslogs-region": region,
            "awslogs-stream-prefix": spec.log_stream_prefix,
        },
    }
    return container


def _with_sidecars(
    reference: Mapping[str, Any], source: Mapping[str, Any], one_off: dict[str, Any]
) -> list[dict[str, Any]]:
    """The reference's containers with the chosen one replaced by the one-off container.

    Sidecars keep their settings; a `dependsOn` naming the chosen container names the one-off
    container instead, so start order and health conditions still hold.
    """
    renamed = {str(source.get("name")): one_off["name"]}
    containers: list[dict[str, Any]] = []
    for original in reference.get("containerDefinitions", ()):
        if original is source:
            containers.append(one_off)
            continue
        sidecar = dict(original)
        if sidecar.get("dependsOn"):
            sidecar["dependsOn"] = [
                {**item, "containerName": renamed.get(item["containerName"], item["containerName"])}
                for item in sidecar["dependsOn"]
            ]
        containers.append(sidecar)
    return containers


def _override_named(
    container: dict[str, Any], field: str, value_key: str, items: Sequence[tuple[str, str]]
) -> None:
    """Add (name, value) items to a list of {name, value_key}, replacing same-named ones."""
    if not items:
        return
    given = dict(items)
    kept = [item for item in container.get(field, ()) if item.get("name") not in given]
    container[field] = kept + [{"name": name, value_key: value} for name, value in given.items()]


def _container_size(source: Mapping[str, Any], overrides: Overrides) -> dict[str, int]:
    """Inherit the reference container's sizes; the seed's 128/400/300 where it sets none.

    --cpu and --memory replace them. Memory fields go together: mixing the reference's memory
    with the default reservation could make the reservation larger than the limit, which ECS
    refuses; --memory therefore drops the reservation.
    """
    size = {"cpu": overrides.cpu or source.get("cpu") or DEFAULT_CPU}
    if overrides.memory is not None:
        size["memory"] = overrides.memory
        return size
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
    """The reference's network mode and task-level sizes, on EC2 (or EXTERNAL)."""
    fields: dict[str, Any] = {}
    if reference.get("networkMode"):
        fields["networkMode"] = reference["networkMode"]
    if reference.get("requiresCompatibilities"):
        fields["requiresCompatibilities"] = [compatibility.value]
    for field in ("cpu", "memory"):
        if reference.get(field):
            fields[field] = str(reference[field])
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


def _describe(reference: Mapping[str, Any]) -> str:
    family, revision = reference.get("family"), reference.get("revision")
    return f"{family}:{revision}" if revision else str(family)


def log_stream_of(
    definition: Mapping[str, Any], container_name: str | None, task_id: str
) -> tuple[str, str, str | None]:
    """(log group, log stream, region) of a task's container, from its definition's awslogs.

    Raises UsageError when the container does not log with awslogs (the driver is named) or has
    no stream prefix (the stream name then cannot be known from the task alone).
    """
    container = select_container(definition, container_name)
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
