"""The flush grid: the awslogs driver's ticks learned from ingestion times, and when to read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ecs_one_off_task.flushgrid import (
    CONFIRMING,
    READ_MARGIN,
    FlushGrid,
    flush_period_of,
    started_at_of,
)


def test_a_grid_is_learned_from_ingestion_times_alone() -> None:
    """Without startedAt, three flushes one period apart (each a PutLogEvents delay after its
    tick) make the grid; the next read comes just after the next flush."""
    grid = FlushGrid(5.0)
    grid.observe([1003.10, 1003.10], full_page=False)
    assert not grid.in_step
    grid.observe([1008.05], full_page=False)
    assert not grid.in_step
    grid.observe([1013.20], full_page=False)
    assert grid.in_step
    # The anchor follows the earliest flush relative to its tick: 1008.05 - 5.
    assert grid.anchor == pytest.approx(1003.05)
    assert grid.next_read(1013.3) == pytest.approx(1018.05 + READ_MARGIN)


def test_startedat_predicts_the_first_flush() -> None:
    """The ticker starts with the container: the first read in step is a period after it."""
    grid = FlushGrid(5.0)
    grid.started(1000.0)
    assert grid.in_step
    assert grid.next_read(1001.0) == pytest.approx(1005.0 + READ_MARGIN)
    grid.observe([1005.12], full_page=False)
    assert grid.next_read(1005.6) == pytest.approx(1010.12 + READ_MARGIN)


def test_skipping_flushes_when_asked_not_to_read_before_a_time() -> None:
    """The idle slow-down or a slowed pace skips the flushes before `not_before`."""
    grid = FlushGrid(1.0)
    grid.started(1000.0)
    assert grid.next_read(1000.5, not_before=1003.5) == pytest.approx(1004.0 + READ_MARGIN)


@pytest.mark.parametrize(
    ("flush", "why"),
    [(1002.3, "two flushes in one period"), (1007.9, "a flush off its tick")],
)
def test_an_off_grid_flush_drops_the_grid(flush: float, why: str) -> None:
    """A line ingested before the first tick could fire (a writer that does not batch), or far
    from a tick (a clock step), means the reads go back to --log-interval."""
    grid = FlushGrid(5.0)
    grid.started(1000.0)
    grid.observe([flush], full_page=False)
    assert not grid.in_step
    assert grid.why_not == why


def test_a_full_page_drops_the_grid_until_flushes_fit_it_again() -> None:
    """A full page is a batch flushed early or a backlog: off the grid. Then CONFIRMING flushes
    on their ticks bring the reads back in step."""
    grid = FlushGrid(5.0)
    grid.started(1000.0)
    grid.observe([1002.0] * 10_000, full_page=True)
    assert not grid.in_step
    assert grid.why_not == "a full page"
    for n in range(1, CONFIRMING + 1):
        assert not grid.in_step
        grid.observe([1000.1 + 5 * n], full_page=False)
    assert grid.in_step


def test_events_read_before_the_status_poll_saw_running_are_checked() -> None:
    """Lines read before startedAt was known are held against the grid it predicts."""
    on_grid = FlushGrid(5.0)
    on_grid.observe([1005.1], full_page=False)
    on_grid.started(1000.0)
    assert on_grid.in_step
    off_grid = FlushGrid(5.0)
    off_grid.observe([1000.6, 1001.1], full_page=False)
    off_grid.started(1000.0)
    assert not off_grid.in_step


def test_a_stream_without_ingestion_times_is_never_read_in_step() -> None:
    """No usable ingestionTime: nothing to learn the grid from."""
    grid = FlushGrid(5.0)
    grid.started(1000.0)
    grid.observe([0, 0], full_page=False)
    assert not grid.in_step
    assert grid.why_not == "no ingestionTime"


def test_the_period_and_the_start_come_from_aws_shapes() -> None:
    """awslogs-force-flush-interval-seconds (5 when absent or unusable); startedAt as botocore
    gives it (a datetime)."""
    assert flush_period_of({"awslogs-force-flush-interval-seconds": "1"}) == 1.0
    assert flush_period_of({}) == 5.0
    assert flush_period_of({"awslogs-force-flush-interval-seconds": "soon"}) == 5.0
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert started_at_of({"startedAt": when}) == when.timestamp()
    assert started_at_of({"lastStatus": "PENDING"}) is None
