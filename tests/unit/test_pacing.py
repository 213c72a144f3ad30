"""Pacing of GetLogEvents: idle slow-down, the per-second cap, and when to read on at once."""

from __future__ import annotations

import pytest

from ecs_one_off_task.pacing import CallSpacing, idle_interval, reads_on_at_once, retry_delay


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
    """At 5 calls/s a call may start 0.2 s after the previous one, not before."""
    spacing = CallSpacing(5.0)
    assert spacing.delay(10.0) == 0.0
    spacing.record(10.0)
    assert spacing.delay(10.05) == pytest.approx(0.15)
    assert spacing.delay(10.2) == 0.0


def test_zero_rate_means_no_cap() -> None:
    """--log-rate-limit 0 lifts the cap."""
    spacing = CallSpacing(0.0)
    spacing.record(10.0)
    assert spacing.delay(10.0) == 0.0


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
