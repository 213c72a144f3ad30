"""Render the figures of one bench run as bench/RESULTS.md (Markdown)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.stats import Spread


@dataclass(frozen=True)
class Figure:
    """One reported figure: its value over runs and, if it has one, its target."""

    name: str
    unit: str
    """"s", "lines/s", "MiB", "calls/min", "calls" or "" (a ratio)."""
    spread: Spread
    target: str = ""
    met: bool | None = None
    """None when the figure has no target (reported for information)."""
    margin: float | None = None
    """How far the median is from the target's limit, as a fraction of it (negative: missed)."""
    note: str = ""


@dataclass(frozen=True)
class Table:
    """A detail table: one row per run."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def value(number: float, unit: str) -> str:
    """Format one value with its unit."""
    if unit == "s":
        return f"{number:.3f} s"
    if unit == "lines/s":
        return f"{number:,.0f} lines/s"
    if unit == "MiB":
        return f"{number:.1f} MiB ({number * 1.048576:.1f} MB)"
    if unit in {"calls/min", "calls"}:
        return f"{number:g} {unit}"
    return f"{number:.3f}"


def _range(spread: Spread, unit: str) -> str:
    if unit == "MiB":
        return f"{spread.low:.1f} - {spread.high:.1f} MiB"
    return f"{value(spread.low, unit)} - {value(spread.high, unit)}"


THIN_MARGIN = 0.05
"""A target met by less than this fraction of its limit is flagged as met narrowly."""


def _verdict(figure: Figure) -> str:
    if figure.met is None:
        return "(report)"
    if not figure.met:
        return "**MISSED**"
    if figure.margin is not None and figure.margin < THIN_MARGIN:
        return f"met, narrowly ({figure.margin:.0%} margin)"
    return "met"


def figures_table(figures: Sequence[Figure]) -> str:
    """The summary: one row per figure."""
    lines = [
        "| figure | median | spread (min - max) | runs | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for figure in figures:
        name = figure.name + (f" <br><sub>{figure.note}</sub>" if figure.note else "")
        lines.append(
            f"| {name} | {value(figure.spread.median, figure.unit)} | "
            f"{_range(figure.spread, figure.unit)} | {figure.spread.runs} | "
            f"{figure.target or '-'} | {_verdict(figure)} |"
        )
    return "\n".join(lines)


def detail_table(table: Table) -> str:
    """A per-run table with a heading."""
    lines = [
        f"### {table.title}",
        "",
        "| " + " | ".join(table.header) + " |",
        "|" + "---|" * len(table.header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    return "\n".join(lines)


def render(
    *,
    header: Sequence[str],
    figures: Sequence[Figure],
    problems: Sequence[str],
    tables: Sequence[Table],
    method: str,
) -> str:
    """The whole RESULTS.md."""
    parts = ["# Benchmark results", "", *header, ""]
    if problems:
        parts += ["## Problems in this run", ""]
        parts += [f"- {problem}" for problem in problems]
        parts.append("")
    missed = [f.name for f in figures if f.met is False]
    parts += [
        "## Figures",
        "",
        "Median and spread over the runs; each figure's definition is in the Method section.",
        "Targets are judged on the median; the detail tables show every run. "
        + (
            "Missed: " + "; ".join(missed) + "." if missed else "Every target is met by the median."
        ),
        "",
        figures_table(figures),
        "",
        "## Runs",
        "",
    ]
    for table in tables:
        parts += [detail_table(table), ""]
    parts += ["## Method", "", method.strip(), ""]
    return "\n".join(parts)
