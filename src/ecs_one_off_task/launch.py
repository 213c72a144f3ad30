"""Where the one-off task runs, and the RunTask request that says so. Pure: no I/O.

The choice, in this order: --launch-type; else --capacity-provider; else what the service
(--from-service) uses; else the cluster's default capacity provider strategy (RunTask then gets
neither, and AWS applies the default); else EC2, as the original script did. Network settings
and the platform version come from the service unless a flag names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_one_off_task.config import CapacityProvider, LaunchType, Placement
from ecs_one_off_task.errors import UsageError

FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})


@dataclass(frozen=True, kw_only=True)
class Launch:
    """Where and how RunTask starts the task, and where each setting came from."""

    launch_type: LaunchType | None
    capacity_providers: tuple[CapacityProvider, ...] = ()
    """The strategy the task runs under (also the cluster default, which RunTask is not sent)."""
    send_strategy: bool = False
    chosen_by: str
    platform_version: str | None = None
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool | None = None
    enable_execute_command: bool = False
    from_service: tuple[str, ...] = ()
    """What was copied from the service, for the "task started" event."""

    @property
    def fargate(self) -> bool:
        """Whether the task runs on Fargate (launch type, or a FARGATE/FARGATE_SPOT provider)."""
        if self.launch_type is not None:
            return self.launch_type is LaunchType.FARGATE
        return any(p.name in FARGATE_PROVIDERS for p in self.capacity_providers)

    @property
    def compatibility(self) -> LaunchType:
        """What the task definition must be compatible with."""
        if self.fargate:
            return LaunchType.FARGATE
        return self.launch_type or LaunchType.EC2

    def describe(self) -> str:
        """Where the task runs, in a few words, e.g. "FARGATE_SPOT:1:0 (--capacity-provider)"."""
        if self.launch_type is LaunchType.MANAGED_INSTANCES:
            where = "Managed Instances, the cluster's default capacity provider strategy"
        elif self.launch_type is not None:
            where = f"launch type {self.launch_type.value}"
        else:
            where = "capacity providers " + ", ".join(
                f"{p.name}:{p.weight}:{p.base}" for p in self.capacity_providers
            )
        return f"{where} ({self.chosen_by})"


def resolve_launch(
    placement: Placement,
    *,
    service: Mapping[str, Any] | None,
    cluster: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
) -> Launch:
    """Decide where the task runs from the flags, the service and the cluster.

    Raises UsageError when --capacity-provider names a provider the cluster does not have, or
    Managed Instances are asked of a cluster whose default strategy cannot place them.
    """
    _check_providers(placement, cluster)
    service = service or {}
    copied: list[str] = []
    chosen = _where(placement, service, cluster, copied, reference or {})
    if chosen.launch_type is LaunchType.MANAGED_INSTANCES:
        _check_managed_instances(cluster)
    network = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})

    def pick(flag: Any, field: str, label: str) -> Any:  # noqa: ANN401 - flag or service value
        if flag not in (None, ()):
            return flag
        value = network.get(field)
        if value not in (None, [], ""):
            copied.append(label)
        return value

    subnets = tuple(pick(placement.subnets, "subnets", "subnets") or ())
    groups = tuple(pick(placement.security_groups, "securityGroups", "security groups") or ())
    public = pick(placement.assign_public_ip, "assignPublicIp", "assignPublicIp")
    platform = placement.platform_version
    if platform is None and service.get("platformVersion"):
        platform = str(service["platformVersion"])
        copied.append("platform version")
    execute = bool(service.get("enableExecuteCommand"))
    if execute:
        copied.append("enableExecuteCommand")
    return Launch(
        launch_type=chosen.launch_type,
        capacity_providers=chosen.capacity_providers,
        send_strategy=chosen.send_strategy,
        chosen_by=chosen.chosen_by,
        platform_version=platform,
        subnets=subnets,
        security_groups=groups,
        assign_public_ip=public in (True, "ENABLED"),
        enable_execute_command=execute,
        from_service=tuple(copied),
    )


def _where(  # noqa: PLR0911 - one return per rung of the order of precedence
    placement: Placement,
    service: Mapping[str, Any],
    cluster: Mapping[str, Any],
    copied: list[str],
    reference: Mapping[str, Any],
) -> Launch:
    """The launch type or strategy alone, by the order of precedence."""
    if placement.launch_type is not None:
        return Launch(launch_type=placement.launch_type, chosen_by="--launch-type")
    if placement.capacity_providers:
        return Launch(
            launch_type=None,
            capacity_providers=placement.capacity_providers,
            send_strategy=True,
            chosen_by="--capacity-provider",
        )
    name = service.get("serviceName")
    if service.get("capacityProviderStrategy"):
        copied.append("capacity provider strategy")
        return Launch(
            launch_type=None,
            capacity_providers=_strategy(service["capacityProviderStrategy"]),
            send_strategy=True,
            chosen_by=f"service {name}",
        )
    if service.get("launchType"):
        copied.append("launch type")
        return Launch(launch_type=LaunchType(service["launchType"]), chosen_by=f"service {name}")
    if cluster.get("defaultCapacityProviderStrategy"):
        return Launch(
            launch_type=None,
            capacity_providers=_strategy(cluster["defaultCapacityProviderStrategy"]),
            chosen_by="the cluster's default capacity provider strategy",
        )
    required = [LaunchType(c) for c in reference.get("requiresCompatibilities") or ()]
    if required and LaunchType.EC2 not in required:
        # A reference made only for Fargate, ECS Anywhere or Managed Instances runs there.
        return Launch(launch_type=required[0], chosen_by="the reference's compatibility")
    return Launch(launch_type=LaunchType.EC2, chosen_by="default")


def compatibility(launch: Launch, reference: Mapping[str, Any]) -> LaunchType:
    """What the one-off revision must be compatible with: where it runs.

    Through a capacity provider that is not Fargate, a reference made for Managed Instances
    (and not EC2) keeps them.
    """
    required = reference.get("requiresCompatibilities") or ()
    by_provider = launch.launch_type is None and not launch.fargate
    if by_provider and "EC2" not in required and LaunchType.MANAGED_INSTANCES.value in required:
        return LaunchType.MANAGED_INSTANCES
    return launch.compatibility


# What RunTask's TaskManagedEBSVolumeConfiguration accepts of a service's EBS configuration.
_TASK_EBS_FIELDS = frozenset(
    {
        "encrypted",
        "kmsKeyId",
        "volumeType",
        "sizeInGiB",
        "snapshotId",
        "volumeInitializationRate",
        "iops",
        "throughput",
        "tagSpecifications",
        "roleArn",
        "filesystemType",
    }
)


def launch_volumes(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The service's EBS volume configurations (its primary deployment's), by volume name."""
    deployments = service.get("deployments") or ()
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    return {
        str(item["name"]): {
            key: value
            for key, value in (item.get("managedEBSVolume") or {}).items()
            if key in _TASK_EBS_FIELDS
        }
        for item in (primary or {}).get("volumeConfigurations") or ()
    }


def _strategy(items: Any) -> tuple[CapacityProvider, ...]:  # noqa: ANN401 - AWS's JSON
    return tuple(
        CapacityProvider(
            name=str(item["capacityProvider"]),
            weight=int(item.get("weight") or 0),
            base=int(item.get("base") or 0),
        )
        for item in items
    )


def _check_managed_instances(cluster: Mapping[str, Any]) -> None:
    """Refuse Managed Instances on a cluster whose default strategy cannot place them.

    RunTask places Managed Instances only through a capacity provider: without one named, the
    cluster's default strategy must be there, and not Fargate's.
    """
    default = [
        str(item["capacityProvider"])
        for item in cluster.get("defaultCapacityProviderStrategy") or ()
    ]
    if not default or FARGATE_PROVIDERS & set(default):
        has = ", ".join(default) or "none"
        raise UsageError(
            "Managed Instances run through a capacity provider, and the default capacity"
            f" provider strategy of cluster {cluster.get('clusterName')!r} cannot place them"
            f" (it has: {has}): pass --capacity-provider NAME, the cluster's Managed Instances"
            " provider"
        )


def _check_providers(placement: Placement, cluster: Mapping[str, Any]) -> None:
    known = list(cluster.get("capacityProviders") or ())
    for provider in placement.capacity_providers:
        if provider.name not in known:
            has = ", ".join(known) or "none"
            raise UsageError(
                f"capacity provider {provider.name!r} is not available on cluster"
                f" {cluster.get('clusterName')!r} (it has: {has})"
            )


def run_task_request(  # noqa: PLR0913, C901 - one RunTask request, every part named
    launch: Launch,
    *,
    cluster: str,
    count: int,
    awsvpc: bool,
    tags: tuple[tuple[str, str], ...],
    started_by: str,
    propagate_tags: bool = False,
    volume_configurations: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    """The RunTask arguments, all but taskDefinition (known once registered or reused)."""
    request: dict[str, Any] = {"cluster": cluster, "count": count, "startedBy": started_by}
    # RunTask takes Managed Instances only through a capacity provider strategy, without
    # launchType: for --launch-type MANAGED_INSTANCES the cluster's default strategy places it.
    if launch.launch_type not in (None, LaunchType.MANAGED_INSTANCES):
        request["launchType"] = launch.launch_type.value
    elif launch.send_strategy:
        request["capacityProviderStrategy"] = [
            {"capacityProvider": p.name, "weight": p.weight, "base": p.base}
            for p in launch.capacity_providers
        ]
    if launch.fargate and launch.platform_version:
        request["platformVersion"] = launch.platform_version
    if awsvpc:
        vpc: dict[str, Any] = {"subnets": list(launch.subnets)}
        if launch.security_groups:
            vpc["securityGroups"] = list(launch.security_groups)
        if launch.fargate:
            vpc["assignPublicIp"] = "ENABLED" if launch.assign_public_ip else "DISABLED"
        request["networkConfiguration"] = {"awsvpcConfiguration": vpc}
    if launch.enable_execute_command:
        request["enableExecuteCommand"] = True
    if tags:
        request["tags"] = [{"key": key, "value": value} for key, value in tags]
    if tags or propagate_tags:
        request["propagateTags"] = "TASK_DEFINITION"
        request["enableECSManagedTags"] = True
    if volume_configurations:
        request["volumeConfigurations"] = list(volume_configurations)
    return request
