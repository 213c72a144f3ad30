"""Where the task runs, the RunTask request, and the Fargate sizes: pure decisions."""

from __future__ import annotations

from typing import Any

import pytest

from ecs_one_off_task import fargate
from ecs_one_off_task.config import CapacityProvider, LaunchType, Placement
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.launch import resolve_launch, run_task_request

CLUSTER: dict[str, Any] = {"clusterName": "prod", "capacityProviders": ["FARGATE", "FARGATE_SPOT"]}
DEFAULTED = CLUSTER | {
    "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
}
SERVICE: dict[str, Any] = {
    "serviceName": "web",
    "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}],
    "platformVersion": "1.4.0",
    "enableExecuteCommand": True,
    "networkConfiguration": {
        "awsvpcConfiguration": {
            "subnets": ["subnet-a", "subnet-b"],
            "securityGroups": ["sg-1"],
            "assignPublicIp": "ENABLED",
        }
    },
}
SPOT = CapacityProvider(name="FARGATE_SPOT", weight=2, base=0)


class TestResolutionOrder:
    @pytest.mark.parametrize(
        ("placement", "service", "cluster", "launch_type", "strategy", "chosen_by"),
        [
            (Placement(cluster="prod", launch_type=LaunchType.EC2, capacity_providers=()),
             SERVICE, DEFAULTED, LaunchType.EC2, (), "--launch-type"),
            (Placement(cluster="prod", capacity_providers=(SPOT,)), SERVICE, DEFAULTED, None,
             (SPOT,), "--capacity-provider"),
            (Placement(cluster="prod"), SERVICE, DEFAULTED, None,
             (CapacityProvider(name="FARGATE", weight=1, base=1),), "service web"),
            (Placement(cluster="prod"), {"serviceName": "w", "launchType": "FARGATE"}, DEFAULTED,
             LaunchType.FARGATE, (), "service w"),
            (Placement(cluster="prod"), None, DEFAULTED, None,
             (CapacityProvider(name="FARGATE_SPOT", weight=1, base=0),),
             "the cluster's default capacity provider strategy"),
            (Placement(cluster="prod"), None, CLUSTER, LaunchType.EC2, (), "default"),
        ],
    )  # fmt: skip
    def test_flag_then_provider_then_service_then_cluster_default_then_ec2(
        self,
        placement: Placement,
        service: dict[str, Any] | None,
        cluster: dict[str, Any],
        launch_type: LaunchType | None,
        strategy: tuple[CapacityProvider, ...],
        chosen_by: str,
    ) -> None:
        """Each source wins over the ones after it, and the choice says where it came from."""
        launch = resolve_launch(placement, service=service, cluster=cluster)
        assert (launch.launch_type, launch.capacity_providers, launch.chosen_by) == (
            launch_type,
            strategy,
            chosen_by,
        )

    def test_the_cluster_default_is_not_sent(self) -> None:
        """With the cluster's default strategy RunTask gets neither a launch type nor a
        strategy (AWS applies the default), yet the task counts as a Fargate one."""
        launch = resolve_launch(Placement(cluster="prod"), service=None, cluster=DEFAULTED)
        request = run_task_request(
            launch, cluster="prod", count=1, awsvpc=False, tags=(), started_by="me"
        )
        assert request == {"cluster": "prod", "count": 1, "startedBy": "me"}
        assert launch.fargate

    def test_unknown_provider_names_what_the_cluster_has(self) -> None:
        """A provider the cluster does not list is a usage error listing the ones it has."""
        placement = Placement(cluster="prod", capacity_providers=(CapacityProvider(name="X"),))
        with pytest.raises(UsageError, match=r"'X' is not available on cluster 'prod' \(it has: "
                           r"FARGATE, FARGATE_SPOT\)"):  # fmt: skip
            resolve_launch(placement, service=None, cluster=CLUSTER)


class TestFromService:
    def test_copies_network_platform_and_exec_and_says_so(self) -> None:
        """Without flags every service field is taken, and listed in `from_service`."""
        launch = resolve_launch(Placement(cluster="prod"), service=SERVICE, cluster=CLUSTER)
        request = run_task_request(
            launch, cluster="prod", count=2, awsvpc=True, tags=(), started_by="me"
        )
        assert request == {
            "cluster": "prod",
            "count": 2,
            "startedBy": "me",
            "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1, "base": 1}],
            "platformVersion": "1.4.0",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-a", "subnet-b"],
                    "securityGroups": ["sg-1"],
                    "assignPublicIp": "ENABLED",
                }
            },
            "enableExecuteCommand": True,
        }
        assert launch.from_service == (
            "capacity provider strategy",
            "subnets",
            "security groups",
            "assignPublicIp",
            "platform version",
            "enableExecuteCommand",
        )

    def test_flags_override_field_by_field(self) -> None:
        """--subnets, --security-groups, --no-assign-public-ip, --platform-version each replace
        only the field they name."""
        placement = Placement(
            cluster="prod",
            subnets=("subnet-z",),
            assign_public_ip=False,
            platform_version="LATEST",
        )
        launch = resolve_launch(placement, service=SERVICE, cluster=CLUSTER)
        assert (launch.subnets, launch.security_groups) == (("subnet-z",), ("sg-1",))
        assert (launch.assign_public_ip, launch.platform_version) == (False, "LATEST")

    def test_tags_propagate(self) -> None:
        """Tags on RunTask come with propagateTags=TASK_DEFINITION and ECS managed tags."""
        launch = resolve_launch(Placement(cluster="prod"), service=None, cluster=CLUSTER)
        request = run_task_request(
            launch, cluster="prod", count=1, awsvpc=False, tags=(("a", "1"),), started_by="me"
        )
        assert request["tags"] == [{"key": "a", "value": "1"}]
        assert (request["propagateTags"], request["enableECSManagedTags"]) == (
            "TASK_DEFINITION",
            True,
        )


class TestFargateSizes:
    @pytest.mark.parametrize(
        ("cpu", "memory"),
        [(256, 512), (256, 2048), (512, 1024), (512, 4096), (1024, 8192), (2048, 16384),
         (4096, 30720), (8192, 16384), (8192, 61440), (16384, 32768), (16384, 122880)],
    )  # fmt: skip
    def test_offered_sizes_pass(self, cpu: int, memory: int) -> None:
        """Every documented edge of the Fargate table is accepted."""
        fargate.check_task_size(cpu, memory)

    @pytest.mark.parametrize(
        ("cpu", "memory"),
        [(256, 1536), (256, 4096), (512, 512), (1024, 1536), (4096, 31744), (8192, 18432),
         (8192, 65536), (16384, 36864), (128, 512)],
    )  # fmt: skip
    def test_other_sizes_are_refused(self, cpu: int, memory: int) -> None:
        """A pair Fargate does not offer is a usage error."""
        with pytest.raises(UsageError):
            fargate.check_task_size(cpu, memory)

    def test_the_refusal_lists_the_valid_memory(self) -> None:
        """The message lists every memory size offered with the CPU asked for."""
        with pytest.raises(UsageError) as raised:
            fargate.check_task_size(8192, 18432)
        assert str(raised.value).endswith(
            "valid memory (MiB) for 8192 CPU: " + ", ".join(
                f"{gib * 1024} ({gib} GiB)" for gib in range(16, 61, 4)
            )
        )  # fmt: skip

    def test_containers_must_fit(self) -> None:
        """Containers asking together for more than the task has are refused."""
        with pytest.raises(UsageError, match="ask for 768 MiB, more than the task's 512 MiB"):
            fargate.check_containers_fit(256, 512, [{"memory": 512}, {"memoryReservation": 256}])
