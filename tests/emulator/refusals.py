"""Requests AWS refuses and moto lets through, refused here as AWS does.

Without these, a test of a wrong Fargate size or a missing network configuration would pass
against the emulator and fail against AWS. The Fargate table is written out here on its own,
from AWS's documentation, not taken from the tool: the emulator is the tool's referee.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from moto.ecs.exceptions import EcsClientException, InvalidParameterException

_GIB = 1024
# CPU units -> (lowest, highest, step) task memory in MiB, as AWS documents Fargate sizes.
_FARGATE_MEMORY_RANGES = {
    256: None,  # 512, 1024, 2048 only
    512: (1 * _GIB, 4 * _GIB, _GIB),
    1024: (2 * _GIB, 8 * _GIB, _GIB),
    2048: (4 * _GIB, 16 * _GIB, _GIB),
    4096: (8 * _GIB, 30 * _GIB, _GIB),
    8192: (16 * _GIB, 60 * _GIB, 4 * _GIB),
    16384: (32 * _GIB, 120 * _GIB, 8 * _GIB),
}
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")


def _fargate_offers(cpu: int, memory: int) -> bool:
    if cpu not in _FARGATE_MEMORY_RANGES:
        return False
    span = _FARGATE_MEMORY_RANGES[cpu]
    if span is None:
        return memory in (512, 1024, 2048)
    low, high, step = span
    return low <= memory <= high and (memory - low) % step == 0


def check_registration(
    *,
    requires_compatibilities: Sequence[str] | None,
    cpu: str | None,
    memory: str | None,
    container_definitions: Sequence[Mapping[str, Any]],
) -> None:
    """Refuse a Fargate definition of a size Fargate does not offer, or containers too big."""
    if requires_compatibilities and "FARGATE" in requires_compatibilities:
        if not cpu or not memory:
            raise EcsClientException(
                "Fargate requires task definition to have execution role ARN and task-level"
                " cpu and memory"
            )
        if not _fargate_offers(int(cpu), int(memory)):
            raise EcsClientException(
                f"No Fargate configuration exists for given values: {cpu} CPU, {memory} memory."
                " See the Amazon ECS documentation for the valid values."
            )
    if memory:
        total = sum(
            int(c.get("memory") or c.get("memoryReservation") or 0) for c in container_definitions
        )
        if total > int(memory):
            raise EcsClientException(
                f"Invalid 'memory' setting for container: the sum of the containers' memory"
                f" ({total}) is greater than the task memory ({memory})."
            )
    if cpu:
        total_cpu = sum(int(c.get("cpu") or 0) for c in container_definitions)
        if total_cpu > int(cpu):
            raise EcsClientException(
                f"Invalid 'cpu' setting for container: the sum of the containers' cpu"
                f" ({total_cpu}) is greater than the task cpu ({cpu})."
            )


def check_run_task(
    *,
    task_definition: Any,
    launch_type: str | None,
    capacity_provider_strategy: Sequence[Mapping[str, Any]] | None,
    network_configuration: Mapping[str, Any] | None,
) -> None:
    """Refuse awsvpc without a network configuration, and Fargate for an EC2-only definition."""
    if task_definition.network_mode == "awsvpc" and not network_configuration:
        raise InvalidParameterException(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified."
        )
    providers = [item.get("capacityProvider") for item in capacity_provider_strategy or ()]
    on_fargate = launch_type == "FARGATE" or any(p in FARGATE_PROVIDERS for p in providers)
    compatible = task_definition.requires_compatibilities or ["EC2"]
    if on_fargate and "FARGATE" not in compatible:
        raise InvalidParameterException("Task definition does not support launch_type FARGATE.")
    # Neither a launch type nor a strategy (and no cluster default) is the EC2 launch type.
    on_ec2 = launch_type == "EC2" or (not launch_type and not providers)
    if on_ec2 and "EC2" not in compatible:
        raise InvalidParameterException("Task definition does not support launch_type EC2.")
    if launch_type == "MANAGED_INSTANCES":
        # The RunTask reference: "If you want to use Amazon ECS Managed Instances, you must use
        # the capacityProviderStrategy request parameter and omit the launchType request
        # parameter."
        raise InvalidParameterException(
            "Amazon ECS Managed Instances need a capacity provider strategy: omit launchType."
        )


def check_definition(definition: Mapping[str, Any]) -> None:
    """Refuse a RegisterTaskDefinition request (camelCase, as sent) that AWS would refuse.

    The rules are written from the ECS developer guide (task definition parameters, Fargate
    task definition considerations); moto checks none of them. Each raises ClientException,
    as ECS does, in ECS's words where they are known.
    """
    for problem in definition_problems(definition):
        raise EcsClientException(problem)


def definition_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every reason AWS would refuse `definition`; empty when it would register it."""
    containers = list(definition.get("containerDefinitions") or ())
    names = [str(c.get("name")) for c in containers]
    volumes = {str(v.get("name")) for v in definition.get("volumes") or ()}
    awsvpc = definition.get("networkMode") == "awsvpc"
    problems = []
    if len(set(names)) < len(names):
        problems.append("Container names must be unique within a Task Definition.")
    for container in containers:
        problems += _container_problems(container, names, volumes, awsvpc=awsvpc)
    proxy = definition.get("proxyConfiguration") or {}
    # The rule is documented, the wording is not (nor for links and memoryReservation below).
    if proxy and proxy.get("containerName") not in names:
        problems.append(
            f"Invalid proxyConfiguration: container '{proxy.get('containerName')}' is not in"
            " the task definition."
        )
    routers = [c for c in containers if c.get("firelensConfiguration")]
    routed = [c for c in containers if _log_driver(c) == "awsfirelens"]
    if routed and not routers:
        problems.append(
            "When awsfirelens log driver is specified in log configuration, a firelens"
            " configuration object must be configured in one of the containers."
        )
    if routers and not routed:
        problems.append(
            "When a firelensConfiguration object is specified, at least one container has to"
            " be configured with the awsfirelens log driver."
        )
    if any(
        str(tag.get("key", "")).lower().startswith("aws:") for tag in definition.get("tags") or ()
    ):
        problems.append("Tag key must not start with aws:")
    if "FARGATE" in (definition.get("requiresCompatibilities") or ()):
        problems += _fargate_problems(definition, containers)
    managed = "MANAGED_INSTANCES" in (definition.get("requiresCompatibilities") or ())
    if managed:
        problems += _managed_instances_problems(definition, containers)
    essential = {str(c.get("name")) for c in containers if c.get("essential") is not False}
    if any(
        item.get("condition") in ("COMPLETE", "SUCCESS") and item.get("containerName") in essential
        for c in containers
        for item in c.get("dependsOn") or ()
    ):
        problems.append(
            "A dependency container with SUCCESS or COMPLETE condition cannot be an essential"
            " container"
        )
    return problems


def _log_driver(container: Mapping[str, Any]) -> str | None:
    driver = (container.get("logConfiguration") or {}).get("logDriver")
    return None if driver is None else str(driver)


def _container_problems(
    container: Mapping[str, Any], names: list[str], volumes: set[str], *, awsvpc: bool
) -> list[str]:
    name = container.get("name")
    # ECS's own message has the " + " in it.
    problems = [
        f"Cannot depend on container + '{item.get('containerName')}' because it does not exist"
        for item in container.get("dependsOn") or ()
        if item.get("containerName") not in names
    ]
    problems += [
        f"Invalid 'volumesFrom' setting. Unknown container: '{item.get('sourceContainer')}'."
        for item in container.get("volumesFrom") or ()
        if item.get("sourceContainer") not in names
    ]
    links = [str(link) for link in container.get("links") or ()]
    if links and awsvpc:
        problems.append("Links are not supported when networkMode=awsvpc.")
    if awsvpc and container.get("hostname"):
        problems.append("hostname is not supported on container when networkMode=awsvpc.")
    # Not documented word for word: the parameter reference says each "isn't supported for
    # tasks that use the awsvpc network mode".
    problems += [
        f"{field} is not supported on container when networkMode=awsvpc."
        for field in ("dnsServers", "dnsSearchDomains", "extraHosts")
        if awsvpc and container.get(field)
    ]
    problems += [
        f"Invalid 'links' setting for container '{name}'. Unknown container: '{link}'."
        for link in links
        if not awsvpc and link.partition(":")[0] not in names
    ]
    problems += [
        f"Unknown volume '{point.get('sourceVolume')}'."
        for point in container.get("mountPoints") or ()
        if point.get("sourceVolume") not in volumes
    ]
    memory, reservation = container.get("memory"), container.get("memoryReservation")
    if memory is not None and reservation is not None and int(reservation) > int(memory):
        problems.append(
            f"Invalid setting for container '{name}'. The 'memoryReservation' must be less"
            " than or equal to 'memory'."
        )
    return problems


_FARGATE_LINUX_PARAMETERS = ("devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness")


def _fargate_problems(
    definition: Mapping[str, Any], containers: list[Mapping[str, Any]]
) -> list[str]:
    problems = []
    if definition.get("networkMode") != "awsvpc":
        problems.append("Fargate only supports network mode 'awsvpc'.")
    if definition.get("placementConstraints"):
        problems.append("Fargate does not support task placement constraints.")
    if definition.get("pidMode") not in (None, "task"):
        problems.append(
            "Tasks using the Fargate launch type do not support pidMode"
            f" '{definition.get('pidMode')}'. The supported value for pidMode is 'task'."
        )
    if definition.get("ipcMode"):
        problems.append("Tasks using the Fargate launch type do not support ipcMode.")
    for volume in definition.get("volumes") or ():
        if (volume.get("host") or {}).get("sourcePath"):
            problems.append("Fargate compatible task definitions do not support sourcePath")
        if volume.get("dockerVolumeConfiguration"):
            problems.append(
                "Fargate compatible task definitions do not support dockerVolumeConfiguration"
            )
    for container in containers:
        problems += _fargate_container_problems(container)
    return problems


def _fargate_container_problems(container: Mapping[str, Any]) -> list[str]:
    name = container.get("name")
    linux = container.get("linuxParameters") or {}
    problems = [
        f"Fargate compatible task definitions do not support {field}"
        for field in _FARGATE_LINUX_PARAMETERS
        if linux.get(field)
    ]
    # The wording of these is not documented; the rules are (Fargate task definition
    # considerations).
    problems += [
        f"Fargate compatible task definitions do not support {field}: '{name}'."
        for field in ("privileged", "dockerSecurityOptions", "disableNetworking")
        if container.get(field)
    ]
    if set((linux.get("capabilities") or {}).get("add") or ()) - {"SYS_PTRACE"}:
        problems.append(f"Fargate only supports adding the SYS_PTRACE capability: '{name}'.")
    if any(r.get("type") == "GPU" for r in container.get("resourceRequirements") or ()):
        problems.append(f"Fargate does not support GPU resource requirements: '{name}'.")
    if any(
        mapping.get("hostPort") not in (None, 0, mapping.get("containerPort"))
        for mapping in container.get("portMappings") or ()
    ):
        problems.append(
            "When networkMode=awsvpc, the host ports and container ports in port mappings"
            " must match."
        )
    return problems


def _managed_instances_problems(
    definition: Mapping[str, Any], containers: list[Mapping[str, Any]]
) -> list[str]:
    """What Managed Instances refuse (their task definition differences; wording not
    documented word for word)."""
    problems = []
    if definition.get("networkMode") not in ("awsvpc", "host"):
        problems.append(
            "Amazon ECS Managed Instances support the awsvpc and host network modes only."
        )
    problems += [
        f"Amazon ECS Managed Instances do not support {field}."
        for field in ("ipcMode", "proxyConfiguration")
        if definition.get(field)
    ]
    problems += [
        "Amazon ECS Managed Instances support neither host paths nor Docker volumes."
        for volume in definition.get("volumes") or ()
        if (volume.get("host") or {}).get("sourcePath") or volume.get("dockerVolumeConfiguration")
    ]
    for container in containers:
        linux = container.get("linuxParameters") or {}
        if container.get("links"):
            problems.append("Amazon ECS Managed Instances do not support links.")
        problems += [
            f"Amazon ECS Managed Instances do not support {field}."
            for field in ("sharedMemorySize", "tmpfs", "maxSwap", "swappiness")
            if linux.get(field)
        ]
    return problems


# moto's keyword arguments of register_task_definition -> the request's camelCase fields.
_REQUEST_FIELDS = {
    "volumes": "volumes",
    "network_mode": "networkMode",
    "tags": "tags",
    "placement_constraints": "placementConstraints",
    "requires_compatibilities": "requiresCompatibilities",
    "proxy_configuration": "proxyConfiguration",
    "ipc_mode": "ipcMode",
    "pid_mode": "pidMode",
}


def as_requested(
    family: str, container_definitions: list[dict[str, Any]], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The RegisterTaskDefinition request moto's backend was called with, as it was sent."""
    request: dict[str, Any] = {"family": family, "containerDefinitions": container_definitions}
    for keyword, name in _REQUEST_FIELDS.items():
        if kwargs.get(keyword) is not None:
            request[name] = kwargs[keyword]
    return request


def check_launch_volumes(
    *, volumes: Sequence[Mapping[str, Any]], configurations: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse RunTask volume configurations that do not match the volumes configured at launch."""
    at_launch = {str(v.get("name")) for v in volumes if v.get("configuredAtLaunch")}
    given = {str(c.get("name")) for c in configurations}
    if given - at_launch:
        raise InvalidParameterException(
            "Volume configuration provided but no matching configuredAtLaunch volume found in"
            " task definition."
        )
    missing = sorted(at_launch - given)
    if missing:
        # ECS's wording for this case is not documented; the rule is (EBS volumes page).
        raise InvalidParameterException(
            f"The task definition has a volume configured at launch ({missing[0]}) but no"
            " volume configuration was provided for it."
        )
