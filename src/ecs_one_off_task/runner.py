"""The orchestrator of a run: plan, register (or reuse), start, then hand over to the tracker.

Every write call to AWS comes after the plan, which makes every check that can be made without
one, so a mistake registers nothing and starts nothing. Once RunTask has answered, the tasks are
never left running unseen: the tracker follows them to their end and stops them on a signal, a
spent waiting budget or an unrecoverable error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import structlog

from ecs_one_off_task.aws import DEFAULT_RETENTION_DAYS, Aws
from ecs_one_off_task.config import RunConfig, Timing
from ecs_one_off_task.errors import AlreadyRunning, TaskNotRun
from ecs_one_off_task.existing import Action
from ecs_one_off_task.follower import WritePage
from ecs_one_off_task.interrupt import Interrupt
from ecs_one_off_task.output import Redactor
from ecs_one_off_task.plan import Plan, make_plan
from ecs_one_off_task.running import StopWaiter, started_at
from ecs_one_off_task.tracking import Target, Tracker, target_of

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
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    handle_signals: bool = True,
) -> RunResult:
    """Run the one-off task described by `config` and return how it ended."""
    interrupt = Interrupt()
    tracker = Tracker(
        aws=aws,
        cluster=config.placement.cluster,
        timing=config.timing,
        write=write,
        interrupt=interrupt,
        clock=clock,
        wall_clock=wall_clock,
        sleep=sleep,
    )
    run = _Run(config=config, aws=aws, write=write, redactor=redactor, tracker=tracker)
    result = await interrupt.guard(run.execute, listen=handle_signals)
    if result is None:  # a second signal cancelled the run
        return RunResult(exit_code=interrupt.exit_code)
    return result


class _Run:
    """One run's steps; `execute` reads top to bottom in the order things happen."""

    def __init__(
        self,
        *,
        config: RunConfig,
        aws: Aws,
        write: WritePage,
        redactor: Redactor,
        tracker: Tracker,
    ) -> None:
        self.config = config
        self.aws = aws
        self.write = write
        self.redactor = redactor
        self.tracker = tracker
        self.interrupt = tracker.interrupt

    async def execute(self) -> RunResult:
        timing = self.config.timing
        # --timeout counts from the run's start: time spent waiting for another run counts.
        deadline = None if timing.timeout is None else self.tracker.clock() + timing.timeout
        with self.interrupt.phase():
            plan = await self._plan(deadline)
            if self.config.dry_run:
                self.write([json.dumps(plan.document(), indent=2, sort_keys=True, default=str)])
                log.info("dry run: nothing was registered or started")
                return RunResult(exit_code=0)
            decision = plan.decision
            if decision.action is Action.FAIL:
                raise AlreadyRunning(f"--if-running fail: {decision.describe()}")
            if decision.action is Action.START:
                task_definition_arn = await self._reuse_or_register(plan)
                await self._ensure_log_group()
        if self.interrupt.received:
            return RunResult(exit_code=self.interrupt.exit_code)

        if decision.task is not None:  # attach: this run, retried, or --if-running attach
            targets = [
                await target_of(self.aws, decision.task, container=self._container(decision.task))
            ]
            log.info(
                "attaching to a running task: following it from the head",
                task_arn=decision.task["taskArn"],
                status=decision.task.get("lastStatus"),
                started_at=started_at(decision.task),
                started_by=decision.task.get("startedBy"),
                log_stream=targets[0].log_stream,
            )
        else:
            targets = await self._run_task(plan, task_definition_arn)
        followed = await self.tracker.follow(targets, deadline=deadline)
        exit_code = self.tracker.exit_code(followed)
        lines = sum(f.lines for f in followed)
        log.info(
            "done",
            exit_code=exit_code,
            lines=lines,
            task_arn=targets[0].task_arn if len(targets) == 1 else [t.task_arn for t in targets],
            log_stream=targets[0].log_stream,
        )
        return RunResult(
            exit_code=exit_code,
            task_arns=tuple(t.task_arn for t in targets),
            log_streams=tuple(t.log_stream for t in targets),
            lines=lines,
        )

    async def _plan(self, deadline: float | None) -> Plan:
        """Plan; while another run's task runs (and --if-running says wait), wait, then plan again.

        Yet another run may have started a task meanwhile: the lookup is made afresh.
        """
        while True:
            plan = await make_plan(self.config, self.aws, self.redactor)
            if plan.decision.action is not Action.WAIT or self.config.dry_run:
                return plan
            await StopWaiter(
                aws=self.aws,
                cluster=self.config.placement.cluster,
                poll_interval=self.config.timing.poll_interval,
                deadline=deadline,
                clock=self.tracker.clock,
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

    async def _run_task(self, plan: Plan, task_definition_arn: str) -> list[Target]:
        spec = self.config.task
        # Shielded: once RunTask is sent we must learn the ARNs to be able to stop the tasks.
        with anyio.CancelScope(shield=True):
            answer = await self.aws.run_task(plan.run_task_request(task_definition_arn))
        targets = self._targets([str(task["taskArn"]) for task in answer.tasks])
        if answer.failures:
            # Fewer tasks than asked: the run is not what was asked for.
            for target in targets:
                await self.tracker.stop(target.task_arn, "ecs-one-off-task: RunTask fell short")
            raise TaskNotRun(
                f"RunTask started {len(targets)} of {self.config.placement.count} tasks:"
                f" {'; '.join(answer.failures)}"
            )
        log.info(
            "task started",
            task_arn=[t.task_arn for t in targets] if len(targets) > 1 else targets[0].task_arn,
            runs_on=plan.launch.describe(),
            **(
                {"from_service": list(plan.launch.from_service)} if plan.launch.from_service else {}
            ),
            log_group=spec.log_group,
            log_stream=[t.log_stream for t in targets]
            if len(targets) > 1
            else targets[0].log_stream,
            gives_up_after=_waiting_budget(self.config.timing),
        )
        return targets

    def _container(self, task: Mapping[str, Any]) -> str | None:
        """The one-off container of an attached task (None: a foreign one's first essential)."""
        names = [c.get("name") for c in task.get("containers", ())]
        return self.config.task.task_name if self.config.task.task_name in names else None

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
            log.info("task definition unchanged: reusing it", task_definition=plan.reuse_arn)
            return plan.reuse_arn
        registered = await self.aws.register_task_definition(plan.register)
        arn = str(registered["taskDefinitionArn"])
        log.info("task definition registered", task_definition=arn)
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
