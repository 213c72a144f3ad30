"""How long to wait between AWS calls. Pure: the clock and the random draws are passed in."""

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


# Throttling says the account's quota (shared by every job in it) is spent. The pace backs off
# multiplicatively and comes back additively (AIMD, as TCP flows share a link), so that runs
# started together settle near an equal share instead of oscillating. Chosen with a simulation
# of N runs on a sliding-second quota and checked by `make bench` (bench/crowd.py): x1.25 per
# throttle learns a crowd's share in two or three throttles without overshooting it by much;
# 1% of --log-interval off per answered call comes back from a throttle in about 25 calls, slow
# enough that a crowd does not run into the quota again at once.
PACE_BACKOFF = 1.25
PACE_RECOVERY = 0.01
PACE_CEILING = 10.0
# Jitter. At --log-interval each wait is drawn within +-10% of it (one call per interval on
# average, as configured): a run polling exactly every second would keep the slot its previous
# call frees in the quota's sliding second, and runs doing so starve the others. (Polls every
# few seconds, like DescribeTasks', keep no slot: they can keep their exact rhythm.) While slowed
# a wait is drawn between the interval and twice it, so that the runs throttled together do not
# come back together. A throttled call is retried after the interval and at most 10% more: it
# has already waited once.
FLOOR_JITTER = 0.1
SLOWED_JITTER = 1.0
RETRY_JITTER = 0.1


@dataclass
class AdaptiveInterval:
    """The wait between two calls: lengthened by throttling, shortened by answers (AIMD).

    The interval never drops below `floor` (the configured interval) nor exceeds `ceiling`.
    The methods that change it say whether the pace just left the floor or just came back to
    it, so that the caller can say so once.
    """

    floor: float
    ceiling: float = PACE_CEILING
    backoff: float = PACE_BACKOFF
    recovery: float = PACE_RECOVERY
    floor_jitter: float = FLOOR_JITTER
    interval: float = field(init=False)

    def __post_init__(self) -> None:
        """Start at the floor; a ceiling below the floor leaves no room to slow down."""
        self.ceiling = max(self.ceiling, self.floor)
        self.interval = self.floor

    @property
    def slowed(self) -> bool:
        """Whether throttling keeps the pace above the floor now."""
        return self.interval > self.floor

    def throttled(self) -> bool:
        """A call was throttled: lengthen the interval; True if this throttle slowed the pace."""
        was_slowed = self.slowed
        self.interval = min(self.ceiling, self.interval * self.backoff)
        return self.slowed and not was_slowed

    def answered(self) -> bool:
        """A call was answered: shorten the interval a little; True if back at the floor now."""
        if not self.slowed:
            return False
        self.interval = max(self.floor, self.interval - self.recovery * self.floor)
        return not self.slowed

    def wait(self, jitter: float) -> float:
        """Seconds until the next call; `jitter` is drawn from [0, 1)."""
        if self.slowed:
            return self.interval * (1.0 + SLOWED_JITTER * jitter)
        return self.interval * (1.0 + self.floor_jitter * (2.0 * jitter - 1.0))

    def retry_wait(self, jitter: float) -> float:
        """Seconds until a throttled call is tried again: the current pace, never sooner."""
        return self.interval * (1.0 + RETRY_JITTER * jitter)


# A GetLogEvents that failed for another reason than throttling (5xx, connection, timeout) is
# tried again after RETRY_BASE, doubling per failure up to RETRY_CEILING.
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
    the account, so one process must not take all of it even while it catches up on a backlog.
    Several followers can share one: each reserves its start time before waiting for it.
    """

    rate: float
    _next_at: float = field(default=float("-inf"))

    def reserve(self, now: float) -> float:
        """Reserve the earliest start allowed from `now` on, and return it."""
        start = max(now, self._next_at)
        if self.rate > 0:
            self._next_at = start + 1.0 / self.rate
        return start
