"""Crowd benchmark: many runs at once share CloudWatch Logs' account-wide GetLogEvents quota.

Run from the repository root: `.venv/bin/python -m bench.crowd` (`make bench` runs it after
bench.run). It writes the Crowd section of bench/RESULTS.md and leaves the rest as it is.

The scenario is a monorepo deploy or several pipelines sharing one account: N runs of the tool
start 0.3 s apart, each a process of its own following a task of its own that prints 30 lines
over 20 s (one every 2/3 s), against an emulated quota of 10 GetLogEvents calls in any sliding
second, counted over every client (tests/emulator/quota.py; beyond it: ThrottlingException).
Each run uses the tool's defaults (--log-interval 1, --log-rate-limit 5, --drain-grace 5).

The figures, for N = 1, 4, 8, 12 and 16:

lines lost / repeated
    Over all runs: the task's lines (the agent's record) missing from the run's stdout, and
    printed more than once. Target 0.
delay per line
    A line's arrival on the run's stdout (read by a harness thread, time.monotonic()) minus the
    moment the agent's PutLogEvents of it returned; p50 and p95 over every line of every run.
    The ideal beside it is the fair share: with N runs on a quota of 10 calls a second, a run
    can poll every max(1, N / 10) s (--log-interval is 1 s), and a line then waits about 95% of
    that at p95.
first line, exit
    The first line's delay, and the exit after the drain grace (exit - max(STOPPED observed,
    stoppedAt + 5 s)), as in bench.run; medians over the runs.
throttled
    The share of GetLogEvents calls the quota refused, over the crowd's calls.
calls a second
    Every GetLogEvents call of the crowd (throttled ones included), divided by the time from
    the first to the last; with the answered ones alone beside it.
notices
    Throttling notices on the runs' stderr ("slowing down" and "back to their normal pace"),
    over all runs: the tool says when the pace changes, not per throttled call.

Targets: N = 12: 0 lost or repeated, at most 10% throttled, p95 <= 3 s; N = 16: 0 lost, at
most 15% throttled, p95 <= 4 s; N = 1: p95 <= 1.25 s, first line <= 1.25 s, exit <= 1 s.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata

from tests.emulator import Call, Emulator, TaskRecord, Timeline, lines_every, seed_reference

from bench.common import (
    REPO_ROOT,
    RESULTS,
    TOOL,
    Section,
    cpu_model,
    finish,
    git,
    problems_block,
    say,
    tool_arguments,
)
from bench.harness import ChildRun, Finished
from bench.stats import percentile

CROWDS = (1, 4, 8, 12, 16)
QUOTA = 10
STAGGER = 0.3
LINES = 30
SPACING = 20.0 / LINES
LOG_INTERVAL = 1.0
DRAIN_GRACE = 5.0
TIMELINE = Timeline(
    provisioning=1.0,
    pending=1.0,
    lines=lines_every(LINES, SPACING, start=SPACING, fmt="crowd line {i}"),
    runs_for=LINES * SPACING + 0.5,
    stopping=0.5,
)
"""1 s PROVISIONING, 1 s PENDING, a line every 2/3 s for 20 s, exit 0, STOPPED 0.5 s later."""
RUN_TIMEOUT = 150.0
TASK_TIMEOUT = 60.0
SLOWED = "throttled by AWS: slowing down"
NORMAL = "back to their normal pace"

# (throttled share at most, p95 at most): the targets.
TARGETS = {12: (0.10, 3.0), 16: (0.15, 4.0)}
SINGLE_P95 = 1.25
SINGLE_FIRST_LINE = 1.25
SINGLE_EXIT = 1.0


@dataclass(frozen=True)
class CrowdRun:
    """One run of a crowd: its process, its task and its GetLogEvents calls."""

    task_name: str
    finished: Finished
    record: TaskRecord
    reads: tuple[Call, ...]
    describe_tasks: tuple[Call, ...]

    @property
    def counts(self) -> tuple[int, int]:
        """(lines lost, lines repeated): the task's lines against the run's stdout."""
        expected = Counter(self.record.messages)
        printed = Counter(arrival.line for arrival in self.finished.arrivals)
        return sum((expected - printed).values()), sum((printed - expected).values())

    def delays(self) -> list[float]:
        """Per line: first arrival on stdout - PutLogEvents, in stream order."""
        written = {line.message: line.written_monotonic for line in self.record.lines}
        arrived: dict[str, float] = {}
        for arrival in self.finished.arrivals:
            arrived.setdefault(arrival.line, arrival.at)
        return [arrived[m] - at for m, at in written.items() if m in arrived]

    def exit_after_grace(self) -> float | None:
        """Seconds from max(the DescribeTasks that saw STOPPED, stoppedAt + grace) to the exit."""
        stopped = self.record.stopped
        if stopped is None or not self.describe_tasks:
            return None
        observed = self.describe_tasks[-1].at
        return self.finished.exited_at - max(observed, stopped.monotonic + DRAIN_GRACE)

    def notices(self, text: str) -> int:
        """How many of the tool's stderr events contain `text`."""
        return sum(1 for event in _events(self.finished.stderr) if text in event)


def _events(stderr: str) -> list[str]:
    names = []
    for line in stderr.splitlines():
        try:
            names.append(str(json.loads(line).get("event", "")))
        except ValueError:
            continue
    return names


@dataclass(frozen=True)
class Crowd:
    """N runs started together, and what they did."""

    size: int
    runs: tuple[CrowdRun, ...]
    problems: tuple[str, ...]

    @property
    def reads(self) -> list[Call]:
        """Every GetLogEvents call of the crowd, in arrival order."""
        return sorted((call for run in self.runs for call in run.reads), key=lambda c: c.at)

    @property
    def throttled_share(self) -> float:
        """Throttled GetLogEvents calls / all of them."""
        reads = self.reads
        return sum(1 for call in reads if call.fault == "throttle") / len(reads)

    def calls_per_second(self, *, answered_only: bool = False) -> float:
        """GetLogEvents calls a second from the crowd's first call to its last."""
        reads = self.reads
        span = reads[-1].at - reads[0].at
        counted = [c for c in reads if not (answered_only and c.fault == "throttle")]
        return len(counted) / span if span > 0 else float("nan")

    @property
    def delays(self) -> list[float]:
        """Every line's delay, over all runs."""
        return [delay for run in self.runs for delay in run.delays()]

    @property
    def fair_share(self) -> float:
        """Seconds between two reads of one run if the quota were split evenly."""
        return max(LOG_INTERVAL, self.size / QUOTA)


def run_crowd(emu: Emulator, size: int, suffix: str) -> Crowd:
    """Start `size` runs STAGGER apart, wait for all, collect and check what they did."""
    names = [f"crowd{size}-{n}-{suffix}" for n in range(1, size + 1)]
    for name in names:
        emu.script(name, TIMELINE)
    emu.set_log_quota(QUOTA)
    emu.clear_calls()
    children = []
    try:
        for name in names:
            children.append(
                ChildRun(
                    # JSON events: the throttling notices are counted from stderr.
                    (str(TOOL), *tool_arguments(name, ("--log-format", "json"))),
                    env=emu.subprocess_env(),
                    cwd=REPO_ROOT,
                    keep_lines=True,
                )
            )
            time.sleep(STAGGER)
        with ThreadPoolExecutor(max_workers=size) as pool:
            finished = list(pool.map(lambda child: child.result(RUN_TIMEOUT), children))
    except BaseException:
        for child in children:
            child.kill()
        raise
    finally:
        emu.set_log_quota(None)
    calls = emu.calls
    records = {record.family: record for record in emu.task_records()}
    runs, problems = [], []
    for name, done in zip(names, finished, strict=True):
        record = records.get(name)
        if record is None:
            problems.append(f"{name}: no task was started")
            continue
        reads = tuple(
            c
            for c in calls
            if c.operation == "GetLogEvents" and c.params.get("logStreamName") == record.log_stream
        )
        describe = tuple(
            c
            for c in calls
            if c.operation == "DescribeTasks" and record.task_arn in c.params.get("tasks", ())
        )
        run = CrowdRun(name, done, record, reads, describe)
        runs.append(run)
        problems.extend(_check(run))
    return Crowd(size, tuple(runs), tuple(problems))


def _check(run: CrowdRun) -> list[str]:
    problems = []
    done = run.finished
    if done.timed_out:
        problems.append(f"{run.task_name}: did not exit in time and was killed")
    if done.exit_code != 0:
        tail = " / ".join(done.stderr.strip().splitlines()[-3:])
        problems.append(f"{run.task_name}: exit code {done.exit_code}: {tail}")
    if len(run.record.lines) != LINES:
        problems.append(f"{run.task_name}: the task wrote {len(run.record.lines)} lines")
    lost, repeated = run.counts
    if lost or repeated:
        problems.append(f"{run.task_name}: {lost} lines lost, {repeated} repeated")
    return problems


# -- the report ---------------------------------------------------------------------------------


def _verdict(crowd: Crowd) -> str:
    lost = sum(run.counts[0] for run in crowd.runs)
    repeated = sum(run.counts[1] for run in crowd.runs)
    p95 = percentile(crowd.delays, 95)
    if crowd.size in TARGETS:
        share, bound = TARGETS[crowd.size]
        met = lost == repeated == 0 and crowd.throttled_share <= share and p95 <= bound
        return f"{'met' if met else 'MISSED'} (0 lost, ≤ {share:.0%} throttled, p95 ≤ {bound:g} s)"
    if crowd.size == 1:
        first = [run.delays()[0] for run in crowd.runs if run.delays()]
        exits = [e for run in crowd.runs if (e := run.exit_after_grace()) is not None]
        met = (
            lost == repeated == 0
            and p95 <= SINGLE_P95
            and bool(first)
            and max(first) <= SINGLE_FIRST_LINE
            and bool(exits)
            and max(exits) <= SINGLE_EXIT
        )
        targets = f"p95 ≤ {SINGLE_P95:g} s, first line ≤ {SINGLE_FIRST_LINE:g} s, exit ≤ 1 s"
        return f"{'met' if met else 'MISSED'} ({targets})"
    return "(report)"


def _median(values: Sequence[float]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "-"
    return f"{percentile(ordered, 50):.2f}"


def table(crowds: Sequence[Crowd]) -> list[str]:
    """The Crowd table: one row per crowd size."""
    rows = [
        (
            "| runs | lost / repeated | delay p50 | delay p95 | fair share: a read every"
            " | first line | exit after grace | throttled | calls/s (answered) | notices"
            " slowed / normal | verdict |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for crowd in crowds:
        delays = crowd.delays
        lost = sum(run.counts[0] for run in crowd.runs)
        repeated = sum(run.counts[1] for run in crowd.runs)
        first = [run.delays()[0] for run in crowd.runs if run.delays()]
        exits = [e for run in crowd.runs if (e := run.exit_after_grace()) is not None]
        slowed = sum(run.notices(SLOWED) for run in crowd.runs)
        normal = sum(run.notices(NORMAL) for run in crowd.runs)
        rows.append(
            f"| {crowd.size} | {lost} / {repeated} | {percentile(delays, 50):.2f} s"
            f" | {percentile(delays, 95):.2f} s | {crowd.fair_share:.1f} s"
            f" | {_median(first)} s | {_median(exits)} s | {crowd.throttled_share:.1%}"
            f" | {crowd.calls_per_second():.1f} ({crowd.calls_per_second(answered_only=True):.1f})"
            f" | {slowed} / {normal} | {_verdict(crowd)} |"
        )
    return rows


def section(crowds: Sequence[Crowd], *, elapsed: float, load: tuple[float, float]) -> str:
    """The whole Crowd section of RESULTS.md, heading included."""
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "src")
    problems = [problem for crowd in crowds for problem in crowd.problems]
    lines = [
        "## Crowd: runs sharing the account's GetLogEvents quota",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"{cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"ecs-one-off-task {metadata.version('ecs-one-off-task')} at commit {commit}"
        + (" with uncommitted changes in src/" if dirty not in {"", "unknown"} else ""),
        (
            "- Command: `.venv/bin/python -m bench.crowd` (the last part of `make bench`); "
            f"{elapsed:.0f} s; 1-minute load average {load[0]:.2f} before, {load[1]:.2f} after"
        ),
        (
            f"- N runs of the tool with its defaults, separate processes started {STAGGER:g} s"
            f" apart, each following its own task ({LINES} lines over {LINES * SPACING:g} s),"
            f" against a quota of {QUOTA} GetLogEvents calls in any sliding second over every"
            " client (ThrottlingException beyond it). One crowd of each size; the definitions"
            " are in the docstring of `bench/crowd.py`."
        ),
        (
            "- Delays are over every line of every run; first line and exit are medians over the"
            " runs. The fair share is the ideal: with N runs each can read every max(1, N / 10) s,"
            " and a line then waits about 95% of that at p95."
        ),
        "",
        *table(crowds),
        "",
    ]
    return "\n".join([*lines, *problems_block(problems)])


SECTION = Section("Crowd")


def main(sizes: Sequence[int] = CROWDS) -> int:
    """Run a crowd of each size, update RESULTS.md, print the table; 1 if a check failed."""
    if not TOOL.exists():
        say(f"{TOOL} is missing: run `make install` first")
        return 2
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    suffix = uuid.uuid4().hex[:6]
    crowds = []
    with Emulator() as emu:
        seed_reference(emu, container_instances=4)
        for size in sizes:
            say(f"crowd of {size}: started {STAGGER:g} s apart, quota {QUOTA} calls/s")
            crowds.append(run_crowd(emu, size, suffix))
    elapsed = time.monotonic() - started
    text = section(crowds, elapsed=elapsed, load=(load_before, os.getloadavg()[0]))
    SECTION.write(text)
    say(f"done in {elapsed:.0f} s; wrote the Crowd section of {RESULTS.relative_to(REPO_ROOT)}")
    print("\n".join(table(crowds)))
    return finish([problem for crowd in crowds for problem in crowd.problems])


if __name__ == "__main__":
    sys.exit(main(tuple(int(n) for n in sys.argv[1:]) or CROWDS))
