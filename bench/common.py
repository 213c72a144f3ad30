"""What the benchmarks share: where things are, the tool's command line, the machine's name."""

from __future__ import annotations

import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS = REPO_ROOT / "bench" / "RESULTS.md"
TOOL = Path(sys.executable).with_name("ecs-one-off-task")
"""The console script of the venv the bench runs in (.venv/bin/ecs-one-off-task)."""


def say(text: str) -> None:
    """Progress on stderr."""
    sys.stderr.write(f"bench: {text}\n")
    sys.stderr.flush()


def tool_arguments(task_name: str, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The tool's command line after the program name, for the seeded reference "myapp"."""
    return (
        "--task-name", task_name, "--from-task", "myapp", "--cluster", "myEcsCluster",
        "--image", "myapp:v2", *extra, "--command", "bundle", "exec", "rake", "db:migrate",
    )  # fmt: skip


def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git(*args: str) -> str:
    """The output of a git command in the repository, or "unknown"."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


class Section:
    """One `## Heading` section of RESULTS.md, which each benchmark rewrites on its own."""

    def __init__(self, heading: str) -> None:
        """`heading` is the start of the section's `## ` line."""
        self._pattern = re.compile(
            rf"^## {re.escape(heading)}\b.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL
        )

    def current(self, document: str) -> str | None:
        """The section in `document`, if it has one (bench.run keeps it when it rewrites)."""
        found = self._pattern.search(document)
        return found.group(0) if found else None

    def write(self, section: str) -> None:
        """Put the section into RESULTS.md, leaving the rest of it as it is."""
        old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
        RESULTS.write_text(self.put(old, section))

    def put(self, document: str, section: str) -> str:
        """`document` with the section replaced by (or, if it has none, ending with) this one."""
        text = section.rstrip("\n") + "\n"
        if self._pattern.search(document):
            return self._pattern.sub(lambda _: text + "\n", document, count=1).rstrip("\n") + "\n"
        return document.rstrip("\n") + "\n\n" + text


def problems_block(problems: Sequence[str]) -> list[str]:
    """The "Problems:" lines that end a RESULTS.md section, when there are any."""
    return ["Problems:", "", *[f"- {problem}" for problem in problems], ""] if problems else []


def finish(problems: Sequence[str]) -> int:
    """Print each problem; the benchmark's exit code (1 if a check failed)."""
    for problem in problems:
        print(f"problem: {problem}")
    return 1 if problems else 0
