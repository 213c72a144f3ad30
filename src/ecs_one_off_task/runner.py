"""The orchestrator of a run: plan, register (or reuse), start, then hand over to the tracker.

Every write call to AWS comes after the plan, which makes every check that can be made without
one, so a mistake registers nothing and starts nothing. Once RunTask has answered, the tasks are
never left running unseen: the tracker follows them to their end and stops them on a signal, a
spent waiting budget or an unrecoverable error.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import structlog

from ecs_one_off_task.aws import DEFAULT_RETENTION_DAYS, Aws
from ecs_one_off_task.ci import CiMarkers, CiSystem
from ecs_one_off_task.config import RunConfig, Timing
from ecs_one_off_task.errors import OneOffTaskError, TaskNotRun
from ecs_one_off_task.facts import Outcome, RunFacts
from ecs_one_off_task.follower import WritePage
from ecs_one_off_task.interrupt import Interrupt
from ecs_one_off_task.output import Redactor
from ecs_one_off_task.plan import Plan, make_plan
from ecs_one_off_task.report import format_quick
from ecs_one_off_task.tracking import Target, Tracker

log = structlog.get_logger("ecs_one_off_task")


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
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    handle_signals: bool = True,
) -> RunResult:
    """Run the one-off task described by `config` and return how it ended.

    `facts` gets what the run learns, for its report; `ci` writes the CI system's markers.
    """
    interrupt = Interrupt()
    facts = facts or RunFacts(began_at=clock(), began_wall=wall_clock())
    facts.task_name = config.task.task_name
    facts.cluster = config.placement.cluster
    facts.log_group = config.task.log_group
    facts.region = aws.region
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
    result: RunResult | None = None
    failure: OneOffTaskError | None = None
    async with anyio.create_task_group() as signals:
        if handle_signals:
            await signals.start(interrupt.listen)
        try:
            with interrupt.hard:
                result = await run.execute()
        except OneOffTaskError as error:
            # Raised outside the task group so that callers see our error, not a group.
            failure = error
        finally:
            signals.cancel_scope.cancel()
    if interrupt.received:
        name = signal.Signals(interrupt.signum or signal.SIGINT).name
        facts.ended(Outcome.INTERRUPTED, f"interrupted by {name}: the task was stopped")
    if failure is not None:
        raise failure
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
        spec = self.config.task
        with self.interrupt.phase():
            began = self.clock()
            plan = await make_plan(self.config, self.aws, self.redactor)
            self.facts.reference_arn = plan.reference_arn
            self.facts.runs_on = plan.launch.describe()
            launch_type = plan.launch.launch_type
            self.facts.launch_type = None if launch_type is None else launch_type.value
            took = self.clock() - began
            log.info(f"reference read in {format_quick(took)}", said={"seconds": round(took, 3)})
            if self.config.dry_run:
                self.ci.setup_ends()
                self.write([json.dumps(plan.document(), indent=2, sort_keys=True, default=str)])
                self.facts.ended(Outcome.DRY_RUN, "dry run: nothing was registered or started")
                log.info("dry run: nothing was registered or started")
                return RunResult(exit_code=0)
            task_definition_arn = await self._reuse_or_register(plan)
            created = await self.aws.ensure_log_group(
                spec.log_group, retention_days=spec.log_retention_days
            )
            log.info(
                "log group created" if created else "log group exists",
                log_group=spec.log_group,
                retention_days=spec.log_retention_days
                or (DEFAULT_RETENTION_DAYS if created else "unchanged"),
            )
        if self.interrupt.received:
            return RunResult(exit_code=self.interrupt.exit_code)

        started = self.clock()
        # Shielded: once RunTask is sent we must learn the ARNs to be able to stop the tasks.
        with anyio.CancelScope(shield=True):
            answer = await self.aws.run_task(plan.run_task_request(task_definition_arn))
        took = self.clock() - started
        targets = self._targets([str(task["taskArn"]) for task in answer.tasks])
        for target in targets:
            self.facts.track(
                task_arn=target.task_arn, log_stream=target.log_stream, label=target.label
            )
        if answer.failures:
            # Fewer tasks than asked: the run is not what was asked for.
            for target in targets:
                await self.tracker.stop(target.task_arn, "ecs-one-off-task: RunTask fell short")
            raise TaskNotRun(
                f"RunTask started {len(targets)} of {self.config.placement.count} tasks:"
                f" {'; '.join(answer.failures)}"
            )
        ids = ", ".join(t.task_id for t in targets)
        log.info(
            f"{f'{len(targets)} tasks' if len(targets) > 1 else 'task'} {ids} started in"
            f" {format_quick(took)} on {self.config.placement.cluster}"
            f" with {plan.launch.describe()}",
            said={
                "seconds": round(took, 3),
                "cluster": self.config.placement.cluster,
                "runs_on": plan.launch.describe(),
                # The end lines name them, with links.
                "task_arn": [t.task_arn for t in targets]
                if len(targets) > 1
                else targets[0].task_arn,
                "log_group": spec.log_group,
            },
            from_service=list(plan.launch.from_service) or None,
            log_stream=[t.log_stream for t in targets]
            if len(targets) > 1
            else targets[0].log_stream,
            gives_up_after=_waiting_budget(self.config.timing),
        )
        timeout = self.config.timing.timeout
        self.ci.output_begins()
        followed = await self.tracker.follow(
            targets, deadline=None if timeout is None else started + timeout
        )
        self.ci.output_ends()
        exit_code = self.tracker.exit_code(followed)
        lines = sum(f.lines for f in followed)
        return RunResult(
            exit_code=exit_code,
            task_arns=tuple(t.task_arn for t in targets),
            log_streams=tuple(t.log_stream for t in targets),
            lines=lines,
        )

    def _targets(self, task_arns: list[str]) -> list[Target]:
        spec = self.config.task
        several = len(task_arns) > 1
        targets = []
        for arn in task_arns:
            task_id = arn.rsplit("/", 1)[-1]
            targets.append(
                Target(
                    task_arn=arn,
                    container=spec.task_name,
                    log_group=spec.log_group,
                    log_stream=f"{spec.log_stream_prefix}/{spec.task_name}/{task_id}",
                    label=f"[{task_id[:8]}] " if several else "",
                )
            )
        return targets

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


def _waiting_budget(timing: Timing) -> str:
    """Say when waiting ends, so a long migration's user learns of --timeout before, not after."""
    limits = []
    if timing.timeout is not None:
        limits.append(f"{timing.timeout:g} s")
    if timing.max_attempts is not None:
        seconds = timing.max_attempts * timing.poll_interval
        limits.append(f"{timing.max_attempts} status checks (~{seconds:g} s; see --timeout)")
    return " or ".join(limits)
