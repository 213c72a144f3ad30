"""A child process whose stdout is a pipe read by a thread that timestamps lines on arrival.

This is how CI sees the tool: stdout is a pipe, and a line exists for the reader when a read
returns it. The reader thread blocks in `os.read` and stamps everything one read returns with
the same `time.monotonic()` (the agent's clock: same process, same clock), so a line's arrival
time is when the harness could first see it.

The command is started through `bench/spawn.py`, which forks it from a small process, reaps it
with `os.wait4` and reports that process's own resource usage (peak RSS, user and system CPU) and
the moment it exited: started straight from the bench process, the tool would be charged the
bench's own RSS (see spawn.py), and `RUSAGE_CHILDREN` would mix every child reaped so far.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_READ_SIZE = 1 << 20
_SPAWNER = Path(__file__).with_name("spawn.py")


@dataclass(frozen=True)
class Arrival:
    """One line of the child's stdout and when the harness read it."""

    at: float
    line: str


@dataclass(frozen=True)
class Usage:
    """The child's own resource usage, from os.wait4."""

    user_seconds: float
    system_seconds: float
    max_rss_mib: float

    @property
    def cpu_seconds(self) -> float:
        """User plus system CPU seconds."""
        return self.user_seconds + self.system_seconds


@dataclass(frozen=True)
class Finished:
    """What one child process did."""

    command: tuple[str, ...]
    spawned_at: float
    """time.monotonic() just before the fork."""
    exited_at: float
    """time.monotonic() when os.wait4 returned (the child had exited)."""
    exit_code: int
    usage: Usage
    line_count: int
    first_line_at: float | None
    last_line_at: float | None
    last_line: str | None
    stdout_crc32: int
    arrivals: tuple[Arrival, ...]
    """Every line with its arrival time, when the run kept them (empty otherwise)."""
    stderr: str
    timed_out: bool


@dataclass
class _Reading:
    keep_lines: bool
    count: int = 0
    first_at: float | None = None
    last_at: float | None = None
    last_line: bytes | None = None
    crc: int = 0
    carry: bytes = b""
    arrivals: list[Arrival] = field(default_factory=list)

    def take(self, chunk: bytes, now: float) -> None:
        self.crc = zlib.crc32(chunk, self.crc)
        data = self.carry + chunk
        end = data.rfind(b"\n")
        if end < 0:
            self.carry = data
            return
        self.carry = data[end + 1 :]
        complete = data[:end]
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        if self.keep_lines:
            lines = complete.split(b"\n")
            self.count += len(lines)
            self.arrivals.extend(Arrival(now, line.decode("utf-8", "replace")) for line in lines)
            self.last_line = lines[-1]
        else:
            self.count += complete.count(b"\n") + 1
            self.last_line = complete[complete.rfind(b"\n") + 1 :]


class ChildRun:
    """Start a command (through bench/spawn.py) with stdout and stderr as pipes.

    `result()` waits for it and reports. The command's times and resource usage come from
    the spawner, which forked it and reaped it; the harness only reads its pipes.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        keep_lines: bool,
    ) -> None:
        """Start the command now."""
        self.command = tuple(command)
        self._reading = _Reading(keep_lines=keep_lines)
        self._stderr = bytearray()
        self._report = bytearray()
        self._child_pid: int | None = None
        report_read, report_write = os.pipe()
        try:
            self._process = subprocess.Popen(
                (sys.executable, "-S", str(_SPAWNER), str(report_write), *self.command),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(report_write,),
            )
        finally:
            os.close(report_write)
        self._threads = [
            threading.Thread(target=self._read_stdout, name="bench-stdout", daemon=True),
            threading.Thread(target=self._read_stderr, name="bench-stderr", daemon=True),
            threading.Thread(
                target=self._read_report, args=(report_read,), name="bench-report", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _report_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in bytes(self._report).splitlines()]

    def _read_stdout(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None  # noqa: S101 - stdout=PIPE
        descriptor = stdout.fileno()
        while True:
            chunk = os.read(descriptor, _READ_SIZE)
            now = time.monotonic()
            if not chunk:
                break
            self._reading.take(chunk, now)
        stdout.close()

    def _read_stderr(self) -> None:
        stderr = self._process.stderr
        assert stderr is not None  # noqa: S101 - stderr=PIPE
        descriptor = stderr.fileno()
        while chunk := os.read(descriptor, _READ_SIZE):
            self._stderr += chunk
        stderr.close()

    def _read_report(self, descriptor: int) -> None:
        try:
            while chunk := os.read(descriptor, 4096):
                self._report += chunk
                if b"\n" in self._report and self._child_pid is None:
                    self._child_pid = int(self._report_lines()[0]["pid"])
        finally:
            os.close(descriptor)

    def kill(self) -> None:
        """SIGKILL the command (only it, by its pid) if it still runs.

        Before the spawner has said which pid the command has, kill the spawner instead.
        """
        if self._child_pid is None:
            self._process.kill()
        elif self._report.count(b"\n") < 2:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._child_pid, signal.SIGKILL)

    def result(self, timeout: float) -> Finished:
        """Wait up to `timeout` seconds for the exit (then kill it) and for the pipes' EOF."""
        try:
            self._process.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            self.kill()
            self._process.wait()
        for thread in self._threads:
            thread.join()
        lines = self._report_lines()
        if len(lines) != 2:
            raise RuntimeError(
                f"the spawner did not report on {self.command[0]} "
                f"(exit {self._process.returncode}): {self._stderr.decode(errors='replace')}"
            )
        started, done = lines
        reading = self._reading
        return Finished(
            command=self.command,
            spawned_at=float(started["spawned_at"]),
            exited_at=float(done["exited_at"]),
            exit_code=int(done["status"]),
            usage=Usage(
                user_seconds=float(done["user"]),
                system_seconds=float(done["system"]),
                max_rss_mib=int(done["max_rss_kib"]) / 1024,
            ),
            line_count=reading.count,
            first_line_at=reading.first_at,
            last_line_at=reading.last_at,
            last_line=None if reading.last_line is None else reading.last_line.decode(),
            stdout_crc32=reading.crc,
            arrivals=tuple(reading.arrivals),
            stderr=self._stderr.decode("utf-8", "replace"),
            timed_out=timed_out,
        )
