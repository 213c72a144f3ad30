"""`make bench`: measure ecs-one-off-task against the local AWS emulator; write bench/RESULTS.md.

Run from the repository root: `.venv/bin/python -m bench.run` (what `make bench` does). It needs
no AWS account: the emulator of tests/emulator (moto over HTTP plus a fake ECS agent) runs in this
process, and the tool runs as a real child process, `.venv/bin/ecs-one-off-task`, pointed at it
through AWS_ENDPOINT_URL, with the tool's default options unless a figure names a flag. Each run
uses a task name (task-definition family) of its own. stdout of the tool is a pipe read by a
thread of this process that timestamps each line with time.monotonic() when a read returns it
(bench.harness), the clock the fake agent stamps its PutLogEvents with.

The figures (each over 3 runs or more; RESULTS.md gives the median and the min - max spread):

per-line latency
    A task prints 60 lines, one every 0.5 s for 30 s. For each line: its arrival on the tool's
    stdout minus the moment the agent's PutLogEvents of it returned (LineRecord.
    written_monotonic). p50, p95 (linear interpolation) and max per run.
    Target: p95 <= --log-interval + 0.25 s.
time to first line
    The same runs: the first line's arrival minus its PutLogEvents. Target <= 1.25 s.
exit latency
    The same runs and the silent runs (they all end on their own, without late lines).
    "STOPPED observed" is the arrival at the emulator of the tool's DescribeTasks call that
    answered STOPPED (its last one: the watcher stops polling there); "stoppedAt" is when the
    agent made the task STOPPED. Reported raw (exit - observed) and as the target counts it:
    exit - max(observed, stoppedAt + drain grace), the tool being asked to read until the stream
    has been quiet for the drain grace counted from stoppedAt. Exit is when os.wait4 returned
    for the tool's process. Target (the second) <= 1.0 s.
start-up
    The moment the tool's process was forked -> the emulator received its RunTask (the reference
    task definition is already registered; the tool still reads it, checks the cluster,
    registers its own revision and creates its log group first). From the latency and silent
    runs, which start 1.5 s apart so that no two start-ups share the CPU. Target <= 1.5 s.
throughput
    A stream already holding 1,000,000 lines of 80 bytes (put straight into moto's backend, and
    paged by an equivalent GetLogEvents that does not sort on every call: see bench.backlog).
    The tool with --log-rate-limit 0 reads it: lines / (arrival of the last line on stdout -
    the first GetLogEvents call that returned events). Right after, in the same round,
    bench.rawpager pages the same stream with a bare aioboto3 forward-token loop, timed the same
    way (its end is the arrival of the "done" line it prints after the last page). The ratio
    tool / raw is the figure; target >= 0.8. The tool's lines/s at the default rate limit
    (--log-rate-limit default: at most 5 calls/s, i.e. 50,000 lines/s) is reported too.
memory
    Peak RSS (ru_maxrss of the tool's own process, via os.wait4 in bench/spawn.py) at 10,000 and
    at 1,000,000 lines, default options; the ratio pairs run i of each. Targets: <= 80 MiB,
    ratio <= 1.2.
CPU
    User + system CPU seconds of the tool's process per 100,000 lines printed, from the
    1,000,000-line runs at default options (start-up included). The marginal cost (1M-line
    run minus the 10k-line run, per 100,000 extra lines) is reported too. Target <= 1.0 s.
API economy
    A task that prints nothing for 121 s. Counted from RUNNING: DescribeTasks calls per minute
    over the 120 s, GetLogEvents calls in the first minute and in the second (by then the tool
    has seen no new line for over a minute). Targets: DescribeTasks = 60 / --poll-interval
    (+-0.5: a 60 s window can catch one call more or less), GetLogEvents <= 60 in the first
    minute and <= 20 in the second.

Scheduling (under 5 minutes on 2 cores): the silent runs (~2.3 min) and the latency runs
(~45 s) are mostly waiting and run concurrently, started 1.5 s apart. The CPU-heavy runs
(10k-line, 1M-line and raw-loop passes) start once the latency runs are over, one at a time
(the three 10k-line runs together: one page each), while the silent runs go on: those only count
calls, paced by the tool's own timers, which a busy CPU moves by milliseconds.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import shlex
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from typing import TypeVar

from tests.emulator import Call, Emulator, TaskRecord, Timeline, lines_every, seed_reference

from bench import crowd, driver
from bench.backlog import (
    Backlog,
    Served,
    ServedCalls,
    build_backlog,
    check_equivalence,
    fill_stream,
)
from bench.common import REPO_ROOT, RESULTS, TOOL, cpu_model, git, say, tool_arguments
from bench.harness import ChildRun, Finished
from bench.report import Figure, Table, render
from bench.stats import percentile, spread
from ecs_one_off_task.options import build_parser

RUNS = 3
STAGGER = 1.5
"""Seconds between the starts of the concurrent runs: a start-up takes ~0.6 s of CPU."""
LATENCY_LINES = 60
LATENCY_SPACING = 0.5
SILENT_FOR = 121.0
MINUTE = 60.0
BACKLOG_LINES = 1_000_000
SMALL_LINES = 10_000
PER_LINES = 100_000
"""CPU is reported per this many lines."""

LATENCY_TIMELINE = Timeline(
    provisioning=1.0,
    pending=1.0,
    lines=lines_every(
        LATENCY_LINES, LATENCY_SPACING, start=LATENCY_SPACING, fmt="latency line {i}"
    ),
    runs_for=LATENCY_LINES * LATENCY_SPACING + 0.5,
    stopping=0.5,
)
"""1 s PROVISIONING, 1 s PENDING, then a line every 0.5 s for 30 s, exit 0, STOPPED 0.5 s later."""
SILENT_TIMELINE = Timeline(provisioning=1.0, pending=1.0, runs_for=SILENT_FOR, stopping=0.5)
"""RUNNING (the stream exists, empty) for 121 s without a line, then exit 0."""
BACKLOG_TIMELINE = Timeline(provisioning=0.5, runs_for=0.5, stopping=0.2)
"""The container exits at once: the backlog is in the stream before the tool can read it (the
bench fills it during PROVISIONING) and the tool drains it after seeing STOPPED."""

LATENCY_TIMEOUT = 120.0
SILENT_TIMEOUT = 240.0
BACKLOG_TIMEOUT = 150.0
TASK_TIMEOUT = 30.0

T = TypeVar("T")


@dataclass(frozen=True)
class Defaults:
    """The tool's defaults, read from its own option parser."""

    poll_interval: float
    log_interval: float
    drain_grace: float
    log_rate_limit: float

    @classmethod
    def of_tool(cls) -> Defaults:
        """Read the defaults from the tool's parser, so the targets follow them."""
        parser = build_parser()
        return cls(
            poll_interval=float(parser.get_default("poll_interval")),
            log_interval=float(parser.get_default("log_interval")),
            drain_grace=float(parser.get_default("drain_grace")),
            log_rate_limit=float(parser.get_default("log_rate_limit")),
        )


@dataclass(frozen=True)
class ToolRun:
    """One run of the tool: what the process did, what the agent did, the calls it made."""

    kind: str
    task_name: str
    arguments: tuple[str, ...]
    finished: Finished
    record: TaskRecord
    run_task: Call
    describe_tasks: tuple[Call, ...]
    get_log_events: tuple[Call, ...]
    served: Served | None
    """Backlog runs: the calls the filled stream answered during the run."""
    problems: tuple[str, ...]
    stream: ServedCalls | None = None
    """Backlog runs: the filled stream's live counters (reset by the raw pass that follows)."""

    @property
    def startup(self) -> float:
        """Process forked -> RunTask received."""
        return self.run_task.at - self.finished.spawned_at

    def exit_latency(self, grace: float) -> tuple[float, float]:
        """(exit - STOPPED observed, exit - max(observed, stoppedAt + grace))."""
        stopped = self.record.stopped
        if stopped is None or not self.describe_tasks:
            raise ValueError(f"{self.task_name}: the task never stopped")
        observed = self.describe_tasks[-1].at
        exited = self.finished.exited_at
        return exited - observed, exited - max(observed, stopped.monotonic + grace)

    def latencies(self) -> list[float]:
        """Per line: arrival on stdout - PutLogEvents, in stream order."""
        written = {line.message: line.written_monotonic for line in self.record.lines}
        return [a.at - written[a.line] for a in self.finished.arrivals if a.line in written]


@dataclass(frozen=True)
class RawRun:
    """One pass of bench.rawpager over a stream."""

    finished: Finished
    first_call_at: float
    lines: int
    after: ToolRun
    """The tool's pass over the same stream, just before, in the same round."""

    @property
    def lines_per_second(self) -> float:
        """Events / (the "done" line's arrival - the first call that returned events)."""
        assert self.finished.last_line_at is not None  # noqa: S101 - checked at creation
        return self.lines / (self.finished.last_line_at - self.first_call_at)


@dataclass
class Results:
    """Everything measured, filled in as runs end (by several threads)."""

    latency: list[ToolRun] = field(default_factory=list)
    silent: list[ToolRun] = field(default_factory=list)
    small: list[ToolRun] = field(default_factory=list)
    unlimited: list[ToolRun] = field(default_factory=list)
    default_rate: list[ToolRun] = field(default_factory=list)
    raw: list[RawRun] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_problems(self, problems: Sequence[str]) -> None:
        """Note what went wrong (thread-safe)."""
        with self.lock:
            self.problems.extend(problems)


def throughput(run: ToolRun) -> float:
    """The tool's lines/s: lines / (last line's arrival - first GetLogEvents with events)."""
    assert run.served is not None  # noqa: S101 - backlog runs only
    assert run.served.first_at is not None  # noqa: S101 - checked at creation
    assert run.finished.last_line_at is not None  # noqa: S101 - checked at creation
    return run.finished.line_count / (run.finished.last_line_at - run.served.first_at)


def calls_per_window(calls: Sequence[Call], start: float, length: float) -> int:
    """How many of `calls` arrived in [start, start + length)."""
    return sum(1 for c in calls if start <= c.at < start + length)


class Bench:
    """Runs the tool against one emulator and checks each run."""

    def __init__(self, emu: Emulator, defaults: Defaults) -> None:
        """Use `emu` (already seeded with the reference "myapp")."""
        self.emu = emu
        self.defaults = defaults
        self.suffix = uuid.uuid4().hex[:6]
        self.results = Results()

    def tool(
        self,
        kind: str,
        index: int,
        timeline: Timeline,
        *,
        extra: Sequence[str] = (),
        keep_lines: bool = False,
        backlog: Backlog | None = None,
        timeout: float,
    ) -> ToolRun:
        """Run the tool once for a task following `timeline`; check and return the run."""
        name = f"bench-{kind}-{index}-{self.suffix}"
        self.emu.script(name, timeline)
        arguments = tool_arguments(name, extra)
        child = ChildRun(
            (str(TOOL), *arguments),
            env=self.emu.subprocess_env(),
            cwd=REPO_ROOT,
            keep_lines=keep_lines,
        )
        served: ServedCalls | None = None
        try:
            arn = self.emu.wait_for_tasks(name, 1, timeout=TASK_TIMEOUT)[0]
            if backlog is not None:
                started = self.emu.task_record(arn)
                assert started.log_group is not None  # noqa: S101 - awslogs in the reference
                assert started.log_stream is not None  # noqa: S101 - same
                served = fill_stream(self.emu, started.log_group, started.log_stream, backlog)
        except BaseException:
            child.kill()
            child.result(timeout=10)
            raise
        finished = child.result(timeout)
        record = self.emu.task_record(arn)
        calls = self.emu.calls
        family = f"task-definition/{name}:"
        run_task = [
            c
            for c in calls
            if c.operation == "RunTask" and family in c.params.get("taskDefinition", "")
        ]
        describe = [
            c for c in calls if c.operation == "DescribeTasks" and arn in c.params.get("tasks", ())
        ]
        reads = [
            c
            for c in calls
            if c.operation == "GetLogEvents"
            and c.params.get("logStreamName") == record.log_stream
            and c.params.get("logGroupName") == record.log_group
        ]
        run = ToolRun(
            kind=kind,
            task_name=name,
            arguments=arguments,
            finished=finished,
            record=record,
            run_task=run_task[0],
            describe_tasks=tuple(describe),
            get_log_events=tuple(reads),
            served=None if served is None else served.snapshot(),
            stream=served,
            problems=tuple(self._check(name, finished, record, describe, served, backlog)),
        )
        self.results.add_problems(run.problems)
        return run

    def _check(  # noqa: PLR0917 - private, one call site
        self,
        name: str,
        finished: Finished,
        record: TaskRecord,
        describe: Sequence[Call],
        served: ServedCalls | None,
        backlog: Backlog | None,
    ) -> list[str]:
        problems = []
        if finished.timed_out:
            problems.append(f"{name}: did not exit in time and was killed")
        if finished.exit_code != 0:
            tail = finished.stderr.strip().splitlines()[-3:]
            problems.append(f"{name}: exit code {finished.exit_code}: {' / '.join(tail)}")
        stopped = record.stopped
        if stopped is None:
            problems.append(f"{name}: the task never stopped")
        elif not describe or describe[-1].at < stopped.monotonic - 0.05:
            problems.append(f"{name}: no DescribeTasks call after the task stopped")
        if backlog is not None:
            if (
                finished.line_count != backlog.count
                or finished.stdout_crc32 != backlog.stdout_crc32
            ):
                problems.append(
                    f"{name}: printed {finished.line_count} lines (crc {finished.stdout_crc32:x}),"
                    f" expected {backlog.count} (crc {backlog.stdout_crc32:x})"
                )
            if served is None or served.first_at is None:
                problems.append(f"{name}: the backlog stream was never read")
        elif finished.arrivals or record.lines:
            printed = tuple(a.line for a in finished.arrivals)
            if printed != record.messages:
                problems.append(
                    f"{name}: printed {len(printed)} lines, the task wrote {len(record.lines)}:"
                    " not every line once, in order"
                )
        return problems

    def raw(self, tool_run: ToolRun, backlog: Backlog) -> RawRun:
        """Page the stream `tool_run` read with bench.rawpager; check and return the pass."""
        served, record = tool_run.stream, tool_run.record
        assert served is not None  # noqa: S101 - a backlog run
        assert record.log_group is not None  # noqa: S101 - a backlog run's stream
        assert record.log_stream is not None  # noqa: S101 - same
        served.reset()
        child = ChildRun(
            (sys.executable, "-m", "bench.rawpager", record.log_group, record.log_stream),
            env=self.emu.subprocess_env(),
            cwd=REPO_ROOT,
            keep_lines=False,
        )
        finished = child.result(BACKLOG_TIMEOUT)
        if (
            finished.exit_code != 0
            or finished.last_line != f"done {backlog.count}"
            or served.first_at is None
            or served.events != backlog.count
        ):
            raise RuntimeError(
                f"raw paging loop failed: exit {finished.exit_code}, said {finished.last_line!r},"
                f" served {served.events} events: {finished.stderr.strip()[-500:]}"
            )
        return RawRun(
            finished=finished, first_call_at=served.first_at, lines=backlog.count, after=tool_run
        )

    # -- the schedule ------------------------------------------------------------------------

    def run_all(self, backlog: Backlog, small: Backlog) -> Results:
        """Every run, scheduled to fit in a few minutes (see the module docstring)."""
        results = self.results
        with ThreadPoolExecutor(max_workers=3 * RUNS, thread_name_prefix="bench-run") as pool:
            say(f"starting {RUNS} silent runs ({SILENT_FOR:g} s) and {RUNS} latency runs")
            silent = [
                self._submit(pool, STAGGER, self.tool, "silent", i, SILENT_TIMELINE,
                             timeout=SILENT_TIMEOUT)
                for i in range(1, RUNS + 1)
            ]  # fmt: skip
            latency = [
                self._submit(pool, STAGGER, self.tool, "latency", i, LATENCY_TIMELINE,
                             keep_lines=True, timeout=LATENCY_TIMEOUT)
                for i in range(1, RUNS + 1)
            ]  # fmt: skip
            results.latency = self._collect(latency, "latency")
            say(f"latency runs done; {RUNS} runs of {small.count:,} backlog lines")
            smalls = [
                self._submit(pool, STAGGER, self.tool, "small", i, BACKLOG_TIMELINE,
                             backlog=small, timeout=BACKLOG_TIMEOUT)
                for i in range(1, RUNS + 1)
            ]  # fmt: skip
            results.small = self._collect(smalls, "10k-line")
            for i in range(1, RUNS + 1):
                self._round(i, backlog)
            say("waiting for the silent runs")
            results.silent = self._collect(silent, "silent")
        return results

    def _round(self, i: int, backlog: Backlog) -> None:
        results = self.results
        say(f"round {i}: {backlog.count:,} lines with --log-rate-limit 0, raw loop, defaults")
        try:
            unlimited = self.tool(
                "unlimited", i, BACKLOG_TIMELINE, extra=("--log-rate-limit", "0"),
                backlog=backlog, timeout=BACKLOG_TIMEOUT,
            )  # fmt: skip
            results.unlimited.append(unlimited)
            if unlimited.stream is not None:
                results.raw.append(self.raw(unlimited, backlog))
            results.default_rate.append(
                self.tool("default", i, BACKLOG_TIMELINE, backlog=backlog, timeout=BACKLOG_TIMEOUT)
            )
        except Exception as error:  # noqa: BLE001 - reported, the other rounds still run
            results.add_problems([f"round {i}: {type(error).__name__}: {error}"])

    @staticmethod
    def _submit(
        pool: ThreadPoolExecutor,
        pause: float,
        function: Callable[..., T],
        *args: object,
        **kwargs: object,
    ) -> Future[T]:
        future = pool.submit(function, *args, **kwargs)
        time.sleep(pause)
        return future

    def _collect(self, futures: Sequence[Future[ToolRun]], what: str) -> list[ToolRun]:
        runs = []
        for n, future in enumerate(futures, 1):
            try:
                runs.append(future.result())
            except Exception as error:  # noqa: BLE001 - reported, the other runs still count
                self.results.add_problems([f"{what} run {n}: {type(error).__name__}: {error}"])
        return runs


# -- figures ------------------------------------------------------------------------------------


def _decimal_reading(values: Sequence[float]) -> str:
    """Say how the RSS figure fares if the target's "80 MB" means 80 x 10^6 bytes."""
    if not values:
        return ""
    limit = 80e6 / 2**20
    verdict = "met" if statistics.median(values) <= limit else "missed"
    return f"read as 80 x 10^6 bytes ({limit:.1f} MiB), the target is {verdict}"


class FigureList:
    """The summary table being built: `add` judges a figure against its target."""

    def __init__(self, results: Results) -> None:
        """Start empty; a figure without runs becomes a problem of `results`."""
        self.results = results
        self.figures: list[Figure] = []

    def add(
        self,
        figure_name: str,
        unit: str,
        values: Sequence[float],
        *,
        target: str = "",
        at_most: float | None = None,
        at_least: float | None = None,
        within: tuple[float, float] | None = None,
        note: str = "",
    ) -> None:
        """Add a figure (one value per run); the target is judged on the median."""
        if not values:
            self.results.add_problems([f"no runs for the figure {figure_name!r}"])
            return
        summary = spread(values)
        median = summary.median
        met: bool | None = None
        margin: float | None = None
        if at_most is not None:
            met, margin = median <= at_most, (at_most - median) / at_most
        elif at_least is not None:
            met, margin = median >= at_least, (median - at_least) / at_least
        elif within is not None:
            met = abs(median - within[0]) <= within[1]
        self.figures.append(Figure(figure_name, unit, summary, target, met, margin, note))


def figures(results: Results, defaults: Defaults) -> list[Figure]:
    """Every figure of the summary table, from the runs that completed."""
    out = FigureList(results)
    _liveness_figures(out, results, defaults)
    _throughput_figures(out, results, defaults)
    _memory_and_cpu_figures(out, results)
    _api_figures(out, results, defaults)
    return out.figures


def _liveness_figures(out: FigureList, results: Results, defaults: Defaults) -> None:
    add = out.add
    latency = results.latency
    bound = defaults.log_interval + 0.25
    per_run = [run.latencies() for run in latency if run.latencies()]
    add("per-line latency p50", "s", [percentile(v, 50) for v in per_run])
    add(
        "per-line latency p95",
        "s",
        [percentile(v, 95) for v in per_run],
        target=f"≤ {bound:g} s (--log-interval {defaults.log_interval:g} + 0.25)",
        at_most=bound,
    )
    add("per-line latency max", "s", [max(v) for v in per_run])
    add(
        "time to first line",
        "s",
        [v[0] for v in per_run],
        target="≤ 1.25 s",
        at_most=1.25,
    )
    ended = [*latency, *results.silent]
    exits = [run.exit_latency(defaults.drain_grace) for run in ended if run.record.stopped]
    add(
        "exit latency, raw",
        "s",
        [raw for raw, _ in exits],
        note="exit - the DescribeTasks call that saw STOPPED",
    )
    add(
        "exit latency",
        "s",
        [counted for _, counted in exits],
        target="≤ 1.0 s",
        at_most=1.0,
        note=f"exit - max(STOPPED observed, stoppedAt + drain grace {defaults.drain_grace:g} s)",
    )
    add(
        "start-up",
        "s",
        [run.startup for run in ended],
        target="≤ 1.5 s",
        at_most=1.5,
        note="process forked → RunTask received",
    )


def _throughput_figures(out: FigureList, results: Results, defaults: Defaults) -> None:
    add = out.add
    ok = [run for run in results.unlimited if not run.problems]
    add("throughput, --log-rate-limit 0", "lines/s", [throughput(r) for r in ok])
    add("raw aioboto3 paging loop", "lines/s", [raw.lines_per_second for raw in results.raw])
    add(
        "throughput ÷ raw loop",
        "",
        [
            throughput(raw.after) / raw.lines_per_second
            for raw in results.raw
            if not raw.after.problems
        ],
        target="≥ 0.8",
        at_least=0.8,
        note="paired per round",
    )
    default_ok = [run for run in results.default_rate if not run.problems]
    add(
        "throughput at the default rate limit",
        "lines/s",
        [throughput(r) for r in default_ok],
        note=f"--log-rate-limit {defaults.log_rate_limit:g} calls/s",
    )


def _memory_and_cpu_figures(out: FigureList, results: Results) -> None:
    add = out.add
    ok = [run for run in results.unlimited if not run.problems]
    default_ok = [run for run in results.default_rate if not run.problems]
    small_ok = [run for run in results.small if not run.problems]
    small_rss = [r.finished.usage.max_rss_mib for r in small_ok]
    add(
        f"peak RSS, {SMALL_LINES:,} lines",
        "MiB",
        small_rss,
        target="≤ 80 MiB",
        at_most=80,
        note=_decimal_reading(small_rss),
    )
    big_rss = [r.finished.usage.max_rss_mib for r in default_ok]
    add(
        f"peak RSS, {BACKLOG_LINES:,} lines",
        "MiB",
        big_rss,
        target="≤ 80 MiB",
        at_most=80,
        note=_decimal_reading(big_rss),
    )
    add(
        f"peak RSS, {BACKLOG_LINES:,} lines, --log-rate-limit 0",
        "MiB",
        [r.finished.usage.max_rss_mib for r in ok],
    )
    add(
        "peak RSS ratio 1M ÷ 10k",
        "",
        [
            big.finished.usage.max_rss_mib / little.finished.usage.max_rss_mib
            for big, little in zip(default_ok, small_ok, strict=False)
        ],
        target="≤ 1.2",
        at_most=1.2,
        note="paired per run",
    )
    scale = BACKLOG_LINES / PER_LINES
    add(
        f"CPU per {PER_LINES:,} lines",
        "s",
        [r.finished.usage.cpu_seconds / scale for r in default_ok],
        target="≤ 1.0 s",
        at_most=1.0,
        note=f"user + sys of a {BACKLOG_LINES:,}-line run ÷ {scale:g}, start-up included",
    )
    extra_scale = (BACKLOG_LINES - SMALL_LINES) / PER_LINES
    add(
        f"CPU per {PER_LINES:,} lines, marginal",
        "s",
        [
            (big.finished.usage.cpu_seconds - little.finished.usage.cpu_seconds) / extra_scale
            for big, little in zip(default_ok, small_ok, strict=False)
        ],
        note="(1M-line run - 10k-line run) ÷ 9.9, paired per run",
    )
    add(
        f"CPU per {PER_LINES:,} lines, --log-rate-limit 0",
        "s",
        [r.finished.usage.cpu_seconds / scale for r in ok],
    )


def _api_figures(out: FigureList, results: Results, defaults: Defaults) -> None:
    add = out.add
    silent = [run for run in results.silent if run.record.reached("RUNNING")]
    expected = MINUTE / defaults.poll_interval
    describe, first, second = [], [], []
    for run in silent:
        running = run.record.reached("RUNNING")
        assert running is not None  # noqa: S101 - filtered above
        at = running.monotonic
        describe.append(calls_per_window(run.describe_tasks, at, 2 * MINUTE) / 2)
        first.append(float(calls_per_window(run.get_log_events, at, MINUTE)))
        second.append(float(calls_per_window(run.get_log_events, at + MINUTE, MINUTE)))
    add(
        "DescribeTasks per minute, silent task",
        "calls/min",
        describe,
        target=f"= {expected:g} (60 ÷ --poll-interval {defaults.poll_interval:g}) ± 0.5",
        within=(expected, 0.5),
        note="over the first 120 s of RUNNING",
    )
    add(
        "GetLogEvents, 1st silent minute",
        "calls",
        first,
        target="≤ 60",
        at_most=60,
    )
    add(
        "GetLogEvents, 2nd silent minute",
        "calls",
        second,
        target="≤ 20",
        at_most=20,
        note="idle for a minute",
    )


# -- detail tables ------------------------------------------------------------------------------


def _s(seconds: float) -> str:
    return f"{seconds:.3f}"


def tables(results: Results, defaults: Defaults) -> list[Table]:
    """One table per kind of run, a row per run."""
    grace = defaults.drain_grace
    latency_rows = []
    for run in results.latency:
        values = run.latencies()
        raw, counted = run.exit_latency(grace) if run.record.stopped else (float("nan"),) * 2
        latency_rows.append(
            (
                run.task_name,
                f"{len(values)}/{len(run.record.lines)}",
                _s(run.startup),
                _s(values[0]) if values else "-",
                _s(percentile(values, 50)) if values else "-",
                _s(percentile(values, 95)) if values else "-",
                _s(max(values)) if values else "-",
                _s(raw),
                _s(counted),
            )
        )
    silent_rows = []
    for run in results.silent:
        running = run.record.reached("RUNNING")
        at = running.monotonic if running else float("nan")
        raw, counted = run.exit_latency(grace) if run.record.stopped else (float("nan"),) * 2
        silent_rows.append(
            (
                run.task_name,
                _s(run.startup),
                str(calls_per_window(run.describe_tasks, at, MINUTE)),
                str(calls_per_window(run.describe_tasks, at + MINUTE, MINUTE)),
                str(calls_per_window(run.get_log_events, at, MINUTE)),
                str(calls_per_window(run.get_log_events, at + MINUTE, MINUTE)),
                str(sum(1 for c in run.get_log_events if c.at < at)),
                _s(raw),
                _s(counted),
            )
        )
    backlog_rows = []
    for run in [*results.small, *results.unlimited, *results.default_rate]:
        usage = run.finished.usage
        measured = run.kind != "small" and run.served and run.served.first_at and not run.problems
        backlog_rows.append(
            (
                run.task_name,
                " ".join(run.arguments[run.arguments.index("--image") + 2 : -5]) or "(defaults)",
                f"{run.finished.line_count:,}",
                f"{throughput(run):,.0f}" if measured else "-",
                f"{run.served.calls if run.served else 0}",
                f"{usage.user_seconds:.2f} + {usage.system_seconds:.2f}",
                f"{usage.max_rss_mib:.1f}",
            )
        )
    raw_rows = [
        (str(n), f"{raw.lines:,}", f"{raw.lines_per_second:,.0f}")
        for n, raw in enumerate(results.raw, 1)
    ]
    return [
        Table(
            "Latency runs (60 lines over 30 s); seconds",
            ("task", "lines", "start-up", "first line", "p50", "p95", "max", "exit raw", "exit"),
            tuple(latency_rows),
        ),
        Table(
            f"Silent runs ({SILENT_FOR:g} s without a line); calls counted from RUNNING",
            (
                "task",
                "start-up s",
                "DescribeTasks min 1",
                "DescribeTasks min 2",
                "GetLogEvents min 1",
                "GetLogEvents min 2",
                "GetLogEvents before RUNNING",
                "exit raw s",
                "exit s",
            ),
            tuple(silent_rows),
        ),
        Table(
            "Backlog runs (lines already in the stream)",
            ("task", "flags", "lines", "lines/s", "GetLogEvents", "CPU user+sys s", "peak RSS MiB"),
            tuple(backlog_rows),
        ),
        Table("Raw aioboto3 paging loop, one pass per round", ("round", "events", "lines/s"),
              tuple(raw_rows)),
    ]  # fmt: skip


# -- the report -----------------------------------------------------------------------------


def header(elapsed: float, results: Results, load: tuple[float, float]) -> list[str]:
    """Date, machine, versions, commands; `load` is the 1-minute load average before, after."""
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "src")
    examples = [*results.latency[:1], *results.unlimited[:1]]
    tool_lines = [f"  - `{shlex.join(['ecs-one-off-task', *run.arguments])}`" for run in examples]
    return [
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        (
            f"- Machine: {cpu_model()}, {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}"
        ),
        f"- Python {platform.python_version()}; ecs-one-off-task "
        f"{metadata.version('ecs-one-off-task')} at commit {commit}"
        + (" with uncommitted changes in src/" if dirty not in {"", "unknown"} else "")
        + f"; aioboto3 {metadata.version('aioboto3')}, moto {metadata.version('moto')}",
        "- Command: `make bench`, i.e. `.venv/bin/python -m bench.run` from the repository root",
        (
            f"- Whole bench: {elapsed:.0f} s; 1-minute load average {load[0]:.2f} before it"
            f" started (other work on the machine), {load[1]:.2f} at the end"
        ),
        "- The tool ran as, for example (each run with a task name of its own):",
        *tool_lines,
    ]


METHOD = """
Everything runs on this machine: moto in server mode with the fake ECS agent (tests/emulator)
in the bench process, the tool as a child process talking to it over HTTP. The definitions of
the figures are in the docstring of `bench/run.py`; in short:

- **Clocks.** Every time is `time.monotonic()` (CLOCK_MONOTONIC, the same clock in every process
  of the machine). A line's arrival is when the harness thread's `os.read` on the tool's stdout
  pipe returned it; its PutLogEvents time is the agent's `LineRecord.written_monotonic`. Calls
  are timed when the emulator received them (`Emulator.calls_to`).
- **Peak RSS and CPU** come from `os.wait4` on the tool's own process, which `bench/spawn.py`
  forks from a small Python process: forked straight from the bench process (which holds moto
  and a million log events), the tool would be charged the bench's RSS, because Linux counts
  the pre-exec memory's high-water mark in `ru_maxrss` (a first version of this bench measured
  ~250 MiB for a 10k-line run that way).
- **The 1,000,000-line stream** is written straight into moto's CloudWatch Logs backend
  (`LogsBackend.put_log_events`, batches of 10,000, timestamps 1 ms apart and in order), once,
  and every backlog run gets a stream of its own holding the same events, created while its task
  is PROVISIONING. moto's GetLogEvents sorts the whole stream on every call (O(n log n) per
  page), so for these streams only the bench installs an equivalent method that slices the
  already-sorted events by index: same tokens (`f/<index>`), same page size, same token back at
  the end of the stream, the stream class's own method whenever startTime or endTime is given,
  and the emulator's 1 MB page cap on top (tests/emulator/pages.py: 9,892 events of 80 bytes a
  page, as CloudWatch would send). Before any run, `check_equivalence` compares the bench's
  method with the emulator's answer for answer on 25,000 events (forward and backward tokens
  around page boundaries, limits, past the end). Every other stream (latency and silent runs)
  is the emulator's, untouched.
- **The emulator's process** calls `gc.freeze()` once the backlog is written, so that a full
  garbage collection, should one come while moto serves pages, does not walk a million event
  objects in the middle of a measured pass.
- **Correctness of each run** is checked: exit code 0, every line printed once and in order
  (latency runs: the exact list; backlog runs: the line count and the CRC-32 of the whole
  stdout), the last DescribeTasks after the STOPPED time. Failed checks are listed under
  "Problems" and make the bench exit 1.
- **The raw loop** (`bench/rawpager.py`) runs in a process of its own like the tool (so the
  emulator's CPU is shared the same way), right after the tool's pass in the same round and over
  the same stream; its window starts at its first GetLogEvents that returned events and ends
  when its final `done` line reaches the harness.
- **Concurrency.** The silent and latency runs overlap (start-ups 1.5 s apart); the CPU-heavy
  backlog runs and raw passes run one at a time after the latency runs, while the silent runs
  (which only count calls) finish. The three 10k-line runs overlap each other (one page each).
- Percentiles interpolate linearly between ranks (numpy's default); "spread" is min - max over
  the runs. MiB = 2^20 bytes (what `ru_maxrss` counts in KiB); MB in brackets = 10^6 bytes.
"""


def main() -> int:
    """Run everything, write bench/RESULTS.md, print the summary; 1 if any check failed."""
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    defaults = Defaults.of_tool()
    if not TOOL.exists():
        say(f"{TOOL} is missing: run `make install` first")
        return 2
    with Emulator() as emu:
        say(f"emulator at {emu.endpoint_url}; seeding the reference account")
        seed_reference(emu, container_instances=2)
        say(f"writing a backlog of {BACKLOG_LINES:,} lines into moto's CloudWatch Logs")
        backlog = build_backlog(emu, BACKLOG_LINES)
        small = backlog.head(SMALL_LINES)
        check_equivalence(backlog)
        # A million event objects would make every full collection of this process (the
        # emulator's) walk them while it serves pages: keep them out of the collector's sight.
        gc.collect()
        gc.freeze()
        emu.clear_calls()
        bench = Bench(emu, defaults)
        results = bench.run_all(backlog, small)
    elapsed = time.monotonic() - started
    summary = figures(results, defaults)
    text = render(
        header=header(elapsed, results, (load_before, os.getloadavg()[0])),
        figures=summary,
        problems=results.problems,
        tables=tables(results, defaults),
        method=METHOD,
    )
    # The Crowd section is bench.crowd's (run after this by `make bench`): keep the last one.
    crowd_section = crowd.SECTION.current(RESULTS.read_text()) if RESULTS.exists() else None
    text = crowd.SECTION.put(text, crowd_section) if crowd_section else text
    # So is the driver section (bench.driver, run last).
    driver_section = driver.SECTION.current(RESULTS.read_text()) if RESULTS.exists() else None
    RESULTS.write_text(driver.SECTION.put(text, driver_section) if driver_section else text)
    say(f"done in {elapsed:.0f} s; wrote {RESULTS.relative_to(REPO_ROOT)}")
    for figure in summary:
        verdict = {None: "", True: "  met", False: "  MISSED"}[figure.met]
        print(f"{figure.name:48} {figure.spread.median:12.3f} {figure.unit:10}{verdict}")
    for problem in results.problems:
        print(f"problem: {problem}")
    return 1 if results.problems else 0


if __name__ == "__main__":
    sys.exit(main())
