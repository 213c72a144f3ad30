"""How long to wait between AWS calls. Pure: the clock is always passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# After this long with no new line, the follower starts to poll less often...
IDLE_AFTER = 30.0
# ...doubling its wait every IDLE_DOUBLING seconds up to IDLE_CEILING: a silent task costs at
# most about 17 GetLogEvents calls a minute once idle (a margin under 20): the quota is shared
# by the whole account.
IDLE_DOUBLING = 10.0
IDLE_CEILING = 3.5


def idle_interval(log_interval: float, idle_for: float) -> float:
    """Wait before the next read when caught up, having seen nothing new for `idle_for` seconds."""
    ceiling = max(log_interval, IDLE_CEILING)
    if idle_for <= IDLE_AFTER:
        return log_interval
    return min(ceiling, log_interval * 2 ** ((idle_for - IDLE_AFTER) / IDLE_DOUBLING))


# GetLogEvents caps a page at 10,000 events or 1 MB, counting an event as its UTF-8 message
# plus 26 bytes; an event is at most 256 KB. A page cut by the byte cap therefore holds more
# than 768 KB, and a character is at most 4 bytes of UTF-8.
PAGE_EVENTS = 10_000
PAGE_CUT_BYTES = 768 * 1024
EVENT_OVERHEAD = 26


def reads_on_at_once(messages: Sequence[str], *, token_moved: bool, first_page: bool) -> bool:
    """Whether to read the next page at once instead of waiting for the pace.

    Only when more may already be there: the token moved and the page was either large enough
    to have been cut by the page caps, or empty (AWS may answer an empty page while more is
    available) after the first one. A page short of the caps reached the end of the stream when
    it was read, so an immediate re-read would nearly always come back empty: that re-read
    doubled the calls of a run whose lines trickle in. The first page of a new stream is empty
    because the container has not printed yet, and its token moves only from none.
    """
    if not token_moved:
        return False
    if not messages:
        return not first_page
    if len(messages) >= PAGE_EVENTS:
        return True
    most_bytes = 4 * sum(map(len, messages)) + EVENT_OVERHEAD * len(messages)
    return most_bytes > PAGE_CUT_BYTES


# A failed GetLogEvents is tried again after RETRY_BASE, doubling per failure up to RETRY_CEILING.
RETRY_BASE = 0.5
RETRY_CEILING = 8.0


def retry_delay(failures: int, jitter: float) -> float:
    """Wait before retrying after `failures` failures in a row; `jitter` is drawn from [0, 1).

    Capped exponential backoff with "equal jitter": between half and all of the step, so jobs
    throttled together spread out, yet never retry at once.
    """
    step = min(RETRY_CEILING, RETRY_BASE * 2.0 ** (failures - 1))
    return step / 2 + step / 2 * jitter


@dataclass
class CallSpacing:
    """Keeps calls at least 1/rate seconds apart (rate 0: no limit).

    GetLogEvents allows about 10 calls a second per account and region, shared by every job in
    the account, so one follower must not take all of it even while it catches up on a backlog.
    """

    rate: float
    _next_at: float = field(default=float("-inf"))

    def delay(self, now: float) -> float:
        """Seconds to wait before the next call may start."""
        return max(0.0, self._next_at - now)

    def record(self, started: float) -> None:
        """Note that a call started at `started`."""
        if self.rate > 0:
            self._next_at = started + 1.0 / self.rate
