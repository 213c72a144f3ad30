"""Output: container lines on stdout as written, the tool's events redacted on stderr."""

from __future__ import annotations

import io
import json

import structlog

from ecs_one_off_task.config import LogFormat
from ecs_one_off_task.output import REDACTED, LineWriter, Redactor, configure_logging


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
