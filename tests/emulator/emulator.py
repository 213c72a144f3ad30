"""The local AWS the tests and the demo run the tool against: one object to start and steer.

It ties together moto's HTTP server (with the recording/fault middleware) and the fake ECS
agent. The tool under test only gets `endpoint_url` and fake credentials (`env()`), exactly
what it would get for AWS, so nothing in the tool knows it is being tested.

moto's backends are process-global: run one Emulator per process at a time.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from contextlib import ExitStack
from types import TracebackType
from typing import Any, ClassVar, Self

import boto3
from botocore.config import Config
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from .agent import FakeEcsAgent
from .calls import Call, CallLog
from .faults import Fault, FaultInjector
from .logdriver import LogDriver
from .pages import aws_pages
from .quota import LogQuota
from .server import MotoHttpServer, moto_app
from .timeline import DEFAULT_TIMELINE, TaskRecord, Timeline

ACCESS_KEY = "testing"
SECRET_KEY = "testing"  # noqa: S105 - moto's conventional fake credential
_ECS_TASK_MODEL = "ecs::task"
_PINNED = {"progression": "manual", "times": 10**9}
"""moto would advance tasks itself on every DescribeTasks; only the fake agent may."""


class Emulator:
    """moto in server mode plus a fake ECS agent, on 127.0.0.1 (a random free port by default).

    Use as a context manager: `with Emulator() as emu: ...`. moto's state is process-global, so
    only one Emulator may run at a time; `Emulator.active()` finds the running one.
    """

    _active: ClassVar[Emulator | None] = None
    _active_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def active(cls) -> Emulator | None:
        """Return the Emulator running in this process, if any."""
        with cls._active_lock:
            return cls._active

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        default_timeline: Timeline = DEFAULT_TIMELINE,
        log_driver: LogDriver | None = None,
    ) -> None:
        """Prepare; `start()` (or entering the context) makes it listen.

        `log_driver` models the awslogs driver's batches (logdriver.py); None (the tests'
        default) writes each line as it is printed.
        """
        self._log_driver = log_driver
        self.region = region
        self.account_id = DEFAULT_ACCOUNT_ID
        self._default_timeline = default_timeline
        self._calls = CallLog()
        self._faults = FaultInjector()
        self._log_quota = LogQuota()
        self.agent = FakeEcsAgent(
            account_id=self.account_id,
            region=region,
            default_timeline=default_timeline,
            log_driver=log_driver,
        )
        self._server = MotoHttpServer(
            moto_app(
                calls=self._calls,
                faults=self._faults,
                quota=self._log_quota,
                on_reset=self._after_moto_reset,
                on_created_service=self.agent.amend_service,
                list_tasks=self.agent.list_tasks,
                check_run_task=self.agent.check_run_task_volumes,
            ),
            host=host,
            port=port,
        )
        self._previous_transition: dict[str, Any] | None = None
        self._session: Any = None
        self._started = False
        self._pages = ExitStack()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen, start the agent and begin from empty backends."""
        if self._started:
            return self
        with Emulator._active_lock:
            if Emulator._active is not None:
                raise RuntimeError(
                    "another Emulator is running in this process and moto's backends are "
                    "global: reuse it (Emulator.active()) or close it first"
                )
            Emulator._active = self
        self._previous_transition = dict(state_manager.get_transition(_ECS_TASK_MODEL))
        self._pages.enter_context(aws_pages())
        self._server.start_listening()
        self.agent.start()
        self._started = True
        self.reset()
        return self

    def close(self) -> None:
        """Stop the agent and the server; give moto back its own task progression."""
        if not self._started:
            return
        self._started = False
        self.agent.close()
        self._server.close()
        self._pages.close()
        if self._previous_transition is not None:
            state_manager.set_transition(_ECS_TASK_MODEL, self._previous_transition)
        with Emulator._active_lock:
            Emulator._active = None

    def __enter__(self) -> Self:
        """Start and return the emulator."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close."""
        self.close()

    def reset(self) -> None:
        """Empty every moto backend and forget calls, faults, the log quota and scripts.

        Goes through POST /moto-api/reset like any moto user would; the middleware re-hooks the
        agent onto the fresh backend objects before that request is answered.
        """
        request = urllib.request.Request(  # noqa: S310 - fixed http URL of our own server
            f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - same
            pass
        self._calls.clear()
        self._faults.clear()
        self._log_quota.set(None)
        self.agent.clear_scripts()
        self.agent.default_timeline = self._default_timeline
        self.agent.log_driver = self._log_driver

    def _after_moto_reset(self) -> None:
        state_manager.set_transition(_ECS_TASK_MODEL, dict(_PINNED))
        self.agent.attach()

    # -- the endpoint ------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """The URL to give clients (AWS_ENDPOINT_URL)."""
        return f"http://{self._server.host}:{self._server.port}"

    @property
    def port(self) -> int:
        """The TCP port, kept across restarts."""
        return self._server.port

    def env(self) -> dict[str, str]:
        """Return the environment variables that point an AWS SDK or CLI at the emulator."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def subprocess_env(self) -> dict[str, str]:
        """Return os.environ without the caller's AWS settings, plus `env()`.

        A developer's AWS_PROFILE or session token must never leak into a run against the
        emulator (or worse, send a test's calls to a real account).
        """
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return inherited | self.env()

    def boto3_client(self, service: str, *, max_attempts: int = 1, **kwargs: Any) -> Any:
        """Return a boto3 client for test setup and assertions, pointed at the emulator.

        One attempt by default: a test should see an injected fault, not botocore's retries.
        """
        if self._session is None:
            self._session = boto3.session.Session(
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                region_name=self.region,
            )
        kwargs.setdefault("config", Config(retries={"total_max_attempts": max_attempts}))
        return self._session.client(service, endpoint_url=self.endpoint_url, **kwargs)

    def stop_listening(self) -> None:
        """Make the endpoint unreachable (connection refused); tasks keep running."""
        self._server.stop_listening()

    def start_listening(self) -> None:
        """Make the endpoint reachable again, on the same port, with the same state."""
        self._server.start_listening()

    def restart(self, down_for: float) -> threading.Event:
        """Go away now and come back after `down_for` seconds; the Event is set when back."""
        return self._server.restart(down_for)

    # -- calls and faults ----------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A copy of every call answered since the last reset, in arrival order."""
        return self._calls.snapshot()

    def operations(self, service: str | None = None) -> list[str]:
        """Return the operation names called so far (of `service`, or all), in order."""
        return [c.operation for c in self._calls.snapshot() if service in (None, c.service)]

    def calls_to(self, operation: str) -> list[Call]:
        """Return the calls to one operation, in order."""
        return [c for c in self._calls.snapshot() if c.operation == operation]

    def clear_calls(self) -> None:
        """Forget the calls so far (e.g. after test setup)."""
        self._calls.clear()

    def wait_for_calls(self, operation: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls to `operation` arrived; raise TimeoutError otherwise."""
        return self._calls.wait_for(operation, count, timeout)

    def inject(self, fault: Fault) -> Fault:
        """Add a fault rule (see `Fault`); returns it for readability at the call site."""
        self._faults.add(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every fault rule."""
        self._faults.clear()

    def set_log_quota(self, calls_per_second: int | None) -> None:
        """Throttle GetLogEvents beyond `calls_per_second` in any sliding second, counted over
        every client as AWS counts the account's quota (about 10); None turns the quota off.

        A throttled call gets ThrottlingException and is recorded with `fault="throttle"`.
        """
        self._log_quota.set(calls_per_second)

    # -- the fake ECS agent ----------------------------------------------------------------

    def script(self, family: str, timeline: Timeline) -> None:
        """Make later tasks of task-definition family `family` follow `timeline`."""
        self.agent.script(family, timeline)

    def use_log_driver(self, driver: LogDriver | None) -> None:
        """Model the awslogs driver for tasks started from now on (None: immediate writes)."""
        self.agent.log_driver = driver

    def script_default(self, timeline: Timeline) -> None:
        """Set the timeline of families without a script of their own."""
        self.agent.default_timeline = timeline

    def task_record(self, task: str) -> TaskRecord:
        """Return what the agent did to a task (ARN or id) so far, with times."""
        return self.agent.record(task)

    def task_records(self) -> list[TaskRecord]:
        """Return the records of every task started since the last reset."""
        return self.agent.records()

    def wait_until_status(self, task: str, status: str, timeout: float = 5.0) -> TaskRecord:
        """Block until a task reached (or passed) lastStatus `status`; raise TimeoutError."""
        return self.agent.wait_until_status(task, status, timeout)

    def wait_for_lines(self, task: str, count: int, timeout: float = 5.0) -> TaskRecord:
        """Block until `count` log lines of a task were written; raise TimeoutError."""
        return self.agent.wait_for_lines(task, count, timeout)

    def wait_for_tasks(
        self, family: str | None = None, count: int = 1, timeout: float = 5.0
    ) -> list[str]:
        """Block until `count` tasks (of `family`) were started; return their ARNs."""
        return self.agent.wait_for_tasks(family, count, timeout)
