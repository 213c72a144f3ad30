"""Fields a launch type refuses, found before anything is registered. Pure: no I/O.

A reference made for EC2 can carry what Fargate or Managed Instances refuse (a device, a host
path, an IPC mode). Dropping such a field silently would run the command without what the app
was given, so the run stops with exit 2 naming it, and the user decides: run it where the
reference runs, or change the reference. The rules are the ECS developer guide's (Fargate task
definition considerations; Managed Instances task definition differences; awsvpc network mode).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ecs_one_off_task.config import LaunchType
from ecs_one_off_task.errors import UsageError

_WHERE = {LaunchType.FARGATE: "Fargate", LaunchType.MANAGED_INSTANCES: "Managed Instances"}
# Capabilities a Fargate container may add: AWS accepts SYS_PTRACE only.
_FARGATE_CAPABILITIES = frozenset({"SYS_PTRACE"})
# Linux parameters neither Fargate nor Managed Instances accept (both take capabilities and
# initProcessEnabled; Fargate refuses devices too).
_LINUX_PARAMETERS = ("sharedMemorySize", "tmpfs", "maxSwap", "swappiness")
# Container fields the awsvpc network mode refuses.
_NOT_ON_AWSVPC = ("links", "hostname", "dnsServers", "dnsSearchDomains", "extraHosts")
# Container fields Fargate refuses beyond those.
_NOT_ON_FARGATE = ("privileged", "dockerSecurityOptions", "disableNetworking")


def check_fields(definition: Mapping[str, Any], compatibility: LaunchType) -> None:
    """Raise UsageError naming the first field of `definition` its launch type refuses."""
    where = _WHERE.get(compatibility)
    if where is None:
        return
    for problem in _refused(definition, fargate=compatibility is LaunchType.FARGATE):
        raise UsageError(
            f"the one-off task would run on {where}, which refuses {problem} (carried from the"
            " reference): run it where the reference runs (--launch-type EC2, --from-service)"
        )


def _refused(definition: Mapping[str, Any], *, fargate: bool) -> Iterator[str]:
    if definition.get("ipcMode"):
        yield "ipcMode"
    if fargate and definition.get("placementConstraints"):
        yield "placementConstraints"
    if fargate and definition.get("pidMode") not in (None, "task"):
        yield f"pidMode {definition['pidMode']}"
    if not fargate and definition.get("proxyConfiguration"):
        yield "proxyConfiguration"
    for volume in definition.get("volumes") or ():
        name = volume.get("name")
        if (volume.get("host") or {}).get("sourcePath"):
            yield f"volume {name!r} with host.sourcePath"
        if volume.get("dockerVolumeConfiguration"):
            yield f"volume {name!r} with dockerVolumeConfiguration"
    awsvpc = definition.get("networkMode") == "awsvpc"
    for container in definition.get("containerDefinitions") or ():
        name = container.get("name")
        fields = _fields(container, fargate=fargate, awsvpc=awsvpc)
        yield from (f"{field} of container {name!r}" for field in fields)


def _fields(container: Mapping[str, Any], *, fargate: bool, awsvpc: bool) -> Iterator[str]:
    if awsvpc or not fargate:
        # Managed Instances refuse links in any network mode.
        yield from (f for f in _NOT_ON_AWSVPC if container.get(f) and (awsvpc or f == "links"))
    linux = container.get("linuxParameters") or {}
    yield from (f"linuxParameters.{f}" for f in _LINUX_PARAMETERS if linux.get(f))
    if not fargate:
        return
    yield from (field for field in _NOT_ON_FARGATE if container.get(field))
    if linux.get("devices"):
        yield "linuxParameters.devices"
    added = set((linux.get("capabilities") or {}).get("add") or ()) - _FARGATE_CAPABILITIES
    if added:
        yield f"linuxParameters.capabilities.add {', '.join(sorted(added))}"
    if any(r.get("type") == "GPU" for r in container.get("resourceRequirements") or ()):
        yield "resourceRequirements GPU"
    for mapping in container.get("portMappings") or ():
        host = mapping.get("hostPort")
        if host not in (None, 0, mapping.get("containerPort")):
            yield f"portMappings hostPort {host} (containerPort {mapping.get('containerPort')})"
