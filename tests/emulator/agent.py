"""A fake ECS agent: drives each task moto creates through a scripted `Timeline`.

moto creates tasks directly in RUNNING, with exit code 0, no stop code and no timestamps, and
never writes their logs. The tool under test must cope with the real lifecycle (PROVISIONING,
PENDING, RUNNING, STOPPED; exit codes; failures to start; late logs), so this agent edits moto's
model objects the way ECS would, on its own clock, in the server's process.

Hook point: `run_task`, `describe_tasks` and `stop_task` of the ECS backend instance are replaced
by instance attributes wrapping the originals (moto's request handlers look them up on the
instance). A `/moto-api/reset` wipes the backend, so `attach()` must be called again after one.

Threads: request threads (the hooks) and the agent thread (timed events) share one Condition.
Events are applied under it, and the hooks answer with snapshots of the tasks taken under it,
so DescribeTasks never shows half a transition. Log events go straight into moto's CloudWatch
Logs backend (not over HTTP, so they are neither recorded as calls nor hit by faults).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import Container, EC2ContainerServiceBackend, Task, ecs_backends
from moto.logs.models import LogsBackend, logs_backends

from . import amendments, logdriver, refusals
from .logdriver import LogDriver
from .timeline import (
    DEFAULT_TIMELINE,
    FailedStart,
    LineRecord,
    StatusChange,
    TaskRecord,
    Timeline,
)

_log = logging.getLogger(__name__)

LOG_GROUP_MISSING_REASON = (
    "ResourceInitializationError: failed to validate logger args: "
    "The specified log group does not exist"
)
USER_STOP_DEFAULT_REASON = "Task stopped by user"
NO_INSTANCES_MESSAGE = "No Container Instances were found in your cluster."
_STOPPING_STEPS = ("DEACTIVATING", "STOPPING", "DEPROVISIONING")
_STARTED_BY_ALONE = ("family", "serviceName", "containerInstance")
"""ListTasks filters AWS refuses beside startedBy (desiredStatus is allowed)."""


@dataclass(frozen=True)
class _LogTarget:
    """Where the awslogs driver of a task's container writes."""

    group: str
    stream: str
    region: str
    create_group: bool


@dataclass(eq=False)
class _TaskRun:
    """The agent's mutable state for one task (guarded by the agent's Condition)."""

    task: Any
    """moto's Task. Any: the agent adds the ECS fields moto lacks (stop_code, started_at...)."""
    family: str
    timeline: Timeline
    log: _LogTarget | None
    run_task_wall: float
    run_task_monotonic: float
    statuses: list[StatusChange] = field(default_factory=list)
    lines: list[LineRecord] = field(default_factory=list)
    pending_lines: list[tuple[float, str, bool]] = field(default_factory=list)
    """(due monotonic, message, late) printed but not yet ingested."""
    container_started: bool = False
    container_exited: bool = False
    stop_requested: bool = False
    stream_ready: bool = False
    last_timestamp: int = 0
    main: int = 0
    """Index in task.containers of the container the timeline plays (the others are sidecars)."""
    flush_period: float | None = None
    """The modelled awslogs driver's ticker (None: each line is written as it is printed)."""
    buffered_bytes: int = 0
    last_put_at: float = 0.0

    @property
    def container(self) -> Any:
        """The moto Container the timeline plays."""
        return self.task.containers[self.main]

    def sidecars_exit(self, exit_code: int | None) -> None:
        """Every other container stops too, with `exit_code` (None: it never ran)."""
        for index, sidecar in enumerate(self.task.containers):
            if index != self.main:
                sidecar.exitCode = exit_code
                sidecar.last_status = "STOPPED"

    @property
    def visible_at(self) -> float:
        """Monotonic time from which DescribeTasks shows the task."""
        return self.run_task_monotonic + self.timeline.invisible_for

    @property
    def stopping_started(self) -> bool:
        """True once the task is on its way to STOPPED, for whatever reason."""
        return self.stop_requested or self.container_exited or self.task.desired_status == "STOPPED"

    def record(self) -> TaskRecord:
        """Return a frozen snapshot of this run."""
        container = self.container
        return TaskRecord(
            task_arn=self.task.task_arn,
            family=self.family,
            timeline=self.timeline,
            log_group=self.log.group if self.log else None,
            log_stream=self.log.stream if self.log else None,
            run_task_wall=self.run_task_wall,
            run_task_monotonic=self.run_task_monotonic,
            statuses=tuple(self.statuses),
            lines=tuple(self.lines),
            exit_code=container.exitCode,
            stop_code=getattr(self.task, "stop_code", None),
            stopped_reason=self.task.stopped_reason or None,
        )


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    action: Callable[[float], None] = field(compare=False)
    generation: int = field(compare=False)


@dataclass(frozen=True)
class _Hooked:
    """The backend the hooks are installed on and its original methods."""

    backend: EC2ContainerServiceBackend
    run_task: Callable[..., list[Task]]
    describe_tasks: Callable[[str, list[str]], list[Task]]
    stop_task: Callable[[str, str, str], Task]
    register_task_definition: Callable[..., Any]


def _snapshot(task: Task) -> Any:
    """Copy a task into a plain object moto's serializer reads like the model.

    copy.copy would register the copy in moto's model registry (BaseModel.__new__) and leak;
    a SimpleNamespace carries the same attributes without that.
    """
    snapshot = SimpleNamespace(**vars(task))
    snapshot.last_status = task.status
    snapshot.task_arn = task.task_arn
    snapshot.containers = [SimpleNamespace(**vars(c)) for c in task.containers]
    return snapshot


def _containers(task: Task, definitions: list[Any]) -> list[Any]:
    """One moto Container per container definition (moto makes one, of the first only)."""
    # moto's Container reads only `arn` and `container_definitions[0]` of its task definition.
    make: Any = Container
    extra = [
        make(SimpleNamespace(arn=task.task_definition_arn, container_definitions=[definition]))
        for definition in definitions[1:]
    ]
    return [task.containers[0], *extra]


def _resource_requirements(task_definition: Any) -> dict[str, Any]:
    """The resource accounting of moto, for definitions sized at the task level only (Fargate).

    moto needs container-level memory and fails with HTTP 500 without it; ECS places such a
    task by its task-level size.
    """
    if all(
        c.get("memory") is not None or c.get("memoryReservation") is not None
        for c in task_definition.container_definitions
    ):
        return EC2ContainerServiceBackend._calculate_task_resource_requirements(task_definition)
    return {
        "CPU": int(task_definition.cpu or 0),
        "MEMORY": int(task_definition.memory or 0),
        "PORTS": [],
        "PORTS_UDP": [],
    }


def _matches(task: Task, identifier: str) -> bool:
    """Say whether a DescribeTasks/StopTask identifier (ARN or id) names `task`."""
    return identifier in (task.task_arn, task.id) or task.task_arn.endswith("/" + identifier)


class FakeEcsAgent:
    """Applies timelines to the tasks of one account and region of moto's ECS backend."""

    def __init__(
        self,
        *,
        account_id: str,
        region: str,
        default_timeline: Timeline = DEFAULT_TIMELINE,
        log_driver: LogDriver | None = None,
    ) -> None:
        """Prepare the agent; `start()` launches its thread, `attach()` hooks the backend.

        `log_driver` models the awslogs driver's batches (logdriver.py); None writes each line
        as it is printed.
        """
        self.log_driver = log_driver
        self._rng = random.Random()  # delays of a model, not secrets
        self.account_id = account_id
        self.region = region
        self.default_timeline = default_timeline
        self._cond = threading.Condition()
        self._events: list[_Event] = []
        self._seq = itertools.count()
        self._generation = 0
        self._runs: dict[str, _TaskRun] = {}
        self._scripts: dict[str, Timeline] = {}
        self._starts: dict[str, int] = {}
        """Starts of each family so far (tasks placed, RunTasks that placed none)."""
        self._dirty: set[str] = set()
        self._hooked: _Hooked | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._wall_offset = time.time() - time.monotonic()
        self.list_tasks_page_size = 100
        """AWS's page size for ListTasks; tests lower it to see the lookup follow pages."""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread that applies due events."""
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="fake-ecs-agent", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and unhook the backend (moto behaves as stock moto afterwards)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.detach()

    def attach(self) -> None:
        """Hook the current backend object and forget tasks of any previous one."""
        backend = ecs_backends[self.account_id][self.region]
        with self._cond:
            self._generation += 1
            self._events.clear()
            self._runs.clear()
            self._dirty.clear()
            self._starts.clear()
            self._hooked = _Hooked(
                backend=backend,
                run_task=backend.run_task,
                describe_tasks=backend.describe_tasks,
                stop_task=backend.stop_task,
                register_task_definition=backend.register_task_definition,
            )
            # Instance attributes shadow the class's methods for moto's request handlers.
            hooks = vars(backend)
            hooks["run_task"] = self._run_task
            hooks["describe_tasks"] = self._describe_tasks
            hooks["stop_task"] = self._stop_task
            hooks["register_task_definition"] = self._register_task_definition
            hooks["_calculate_task_resource_requirements"] = _resource_requirements
            self._cond.notify_all()

    def detach(self) -> None:
        """Remove the hooks, if the hooked backend still exists."""
        with self._cond:
            if self._hooked is not None:
                hooks = vars(self._hooked.backend)
                for name in (
                    "run_task",
                    "describe_tasks",
                    "stop_task",
                    "register_task_definition",
                    "_calculate_task_resource_requirements",
                ):
                    hooks.pop(name, None)
                self._hooked = None

    # -- configuration and inspection ------------------------------------------------------

    def script(self, family: str, timeline: Timeline) -> None:
        """Make every later task of `family` follow `timeline`."""
        with self._cond:
            self._scripts[family] = timeline

    def clear_scripts(self) -> None:
        """Forget all scripts: every family follows the default timeline again."""
        with self._cond:
            self._scripts.clear()

    def timeline_for(self, family: str) -> Timeline:
        """Return the timeline tasks of `family` follow."""
        with self._cond:
            return self._scripts.get(family, self.default_timeline)

    def record(self, task: str) -> TaskRecord:
        """Return a snapshot of what happened to a task (ARN or id) so far."""
        with self._cond:
            return self._find_run(task).record()

    def records(self) -> list[TaskRecord]:
        """Return snapshots of every task started since the last attach, in start order."""
        with self._cond:
            return [run.record() for run in self._runs.values()]

    def wait_until_status(self, task: str, status: str, timeout: float) -> TaskRecord:
        """Block until the task (ARN or id) has reached `status`; return its record.

        "Reached" includes having passed through it, so waiting for RUNNING on a task that is
        already STOPPED returns at once. Raises TimeoutError after `timeout` seconds.
        """

        def reached() -> bool:
            run = self._find_run_or_none(task)
            return run is not None and any(c.status == status for c in run.statuses)

        with self._cond:
            if not self._cond.wait_for(reached, timeout):
                run = self._find_run_or_none(task)
                now = run.task.status if run else "unknown to the agent"
                raise TimeoutError(f"task {task} not {status} within {timeout} s (it is {now})")
            return self._find_run(task).record()

    def wait_for_lines(self, task: str, count: int, timeout: float) -> TaskRecord:
        """Block until `count` lines of the task (ARN or id) were written; return its record.

        Raises TimeoutError after `timeout` seconds.
        """

        def written() -> bool:
            run = self._find_run_or_none(task)
            return run is not None and len(run.lines) >= count

        with self._cond:
            if not self._cond.wait_for(written, timeout):
                run = self._find_run_or_none(task)
                seen = len(run.lines) if run else 0
                raise TimeoutError(f"{seen} of {count} lines of {task} within {timeout} s")
            return self._find_run(task).record()

    def wait_for_tasks(self, family: str | None, count: int, timeout: float) -> list[str]:
        """Block until `count` tasks (of `family`, or any) were started; return their ARNs."""

        def arns() -> list[str]:
            return [a for a, r in self._runs.items() if family is None or r.family == family]

        with self._cond:
            if not self._cond.wait_for(lambda: len(arns()) >= count, timeout):
                raise TimeoutError(f"{len(arns())} of {count} tasks started within {timeout} s")
            return arns()[:count]

    def _find_run_or_none(self, task: str) -> _TaskRun | None:
        run = self._runs.get(task)
        if run is None:
            run = next((r for r in self._runs.values() if _matches(r.task, task)), None)
        return run

    def _find_run(self, task: str) -> _TaskRun:
        run = self._find_run_or_none(task)
        if run is None:
            raise KeyError(f"no task {task} was started through the emulator")
        return run

    # -- backend hooks (request threads) ---------------------------------------------------

    def _run_task(
        self,
        cluster_str: str,
        task_definition_str: str,
        count: int,
        overrides: dict[str, Any] | None,
        started_by: str,
        tags: list[dict[str, str]] | None,
        launch_type: str | None,
        networking_configuration: dict[str, Any] | None = None,
        group: str | None = None,
        platform_version: str | None = None,
        capacity_provider_strategy: list[dict[str, Any]] | None = None,
    ) -> list[Any]:
        with self._cond:
            hooked = self._require_hooked()
            task_definition = hooked.backend.describe_task_definition(task_definition_str)
            default_strategy = hooked.backend._get_cluster(
                cluster_str
            ).default_capacity_provider_strategy
            refusals.check_run_task(
                task_definition=task_definition,
                launch_type=launch_type,
                capacity_provider_strategy=capacity_provider_strategy
                or (None if launch_type else default_strategy),
                network_configuration=networking_configuration,
            )
            timeline = self._scripts.get(task_definition.family, self.default_timeline)
            if timeline.run_task_failure is not None:
                amendments.add_failure(self._failure_arn(cluster_str), timeline.run_task_failure)
                return []
            failed = self._next_start(task_definition.family, timeline, take=False)
            if failed is not None and failed.run_task_failure is not None:
                self._next_start(task_definition.family, timeline, take=True)
                for _ in range(count):
                    amendments.add_failure(self._failure_arn(cluster_str), failed.run_task_failure)
                return []
            placed = (
                count if timeline.places_at_most is None else min(count, timeline.places_at_most)
            )
            try:
                tasks = hooked.run_task(
                    cluster_str,
                    task_definition_str,
                    placed,
                    overrides,
                    started_by,
                    tags,
                    launch_type,
                    networking_configuration,
                    group,
                    platform_version,
                    capacity_provider_strategy,
                )
            except Exception as error:
                # moto answers HTTP 500 (retried by SDKs) where ECS answers a client error.
                if str(error).startswith("No instances found in cluster"):
                    raise InvalidParameterException(NO_INSTANCES_MESSAGE) from error
                raise
            if len(tasks) < count:
                # moto silently places fewer tasks when the instances are full; ECS says why.
                amendments.add_failure(self._failure_arn(cluster_str), "RESOURCE:MEMORY")
            strategy = capacity_provider_strategy or (None if launch_type else default_strategy)
            fargate = logdriver.runs_on_fargate(launch_type, strategy)
            for task in tasks:
                self._adopt(
                    task,
                    task_definition.family,
                    task_definition.container_definitions,
                    fargate=fargate,
                )
            self._cond.notify_all()
            return [_snapshot(task) for task in tasks]

    def _register_task_definition(
        self, family: str, container_definitions: list[dict[str, Any]], **kwargs: Any
    ) -> Any:
        refusals.check_registration(
            requires_compatibilities=kwargs.get("requires_compatibilities"),
            cpu=kwargs.get("cpu"),
            memory=kwargs.get("memory"),
            container_definitions=container_definitions,
        )
        refusals.check_definition(refusals.as_requested(family, container_definitions, kwargs))
        register = self._require_hooked().register_task_definition
        compatibilities = kwargs.get("requires_compatibilities")
        if compatibilities and "EC2" in compatibilities:
            # moto asks every EC2 container for a hard `memory`; ECS is content with either
            # `memory` or `memoryReservation` (check_registration above asks for one).
            registered = register(
                family, container_definitions, **{**kwargs, "requires_compatibilities": None}
            )
            registered.requires_compatibilities = compatibilities
            return registered
        return register(family, container_definitions, **kwargs)

    def amend_service(self, params: dict[str, Any]) -> None:
        """Store what CreateService was asked and moto drops: the capacity provider strategy
        (launchType is then absent, as on AWS), enableExecuteCommand, and the EBS volume
        configurations (AWS shows them on the service's deployments)."""
        with self._cond:
            backend = self._require_hooked().backend
            cluster = backend._get_cluster(params.get("cluster", "default"))
            service = backend.services.get(f"{cluster.name}:{params['serviceName']}")
            if service is None:
                return
            if params.get("capacityProviderStrategy"):
                strategy = [
                    {"weight": 0, "base": 0, **item} for item in params["capacityProviderStrategy"]
                ]
                vars(service)["capacity_provider_strategy"] = strategy
                service.launch_type = None
            vars(service)["enable_execute_command"] = bool(params.get("enableExecuteCommand"))
            for deployment in service.deployments:
                if params.get("volumeConfigurations"):
                    deployment["volumeConfigurations"] = params["volumeConfigurations"]

    def check_run_task_volumes(self, params: dict[str, Any]) -> None:
        """Refuse a RunTask whose volume configurations do not match the definition's volumes
        configured at launch (EBS), as ECS does; moto ignores volumeConfigurations."""
        with self._cond:
            backend = self._require_hooked().backend
            try:
                definition = backend.describe_task_definition(params.get("taskDefinition", ""))
            except Exception:  # noqa: BLE001 - moto answers an unknown definition itself
                return
        refusals.check_launch_volumes(
            volumes=definition.volumes or [],
            configurations=params.get("volumeConfigurations") or [],
        )

    def list_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListTasks as AWS answers it: desiredStatus RUNNING unless asked, the family of any
        revision, `maxResults` (at most `list_tasks_page_size`) a page, with a nextToken;
        `startedBy` only as the sole filter (InvalidParameterException otherwise)."""
        others = [name for name in _STARTED_BY_ALONE if params.get(name)]
        if params.get("startedBy") and others:
            # AWS: "When you specify startedBy as the filter, it must be the only filter".
            raise InvalidParameterException(
                f"startedBy must be the only filter: it cannot be combined with {others[0]}."
            )
        with self._cond:
            self._catch_up()
            backend = self._require_hooked().backend
            cluster = backend._get_cluster(params.get("cluster", "default"))
            wanted = params.get("desiredStatus", "RUNNING")
            arns = [
                run.task.task_arn
                for run in self._runs.values()
                if run.task.cluster_arn == cluster.arn
                and run.task.desired_status == wanted
                and params.get("family") in (None, run.family)
                and params.get("startedBy") in (None, run.task.started_by)
            ]
        size = min(int(params.get("maxResults") or 100), self.list_tasks_page_size)
        start = int(params.get("nextToken") or 0)
        answer: dict[str, Any] = {"taskArns": arns[start : start + size]}
        if start + size < len(arns):
            answer["nextToken"] = str(start + size)
        return answer

    def _describe_tasks(self, cluster_str: str, tasks: list[str]) -> list[Any]:
        with self._cond:
            self._catch_up()
            found = self._require_hooked().describe_tasks(cluster_str, tasks)
            now = time.monotonic()
            visible = []
            for task in found:
                run = self._runs.get(task.task_arn)
                if run is None or now >= run.visible_at:
                    visible.append(task)
            for identifier in tasks:
                if not any(_matches(task, identifier) for task in visible):
                    amendments.add_failure(identifier, "MISSING")
            return [_snapshot(t) if t.task_arn in self._runs else t for t in visible]

    def _stop_task(self, cluster_str: str, task_str: str, reason: str) -> Any:
        with self._cond:
            self._catch_up()
            hooked = self._require_hooked()
            run = self._find_run_or_none(task_str)
            if run is None:
                return hooked.stop_task(cluster_str, task_str, reason)
            if not run.stopping_started:
                self._request_stop(run, reason or USER_STOP_DEFAULT_REASON)
                self._cond.notify_all()
            return _snapshot(run.task)

    def _require_hooked(self) -> _Hooked:
        if self._hooked is None:
            raise RuntimeError("the fake ECS agent is not attached to a backend")
        return self._hooked

    def _failure_arn(self, cluster_str: str) -> str:
        """Return the ARN ECS names in a placement failure: a container instance, or the cluster."""
        backend = self._require_hooked().backend
        cluster = backend._get_cluster(cluster_str)
        instances = backend.container_instances.get(cluster.name, {})
        first = next(iter(instances.values()), None)
        return first.container_instance_arn if first is not None else cluster.arn

    # -- the lifecycle ---------------------------------------------------------------------

    def _adopt(
        self, task: Any, family: str, container_definitions: list[Any], *, fargate: bool = False
    ) -> None:
        """Put a task moto just created into PROVISIONING and schedule its timeline."""
        now = time.monotonic()
        timeline = self._scripts.get(family, self.default_timeline)
        task.containers = _containers(task, container_definitions)
        for container in task.containers:
            container.exitCode = None
            container.last_status = "PENDING"
            # moto derives both from the task-definition ARN; ECS names the task.
            container.task_arn = task.task_arn
            container.container_arn = (
                f"{task.task_arn.rsplit(':task/', 1)[0]}:container/{task.cluster_name}/"
                f"{task.id}/{uuid.uuid4()}"
            )
        # The container the timeline plays: the one named after the family (as the tool
        # names its one-off container), else the first.
        main = next((i for i, d in enumerate(container_definitions) if d.get("name") == family), 0)
        failed = self._next_start(family, timeline, take=True)
        if failed is not None and failed.stopped_reason is not None:
            timeline = replace(
                timeline,
                fails_to_start=True,
                failure_reason=failed.stopped_reason,
                failure_stop_code=failed.stop_code,
            )
        if timeline.exit_codes:
            # The n-th task of the family exits with the n-th code: tasks of one RunTask differ.
            started = sum(1 for r in self._runs.values() if r.family == family)
            timeline = replace(
                timeline, exit_code=timeline.exit_codes[started % len(timeline.exit_codes)]
            )
        task.created_at = self._datetime(now)
        task.stop_code = None
        task.stopped_reason = None
        run = _TaskRun(
            task=task,
            family=family,
            timeline=timeline,
            log=self._log_target(task, container_definitions[main : main + 1]),
            run_task_wall=now + self._wall_offset,
            run_task_monotonic=now,
            main=main,
        )
        if self.log_driver is not None:
            options = (container_definitions[main].get("logConfiguration") or {}).get("options")
            run.flush_period = self.log_driver.flush_period(options or {}, fargate=fargate)
        self._runs[task.task_arn] = run
        self._set_status(run, "PROVISIONING")
        self._schedule(now + timeline.provisioning, functools.partial(self._to_pending, run))
        start_at = now + timeline.provisioning + timeline.pending
        self._schedule(start_at, functools.partial(self._start_container, run))

    def _next_start(self, family: str, timeline: Timeline, *, take: bool) -> FailedStart | None:
        """How the family's next start fails, if it does; `take` counts the start."""
        n = self._starts.get(family, 0)
        if take:
            self._starts[family] = n + 1
        return timeline.failed_starts[n] if n < len(timeline.failed_starts) else None

    @staticmethod
    def _log_target(task: Task, container_definitions: list[Any]) -> _LogTarget | None:
        definition = container_definitions[0] if container_definitions else {}
        config = definition.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            return None
        name = definition.get("name", "")
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{name}/{task.id}" if prefix else task.id
        return _LogTarget(
            group=options["awslogs-group"],
            stream=stream,
            region=options.get("awslogs-region", task.region_name),
            create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
        )

    def _to_pending(self, run: _TaskRun, due: float) -> None:
        if run.stopping_started:
            return
        run.task.pull_started_at = self._datetime(due)
        run.task.connectivity = "CONNECTED"
        run.task.connectivity_at = self._datetime(due)
        self._set_status(run, "PENDING")

    def _start_container(self, run: _TaskRun, due: float) -> None:
        if run.stopping_started:
            return
        timeline = run.timeline
        if timeline.fails_to_start:
            self._fail_to_start(run, timeline.failure_reason, due)
            return
        if run.log is not None and not self._ensure_group(run.log):
            self._fail_to_start(run, LOG_GROUP_MISSING_REASON, due)
            return
        task, container = run.task, run.container
        task.pull_stopped_at = self._datetime(due)
        task.started_at = self._datetime(due)
        container.last_status = "RUNNING"
        run.container_started = True
        self._set_status(run, "RUNNING")
        if run.log is not None:
            self._schedule(due + timeline.stream_delay, functools.partial(self._create_stream, run))
        for line in timeline.lines:
            self._schedule(due + line.at, functools.partial(self._print, run, line.message))
        if run.flush_period is not None:
            self._schedule(due + run.flush_period, functools.partial(self._tick, run))
        if math.isfinite(timeline.runs_for):
            self._schedule(due + timeline.runs_for, functools.partial(self._exit, run))

    def _fail_to_start(self, run: _TaskRun, reason: str, due: float) -> None:
        task, container = run.task, run.container
        container.last_status = "STOPPED"
        container.reason = reason
        run.sidecars_exit(run.timeline.sidecar_exit_code)
        task.desired_status = "STOPPED"
        task.stop_code = run.timeline.failure_stop_code
        task.stopped_reason = reason
        task.stopping_at = self._datetime(due)
        task.execution_stopped_at = self._datetime(due)
        run.container_exited = True
        self._begin_stopping(run, due)

    def _print(self, run: _TaskRun, message: str, due: float) -> None:
        if run.container_exited or run.stop_requested:
            return
        run.pending_lines.append((due, message, False))
        if run.flush_period is None:
            self._dirty.add(run.task.task_arn)
            return
        run.buffered_bytes += logdriver.event_size(message)
        if logdriver.batch_full(len(run.pending_lines), run.buffered_bytes):
            self._send_batch(run, due, self._put_delay())

    def _tick(self, run: _TaskRun, due: float) -> None:
        """The driver's ticker: send what is buffered, then wait for the next tick."""
        if run.container_exited or run.flush_period is None:
            return
        if run.pending_lines and run.stream_ready:
            self._send_batch(run, due, self._put_delay())
        self._schedule(due + run.flush_period, functools.partial(self._tick, run))

    def _exit_flush(self, run: _TaskRun, due: float, until_stopped: float) -> None:
        """The driver's last batch, sent as the container exits."""
        if run.flush_period is None or not run.pending_lines or self.log_driver is None:
            return
        if not run.stream_ready:
            self._create_stream(run, due)
        self._send_batch(run, due, self.log_driver.exit_delay(self._rng, until_stopped))

    def _put_delay(self) -> float:
        return 0.0 if self.log_driver is None else self.log_driver.put_delay(self._rng)

    def _send_batch(self, run: _TaskRun, due: float, delay: float) -> None:
        """PutLogEvents of the buffered lines, landing `delay` later (after earlier batches)."""
        batch = list(run.pending_lines)
        run.pending_lines.clear()
        run.buffered_bytes = 0
        land_at = max(due + delay, run.last_put_at)
        run.last_put_at = land_at
        self._schedule(land_at, functools.partial(self._put, run, batch))

    def _put(self, run: _TaskRun, batch: list[tuple[float, str, bool]], _due: float) -> None:
        if run.log is not None:
            self._write(run, batch)

    def _create_stream(self, run: _TaskRun, _due: float) -> None:
        if run.log is None:
            return
        self._logs(run.log).ensure_log_stream(run.log.group, run.log.stream)
        run.stream_ready = True
        self._dirty.add(run.task.task_arn)

    def _exit(self, run: _TaskRun, due: float) -> None:
        if run.stopping_started:
            return
        task, container = run.task, run.container
        container.exitCode = run.timeline.exit_code
        container.last_status = "STOPPED"
        run.sidecars_exit(run.timeline.sidecar_exit_code)
        run.container_exited = True
        task.desired_status = "STOPPED"
        task.stop_code = run.timeline.stop_code
        task.stopped_reason = run.timeline.stopped_reason
        task.stopping_at = self._datetime(due)
        task.execution_stopped_at = self._datetime(due)
        self._exit_flush(run, due, run.timeline.stopping)
        self._begin_stopping(run, due)

    def _request_stop(self, run: _TaskRun, reason: str) -> None:
        """StopTask: desired STOPPED now; SIGTERM exit after `stopping`, then STOPPED."""
        now = time.monotonic()
        task = run.task
        run.stop_requested = True
        task.desired_status = "STOPPED"
        task.stop_code = "UserInitiated"
        task.stopped_reason = reason
        task.stopping_at = self._datetime(now)
        stopping = run.timeline.stopping
        if run.container_started:
            self._set_status(run, "DEACTIVATING")
            self._schedule(
                now + stopping / 2, functools.partial(self._status_event, run, "STOPPING")
            )
        self._schedule(now + stopping, functools.partial(self._sigterm_exit, run))

    def _sigterm_exit(self, run: _TaskRun, due: float) -> None:
        container = run.container
        run.sidecars_exit(run.timeline.stop_exit_code if run.container_started else None)
        if run.container_started:
            container.exitCode = run.timeline.stop_exit_code
        container.last_status = "STOPPED"
        run.container_exited = True
        self._exit_flush(run, due, 0.0)
        run.task.execution_stopped_at = self._datetime(due)
        if run.container_started:
            self._set_status(run, "DEPROVISIONING")
        self._stopped(run, due)

    def _begin_stopping(self, run: _TaskRun, due: float) -> None:
        """Walk DEACTIVATING -> STOPPING -> DEPROVISIONING -> STOPPED over `stopping` seconds."""
        stopping = run.timeline.stopping
        for n, status in enumerate(_STOPPING_STEPS):
            at = due + stopping * n / len(_STOPPING_STEPS)
            self._schedule(at, functools.partial(self._status_event, run, status))
        self._schedule(due + stopping, functools.partial(self._stopped, run))

    def _stopped(self, run: _TaskRun, due: float) -> None:
        task = run.task
        # moto's own stop_task gives the container instance's CPU/memory back.
        try:
            self._require_hooked().stop_task(task.cluster_arn, task.task_arn, task.stopped_reason)
        except Exception:  # noqa: BLE001 - bookkeeping only: the task must still stop
            _log.exception("releasing the resources of %s failed", task.task_arn)
        task.stopped_at = self._datetime(due)
        self._set_status(run, "STOPPED")
        if run.container_started:
            for line in run.timeline.late_lines:
                self._schedule(due + line.at, functools.partial(self._late, run, line.message))

    def _late(self, run: _TaskRun, message: str, due: float) -> None:
        if run.log is None:
            return
        if not run.stream_ready:
            self._create_stream(run, due)
        run.pending_lines.append((due, message, True))
        self._dirty.add(run.task.task_arn)

    def _status_event(self, run: _TaskRun, status: str, _due: float) -> None:
        self._set_status(run, status)

    def _set_status(self, run: _TaskRun, status: str) -> None:
        """Change lastStatus; the record keeps when a client could first see it."""
        if run.statuses and run.statuses[-1].status == status:
            return
        run.task.status = status
        run.statuses.append(StatusChange(status, time.time(), time.monotonic()))

    # -- CloudWatch Logs ---------------------------------------------------------------------

    def _logs(self, target: _LogTarget) -> LogsBackend:
        return logs_backends[self.account_id][target.region]

    def _ensure_group(self, target: _LogTarget) -> bool:
        logs = self._logs(target)
        if target.group not in logs.groups and target.create_group:
            logs.create_log_group(target.group, {})
        return target.group in logs.groups

    def _flush(self) -> None:
        """Write each task's lines printed so far as one PutLogEvents batch, like awslogs."""
        for arn in sorted(self._dirty):
            run = self._runs.get(arn)
            if run is None or run.log is None or not run.stream_ready or not run.pending_lines:
                continue
            if run.flush_period is not None and not run.container_exited:
                continue  # the modelled driver's ticker sends them
            self._write(run, run.pending_lines)
            run.pending_lines.clear()
        self._dirty.clear()

    def _write(self, run: _TaskRun, items: list[tuple[float, str, bool]]) -> None:
        """One PutLogEvents of (print time, message, late) items, as CloudWatch takes it now."""
        assert run.log is not None
        stamped: list[tuple[int, str, bool, float]] = []
        for due, message, late in items:
            # Tokens index events sorted by timestamp: never go back in time in a stream.
            run.last_timestamp = max(run.last_timestamp, int((due + self._wall_offset) * 1000))
            stamped.append((run.last_timestamp, message, late, due))
        events = [{"timestamp": ts, "message": message} for ts, message, _, _ in stamped]
        try:
            self._logs(run.log).put_log_events(run.log.group, run.log.stream, events)
        except Exception:  # noqa: BLE001 - a deleted group must not kill the agent
            _log.exception("writing %d lines of %s failed", len(events), run.task.task_arn)
        else:
            wall, mono = time.time(), time.monotonic()
            run.lines.extend(
                LineRecord(message, ts, wall, mono, late, printed_monotonic=due)
                for ts, message, late, due in stamped
            )

    # -- the clock ---------------------------------------------------------------------------

    def _datetime(self, monotonic: float) -> datetime:
        return datetime.fromtimestamp(monotonic + self._wall_offset, UTC)

    def _schedule(self, due: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._events, _Event(due, next(self._seq), action, self._generation))

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._events and self._events[0].due <= now:
                    self._apply_due(now)
                    continue
                timeout = self._events[0].due - now if self._events else None
                self._cond.wait(timeout)

    def _catch_up(self) -> None:
        """Apply what is due before answering a request (caller holds the Condition).

        The answer then follows the timeline whenever the agent thread gets to run: a loaded
        machine delays the thread, not the task's life as clients see it.
        """
        if self._events and self._events[0].due <= time.monotonic():
            self._apply_due(time.monotonic())

    def _apply_due(self, now: float) -> None:
        """Apply every event due by `now` (including ones they schedule), then flush logs."""
        while self._events and self._events[0].due <= now:
            event = heapq.heappop(self._events)
            if event.generation != self._generation:
                continue
            try:
                event.action(event.due)
            except Exception:  # noqa: BLE001 - one bad event must not kill the agent
                _log.exception("fake ECS agent event failed")
        try:
            self._flush()
        finally:
            self._cond.notify_all()
