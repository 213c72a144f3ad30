"""The awslogs log driver between a container and CloudWatch Logs, as the fake agent plays it.

Without it the agent writes each line as it is printed (immediate delivery: a writer that does
not batch). With it, as Docker's awslogs driver does (the one ECS uses on EC2 and EXTERNAL, and
the one Fargate's logger wraps; see ../shared/notes/awslogs-driver.md):

- a flush ticker of `period` seconds starts with the container, or of the container's
  `awslogs-force-flush-interval-seconds` when the task runs on EC2 or EXTERNAL (Fargate's
  logger does not pass the option on); each tick sends what is buffered, nothing when empty;
- a batch is sent at once when it reaches 10,000 events or 1,048,576 bytes (26 bytes of
  overhead per event);
- at the container's exit the rest is sent: it lands before the task reports STOPPED or up to
  `exit_late` seconds after it, both happen in AWS;
- each PutLogEvents takes a random `delay` (tens to a few hundred ms): CloudWatch stamps the
  events with `ingestionTime` when it takes them, and they are readable from then on. Each event
  keeps its print time as `timestamp`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_PERIOD = 5.0
FLUSH_OPTION = "awslogs-force-flush-interval-seconds"
BATCH_EVENTS = 10_000
BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26
FARGATE_PROVIDERS = frozenset({"FARGATE", "FARGATE_SPOT"})


@dataclass(frozen=True)
class LogDriver:
    """How the modelled awslogs driver batches; `Emulator(log_driver=LogDriver())` turns it on."""

    period: float = DEFAULT_PERIOD
    """The flush period when the container does not set one (or runs on Fargate)."""
    delay_min: float = 0.02
    delay_max: float = 0.3
    """Bounds of the PutLogEvents delay, drawn uniformly for each batch."""
    exit_late: float = 1.0
    """The exit flush lands at most this long after the task reports STOPPED."""

    def flush_period(self, log_options: Mapping[str, Any], *, fargate: bool) -> float:
        """The ticker's period of a container with these awslogs options."""
        value = log_options.get(FLUSH_OPTION)
        if fargate or value is None:
            return self.period
        return float(int(value))

    def put_delay(self, rng: random.Random) -> float:
        """How long one PutLogEvents takes."""
        return rng.uniform(self.delay_min, self.delay_max)

    def exit_delay(self, rng: random.Random, until_stopped: float) -> float:
        """When the exit flush lands after the exit: before STOPPED or up to `exit_late` after."""
        return rng.uniform(self.delay_min, until_stopped + self.exit_late)


def event_size(message: str) -> int:
    """What one event counts towards a batch's byte limit."""
    return len(message.encode()) + EVENT_OVERHEAD


def batch_full(events: int, size: int) -> bool:
    """Whether a batch this big is sent at once, before the next tick."""
    return events >= BATCH_EVENTS or size >= BATCH_BYTES


def runs_on_fargate(
    launch_type: str | None,
    strategy: Sequence[Mapping[str, Any]] | None,
) -> bool:
    """Whether a RunTask places on Fargate: its launch type, or its strategy's first provider."""
    if launch_type:
        return launch_type == "FARGATE"
    if not strategy:
        return False
    return str(strategy[0].get("capacityProvider")) in FARGATE_PROVIDERS
