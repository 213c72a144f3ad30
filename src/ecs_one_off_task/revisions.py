"""`--keep-revisions N`: deregister the one-off family's older revisions after registering.

Each new image makes a revision, and ECS keeps them ACTIVE forever: teams find a thousand
stale one-off revisions. Only the one-off family is touched (its ARNs are checked one by one:
the app's family is never listed among them), the newest N stay, and a revision a task on the
cluster still runs stays too. A refusal (no ecs:DeregisterTaskDefinition in the policy) is a
warning: a run is never failed for housekeeping.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from ecs_one_off_task.aws import Aws
from ecs_one_off_task.errors import AwsError

log = structlog.get_logger("ecs_one_off_task")


def family_of(task_definition_arn: str) -> str:
    """The family of a task-definition ARN (`…:task-definition/FAMILY:REVISION`)."""
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def revision_of(task_definition_arn: str) -> int:
    """The revision number of a task-definition ARN."""
    return int(task_definition_arn.rsplit(":", 1)[-1])


def stale(active: Sequence[str], *, family: str, keep: int, in_use: Iterable[str]) -> list[str]:
    """The revisions of `family` among `active` to deregister. Pure.

    All but the newest `keep`, and none that a task uses.
    """
    busy = set(in_use)
    mine = sorted((arn for arn in active if family_of(arn) == family), key=revision_of)
    older = mine[: max(len(mine) - keep, 0)]
    return [arn for arn in older if arn not in busy]


async def prune(aws: Aws, *, cluster: str, family: str, keep: int) -> int:
    """Deregister the stale revisions of `family`; return how many were."""
    try:
        active = await aws.active_revisions(family)
        running = await aws.list_running_task_arns(cluster=cluster, family=family)
        described = await aws.describe_tasks(cluster=cluster, task_arns=running)
        in_use = [str(task.get("taskDefinitionArn")) for task in described.tasks]
        gone = stale(active, family=family, keep=keep, in_use=in_use)
        for arn in gone:
            await aws.deregister_task_definition(arn)
    except AwsError as error:
        log.warning(f"older revisions were not deregistered: {error}", family=family)
        return 0
    kept = len([arn for arn in active if family_of(arn) == family]) - len(gone)
    busy = kept - min(keep, kept)
    in_use_note = f", {busy} of them run by a task" if busy else ""
    log.info(
        f"{len(gone)} older revision{'' if len(gone) == 1 else 's'} deregistered"
        f" (--keep-revisions {keep}; {kept} active{in_use_note})",
        said={"deregistered": len(gone)},
        family=family,
    )
    return len(gone)
