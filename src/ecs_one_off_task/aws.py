"""The only module that talks to AWS: aioboto3 clients, and AWS errors turned into ours.

Every method returns plain data (dicts as AWS shapes them, or the small records the watcher and
the follower consume) so the rest of the tool never sees botocore.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import aioboto3
import structlog
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,  # noqa: A004 - botocore's transport error, not the builtin
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from ecs_one_off_task._version import __version__
from ecs_one_off_task.config import AwsSettings
from ecs_one_off_task.errors import (
    AccessDenied,
    AwsError,
    AwsUnavailable,
    RunTaskRefused,
    Throttled,
    UsageError,
)
from ecs_one_off_task.follower import LogPage

_log = structlog.get_logger("ecs_one_off_task")

STARTED_BY = "ecs-one-off-task"
DEFAULT_RETENTION_DAYS = 7

_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
_ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)
_EXPIRED_CODES = frozenset({"ExpiredTokenException", "ExpiredToken", "RequestExpired"})


@dataclass(frozen=True, kw_only=True)
class RunTaskAnswer:
    """The tasks RunTask started, and why others were not (its failures[])."""

    tasks: tuple[dict[str, Any], ...]
    failures: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Described:
    """A DescribeTasks answer: the tasks ECS found, and the reason for each it did not."""

    tasks: tuple[dict[str, Any], ...]
    failures: tuple[tuple[str, str], ...] = ()
    """(ARN, reason) for each task ECS did not describe."""

    def task(self, task_arn: str) -> dict[str, Any] | None:
        """The task named by its ARN or id; None while ECS does not show it yet (MISSING)."""
        for task in self.tasks:
            arn = str(task.get("taskArn"))
            if task_arn in (arn, arn.rsplit("/", 1)[-1]):
                return task
        reasons = [r for arn, r in self.failures if task_arn in (arn, arn.rsplit("/", 1)[-1])]
        if all(reason == "MISSING" for reason in reasons):
            # Right after RunTask, DescribeTasks can miss the task for a few seconds.
            return None
        raise AwsError(f"DescribeTasks failed for {task_arn}: {'; '.join(reasons)}")


def _client_config(call_timeout: float, *, attempts: int = 4) -> Config:
    # The SDK's standard retry mode backs off exponentially with jitter (capped at 20 s) on
    # throttling, 5xx, dropped connections and read timeouts. RunTask is safe to retry: the SDK
    # fills its clientToken once per call, so ECS starts one task however many tries it takes.
    # The read timeout keeps a response that never comes from hanging the run.
    return Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        connect_timeout=min(call_timeout, 5.0),
        read_timeout=call_timeout,
        user_agent_extra=f"ecs-one-off-task/{__version__}",
    )


class Aws:
    """ECS and CloudWatch Logs calls the tool makes, with errors mapped to exit codes."""

    def __init__(self, *, ecs: Any, logs: Any, log_reader: Any, region: str) -> None:  # noqa: ANN401 - aiobotocore clients are untyped
        """Wrap clients made elsewhere (normally by `connect`).

        `log_reader` serves GetLogEvents only, with no SDK retries: the log follower retries
        itself, so that every try counts against its calls-per-second cap.
        """
        self._ecs = ecs
        self._logs = logs
        self._log_reader = log_reader
        self.region = region

    @classmethod
    @asynccontextmanager
    async def connect(cls, settings: AwsSettings) -> AsyncIterator[Aws]:
        """Open ECS and CloudWatch Logs clients for the whole run (one connection pool each)."""
        try:
            session = aioboto3.Session(profile_name=settings.profile, region_name=settings.region)
        except ProfileNotFound as error:
            raise UsageError(f"AWS profile {settings.profile!r} not found") from error
        region = session.region_name
        if not region:
            raise UsageError("no AWS region: pass --region or set AWS_REGION")
        if not await _is_known_region(session, region):
            raise UsageError(f"unknown AWS region {region!r}")
        config = _client_config(settings.call_timeout)
        async with AsyncExitStack() as stack:
            try:
                ecs = await stack.enter_async_context(
                    session.client("ecs", endpoint_url=settings.endpoint_url, config=config)
                )
                logs = await stack.enter_async_context(
                    session.client("logs", endpoint_url=settings.endpoint_url, config=config)
                )
                log_reader = await stack.enter_async_context(
                    session.client(
                        "logs",
                        endpoint_url=settings.endpoint_url,
                        config=_client_config(settings.call_timeout, attempts=1),
                    )
                )
            except NoRegionError as error:
                raise UsageError("no AWS region: pass --region or set AWS_REGION") from error
            yield cls(ecs=ecs, logs=logs, log_reader=log_reader, region=region)

    async def describe_task_definition(self, name: str) -> dict[str, Any]:
        """The reference task definition (family, family:revision or ARN)."""
        try:
            with _translated("ecs:DescribeTaskDefinition"):
                response = await self._ecs.describe_task_definition(taskDefinition=name)
        except AwsError as error:
            if _code(error) == "ClientException":
                raise UsageError(f"reference task definition {name!r} not found") from error
            raise
        definition: dict[str, Any] = response["taskDefinition"]
        return definition

    async def describe_reference(self, name: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """The reference task definition and its tags (one call: include TAGS)."""
        try:
            with _translated("ecs:DescribeTaskDefinition"):
                response = await self._ecs.describe_task_definition(
                    taskDefinition=name, include=["TAGS"]
                )
        except AwsError as error:
            if _code(error) == "ClientException":
                raise UsageError(f"reference task definition {name!r} not found") from error
            raise
        definition: dict[str, Any] = response["taskDefinition"]
        return definition, list(response.get("tags") or ())

    async def latest_revision(self, family: str) -> dict[str, Any] | None:
        """The family's latest ACTIVE revision, or None when the family has none."""
        try:
            return await self.describe_task_definition(family)
        except UsageError:
            return None

    async def describe_cluster(self, cluster: str) -> dict[str, Any]:
        """The cluster (with its capacity providers); a usage error unless it is ACTIVE."""
        with _translated("ecs:DescribeClusters"):
            response = await self._ecs.describe_clusters(clusters=[cluster])
        for found in response.get("clusters", ()):
            if found.get("status") == "ACTIVE":
                active: dict[str, Any] = found
                return active
        raise UsageError(f"ECS cluster {cluster!r} not found (or not ACTIVE)")

    async def describe_service(self, *, cluster: str, service: str) -> dict[str, Any]:
        """The service; a usage error naming cluster and service unless it is ACTIVE."""
        with _translated("ecs:DescribeServices"):
            response = await self._ecs.describe_services(cluster=cluster, services=[service])
        for found in response.get("services", ()):
            if found.get("status") == "ACTIVE":
                active: dict[str, Any] = found
                return active
        raise UsageError(f"service {service!r} not found on cluster {cluster!r} (or not ACTIVE)")

    async def register_task_definition(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Register a new revision and return it as described."""
        with _translated("ecs:RegisterTaskDefinition"):
            response = await self._ecs.register_task_definition(**definition)
        registered: dict[str, Any] = response["taskDefinition"]
        return registered

    async def active_revisions(self, family: str) -> list[str]:
        """The ARNs of the family's ACTIVE revisions, oldest first, on every page."""
        arguments = {"familyPrefix": family, "status": "ACTIVE", "sort": "ASC"}
        return await _every_page(
            self._ecs.list_task_definitions,
            "ecs:ListTaskDefinitions",
            "taskDefinitionArns",
            arguments,
        )

    async def deregister_task_definition(self, task_definition_arn: str) -> None:
        """Mark a revision INACTIVE: no new task can start from it."""
        with _translated("ecs:DeregisterTaskDefinition"):
            await self._ecs.deregister_task_definition(taskDefinition=task_definition_arn)

    async def ensure_log_group(self, name: str, *, retention_days: int | None) -> bool:
        """Create the log group unless it exists; return whether it was created.

        Retention is set on a new group (7 days unless given), and on an existing one only
        when asked: the group may be the app's own, whose retention is not ours to shorten.
        """
        created = True
        try:
            with _translated("logs:CreateLogGroup"):
                await self._logs.create_log_group(logGroupName=name)
        except AwsError as error:
            if _code(error) != "ResourceAlreadyExistsException":
                raise
            created = False
        if created or retention_days is not None:
            with _translated("logs:PutRetentionPolicy"):
                await self._logs.put_retention_policy(
                    logGroupName=name, retentionInDays=retention_days or DEFAULT_RETENTION_DAYS
                )
        return created

    async def run_task(self, request: Mapping[str, Any]) -> RunTaskAnswer:
        """Start the tasks of `request`; TaskNotRun when AWS started none, naming why."""
        with _translated("ecs:RunTask"):
            response = await self._ecs.run_task(**request)
        failures = tuple(
            f"{f.get('reason', 'unknown')}" + (f" ({f['detail']})" if f.get("detail") else "")
            for f in response.get("failures") or ()
        )
        tasks = tuple(response.get("tasks") or ())
        if not tasks:
            raise RunTaskRefused(
                f"RunTask started no task: {'; '.join(failures) or 'no reason given'}",
                tuple(str(f.get("reason", "unknown")) for f in response.get("failures") or ()),
            )
        return RunTaskAnswer(tasks=tasks, failures=failures)

    async def describe_task(self, *, cluster: str, task_arn: str) -> dict[str, Any] | None:
        """The task as ECS sees it, or None while it is not visible yet (MISSING)."""
        return (await self.describe_tasks(cluster=cluster, task_arns=[task_arn])).task(task_arn)

    async def list_running_task_arns(self, *, cluster: str, family: str) -> list[str]:
        """Every task of `family` on `cluster` whose desired status is RUNNING, on every page."""
        arguments = {"cluster": cluster, "family": family, "desiredStatus": "RUNNING"}
        return await _every_page(self._ecs.list_tasks, "ecs:ListTasks", "taskArns", arguments)

    async def list_stopped_task_arns(self, *, cluster: str, started_by: str) -> list[str]:
        """Every task on `cluster` started with `started_by` that stopped (or is stopping).

        On every page. AWS refuses `startedBy` beside `family`: it is the only filter.
        """
        arguments = {"cluster": cluster, "startedBy": started_by, "desiredStatus": "STOPPED"}
        return await _every_page(self._ecs.list_tasks, "ecs:ListTasks", "taskArns", arguments)

    async def describe_tasks(self, *, cluster: str, task_arns: list[str]) -> Described:
        """The tasks as ECS sees them, 100 a call (DescribeTasks' limit)."""
        tasks: list[dict[str, Any]] = []
        failures: list[tuple[str, str]] = []
        for start in range(0, len(task_arns), 100):
            with _translated("ecs:DescribeTasks"):
                response = await self._ecs.describe_tasks(
                    cluster=cluster, tasks=task_arns[start : start + 100]
                )
            tasks.extend(response.get("tasks") or ())
            failures.extend(
                (str(f.get("arn")), str(f.get("reason"))) for f in response.get("failures") or ()
            )
        return Described(tasks=tuple(tasks), failures=tuple(failures))

    async def stop_task(self, *, cluster: str, task_arn: str, reason: str) -> None:
        """Ask ECS to stop the task (SIGTERM to the container, then SIGKILL)."""
        with _translated("ecs:StopTask"):
            await self._ecs.stop_task(cluster=cluster, task=task_arn, reason=reason[:255])

    async def get_log_events(
        self,
        *,
        group: str,
        stream: str,
        token: str | None,
        start_time: int | None = None,
        timestamps: bool = False,
    ) -> LogPage | None:
        """One forward page of the stream after `token`; None while the stream does not exist.

        `start_time` (ms since the epoch) places the first read; the token then keeps its place.
        `timestamps` also returns each event's timestamp.
        """
        arguments: dict[str, Any] = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
        }
        if token is not None:
            arguments["nextToken"] = token
        elif start_time is not None:
            arguments["startTime"] = start_time
        try:
            with _translated("logs:GetLogEvents"):
                response = await self._log_reader.get_log_events(**arguments)
        except AwsError as error:
            if _code(error) == "ResourceNotFoundException":
                return None
            raise
        return LogPage(
            messages=[event["message"] for event in response["events"]],
            next_forward_token=response["nextForwardToken"],
            timestamps=[event["timestamp"] for event in response["events"]] if timestamps else (),
            # Distinct values only: one PutLogEvents is one ingestion time, and a page of
            # 10,000 events would otherwise hold 10,000 large ints for a handful of values.
            ingestion_times=tuple({event.get("ingestionTime", 0) for event in response["events"]}),
        )


async def _is_known_region(session: Any, region: str) -> bool:  # noqa: ANN401 - aioboto3 session
    """Whether ECS exists in `region` in any partition, by the SDK's own endpoint data.

    Asked of the run's own session, so the endpoint data is loaded once, for the clients too.
    """
    for partition in session.get_available_partitions():
        if region in await session.get_available_regions("ecs", partition_name=partition):
            return True
    return False


async def _every_page(
    call: Any,  # noqa: ANN401 - an aiobotocore List* method
    action: str,
    key: str,
    arguments: Mapping[str, str],
) -> list[str]:
    """The `key` lists of every page of a List* call, following nextToken."""
    found: list[str] = []
    request = dict(arguments)
    while True:
        with _translated(action):
            response = await call(**request)
        found.extend(response.get(key) or ())
        if not response.get("nextToken"):
            return found
        request["nextToken"] = response["nextToken"]


def _code(error: BaseException) -> str | None:
    cause = error.__cause__
    if isinstance(cause, ClientError):
        code: str | None = cause.response.get("Error", {}).get("Code")
        return code
    return None


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn botocore's exceptions into ours, naming the IAM action of the call.

    Every call passes here, so here each one is timed for --verbose.
    """
    started = time.perf_counter()
    try:
        yield
    except ClientError as error:
        details = error.response.get("Error", {})
        code = details.get("Code", "")
        message = details.get("Message", "") or str(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _ACCESS_DENIED_CODES:
            needed = "iam:PassRole" if "iam:PassRole" in message else action
            raise AccessDenied(needed, f"{code}: {message}") from error
        if code in _EXPIRED_CODES:
            raise AwsError(
                f"AWS credentials expired during {action} ({code}); renew them and re-run"
            ) from error
        if code in _THROTTLING_CODES:
            raise Throttled(f"{action}: {code}: {message}") from error
        if status >= 500:
            raise AwsUnavailable(f"{action}: {code or status}: {message}") from error
        raise AwsError(f"{action} failed: {code}: {message}") from error
    except NoCredentialsError as error:
        raise UsageError("no AWS credentials found (set a profile or AWS_* variables)") from error
    except (ConnectionError, HTTPClientError) as error:
        raise AwsUnavailable(f"{action}: cannot reach AWS: {error}") from error
    except BotoCoreError as error:
        raise AwsError(f"{action}: {error}") from error
    finally:
        _log.debug("AWS call", operation=action, ms=round((time.perf_counter() - started) * 1000))
