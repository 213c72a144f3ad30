"""Fargate task sizes AWS accepts. Pure: checked before anything is registered.

AWS refuses any other cpu/memory pair at RegisterTaskDefinition; finding that out from AWS would
cost a failed write, and the message would not say what is valid. Here the refusal lists the
memory values that go with the CPU asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ecs_one_off_task.errors import UsageError

DEFAULT_CPU = 256
DEFAULT_MEMORY = 512
GIB = 1024


def _steps(low_gib: int, high_gib: int, step_gib: int = 1) -> tuple[int, ...]:
    return tuple(gib * GIB for gib in range(low_gib, high_gib + 1, step_gib))


# CPU units -> the task memory sizes (MiB) Fargate offers with it.
VALID_SIZES: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: _steps(1, 4),
    1024: _steps(2, 8),
    2048: _steps(4, 16),
    4096: _steps(8, 30),
    8192: _steps(16, 60, 4),
    16384: _steps(32, 120, 8),
}


def _mib(value: int) -> str:
    return f"{value // GIB} GiB" if value % GIB == 0 and value >= GIB else f"{value} MiB"


def check_task_size(cpu: int, memory: int) -> None:
    """Raise UsageError naming the valid memory sizes unless Fargate offers `cpu` with `memory`."""
    if cpu not in VALID_SIZES:
        offered = ", ".join(map(str, VALID_SIZES))
        raise UsageError(f"Fargate has no task size with {cpu} CPU units (it offers {offered})")
    valid = VALID_SIZES[cpu]
    if memory not in valid:
        listed = ", ".join(f"{value} ({_mib(value)})" for value in valid)
        raise UsageError(
            f"Fargate does not offer {memory} MiB with {cpu} CPU units;"
            f" valid memory (MiB) for {cpu} CPU: {listed}"
        )


def check_containers_fit(cpu: int, memory: int, containers: Sequence[Mapping[str, Any]]) -> None:
    """Raise UsageError when the containers together ask for more than the task has."""
    cpu_sum = sum(int(c.get("cpu") or 0) for c in containers)
    memory_sum = sum(int(c.get("memory") or c.get("memoryReservation") or 0) for c in containers)
    if cpu_sum > cpu:
        raise UsageError(
            f"the containers ask for {cpu_sum} CPU units, more than the task's {cpu}:"
            " pass a larger --cpu"
        )
    if memory_sum > memory:
        raise UsageError(
            f"the containers ask for {memory_sum} MiB, more than the task's {memory} MiB:"
            " pass a larger --memory"
        )
