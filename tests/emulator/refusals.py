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
