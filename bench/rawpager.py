"""The baseline of the throughput figure: a bare aioboto3 forward-token paging loop.

Run as `python -m bench.rawpager GROUP STREAM` with the emulator's AWS_* environment. It reads
the stream from the head with GetLogEvents (startFromHead, the previous nextForwardToken, the
default page size) until the token stops moving, the same protocol the tool follows, and does
nothing with the events but count them. When done it prints one line, `done <count>`, to stdout
and flushes: the harness timestamps that line on arrival as the end of the pass.
"""

from __future__ import annotations

import sys
from typing import Any

import aioboto3
import anyio


async def page_through(group: str, stream: str) -> int:
    """Read every event of the stream once, following forward tokens; return how many."""
    session = aioboto3.Session()
    count = 0
    async with session.client("logs") as logs:
        token: str | None = None
        while True:
            arguments: dict[str, Any] = {
                "logGroupName": group,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if token is not None:
                arguments["nextToken"] = token
            page = await logs.get_log_events(**arguments)
            count += len(page["events"])
            if page["nextForwardToken"] == token:
                return count
            token = page["nextForwardToken"]


def main() -> int:
    """Entry point: `python -m bench.rawpager GROUP STREAM`."""
    if len(sys.argv) != 3:
        print("usage: python -m bench.rawpager GROUP STREAM", file=sys.stderr)
        return 2
    count = anyio.run(page_through, sys.argv[1], sys.argv[2])
    sys.stdout.write(f"done {count}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
