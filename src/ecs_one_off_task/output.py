"""Everything the tool writes: container lines on stdout, its own events on stderr.

stdout carries only the container's lines so a pipeline can capture or grep them; the tool's
own events go through structlog to stderr, readable on a terminal and one JSON object a line
otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, MutableMapping, Sequence
from typing import IO, Any, TextIO

import structlog

from ecs_one_off_task.config import LogFormat

REDACTED = "********"
# Shorter values (a "1", "true") would blank out ordinary words in the tool's own messages.
_MIN_REDACTED_LENGTH = 4


class LineWriter:
    """Writes each page of container lines to stdout as one write, flushed at once.

    In CI stdout is a pipe, which Python block-buffers: without the flush, lines would show up
    minutes late. A page is written as one buffer so a large backlog costs one system call per
    page, not one per line. A reader that goes away (`| head`) is not an error: the run goes on
    to the task's end and its exit code; the lines are dropped.
    """

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        """Write to `stream` (default: the process's binary stdout)."""
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._is_stdout = stream is None
        self.closed = False

    def __call__(self, messages: Sequence[str]) -> None:
        """Write one page: each message is one line, byte-exact."""
        if self.closed or not messages:
            return
        data = ("\n".join(messages) + "\n").encode("utf-8", "backslashreplace")
        try:
            self._stream.write(data)
            self._stream.flush()
        except BrokenPipeError:
            self.closed = True
            if self._is_stdout:
                _silence_stdout()


def _silence_stdout() -> None:
    # Python flushes stdout again at exit and would complain about the broken pipe.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


class Redactor:
    """A structlog processor that blanks out secret values wherever they appear in an event."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        """Start with `secrets`; `add` can add more once the reference is read."""
        self._secrets: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Never print these values again."""
        self._secrets.update(s for s in secrets if len(s) >= _MIN_REDACTED_LENGTH)

    def __call__(
        self,
        _logger: object,
        _name: str,
        event: MutableMapping[str, Any],
    ) -> MutableMapping[str, Any]:
        """Redact every string value of the event."""
        if self._secrets:
            for key, value in event.items():
                event[key] = self._scrub(value)
        return event

    def _scrub(self, value: Any) -> Any:  # noqa: ANN401 - any event value
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v) for v in value)
        if isinstance(value, dict):
            return {k: self._scrub(v) for k, v in value.items()}
        return value


class Outage:
    """Tells once that AWS calls of one kind fail and are retried, and once that they work again.

    During throttling or an outage the watcher and follower retry every few seconds; one line
    per retry would bury the container's output.
    """

    def __init__(self, waiting_for: str) -> None:
        """`waiting_for` names what the retried calls bring, e.g. "task status"."""
        self.waiting_for = waiting_for
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        """A call failed and will be retried."""
        self.failures += 1
        if self.failures == 1:
            structlog.get_logger("ecs_one_off_task").warning(
                f"{self.waiting_for} unavailable: retrying", error=str(error)
            )

    def recovered(self) -> None:
        """A call worked."""
        if self.failures:
            structlog.get_logger("ecs_one_off_task").info(
                f"{self.waiting_for} available again", failed_calls=self.failures
            )
            self.failures = 0


class Slowdown:
    """Tells once that throttling slowed a kind of call down, and once that its pace is normal.

    In a crowd of runs sharing the account's quota, throttling comes and goes every few seconds;
    a line per throttled call would bury the container's output, and say nothing new.
    """

    def __init__(self, calls: str) -> None:
        """`calls` names the paced calls, e.g. "log reads (GetLogEvents)"."""
        self.calls = calls

    def slowed(self, every: float, error: BaseException) -> None:
        """Throttling has just lengthened the pace to a call every `every` seconds."""
        structlog.get_logger("ecs_one_off_task").warning(
            f"{self.calls} throttled by AWS: slowing down to share the account's quota",
            every_seconds=round(every, 2),
            error=str(error),
        )

    def normal(self, every: float) -> None:
        """The pace is back to a call every `every` seconds, the configured interval."""
        structlog.get_logger("ecs_one_off_task").info(
            f"{self.calls} back to their normal pace", every_seconds=round(every, 2)
        )


def configure_logging(
    log_format: LogFormat, redactor: Redactor, stream: TextIO | None = None
) -> None:
    """Send the tool's events to stderr: console on a terminal, JSON lines otherwise."""
    target = stream if stream is not None else sys.stderr
    use_console = log_format is LogFormat.CONSOLE or (
        log_format is LogFormat.AUTO and target.isatty()
    )
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=target.isatty())
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            # A person reading a terminal wants the time of day; a log pipeline wants ISO 8601.
            structlog.processors.TimeStamper(
                fmt="%H:%M:%S" if use_console else "iso", utc=not use_console
            ),
            redactor,
            renderer,
        ],
        logger_factory=structlog.PrintLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
