"""Which container of the reference the one-off task is made from. Pure: no I/O.

`--container NAME` wins. Otherwise the candidates are the essential containers (a container
without `essential` is essential) that are not sidecars (`sidecars.py`): exactly one is the
app's container. Several, or none, cannot be told apart without the user: exit 2 before any
write, naming them. A definition of one container is that container, whatever it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.sidecars import sidecar_reason

BY_FLAG = "--container"
ONLY_CONTAINER = "the only container"
ONLY_APP = "the only essential non-sidecar container"


@dataclass(frozen=True, kw_only=True)
class Choice:
    """The chosen container, and why it is the one."""

    container: Mapping[str, Any]
    why: str
    sidecars: Mapping[str, str]
    """The reference's sidecars by name, each with what it is (FireLens log router, ...)."""

    @property
    def name(self) -> str:
        """The chosen container's name in the reference."""
        return str(self.container.get("name"))


def choose_container(
    reference: Mapping[str, Any], name: str | None, *, what: str = "the reference"
) -> Choice:
    """Pick the reference container the one-off task is made from.

    Raises UsageError naming the candidates when the reference does not say which it is.
    """
    containers: Sequence[Mapping[str, Any]] = reference.get("containerDefinitions") or ()
    if not containers:
        raise UsageError(f"reference task definition {describe(reference)} has no containers")
    sidecars = {
        str(c.get("name")): reason
        for c in containers
        if (reason := sidecar_reason(c, reference)) is not None
    }
    if name is not None:
        for container in containers:
            if container.get("name") == name:
                return Choice(container=container, why=BY_FLAG, sidecars=sidecars)
        known = ", ".join(str(c.get("name")) for c in containers)
        raise UsageError(
            f"container {name!r} is not in reference task definition {describe(reference)}"
            f" (it has: {known})"
        )
    if len(containers) == 1:
        return Choice(container=containers[0], why=ONLY_CONTAINER, sidecars=sidecars)
    candidates = [
        c
        for c in containers
        if c.get("essential") is not False and str(c.get("name")) not in sidecars
    ]
    if len(candidates) == 1:
        return Choice(container=candidates[0], why=ONLY_APP, sidecars=sidecars)
    if candidates:
        names = ", ".join(str(c.get("name")) for c in candidates)
        raise UsageError(f"{what} has several app containers ({names}): pass --container NAME")
    listed = ", ".join(
        f"{c.get('name')}: {sidecars.get(str(c.get('name')), 'not essential')}" for c in containers
    )
    raise UsageError(
        f"{what} has no essential app container, only sidecars ({listed}): pass --container NAME"
    )


def describe(reference: Mapping[str, Any]) -> str:
    """family:revision of a task definition, or its family alone."""
    family, revision = reference.get("family"), reference.get("revision")
    return f"{family}:{revision}" if revision else str(family)
