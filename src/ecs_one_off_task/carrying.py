"""The one-off container: the app's container with a new image and command. Pure: no I/O.

It starts from the chosen container's whole definition and changes only what a one-off must
change, so what the app needs at run time (secrets, environment, volumes, Linux parameters,
ulimits, DNS, GPUs, and fields AWS adds later) comes along without a list to keep up to date.
What is changed, and what is dropped with the reason, is said by `--dry-run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecs_one_off_task.config import Overrides, TaskSpec

# The seed's manifest: used when the reference container sets none of them.
DEFAULT_CPU = 128
DEFAULT_MEMORY = 400
DEFAULT_MEMORY_RESERVATION = 300

# Set by the one-off itself: its name, image, command, log configuration and essential flag.
CHANGED = ("name", "image", "command", "logConfiguration", "essential")
SIZES = ("cpu", "memory", "memoryReservation")

# Never carried, whatever else is kept. The README's table says the same.
DROPPED: Mapping[str, str] = {
    "entryPoint": "the image's entry point runs the command, as docker run would"
    " (--entrypoint sets one)",
    "portMappings": "a fixed host port would clash with the app's tasks on the same instance;"
    " a command serves no port",
    "healthCheck": "a command never serves the app's health endpoint: ECS would stop the task"
    " as unhealthy",
    "restartPolicy": "a restart would run the command again",
    "firelensConfiguration": "the one-off container logs with awslogs; it routes no one's logs",
    "interactive": "nobody types into a one-off task's stdin",
    "pseudoTerminal": "a terminal would mix stderr into stdout and add carriage returns",
}
# Fields naming other containers: kept only when --with-sidecars keeps those containers.
CROSS_CONTAINER = ("links", "dependsOn", "volumesFrom")
WITHOUT_SIDECARS = (
    "names another container, which the one-off revision does not have (--with-sidecars keeps them)"
)


@dataclass(frozen=True, kw_only=True)
class Carried:
    """The one-off container, and what it took from the reference container."""

    container: dict[str, Any]
    carried: tuple[str, ...]
    """Fields of the reference container the one-off container has as they were."""
    dropped: Mapping[str, str] = field(default_factory=dict)
    """Fields of the reference container it does not have, each with the reason."""


def one_off_container(
    source: Mapping[str, Any], spec: TaskSpec, *, region: str, on_fargate: bool
) -> Carried:
    """The chosen container `source` with the new image and command, logging to CloudWatch."""
    overrides = spec.overrides
    kept = {key: value for key, value in cleaned(source).items() if key not in CHANGED}
    dropped = {name: reason for name, reason in DROPPED.items() if name in kept}
    for name in dropped:
        del kept[name]
    for name in CROSS_CONTAINER:
        if name in kept and not spec.with_sidecars:
            del kept[name]
            dropped[name] = WITHOUT_SIDECARS
    sizes = {key: kept.pop(key) for key in SIZES if key in kept}
    carried = tuple(sorted(kept))
    container: dict[str, Any] = {
        "name": spec.task_name,
        "image": spec.image,
        "essential": True,
        "command": list(spec.command),
        **kept,
    }
    if spec.entrypoint:
        container["entryPoint"] = list(spec.entrypoint)
    # On Fargate --cpu/--memory size the task; a smaller container limit would undo that.
    if not on_fargate or (overrides.cpu is None and overrides.memory is None):
        container.update(_container_size(sizes, overrides))
    _override_named(container, "environment", "value", overrides.environment)
    _override_named(container, "secrets", "valueFrom", overrides.secrets)
    options = {
        "awslogs-group": spec.log_group,
        "awslogs-region": region,
        "awslogs-stream-prefix": spec.log_stream_prefix,
    }
    if spec.log_flush_interval is not None:
        options["awslogs-force-flush-interval-seconds"] = str(spec.log_flush_interval)
    container["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    return Carried(container=container, carried=carried, dropped=dropped)


def cleaned(value: Any, *, top: bool = True) -> Any:  # noqa: ANN401 - JSON-shaped data
    """`value` without nulls anywhere, nor empty lists, objects or strings as its own fields.

    The SDK refuses null, and an empty field means "not set"; deeper down an empty string is a
    value (an environment variable set to "").
    """
    if isinstance(value, Mapping):
        empty: tuple[Any, ...] = ([], {}, "") if top else ()
        items = {key: cleaned(item, top=False) for key, item in value.items() if item is not None}
        # Emptiness is judged after cleaning: {"initProcessEnabled": null} is an empty object.
        return {key: item for key, item in items.items() if item not in empty}
    if isinstance(value, list | tuple):
        return [cleaned(item, top=False) for item in value if item is not None]
    return value


def _override_named(
    container: dict[str, Any], field_name: str, value_key: str, items: Sequence[tuple[str, str]]
) -> None:
    """Add (name, value) items to a list of {name, value_key}, replacing same-named ones."""
    if not items:
        return
    given = dict(items)
    kept = [item for item in container.get(field_name, ()) if item.get("name") not in given]
    container[field_name] = kept + [
        {"name": name, value_key: value} for name, value in given.items()
    ]


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
