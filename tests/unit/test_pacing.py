"""Pacing of AWS calls: idle slow-down, the per-second cap, re-reading at once, and the
adaptive interval that throttling lengthens and answers shorten."""

from __future__ import annotations

import pytest

from ecs_one_off_task.pacing import (
    AdaptiveInterval,
    CallSpacing,
    idle_interval,
    reads_on_at_once,
    retry_delay,
)


@pytest.mark.parametrize(
    ("idle_for", "expected"),
    [(0.0, 1.0), (30.0, 1.0), (40.0, 2.0), (45.0, 2.8284), (50.0, 3.5), (600.0, 3.5)],
)
def test_idle_interval_grows_to_three_and_a_half_seconds(idle_for: float, expected: float) -> None:
    """Caught up, the follower polls every --log-interval for 30 s, then slows to 3.5 s."""
    assert idle_interval(1.0, idle_for) == pytest.approx(expected, abs=1e-4)


def test_idle_interval_never_below_log_interval() -> None:
    """A --log-interval above the idle ceiling is kept as it is."""
    assert idle_interval(5.0, 1000.0) == 5.0


def test_call_spacing_caps_the_rate() -> None:
    """At 5 calls/s a call may start 0.2 s after the previous one, not before; a call asked
    for later than that starts when asked."""
    spacing = CallSpacing(5.0)
    assert spacing.reserve(10.0) == 10.0
    assert spacing.reserve(10.05) == pytest.approx(10.2)
    assert spacing.reserve(11.0) == 11.0


def test_call_spacing_serves_several_callers_in_turn() -> None:
    """Three followers asking at once for their next call get slots 0.5 s apart (2 calls/s):
    each reserves its slot before it waits, so two can never start together."""
    spacing = CallSpacing(2.0)
    assert [spacing.reserve(10.0) for _ in range(3)] == [10.0, 10.5, 11.0]


def test_zero_rate_means_no_cap() -> None:
    """--log-rate-limit 0 lifts the cap."""
    spacing = CallSpacing(0.0)
    assert [spacing.reserve(10.0) for _ in range(3)] == [10.0, 10.0, 10.0]


class TestReadsOnAtOnce:
    @pytest.mark.parametrize(
        ("messages", "token_moved", "first_page", "expected"),
        [
            ([], False, False, False),
            (["a"] * 10_000, False, False, False),
            (["a"] * 10_000, True, True, True),
            (["a"] * 9_999, True, False, False),
            (["x" * 200_000], True, False, True),
            (["x" * 190_000], True, False, False),
            ([], True, False, True),
            ([], True, True, False),
            (["a line"], True, False, False),
        ],
        ids=[
            "caught-up",
            "caught-up-full",
            "full-page",
            "short-page",
            "may-be-over-768-kb",
            "under-768-kb",
            "empty-page-token-moved",
            "first-empty-page",
            "a-line",
        ],
    )
    def test_only_when_more_may_be_there(
        self, messages: list[str], token_moved: bool, first_page: bool, expected: bool
    ) -> None:
        """Read again at once only when the token moved and the page was cut by a cap
        (10,000 events, or more than 768 KB of UTF-8 possible), or was empty after the first."""
        assert reads_on_at_once(messages, token_moved=token_moved, first_page=first_page) is (
            expected
        )


class TestAdaptiveInterval:
    @pytest.mark.parametrize(
        ("events", "expected"),
        [
            ("", 1.0),
            ("a", 1.0),
            ("t", 1.25),
            ("tt", 1.5625),
            ("tta", 1.5525),
            ("ttaaaaa", 1.5125),
            ("t" + "a" * 25, 1.0),
            ("t" + "a" * 30, 1.0),
            ("tat", 1.55),
            ("t" * 20, 10.0),
            ("t" * 20 + "a", 9.99),
        ],
    )
    def test_throttles_multiply_and_answers_subtract(self, events: str, expected: float) -> None:
        """From 1 s, each throttle (t) multiplies the interval by 1.25 up to 10 s, each answer
        (a) takes 1% of 1 s off, never below 1 s."""
        pace = AdaptiveInterval(floor=1.0)
        for event in events:
            if event == "t":
                pace.throttled()
            else:
                pace.answered()
        assert pace.interval == pytest.approx(expected)

    def test_steps_scale_with_the_floor(self) -> None:
        """With --log-interval 0.05 a throttle makes it 0.0625 and an answer takes 0.0005 off:
        the same shape at any interval."""
        pace = AdaptiveInterval(floor=0.05)
        pace.throttled()
        assert pace.interval == pytest.approx(0.0625)
        pace.answered()
        assert pace.interval == pytest.approx(0.062)

    def test_says_when_it_slows_down_and_when_it_is_back(self) -> None:
        """Only the first throttle of an episode reports a slowdown, only the answer that
        reaches the floor reports the return."""
        pace = AdaptiveInterval(floor=1.0)
        assert [pace.throttled(), pace.throttled()] == [True, False]
        back = [pace.answered() for _ in range(57)]
        assert back.count(True) == 1
        assert back.index(True) == 56
        assert not pace.slowed

    def test_a_floor_above_the_ceiling_leaves_it_alone(self) -> None:
        """--log-interval 15 (above the 10 s ceiling): throttling cannot slow it further."""
        pace = AdaptiveInterval(floor=15.0)
        assert pace.throttled() is False
        assert pace.interval == 15.0

    @pytest.mark.parametrize(("jitter", "expected"), [(0.0, 0.9), (0.5, 1.0), (0.999, 1.0998)])
    def test_waits_at_the_floor_spread_around_it(self, jitter: float, expected: float) -> None:
        """At the floor a wait is drawn within 10% of the interval, the interval on average."""
        assert AdaptiveInterval(floor=1.0).wait(jitter) == pytest.approx(expected)

    def test_without_floor_jitter_waits_keep_their_rhythm(self) -> None:
        """The status watcher's polls (floor_jitter 0) wait exactly their interval."""
        assert AdaptiveInterval(floor=6.0, floor_jitter=0.0).wait(0.9) == 6.0

    @pytest.mark.parametrize(("jitter", "expected"), [(0.0, 1.25), (0.5, 1.875), (1.0, 2.5)])
    def test_slowed_waits_are_drawn_up_to_twice_the_interval(
        self, jitter: float, expected: float
    ) -> None:
        """Once slowed, a wait is never shorter than the interval and at most twice it."""
        pace = AdaptiveInterval(floor=1.0)
        pace.throttled()
        assert pace.wait(jitter) == pytest.approx(expected)

    @pytest.mark.parametrize(("jitter", "expected"), [(0.0, 1.25), (1.0, 1.375)])
    def test_a_throttled_call_is_retried_at_the_pace_not_sooner(
        self, jitter: float, expected: float
    ) -> None:
        """The retry waits the lengthened interval, and at most 10% more."""
        pace = AdaptiveInterval(floor=1.0)
        pace.throttled()
        assert pace.retry_wait(jitter) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("failures", "jitter", "expected"),
    [
        (1, 0.0, 0.25),
        (1, 0.999, 0.49975),
        (2, 0.0, 0.5),
        (3, 0.5, 1.5),
        (5, 1.0, 8.0),
        (9, 0.0, 4.0),
    ],
)
def test_retry_delay_backs_off_with_jitter_up_to_a_cap(
    failures: int, jitter: float, expected: float
) -> None:
    """Retries wait half to all of 0.5 s doubling per failure, never more than 8 s."""
    assert retry_delay(failures, jitter) == pytest.approx(expected)
