"""`--with-sidecars`: the reference's other containers beside the one-off one. Pure: no I/O.

The sidecars keep their settings. What they say of the replaced container is said of the
one-off container instead (`dependsOn`, `links`, `volumesFrom`), so start order, links and shared
volumes hold. Two things cannot stay as they were, and are changed:

- a FireLens log router that no kept container logs to any more (the app's container now logs
  with awslogs) is dropped, and every reference to it: AWS refuses a router nobody uses;
- a sidecar waiting for the one-off container to be HEALTHY waits for it to START: the one-off
  container has no health check, so HEALTHY would never come.

A sidecar waiting for the replaced container to exit (COMPLETE, SUCCESS) cannot be kept: the
one-off container is essential, and AWS refuses such a wait on an essential container. That is
a usage error naming both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_one_off_task.carrying import cleaned
from ecs_one_off_task.errors import UsageError

UNUSED_ROUTER = (
    "FireLens log router no kept container logs to (the one-off container logs with awslogs)"
)


@dataclass(frozen=True, kw_only=True)
class Kept:
    """The containers of the one-off revision, and the reference's containers left out."""

    containers: list[dict[str, Any]]
    dropped: Mapping[str, str]
    """Names of the reference's containers not kept, each with the reason."""


def with_sidecars(
    reference: Mapping[str, Any], source: Mapping[str, Any], one_off: dict[str, Any]
) -> Kept:
    """The reference's containers with `source` replaced by `one_off`, as ECS would run them."""
    old, new = str(source.get("name")), str(one_off["name"])
    containers = [
        one_off if original is source else _renamed(cleaned(original), old, new)
        for original in reference.get("containerDefinitions") or ()
    ]
    dropped = {
        str(c["name"]): UNUSED_ROUTER
        for c in containers
        if c.get("firelensConfiguration") and not _logs_to_firelens(containers)
    }
    kept = [_without(c, dropped) for c in containers if c["name"] not in dropped]
    return Kept(containers=kept, dropped=dropped)


def _logs_to_firelens(containers: Sequence[Mapping[str, Any]]) -> bool:
    return any(
        (c.get("logConfiguration") or {}).get("logDriver") == "awsfirelens" for c in containers
    )


def _renamed(container: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A sidecar whose references to container `old` name `new`; HEALTHY becomes START."""
    for item in container.get("dependsOn") or ():
        if item.get("containerName") == old and item.get("condition") in ("COMPLETE", "SUCCESS"):
            raise UsageError(
                f"container {container.get('name')!r} waits for {old!r} to exit"
                f" ({item['condition']}), and AWS refuses that wait on an essential container"
                " such as the one-off one: leave out --with-sidecars, or pass another --container"
            )
    if container.get("dependsOn"):
        container["dependsOn"] = [
            {
                **item,
                "containerName": new,
                "condition": "START" if item.get("condition") == "HEALTHY" else item["condition"],
            }
            if item.get("containerName") == old
            else item
            for item in container["dependsOn"]
        ]
    if container.get("links"):
        container["links"] = [_link_renamed(link, old, new) for link in container["links"]]
    if container.get("volumesFrom"):
        container["volumesFrom"] = [
            {**item, "sourceContainer": new} if item.get("sourceContainer") == old else item
            for item in container["volumesFrom"]
        ]
    return container


def _link_renamed(link: str, old: str, new: str) -> str:
    """A link `name[:alias]`: the old name keeps working inside the sidecar as the alias."""
    name, _, alias = link.partition(":")
    return f"{new}:{alias or old}" if name == old else link


def _without(container: dict[str, Any], gone: Mapping[str, str]) -> dict[str, Any]:
    """`container` without references to the containers in `gone`."""
    if not gone:
        return container
    trimmed = dict(container)
    for key, target in (("dependsOn", "containerName"), ("volumesFrom", "sourceContainer")):
        if trimmed.get(key):
            trimmed[key] = [item for item in trimmed[key] if item.get(target) not in gone]
    if trimmed.get("links"):
        trimmed["links"] = [link for link in trimmed["links"] if link.partition(":")[0] not in gone]
    return {key: value for key, value in trimmed.items() if value != []}
