"""Everything the tool writes: container lines on stdout, its own events on stderr.

stdout carries only the container's lines so a pipeline can capture or grep them; the tool's
own events go through structlog to stderr: coloured columns on a terminal, plain text (time,
sentence, key=value pairs) where a person reads a CI log, one JSON object a line when asked.

An event is a sentence a person reads ("PENDING after 12 s in PROVISIONING"). Values the
sentence already says (or the end lines do) are passed as `said={...}`: JSON gets them as fields
of their own, the text formats do not repeat them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TextIO

import structlog

from ecs_one_off_task.config import LogFormat, Verbosity

REDACTED = "********"
# In the tool's sentences only values that can be secrets are masked: shorter ones ("info",
# "debug") and single lowercase words ("production", "development") would blank out ordinary
# words, and the names of clusters, families and log groups made of them. Values printed as
# values (--dry-run) are masked whatever they are.
_MIN_REDACTED_LENGTH = 8
_PLAIN_WORD = re.compile(r"[a-z]{1,15}")


def secret_like(value: str) -> bool:
    """Whether `value` is masked in free text: 8 characters or more, and not one plain word."""
    return len(value) >= _MIN_REDACTED_LENGTH and not _PLAIN_WORD.fullmatch(value)


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
        self._secrets.update(s for s in secrets if secret_like(s))

    def __call__(
        self,
        _logger: object,
        _name: str,
        event: MutableMapping[str, Any],
    ) -> MutableMapping[str, Any]:
        """Redact every string value of the event."""
        if self._secrets:
            for key, value in event.items():
                event[key] = self.scrub(value)
        return event

    def scrub(self, value: Any) -> Any:  # noqa: ANN401 - any event or summary value
        """`value` with every secret replaced, looking into lists, tuples and dicts."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            for secret in self._secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
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


def colour_wanted(*, on_terminal: bool, environ: Mapping[str, str]) -> bool:
    """Colour on a terminal, unless NO_COLOR; and off one too when FORCE_COLOR says so.

    Both conventions (no-color.org, force-color.org) count a variable that is set and not
    empty, whatever its value. NO_COLOR wins when both are set, as in CPython.
    """
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return on_terminal


def resolve_format(
    log_format: LogFormat, *, on_terminal: bool, environ: Mapping[str, str]
) -> tuple[LogFormat, bool]:
    """The format `auto` stands for here, and whether it is coloured.

    auto is console on a terminal (or when FORCE_COLOR asks for colour: a CI log that renders
    colour), plain text otherwise. JSON and plain are never coloured.
    """
    colour = colour_wanted(on_terminal=on_terminal, environ=environ)
    if log_format is LogFormat.AUTO:
        log_format = LogFormat.CONSOLE if on_terminal or colour else LogFormat.PLAIN
    return log_format, colour and log_format is LogFormat.CONSOLE


class PlainRenderer:
    """One line per event for a person reading a CI log: time, sentence, key=value pairs.

    No colour and no padding; warnings and errors say so before the sentence; values that are
    empty (None) are left out; a value with spaces or quotes is written as a JSON string.
    """

    def __call__(self, _logger: object, _name: str, event: MutableMapping[str, Any]) -> str:
        """Render one event."""
        parts = []
        timestamp = event.pop("timestamp", None)
        if timestamp:
            parts.append(str(timestamp))
        level = event.pop("level", "info")
        if level != "info":
            parts.append(f"{level}:")
        parts.append(str(event.pop("event", "")))
        parts.extend(f"{key}={_plain(value)}" for key, value in event.items() if value is not None)
        return " ".join(parts)


def _plain(value: Any) -> str:  # noqa: ANN401 - any event value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_plain(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)
    text = str(value)
    if not text or any(c.isspace() or c in "\"'=" for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def _said(*, keep: bool) -> structlog.types.Processor:
    """Fields passed as `said={...}`: merged into the event for JSON, dropped for text."""

    def process(_logger: object, _name: str, event: MutableMapping[str, Any]) -> Any:  # noqa: ANN401
        said = event.pop("said", None)
        if keep and said:
            event.update(said)
        return event

    return process


_LEVELS = {
    Verbosity.QUIET: logging.WARNING,
    Verbosity.NORMAL: logging.INFO,
    Verbosity.VERBOSE: logging.DEBUG,
}


def configure_logging(
    log_format: LogFormat,
    redactor: Redactor,
    stream: TextIO | None = None,
    *,
    verbosity: Verbosity = Verbosity.NORMAL,
    environ: Mapping[str, str] | None = None,
) -> LogFormat:
    """Send the tool's events to stderr in `log_format`; return the format `auto` came to."""
    target = stream if stream is not None else sys.stderr
    on_terminal = target.isatty()
    chosen, colour = resolve_format(
        log_format, on_terminal=on_terminal, environ=os.environ if environ is None else environ
    )
    renderer: Any
    if chosen is LogFormat.CONSOLE:
        renderer = structlog.dev.ConsoleRenderer(colors=colour)
    elif chosen is LogFormat.PLAIN:
        renderer = PlainRenderer()
    else:
        renderer = structlog.processors.JSONRenderer()
    human = chosen is not LogFormat.JSON
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            # A person reading a terminal or a CI log wants the time of day; a log pipeline
            # wants ISO 8601.
            structlog.processors.TimeStamper(fmt="%H:%M:%S" if human else "iso", utc=not human),
            redactor,
            _said(keep=not human),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[verbosity]),
        logger_factory=structlog.PrintLoggerFactory(file=target),
        cache_logger_on_first_use=False,
    )
    return chosen


def timestamped(timestamp_ms: int, message: str) -> str:
    """`message` after its event's timestamp: ISO 8601, UTC, milliseconds (--timestamps)."""
    # Whole seconds and milliseconds apart: ms / 1000 as a float can round down a millisecond.
    seconds, millis = divmod(timestamp_ms, 1000)
    instant = datetime.fromtimestamp(seconds, tz=UTC) + timedelta(milliseconds=millis)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z") + " " + message


def write_atomically(path: str | Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the whole new one.

    Written to a temporary file in the same directory (same file system), then renamed.
    """
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o644)  # mkstemp's 0600 would hide it from other readers
            file.write(text)
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
