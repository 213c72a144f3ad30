"""Everything a run decides before its first write: read calls only, then pure decisions.

The service (--from-service), the reference task definition, the cluster and the family's
latest revision are read; where the task runs, the one-off definition and whether the latest
revision can be reused are decided from them. Every mistake is found here, so a bad input
registers nothing and starts nothing, and `--dry-run` can show the requests a run would send.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecs_one_off_task.aws import STARTED_BY, Aws
from ecs_one_off_task.config import RunConfig
from ecs_one_off_task.errors import UsageError
from ecs_one_off_task.existing import START_NEW, Decision, IfRunning, decide
from ecs_one_off_task.flushing import check_flush_interval
from ecs_one_off_task.launch import (
    Launch,
    compatibility,
    launch_volumes,
    resolve_launch,
    run_task_request,
)
from ecs_one_off_task.output import REDACTED, Redactor
from ecs_one_off_task.running import content_matches, find_running
from ecs_one_off_task.taskdef import (
    Built,
    build_task_definition,
    environment_values,
    is_same_definition,
    needs_network_configuration,
    redacted,
)


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a run will send: the revision to register (or reuse) and the RunTask request."""

    reference_arn: str
    register: dict[str, Any]
    """The RegisterTaskDefinition request (tags included)."""
    reuse_arn: str | None
    """The latest revision of the family, when it is what `register` would give."""
    next_revision: int
    launch: Launch
    run_task: dict[str, Any]
    """The RunTask request without taskDefinition."""
    running: tuple[dict[str, Any], ...] = ()
    """Tasks of the family that have not stopped."""
    decision: Decision = START_NEW
    """What to do about them (--if-running)."""
    read: Mapping[str, Any] = field(default_factory=dict)
    """What was read, for the "reference read" event: the reference, the chosen container and
    why, what the one-off container carries from it (secret and variable names, never values)."""
    built: Built

    @property
    def definition(self) -> dict[str, Any]:
        """The task definition itself (the request without its tags)."""
        return {k: v for k, v in self.register.items() if k != "tags"}

    def revisions_kept(self, keep: int) -> dict[str, Any]:
        """The arguments of `revisions.prune` for this run's family and cluster."""
        return {
            "cluster": self.run_task["cluster"],
            "family": self.register["family"],
            "keep": keep,
        }

    def run_task_request(self, task_definition_arn: str) -> dict[str, Any]:
        """The RunTask request for the revision registered or reused."""
        return {**self.run_task, "taskDefinition": task_definition_arn}

    def document(self) -> dict[str, Any]:
        """What --dry-run prints: both requests, inline environment values redacted."""
        family = self.register["family"]
        would_be = self.reuse_arn or f"{family}:{self.next_revision}"
        return {
            "registerTaskDefinition": None if self.reuse_arn else redacted(self.register, REDACTED),
            "reuseTaskDefinition": self.reuse_arn,
            "runTask": self.run_task_request(would_be),
            "launch": self.launch.describe(),
            "container": {"name": self.built.choice.name, "why": self.built.choice.why},
            "carried": list(self.built.carried),
            "dropped": dict(self.built.dropped),
            "fromService": list(self.launch.from_service),
            "ifRunning": {
                "found": [
                    {"taskArn": t["taskArn"], "lastStatus": t.get("lastStatus")}
                    for t in self.running
                ],
                "action": self.decision.describe(),
            },
        }


async def make_plan(config: RunConfig, aws: Aws, redactor: Redactor) -> Plan:
    """Read what the run needs and decide; no write call has been made when this raises."""
    spec, placement = config.task, config.placement
    redactor.add(value for _, value in spec.overrides.environment)
    service: Mapping[str, Any] | None = None
    if placement.service is not None:
        service = await aws.describe_service(cluster=placement.cluster, service=placement.service)
    reference_name = spec.reference or str((service or {}).get("taskDefinition", ""))
    reference, reference_tags = await aws.describe_reference(reference_name)
    redactor.add(environment_values(reference))
    if reference.get("family") == spec.task_name:
        raise UsageError(
            f"--task-name {spec.task_name!r} is the reference's own family: choose another"
            " name, the app's task definition is never modified"
        )
    cluster = await aws.describe_cluster(placement.cluster)
    launch = resolve_launch(placement, service=service, cluster=cluster, reference=reference)
    check_flush_interval(spec, launch)
    built = build_task_definition(
        reference,
        spec,
        region=aws.region,
        compatibility=compatibility(launch, reference),
        reference_tags=reference_tags,
        launch_volumes=None if service is None else launch_volumes(service),
    )
    desired = built.definition
    awsvpc = needs_network_configuration(desired)
    if awsvpc and not launch.subnets:
        raise UsageError("the task uses awsvpc networking: pass --subnets (and --security-groups)")
    container = next(c for c in desired["containerDefinitions"] if c["name"] == spec.task_name)
    read = {
        "reference": reference.get("taskDefinitionArn"),
        "container": f"{built.choice.name} ({built.choice.why})",
        **({"service": placement.service} if placement.service else {}),
        "secrets": len(container.get("secrets", ())),
        "environment_files": len(container.get("environmentFiles", ())),
        "environment": sorted(item["name"] for item in container.get("environment", ())),
        **({"sidecars": len(desired["containerDefinitions"]) - 1} if spec.with_sidecars else {}),
    }
    latest = await aws.latest_revision(spec.task_name)
    reuse = latest is not None and is_same_definition(desired, latest)
    running: list[dict[str, Any]] = []
    decision = START_NEW
    if config.if_running is not IfRunning.START:
        running = await find_running(aws, cluster=placement.cluster, family=spec.task_name)
        if running:
            matches = (
                await content_matches(aws, desired, running)
                if config.if_running is IfRunning.AUTO
                else None
            )
            decision = decide(
                config.if_running,
                running,
                same_content=matches or (lambda _task: False),
                count=placement.count,
            )
    register = dict(desired)
    if built.tags:
        register["tags"] = [{"key": key, "value": value} for key, value in built.tags]
    return Plan(
        reference_arn=str(reference.get("taskDefinitionArn")),
        register=register,
        reuse_arn=str(latest["taskDefinitionArn"]) if latest is not None and reuse else None,
        next_revision=int(latest.get("revision", 0)) + 1 if latest is not None else 1,
        launch=launch,
        run_task=run_task_request(
            launch,
            cluster=placement.cluster,
            count=placement.count,
            awsvpc=awsvpc,
            tags=spec.tags,
            started_by=STARTED_BY,
            propagate_tags=bool(built.tags),
            volume_configurations=built.volume_configurations,
        ),
        running=tuple(running),
        decision=decision,
        read=read,
        built=built,
    )
