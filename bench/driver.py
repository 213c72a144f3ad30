"""Driver benchmark: latency as users see it, with the awslogs driver's batches in the loop.

Run from the repository root: `.venv/bin/python -m bench.driver` (`make bench` runs it last).
It writes the "Driver in the loop" section of bench/RESULTS.md and leaves the rest as it is.

The emulator models the awslogs driver (tests/emulator/logdriver.py): each container's lines are
held until its flush ticker (5 s from the container's start, or the container's
awslogs-force-flush-interval-seconds on EC2), then written with a random PutLogEvents delay of
20-300 ms; the last batch at the exit lands before STOPPED or up to 1 s after it.

Single runs, each mode RUNS times at once (processes started 1.5 s apart), a task printing 60
lines over 30 s (one every 0.5 s), no quota:

steady
    The driver at 5 s, read as before this change: `--log-reads steady` (every --log-interval).
in step
    The driver at 5 s, the tool's defaults: reads just after each flush.
flush 1 s
    `--log-flush-interval 1 --launch-type EC2`: the driver flushes every second.

delay per line
    A line's arrival on the tool's stdout (harness thread, time.monotonic()) minus the moment
    the container printed it (LineRecord.printed_monotonic, the agent's clock). p50, p95 and max
    over every line of the mode's runs. Targets: in step p95 <= 5.6 s; flush 1 s p95 <= 1.6 s.
calls a second while lines flow
    GetLogEvents calls received from the run between its task's first and last printed line,
    divided by that span. Target (in step) <= 0.3.
exit after grace
    exit - max(the DescribeTasks that saw STOPPED, stoppedAt + 5 s), median.

Crowds, as bench.crowd but with the driver at 5 s and the tool's defaults: N runs started 0.3 s
apart, each following its own task (30 lines over 20 s), against a quota of 10 GetLogEvents
calls in any sliding second over every client. Delays from the print, as above. Targets for
N = 24: nothing lost or repeated, at most 5% of the calls throttled, p95 <= 6.5 s; N = 12 and
32 are reported.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import metadata

from tests.emulator import (
    Call,
    Emulator,
    LogDriver,
    TaskRecord,
    Timeline,
    lines_every,
    seed_reference,
)

from bench import crowd as crowds
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

RUNS = 3
STAGGER = 1.5
LINES = 60
SPACING = 0.5
GRACE = 5.0
TIMELINE = Timeline(
    provisioning=1.0,
    pending=1.0,
    lines=lines_every(LINES, SPACING, start=SPACING, fmt="driver line {i}"),
    runs_for=LINES * SPACING + 0.5,
    stopping=0.5,
)
"""1 s PROVISIONING, 1 s PENDING, a line every 0.5 s for 30 s, exit 0, STOPPED 0.5 s later."""
MODES: dict[str, tuple[str, ...]] = {
    "steady (before)": ("--log-reads", "steady"),
    "in step": (),
    "flush 1 s (EC2)": ("--log-flush-interval", "1", "--launch-type", "EC2"),
}
TARGETS = {"in step": (5.6, 0.3), "flush 1 s (EC2)": (1.6, None)}
"""(p95 at most, calls a second at most) by mode."""
CROWD_SIZES = (12, 24, 32)
CROWD_TARGET = (24, 0.05, 6.5)
"""(runs, throttled share at most, p95 at most)."""
RUN_TIMEOUT = 150.0


def print_delays(record: TaskRecord, finished: Finished) -> list[float]:
    """Per line of the task: first arrival on stdout - the container's print."""
    arrived: dict[str, float] = {}
    for arrival in finished.arrivals:
        arrived.setdefault(arrival.line, arrival.at)
    return [
        arrived[line.message] - line.printed_monotonic
        for line in record.lines
        if line.printed_monotonic is not None and line.message in arrived
    ]


def lost_repeated(record: TaskRecord, finished: Finished) -> tuple[int, int]:
    """(lines lost, lines repeated): the task's lines against the run's stdout."""
    expected = Counter(record.messages)
    printed = Counter(arrival.line for arrival in finished.arrivals)
    return sum((expected - printed).values()), sum((printed - expected).values())


@dataclass(frozen=True)
class Single:
    """One single run of a mode."""

    mode: str
    task_name: str
    finished: Finished
    record: TaskRecord
    reads: tuple[Call, ...]
    describe_tasks: tuple[Call, ...]

    def calls_per_second(self) -> float:
        """GetLogEvents calls between the first and the last printed line, per second."""
        printed = [line.printed_monotonic for line in self.record.lines if line.printed_monotonic]
        first, last = min(printed), max(printed)
        calls = [c for c in self.reads if first <= c.at <= last]
        return len(calls) / (last - first)

    def exit_after_grace(self) -> float | None:
        """Exit - max(STOPPED observed, stoppedAt + grace)."""
        stopped = self.record.stopped
        if stopped is None or not self.describe_tasks:
            return None
        observed = self.describe_tasks[-1].at
        return self.finished.exited_at - max(observed, stopped.monotonic + GRACE)


def run_singles(emu: Emulator, suffix: str) -> tuple[list[Single], list[str]]:
    """Every mode RUNS times, all at once, STAGGER apart."""
    started: list[tuple[str, str, ChildRun]] = []
    try:
        for n in range(RUNS):
            for index, (mode, flags) in enumerate(MODES.items()):
                name = f"driver-{index}-{n}-{suffix}"
                emu.script(name, TIMELINE)
                child = ChildRun(
                    (str(TOOL), *tool_arguments(name, flags)),
                    env=emu.subprocess_env(),
                    cwd=REPO_ROOT,
                    keep_lines=True,
                )
                started.append((mode, name, child))
                time.sleep(STAGGER)
        with ThreadPoolExecutor(max_workers=len(started)) as pool:
            finished = list(pool.map(lambda s: s[2].result(RUN_TIMEOUT), started))
    except BaseException:
        for _, _, child in started:
            child.kill()
        raise
    calls = emu.calls
    records = {record.family: record for record in emu.task_records()}
    singles, problems = [], []
    for (mode, name, _), done in zip(started, finished, strict=True):
        record = records[name]
        single = Single(
            mode,
            name,
            done,
            record,
            tuple(
                c
                for c in calls
                if c.operation == "GetLogEvents"
                and c.params.get("logStreamName") == record.log_stream
            ),
            tuple(
                c
                for c in calls
                if c.operation == "DescribeTasks" and record.task_arn in c.params.get("tasks", ())
            ),
        )
        singles.append(single)
        lost, repeated = lost_repeated(record, done)
        if done.exit_code != 0 or lost or repeated or len(record.lines) != LINES:
            problems.append(
                f"{name} ({mode}): exit {done.exit_code}, {len(record.lines)} lines written,"
                f" {lost} lost, {repeated} repeated"
            )
    return singles, problems


def singles_table(singles: Sequence[Single]) -> list[str]:
    """One row per mode, over its runs."""
    rows = [
        (
            "| mode | runs | lost / repeated | delay p50 | delay p95 | delay max"
            " | GetLogEvents a second while lines flow (each run) | exit after grace | target"
            " | verdict |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        runs = [s for s in singles if s.mode == mode]
        delays = [d for s in runs for d in print_delays(s.record, s.finished)]
        counts = [lost_repeated(s.record, s.finished) for s in runs]
        lost, repeated = sum(c[0] for c in counts), sum(c[1] for c in counts)
        rates = [s.calls_per_second() for s in runs]
        exits = [e for s in runs if (e := s.exit_after_grace()) is not None]
        p95 = percentile(delays, 95)
        target, verdict = "-", "(report)"
        if mode in TARGETS:
            bound, rate_bound = TARGETS[mode]
            target = f"p95 ≤ {bound:g} s" + (
                f", ≤ {rate_bound:g} calls/s" if rate_bound is not None else ""
            )
            met = (
                lost == repeated == 0
                and p95 <= bound
                and (rate_bound is None or statistics.median(rates) <= rate_bound)
            )
            verdict = "met" if met else "MISSED"
        rows.append(
            f"| {mode} | {len(runs)} | {lost} / {repeated} | {percentile(delays, 50):.2f} s"
            f" | {p95:.2f} s | {max(delays):.2f} s"
            f" | {', '.join(f'{r:.2f}' for r in rates)}"
            f" | {statistics.median(exits):.2f} s | {target} | {verdict} |"
        )
    return rows


def crowd_table(results: Sequence[crowds.Crowd]) -> list[str]:
    """One row per crowd size, delays from the print."""
    rows = [
        (
            "| runs | lost / repeated | delay p50 | delay p95 | delay max | GetLogEvents throttled"
            " | calls/s (answered) | calls/s per run | verdict |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for crowd in results:
        delays = [d for run in crowd.runs for d in print_delays(run.record, run.finished)]
        lost = sum(run.counts[0] for run in crowd.runs)
        repeated = sum(run.counts[1] for run in crowd.runs)
        p95 = percentile(delays, 95)
        verdict = "(report)"
        size, share, bound = CROWD_TARGET
        if crowd.size == size:
            met = lost == repeated == 0 and crowd.throttled_share <= share and p95 <= bound
            verdict = (
                f"{'met' if met else 'MISSED'} (0 lost, ≤ {share:.0%} throttled, p95 ≤ {bound:g} s)"
            )
        rows.append(
            f"| {crowd.size} | {lost} / {repeated} | {percentile(delays, 50):.2f} s"
            f" | {p95:.2f} s | {max(delays):.2f} s | {crowd.throttled_share:.1%}"
            f" | {crowd.calls_per_second():.1f} ({crowd.calls_per_second(answered_only=True):.1f})"
            f" | {crowd.calls_per_second() / crowd.size:.2f} | {verdict} |"
        )
    return rows


def section(
    singles: Sequence[Single],
    results: Sequence[crowds.Crowd],
    *,
    elapsed: float,
    load: tuple[float, float],
    problems: Sequence[str],
) -> str:
    """The whole "Driver in the loop" section of RESULTS.md, heading included."""
    commit = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "src")
    lines = [
        "## Driver in the loop: from the container's print to stdout",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"{cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"ecs-one-off-task {metadata.version('ecs-one-off-task')} at commit {commit}"
        + (" with uncommitted changes in src/" if dirty not in {"", "unknown"} else ""),
        (
            "- Command: `.venv/bin/python -m bench.driver` (the last part of `make bench`); "
            f"{elapsed:.0f} s; 1-minute load average {load[0]:.2f} before, {load[1]:.2f} after"
            " (the crowds' own processes, and any other work on the machine)"
        ),
        (
            "- The emulator models the awslogs driver: a flush every 5 s from the container's"
            " start (every second with `--log-flush-interval 1` on EC2), a full batch at once,"
            " the last batch at the exit, PutLogEvents delays of 20-300 ms. Delays run from the"
            " container's print to the line on the tool's stdout; the definitions are in the"
            " docstring of `bench/driver.py`."
        ),
        "",
        (
            f"Single runs: {LINES} lines over {LINES * SPACING:g} s, {RUNS} runs of each mode at"
            " once, no quota."
        ),
        "",
        *singles_table(singles),
        "",
        (
            f"Crowds: N runs started {crowds.STAGGER:g} s apart, {crowds.LINES} lines over"
            f" {crowds.LINES * crowds.SPACING:g} s each, the tool's defaults, a quota of"
            f" {crowds.QUOTA} GetLogEvents calls in any sliding second."
        ),
        "",
        *crowd_table(results),
        "",
    ]
    return "\n".join([*lines, *problems_block(problems)])


SECTION = Section("Driver in the loop")


def main(sizes: Sequence[int] = CROWD_SIZES) -> int:
    """Single runs of each mode, then the crowds; update RESULTS.md; 1 if a check failed."""
    if not TOOL.exists():
        say(f"{TOOL} is missing: run `make install` first")
        return 2
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    suffix = uuid.uuid4().hex[:6]
    results = []
    with Emulator(log_driver=LogDriver()) as emu:
        seed_reference(emu, container_instances=10)
        say(f"single runs with the driver modelled: {', '.join(MODES)}, {RUNS} of each")
        singles, problems = run_singles(emu, suffix)
        for size in sizes:
            say(f"crowd of {size} with the driver modelled, quota {crowds.QUOTA} calls/s")
            crowd = crowds.run_crowd(emu, size, f"d{suffix}")
            results.append(crowd)
            problems += list(crowd.problems)
    elapsed = time.monotonic() - started
    text = section(
        singles,
        results,
        elapsed=elapsed,
        load=(load_before, os.getloadavg()[0]),
        problems=problems,
    )
    SECTION.write(text)
    say(f"done in {elapsed:.0f} s; wrote the driver section of {RESULTS.relative_to(REPO_ROOT)}")
    print("\n".join(singles_table(singles)))
    print("\n".join(crowd_table(results)))
    return finish(problems)


if __name__ == "__main__":
    sys.exit(main(tuple(int(n) for n in sys.argv[1:]) or CROWD_SIZES))
