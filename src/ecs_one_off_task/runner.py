"""The orchestrator of a run: plan, then wait, attach or register and start, then track.

Every write call to AWS comes after the plan, which makes every check that can be made without
one, so a mistake registers nothing and starts nothing. A task of the family still running from
an earlier try is attached to (or waited for) instead of being started twice, and one of this
run's that already succeeded is not run again (finished). Starting, and starting again what
failed to start, is the Starter's (starting). Once RunTask has answered, the tasks are never
left running unseen: the tracker follows them to their end and stops them on a signal, the
--timeout deadline or an unrecoverable error; when --max-attempts ends the watch it says how to
follow them again.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import anyio
import structlog

from ecs_one_off_task.aws import DEFAULT_RETENTION_DAYS, Aws
from ecs_one_off_task.ci import CiMarkers, CiSystem
from ecs_one_off_task.config import RunConfig
from ecs_one_off_task.errors import AlreadyRunning
from ecs_one_off_task.existing import Action
from ecs_one_off_task.facts import Outcome, RunFacts
from ecs_one_off_task.finished import succeeded_before
from ecs_one_off_task.follower import WritePage
from ecs_one_off_task.identity import RunIdentity, started_by
from ecs_one_off_task.interrupt import STOPPING_SAYS, Interrupt
from ecs_one_off_task.output import Redactor
from ecs_one_off_task.plan import Plan, make_plan
from ecs_one_off_task.report import format_quick
from ecs_one_off_task.revisions import prune
from ecs_one_off_task.running import StopWaiter, started_at
from ecs_one_off_task.starting import Starter
from ecs_one_off_task.targets import Target
from ecs_one_off_task.tracking import Tracker, target_of

log = structlog.get_logger("ecs_one_off_task")

NOTHING_STARTED = "signal received: no task was started; exiting"


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """How the run ended."""

    exit_code: int
    task_arns: tuple[str, ...] = ()
    log_streams: tuple[str, ...] = ()
    lines: int = 0


async def run_one_off_task(  # noqa: PLR0913 - the collaborators are injected on purpose
    *,
    config: RunConfig,
    aws: Aws,
    write: WritePage,
    redactor: Redactor,
    facts: RunFacts | None = None,
    ci: CiMarkers | None = None,
    identity: RunIdentity | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    handle_signals: bool = True,
) -> RunResult:
    """Run the one-off task described by `config` and return how it ended.

    `facts` gets what the run learns, for its report; `ci` writes the CI system's markers;
    `identity` tags the tasks (`startedBy`) so that a retried job recognises them.
    """
    interrupt = Interrupt(first_says=NOTHING_STARTED)
    facts = facts or RunFacts(began_at=clock(), began_wall=wall_clock())
    facts.task_name = config.task.task_name
    facts.cluster = config.placement.cluster
    facts.log_group = config.task.log_group
    facts.region = aws.region
    facts.started_by = started_by(
        identity, cluster=config.placement.cluster, task_name=config.task.task_name
    )
    facts.run_identity = identity.describe() if identity is not None else None
    ci = ci or CiMarkers(
        system=CiSystem.NONE, stderr=sys.stderr, write=write, environ={}, wall_clock=wall_clock
    )
    tracker = Tracker(
        aws=aws,
        cluster=config.placement.cluster,
        timing=config.timing,
        write=write,
        interrupt=interrupt,
        clock=clock,
        wall_clock=wall_clock,
        sleep=sleep,
        facts=facts,
        heartbeat=config.reporting.heartbeat,
        timestamps=config.reporting.timestamps,
    )
    run = _Run(config=config, aws=aws, write=write, redactor=redactor, tracker=tracker, ci=ci)
    try:
        result = await interrupt.guard(run.execute, listen=handle_signals)
    finally:
        if interrupt.received:
            name = signal.Signals(interrupt.signum or signal.SIGINT).name
            what = "the task was stopped" if facts.tasks else "nothing was started"
            facts.ended(Outcome.INTERRUPTED, f"interrupted by {name}: {what}")
    if result is None:  # a second signal cancelled the run
        return RunResult(exit_code=interrupt.exit_code)
    return result


class _Run:
    """One run's steps; `execute` reads top to bottom in the order things happen."""

    def __init__(  # noqa: PLR0913 - the collaborators are injected on purpose
        self,
        *,
        config: RunConfig,
        aws: Aws,
        write: WritePage,
        redactor: Redactor,
        tracker: Tracker,
        ci: CiMarkers,
    ) -> None:
        self.config = config
        self.aws = aws
        self.write = write
        self.redactor = redactor
        self.tracker = tracker
        self.interrupt = tracker.interrupt
        self.facts = tracker.facts
        self.ci = ci
        self.clock = tracker.clock

    async def execute(self) -> RunResult:
        # --timeout counts from the run's start: time spent waiting for another run counts.
        timeout = self.config.timing.timeout
        deadline = None if timeout is None else self.clock() + timeout
        with self.interrupt.phase():
            plan = await self._plan(deadline)
            if self.config.dry_run:
                self.ci.setup_ends()
                self.write([json.dumps(plan.document(), indent=2, sort_keys=True, default=str)])
                self.facts.ended(Outcome.DRY_RUN, "dry run: nothing was registered or started")
                log.info("dry run: nothing was registered or started")
                return RunResult(exit_code=0)
            decision = plan.decision
            if decision.action is Action.FAIL:
                raise AlreadyRunning(f"--if-running fail: {decision.describe()}")
            # This run's tasks that already succeeded (a run with an identity, retried).
            done: tuple[Mapping[str, Any], ...] = ()
            if decision.action is Action.START:
                done = await succeeded_before(self.aws, self.config, self.facts, plan.definition)
            if decision.action is Action.START and not done:
                task_definition_arn = await self._reuse_or_register(plan)
                if self.config.task.keep_revisions is not None:
                    await prune(self.aws, **plan.revisions_kept(self.config.task.keep_revisions))
                await self._ensure_log_group()
        if self.interrupt.received:
            return RunResult(exit_code=self.interrupt.exit_code)

        # From here on a signal stops the tasks: RunTask's, or the ones attached to.
        self.interrupt.first_says = STOPPING_SAYS
        if decision.attach_to or done:  # this run retried, --if-running attach; or done before
            tasks = decision.attach_to or done
            targets = [await self._attach(t, several=len(tasks) > 1, say=not done) for t in tasks]
            self.ci.output_begins()
            followed = await self.tracker.follow(targets, deadline=deadline)
        else:
            started = await Starter(
                config=self.config,
                aws=self.aws,
                tracker=self.tracker,
                plan=plan,
                task_definition_arn=task_definition_arn,
                output_begins=self.ci.output_begins,
            ).run(deadline)
            targets, followed = list(started.targets), list(started.followed)
        self.ci.output_ends()
        exit_code = self.tracker.exit_code(followed)
        if done and exit_code == 0:
            self.facts.ended(Outcome.ALREADY_SUCCEEDED, "this run already succeeded: not run again")
        return RunResult(
            exit_code=exit_code,
            task_arns=tuple(t.task_arn for t in targets),
            log_streams=tuple(t.log_stream for t in targets),
            lines=sum(f.lines for f in followed),
        )

    async def _plan(self, deadline: float | None) -> Plan:
        """Plan; while another run's task runs (and --if-running says wait), wait, then plan again.

        Yet another run may have started a task meanwhile: the lookup is made afresh.
        """
        while True:
            began = self.clock()
            plan = await make_plan(self.config, self.aws, self.redactor)
            plan = replace(plan, run_task={**plan.run_task, "startedBy": self.facts.started_by})
            self.facts.reference_arn = plan.reference_arn
            self.facts.runs_on = plan.launch.describe()
            launch_type = plan.launch.launch_type
            self.facts.launch_type = None if launch_type is None else launch_type.value
            took = self.clock() - began
            log.info(
                f"reference read in {format_quick(took)}",
                said={"seconds": round(took, 3)},
                **plan.read,
            )
            if plan.decision.action is not Action.WAIT or self.config.dry_run:
                return plan
            await StopWaiter(
                aws=self.aws,
                cluster=self.config.placement.cluster,
                poll_interval=self.config.timing.poll_interval,
                deadline=deadline,
                clock=self.clock,
                sleep=self.tracker.sleep,
            ).wait(plan.decision.waiting_for)

    async def _ensure_log_group(self) -> None:
        spec = self.config.task
        created = await self.aws.ensure_log_group(
            spec.log_group, retention_days=spec.log_retention_days
        )
        log.info(
            "log group created" if created else "log group exists",
            log_group=spec.log_group,
            retention_days=spec.log_retention_days
            or (DEFAULT_RETENTION_DAYS if created else "unchanged"),
        )

    async def _attach(self, task: Mapping[str, Any], *, several: bool, say: bool) -> Target:
        """The target of a running task of the family: the one-off container's stream."""
        names = [c.get("name") for c in task.get("containers", ())]
        mine = self.config.task.task_name
        target = await target_of(self.aws, task, container=mine if mine in names else None)
        if several:
            target = replace(target, label=f"[{target.task_id[:8]}] ")
        self.facts.task_definition_arn = str(task.get("taskDefinitionArn"))
        if not say:  # a stopped task of this run: said by the lookup that found it
            return target
        log.info(
            "attaching to a running task: following it from the head",
            task_arn=task["taskArn"],
            status=task.get("lastStatus"),
            started_at=started_at(task),
            started_by=task.get("startedBy"),
            log_stream=target.log_stream,
        )
        return target

    async def _reuse_or_register(self, plan: Plan) -> str:
        if plan.reuse_arn is not None:
            arn, revision = plan.reuse_arn, int(plan.reuse_arn.rsplit(":", 1)[-1])
            log.info(
                f"revision {revision} reused: the task definition is unchanged",
                said={"revision": revision},
                task_definition=arn,
            )
        else:
            began = self.clock()
            registered = await self.aws.register_task_definition(plan.register)
            took = self.clock() - began
            arn, revision = str(registered["taskDefinitionArn"]), int(registered["revision"])
            log.info(
                f"revision {revision} registered in {format_quick(took)}",
                said={"revision": revision, "seconds": round(took, 3)},
                task_definition=arn,
            )
        self.facts.task_definition_arn = arn
        self.facts.revision = revision
        self.facts.revision_reused = plan.reuse_arn is not None
        return arn
