"""Output: container lines on stdout as written, the tool's events redacted on stderr."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import structlog

from ecs_one_off_task.config import LogFormat, Verbosity
from ecs_one_off_task.output import (
    REDACTED,
    LineWriter,
    Redactor,
    configure_logging,
    resolve_format,
    timestamped,
    write_atomically,
)


class TestLineWriter:
    def test_one_write_and_flush_per_page(self) -> None:
        """A page is written as one buffer of lines, each message followed by a newline."""
        sink = io.BytesIO()
        LineWriter(sink)(["a", "", "multi\nline", "🚀"])
        assert sink.getvalue() == "a\n\nmulti\nline\n🚀\n".encode()

    def test_closed_reader_is_not_an_error(self) -> None:
        """A reader that went away (`| head`) makes the writer drop lines instead of failing."""

        class Closed(io.BytesIO):
            def write(self, _data: object) -> int:
                raise BrokenPipeError

        writer = LineWriter(Closed())
        try:
            writer(["x"])
        except BrokenPipeError:  # pragma: no cover - the failure this test guards against
            raise AssertionError("BrokenPipeError escaped") from None
        assert writer.closed
        writer(["y"])  # dropped, no error


class TestRedaction:
    def test_secret_values_never_reach_stderr(self) -> None:
        """A planted value is replaced wherever it appears in an event, names are kept."""
        sink = io.StringIO()
        redactor = Redactor()
        configure_logging(LogFormat.JSON, redactor, sink)
        redactor.add(["s3cr3t-value", "ab"])
        structlog.get_logger().info(
            "connecting with s3cr3t-value", env={"DB_PASSWORD": "s3cr3t-value"}, short="ab"
        )
        event = json.loads(sink.getvalue())
        assert "s3cr3t-value" not in sink.getvalue()
        assert event["event"] == f"connecting with {REDACTED}"
        assert event["env"] == {"DB_PASSWORD": REDACTED}
        assert event["short"] == "ab"


class TestFormats:
    @pytest.mark.parametrize(
        ("asked", "terminal", "environ", "chosen", "colour"),
        [
            (LogFormat.AUTO, True, {}, LogFormat.CONSOLE, True),
            (LogFormat.AUTO, False, {}, LogFormat.PLAIN, False),
            (LogFormat.AUTO, True, {"NO_COLOR": "1"}, LogFormat.CONSOLE, False),
            (LogFormat.AUTO, False, {"FORCE_COLOR": "1"}, LogFormat.CONSOLE, True),
            (LogFormat.AUTO, True, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, LogFormat.CONSOLE, False),
            (LogFormat.AUTO, False, {"NO_COLOR": ""}, LogFormat.PLAIN, False),
            (LogFormat.CONSOLE, False, {}, LogFormat.CONSOLE, False),
            (LogFormat.JSON, True, {"FORCE_COLOR": "1"}, LogFormat.JSON, False),
            (LogFormat.PLAIN, True, {"FORCE_COLOR": "1"}, LogFormat.PLAIN, False),
        ],
    )
    def test_auto_and_the_colour_conventions(
        self,
        asked: LogFormat,
        terminal: bool,
        environ: dict[str, str],
        chosen: LogFormat,
        colour: bool,
    ) -> None:
        """auto: coloured console on a terminal, plain text off one; NO_COLOR (set, not empty)
        turns colour off and wins over FORCE_COLOR, which turns it on off a terminal too."""
        assert resolve_format(asked, on_terminal=terminal, environ=environ) == (chosen, colour)


class TestPlainRenderer:
    def test_time_sentence_and_pairs_on_one_line(self) -> None:
        """One line: time, level when not info, sentence, key=value pairs; strings with spaces
        quoted, lists in brackets, None left out, `said` values left to JSON."""
        sink = io.StringIO()
        configure_logging(LogFormat.PLAIN, Redactor(), sink)
        log = structlog.get_logger()
        log.info(
            "PENDING after 12 s in PROVISIONING",
            said={"status": "PENDING"},
            reason="Essential container in task exited",
            names=["A", "B"],
            missing=None,
            count=3,
        )
        log.warning("the task will be stopped in 1m 00s")
        first, second = sink.getvalue().splitlines()
        assert first[8:] == (
            ' PENDING after 12 s in PROVISIONING reason="Essential container in task exited"'
            " names=[A,B] count=3"
        )
        assert second[8:] == " warning: the task will be stopped in 1m 00s"
        assert first[:8].count(":") == 2

    def test_json_keeps_what_the_sentence_said(self) -> None:
        """JSON has the sentence and, as fields of their own, the values it says."""
        sink = io.StringIO()
        configure_logging(LogFormat.JSON, Redactor(), sink)
        structlog.get_logger().info("PENDING after 12 s", said={"status": "PENDING"}, n=1)
        event = json.loads(sink.getvalue())
        assert (event["event"], event["status"], event["n"]) == ("PENDING after 12 s", "PENDING", 1)
        assert "said" not in event

    @pytest.mark.parametrize(
        ("verbosity", "shown"),
        [
            (Verbosity.QUIET, ["warning", "error"]),
            (Verbosity.NORMAL, ["info", "warning", "error"]),
            (Verbosity.VERBOSE, ["debug", "info", "warning", "error"]),
        ],
    )
    def test_quiet_and_verbose(self, verbosity: Verbosity, shown: list[str]) -> None:
        """-q keeps warnings and errors; -v adds debug events."""
        sink = io.StringIO()
        configure_logging(LogFormat.JSON, Redactor(), sink, verbosity=verbosity)
        log = structlog.get_logger()
        for level in ("debug", "info", "warning", "error"):
            getattr(log, level)(level)
        assert [json.loads(line)["level"] for line in sink.getvalue().splitlines()] == shown


class TestTimestamps:
    def test_iso_8601_utc_milliseconds(self) -> None:
        """--timestamps puts the event's time before the line: UTC, milliseconds, a Z."""
        assert timestamped(1_795_000_000_123, "migrating") == "2026-11-18T11:06:40.123Z migrating"
        assert timestamped(1_795_000_000_001, "x").startswith("2026-11-18T11:06:40.001Z")


class TestSummaryFile:
    def test_written_whole_then_renamed(self, tmp_path: Path) -> None:
        """The file is replaced at once, readable by others, with no temporary left behind."""
        target = tmp_path / "summary.json"
        target.write_text("old")
        write_atomically(target, '{"exit_code": 0}\n')
        assert target.read_text() == '{"exit_code": 0}\n'
        assert target.stat().st_mode & 0o777 == 0o644
        assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
