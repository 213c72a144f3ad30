"""How a run starts its task: start retries and the run's identity, as set on the command line.

Frozen and pure, like the rest of the run's configuration (config.RunConfig holds one).
"""

from __future__ import annotations

from dataclasses import dataclass

BACKOFF_STEPS = (1.0, 3.0, 6.0)
"""Each wait before starting again, as a multiple of the first: 10 s, 30 s, then 60 s."""
JITTER = 0.2
"""Each wait is up to this fraction shorter or longer, so that runs do not start in step."""


@dataclass(frozen=True, kw_only=True)
class StartPolicy:
    """--start-retries, --start-retry-wait and --run-id."""

    retries: int = 2
    """Starts after the first when a start fails for a passing reason; 0: none."""
    first_wait: float = 10.0
    """Seconds before the first start again; then 3 and 6 times as long."""
    run_id: str | None = None
    """The run's identity, given; None: the CI system's, if any."""

    def wait_before(self, attempt: int, jitter: float = 0.5) -> float:
        """Seconds to wait before start number `attempt` (2 for the first retry).

        `jitter` in [0, 1) places the wait within +-JITTER of its step; 0.5 is the step itself.
        """
        step = BACKOFF_STEPS[min(attempt - 2, len(BACKOFF_STEPS) - 1)]
        return self.first_wait * step * (1.0 + JITTER * (2.0 * jitter - 1.0))
