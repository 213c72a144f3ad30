"""The orchestrator: validate, register (or reuse), run, watch and follow, then classify the end.

Every write call to AWS comes after every check that can be made without one, so a mistake
registers nothing and starts nothing. Once RunTask has answered, the task is never left running
unseen: a signal, a spent waiting budget or an unrecoverable error all end in StopTask, sent from
a shielded scope so that cancellation cannot skip it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from anyio.abc import TaskStatus

from ecs_one_off_task.aws import DEFAULT_RETENTION_DAYS, Aws
from ecs_one_off_task.config import RunConfig, Timing
from ecs_one_off_task.errors import (
    EXIT_GAVE_UP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    AwsError,
    AwsUnavailable,
    OneOffTaskError,
    TaskNotRun,
    UsageError,
)
from ecs_one_off_task.follower import LogFollower, LogPage, WritePage
from ecs_one_off_task.outcome import exit_code_of, task_end, to_monotonic
from ecs_one_off_task.output import Redactor
from ecs_one_off_task.taskdef import (
    build_task_definition,
    environment_values,
    is_same_definition,
    needs_network_configuration,
)
from ecs_one_off_task.watcher import DescribeTask, GaveUp, OnStatus, StatusWatcher, Stopped

log = structlog.get_logger("ecs_one_off_task")

# StopTask must get through even while the run is being cancelled, but not hang the exit.
STOP_TASK_TIMEOUT = 15.0
# However quiet the stream, draining never outlasts this (AWS unreachable during the drain).
DRAIN_LIMIT = 60.0
# After StopTask: how long to wait for STOPPED (ECS's default stopTimeout is 30 s), and how
# often to look.
STOP_WAIT = 45.0
STOP_POLL_INTERVAL = 2.0
_SIGNAL_EXIT_CODES = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


@dataclass(frozen=True, kw_only=True)
class RunResult:
    """How the run ended."""

    exit_code: int
    task_arn: str | None
    log_stream: str | None
    lines: int


class _Interrupt:
    """Turns SIGINT/SIGTERM into cancellation: the first stops the task, a second quits now."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.hard = anyio.CancelScope()
        self._phase = anyio.CancelScope()

    def phase(self) -> anyio.CancelScope:
        """A new scope for what the run does now, for the first signal to cancel."""
        return self.track(anyio.CancelScope())

    def track(self, scope: anyio.CancelScope) -> anyio.CancelScope:
        """Make `scope` the one the first signal cancels (at once if a signal already came)."""
        self._phase = scope
        if self.signum is not None:
            scope.cancel()
        return scope

    @property
    def exit_code(self) -> int:
        assert self.signum is not None  # noqa: S101 - only read after a signal
        return _SIGNAL_EXIT_CODES.get(signal.Signals(self.signum), 128 + self.signum)

    async def listen(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                if self.signum is None:
                    self.signum = signum
                    log.warning(
                        "signal received: stopping the task", signal=signal.strsignal(signum)
                    )
                    self._phase.cancel()
                else:
                    log.warning("second signal: quitting without waiting for the logs")
                    self.hard.cancel()


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
    interrupt = _Interrupt()
    result: RunResult | None = None
    failure: OneOffTaskError | None = None
    async with anyio.create_task_group() as signals:
        if handle_signals:
            await signals.start(interrupt.listen)
        try:
            with interrupt.hard:
                result = await _Run(
                    config=config,
                    aws=aws,
                    write=write,
                    redactor=redactor,
                    clock=clock,
                    wall_clock=wall_clock,
                    sleep=sleep,
                    interrupt=interrupt,
                ).execute()
        except OneOffTaskError as error:
            # Raised outside the task group so that callers see our error, not a group.
            failure = error
        finally:
            signals.cancel_scope.cancel()
    if failure is not None:
        raise failure
    if result is None:  # a second signal cancelled the run
        return RunResult(exit_code=interrupt.exit_code, task_arn=None, log_stream=None, lines=0)
    return result


class _Run:
    """One run's state; `execute` reads top to bottom in the order things happen."""

    def __init__(  # noqa: PLR0913 - private, built once by run_one_off_task
        self,
        *,
        config: RunConfig,
        aws: Aws,
        write: WritePage,
        redactor: Redactor,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        interrupt: _Interrupt,
    ) -> None:
        self.config = config
        self.aws = aws
        self.write = write
        self.redactor = redactor
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.interrupt = interrupt
        self.stop_requested = False
        self.task_stopped = False

    async def execute(self) -> RunResult:
        spec, placement = self.config.task, self.config.placement
        with self.interrupt.phase():
            desired = await self._validated_definition()
            task_definition_arn = await self._reuse_or_register(desired)
            created = await self.aws.ensure_log_group(
                spec.log_group, retention_days=spec.log_retention_days
            )
            log.info(
                "log group created" if created else "log group exists",
                log_group=spec.log_group,
                retention_days=spec.log_retention_days
                or (DEFAULT_RETENTION_DAYS if created else "unchanged"),
            )
        if self.interrupt.signum is not None:
            return RunResult(
                exit_code=self.interrupt.exit_code, task_arn=None, log_stream=None, lines=0
            )

        # Shielded: once RunTask is sent we must learn the task's ARN to be able to stop it.
        with anyio.CancelScope(shield=True):
            task = await self.aws.run_task(
                placement=placement,
                task_definition_arn=task_definition_arn,
                network=needs_network_configuration(desired),
            )
        task_arn = str(task["taskArn"])
        stream = f"{spec.log_stream_prefix}/{spec.task_name}/{task_arn.rsplit('/', 1)[-1]}"
        log.info(
            "task started",
            task_arn=task_arn,
            log_group=spec.log_group,
            log_stream=stream,
            gives_up_after=_waiting_budget(self.config.timing),
        )
        try:
            return await self._watch_and_follow(task_arn, stream)
        except TaskNotRun:
            raise
        except anyio.get_cancelled_exc_class():
            # A second signal quits at once, but never with the task left running.
            if not self.task_stopped:
                await self._stop(task_arn, "ecs-one-off-task: interrupted by a signal")
            raise
        except Exception as error:
            cause = _first_error(error)
            log.error(
                "lost track of the task",
                error=str(cause),
                task_arn=task_arn,
                log_group=spec.log_group,
                log_stream=stream,
            )
            await self._stop(task_arn, "ecs-one-off-task lost track of the task")
            if isinstance(cause, OneOffTaskError):
                raise cause from error
            raise AwsError(f"lost track of task {task_arn}: {cause}") from error

    async def _validated_definition(self) -> dict[str, Any]:
        """Read and check everything; no write call has been made when this raises."""
        spec, placement = self.config.task, self.config.placement
        reference = await self.aws.describe_task_definition(spec.reference)
        self.redactor.add(environment_values(reference))
        if reference.get("family") == spec.task_name:
            raise UsageError(
                f"--task-name {spec.task_name!r} is the reference's own family: choose another"
                " name, the app's task definition is never modified"
            )
        desired = build_task_definition(
            reference, spec, region=self.aws.region, launch_type=placement.launch_type
        )
        if needs_network_configuration(desired) and not placement.subnets:
            raise UsageError(
                "the task uses awsvpc networking: pass --subnets (and --security-groups)"
            )
        await self.aws.require_cluster(placement.cluster)
        container = desired["containerDefinitions"][0]
        log.info(
            "reference task definition",
            reference=reference.get("taskDefinitionArn"),
            secrets=len(container.get("secrets", ())),
            environment_files=len(container.get("environmentFiles", ())),
            environment=sorted(item["name"] for item in container.get("environment", ())),
        )
        return desired

    async def _reuse_or_register(self, desired: Mapping[str, Any]) -> str:
        latest = await self.aws.latest_revision(str(desired["family"]))
        if latest is not None and is_same_definition(desired, latest):
            arn = str(latest["taskDefinitionArn"])
            log.info("task definition unchanged: reusing it", task_definition=arn)
            return arn
        registered = await self.aws.register_task_definition(desired)
        arn = str(registered["taskDefinitionArn"])
        log.info("task definition registered", task_definition=arn)
        return arn

    async def _watch_and_follow(self, task_arn: str, stream: str) -> RunResult:
        spec, placement, timing = self.config.task, self.config.placement, self.config.timing

        async def fetch(token: str | None) -> LogPage | None:
            return await self.aws.get_log_events(group=spec.log_group, stream=stream, token=token)

        async def describe() -> Mapping[str, Any] | None:
            return await self.aws.describe_task(cluster=placement.cluster, task_arn=task_arn)

        follower = LogFollower(
            fetch=fetch,
            write=self.write,
            log_interval=timing.log_interval,
            rate_limit=timing.log_rate_limit,
            clock=self.clock,
            sleep=self.sleep,
        )

        def on_status(status: str, task: Mapping[str, Any]) -> None:
            log.info("task status", status=status, desired_status=task.get("desiredStatus"))
            follower.wake()

        watcher = StatusWatcher(
            describe=describe,
            on_status=on_status,
            poll_interval=timing.poll_interval,
            max_attempts=timing.max_attempts,
            deadline=None if timing.timeout is None else self.clock() + timing.timeout,
            clock=self.clock,
            sleep=self.sleep,
        )
        drain = anyio.CancelScope()

        async def follow() -> None:
            with drain:
                await follower.run()

        outcome: Stopped | GaveUp | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(follow)
            with self.interrupt.phase():
                outcome = await watcher.run()
            stopped = outcome
            if not isinstance(outcome, Stopped):
                why = outcome.why if outcome is not None else "interrupted by a signal"
                log.warning("stopping the task", reason=why, task_arn=task_arn)
                await self._stop(task_arn, f"ecs-one-off-task: {why}")
                stopped = await self._await_stop(describe, on_status)
            self._begin_drain(follower, stopped)
            drain.deadline = anyio.current_time() + timing.drain_grace + DRAIN_LIMIT
            if self.interrupt.signum is None:
                # A first signal while draining ends the drain: the task is stopped already.
                self.interrupt.track(drain)

        lines = follower.lines
        if drain.cancelled_caught:
            log.warning("stopped reading the logs before the stream was quiet", log_stream=stream)
        exit_code = self._exit_code(outcome, task_arn)
        log.info("done", exit_code=exit_code, lines=lines, task_arn=task_arn, log_stream=stream)
        return RunResult(exit_code=exit_code, task_arn=task_arn, log_stream=stream, lines=lines)

    def _begin_drain(self, follower: LogFollower, stopped: Stopped | GaveUp | None) -> None:
        """Tell the follower to finish once the stream is quiet after the stop."""
        timing = self.config.timing
        if not isinstance(stopped, Stopped):
            log.warning("task not STOPPED yet: reading the last lines anyway")
            follower.task_stopped(at=self.clock(), grace=timing.drain_grace)
            return
        self.task_stopped = True
        end = task_end(stopped.task, self.config.task.task_name)
        stopped_at = to_monotonic(
            end.stopped_at, now_monotonic=self.clock(), now_wall=self.wall_clock()
        )
        # A container that never started wrote no line: nothing to wait for.
        grace = timing.drain_grace if end.ran or follower.stream_found else 0.0
        log.info(
            "task stopped: reading the last lines",
            exit_code=end.exit_code,
            reason=end.describe(),
            quiet_for=grace,
        )
        follower.task_stopped(at=stopped_at, grace=grace)

    def _exit_code(self, outcome: Stopped | GaveUp | None, task_arn: str) -> int:
        """A signal's code, 124 after giving up, else the container's (125 if it never ran)."""
        if self.interrupt.signum is not None:
            return self.interrupt.exit_code
        if isinstance(outcome, GaveUp):
            return EXIT_GAVE_UP
        assert outcome is not None  # noqa: S101 - only a signal leaves it unset
        end = task_end(outcome.task, self.config.task.task_name)
        if not end.ran:
            raise TaskNotRun(f"task {task_arn} stopped without running: {end.describe()}")
        return exit_code_of(end)

    async def _await_stop(
        self, describe: DescribeTask, on_status: OnStatus
    ) -> Stopped | GaveUp | None:
        """After StopTask, watch until STOPPED: the shutdown's lines are read, the stop confirmed.

        ECS gives the container its stopTimeout (30 s by default) after SIGTERM. A first signal
        (when the wait follows a timeout) or a second one ends the wait early.
        """
        timing = self.config.timing
        watcher = StatusWatcher(
            describe=describe,
            on_status=on_status,
            poll_interval=min(timing.poll_interval, STOP_POLL_INTERVAL),
            max_attempts=None,
            deadline=self.clock() + STOP_WAIT,
            clock=self.clock,
            sleep=self.sleep,
        )
        log.info("waiting for the task to stop", at_most_seconds=STOP_WAIT)
        with self.interrupt.phase() if self.interrupt.signum is None else anyio.CancelScope():
            return await watcher.run()
        return None  # the wait was cut short by a signal

    async def _stop(self, task_arn: str, reason: str) -> None:
        """StopTask, retried while AWS is unavailable, shielded from cancellation, bounded."""
        if self.stop_requested:
            return
        self.stop_requested = True
        placement = self.config.placement
        by_hand = f"aws ecs stop-task --cluster {placement.cluster} --task {task_arn}"
        with anyio.move_on_after(STOP_TASK_TIMEOUT, shield=True) as scope:
            while True:
                try:
                    await self.aws.stop_task(
                        cluster=placement.cluster, task_arn=task_arn, reason=reason
                    )
                except AwsUnavailable as error:
                    log.warning("StopTask failed: retrying", error=str(error))
                    await anyio.sleep(1.0)
                    continue
                except OneOffTaskError as error:
                    log.error(
                        "could not stop the task: stop it yourself",
                        error=str(error),
                        command=by_hand,
                    )
                    return
                log.info("StopTask sent", task_arn=task_arn)
                return
        if scope.cancelled_caught:
            log.error("StopTask did not get through in time: stop it yourself", command=by_hand)


def _waiting_budget(timing: Timing) -> str:
    """Say when waiting ends, so a long migration's user learns of --timeout before, not after."""
    limits = []
    if timing.timeout is not None:
        limits.append(f"{timing.timeout:g} s")
    if timing.max_attempts is not None:
        seconds = timing.max_attempts * timing.poll_interval
        limits.append(f"{timing.max_attempts} status checks (~{seconds:g} s; see --timeout)")
    return " or ".join(limits)


def _first_error(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
