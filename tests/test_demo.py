"""`make demo` shows what the issue of readable CI output asks for."""

from __future__ import annotations

from itertools import pairwise

from tests.emulator.demo import CLI_ARGUMENTS, HEARTBEAT, MIGRATION


def test_the_migration_is_silent_longer_than_the_heartbeat() -> None:
    """The demo sets a short --heartbeat and its migration has a silent stretch well beyond it,
    so a heartbeat line shows."""
    assert CLI_ARGUMENTS[CLI_ARGUMENTS.index("--heartbeat") + 1] == str(HEARTBEAT)
    longest = max(later.at - earlier.at for earlier, later in pairwise(MIGRATION.lines))
    assert longest > HEARTBEAT + 1.5
