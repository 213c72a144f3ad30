"""Values of command-line options: argparse types that parse one word each. Pure.

Each raises argparse.ArgumentTypeError naming what was expected, which the parser turns into
one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence

from ecs_one_off_task.config import CapacityProvider

_DURATION = re.compile(r"(?:\d+[dhms])+")
_DURATION_PART = re.compile(r"(\d+)([dhms])")
# The only values CloudWatch Logs accepts for PutRetentionPolicy.
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip


def positive_float(text: str) -> float:
    """A number greater than 0 (intervals, timeouts)."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A number of 0 or more (0 turns a limit off)."""
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_int(text: str) -> int:
    """A whole number greater than 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number greater than 0, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number of 0 or more (0 turns something off)."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of 0 or more, got {text}")
    return value


def retention(text: str) -> int:
    """A retention CloudWatch Logs accepts, in days."""
    value = int(text)
    if value not in RETENTION_DAYS:
        allowed = ", ".join(map(str, RETENTION_DAYS))
        raise argparse.ArgumentTypeError(f"CloudWatch accepts only {allowed}; got {text}")
    return value


def pair(separator: str, what: str) -> Callable[[str], tuple[str, str]]:
    """Parse KEY=VALUE (the value may contain the separator too)."""

    def parse(text: str) -> tuple[str, str]:
        key, found, value = text.partition(separator)
        if not found or not key.strip():
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return key, value

    return parse


def capacity_provider(text: str) -> CapacityProvider:
    """NAME[:WEIGHT[:BASE]], WEIGHT 0-1000 (default 1), BASE 0-100000 (default 0)."""
    name, *numbers = text.split(":")
    if not name or len(numbers) > 2:
        raise argparse.ArgumentTypeError(f"expected NAME[:WEIGHT[:BASE]], got {text!r}")
    try:
        weight = int(numbers[0]) if numbers else 1
        base = int(numbers[1]) if len(numbers) > 1 else 0
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"WEIGHT and BASE must be whole numbers, got {text!r}"
        ) from None
    if not 0 <= weight <= 1000 or not 0 <= base <= 100_000:
        raise argparse.ArgumentTypeError(f"WEIGHT must be 0-1000 and BASE 0-100000, got {text!r}")
    return CapacityProvider(name=name, weight=weight, base=base)


def count(text: str) -> int:
    """How many tasks one RunTask may start: 1 to 10."""
    value = int(text)
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError(f"must be 1 to 10 (RunTask's limit), got {text}")
    return value


def ids(values: Sequence[str] | None) -> tuple[str, ...]:
    """Accept ids as separate words, comma-separated, or both."""
    return tuple(part for value in values or () for part in value.split(",") if part)


def duration(text: str) -> float:
    """10m, 2h, 90s, 1h30m, 1d: seconds."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 10m, 2h or 90s, got {text!r}"
        )
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return float(
        sum(int(number) * units[unit] for number, unit in _DURATION_PART.findall(text.strip()))
    )
