"""Pacing of GetLogEvents: idle slow-down and the per-second cap."""

from __future__ import annotations

import pytest

from ecs_one_off_task.pacing import CallSpacing, idle_interval, retry_delay


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
