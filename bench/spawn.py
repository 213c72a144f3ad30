"""Start a command from a small process and report that command's own resource usage.

Run as `python -S bench/spawn.py REPORT_FD COMMAND...` (standard library only, no site: this
process must stay small). Why the detour: on Linux, exec records the high-water RSS of the
memory the process had *before* exec in the child's peak RSS (`ru_maxrss`), and Python's
subprocess starts children with vfork, i.e. in the parent's memory. Started straight from the
bench process, which holds moto and a backlog of a million log events, the tool would be
charged the bench's RSS (hundreds of MB). Forked from this ~10 MB process instead, the figure
is the tool's own. `os.wait4` here gives that child's own CPU and peak RSS.

stdin, stdout and stderr are inherited: the command writes straight into the harness's pipes.
On REPORT_FD this writes two lines of JSON: `{"pid", "spawned_at"}` right after the fork, then
`{"exited_at", "status", "user", "system", "max_rss_kib"}` when the command has exited. Times are
time.monotonic() (CLOCK_MONOTONIC: the same clock in every process of the machine). The exit
status of this process is the command's exit code.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    """Fork, exec the command, wait for it, report."""
    report = int(sys.argv[1])
    command = sys.argv[2:]
    spawned_at = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: become the command
        try:
            os.close(report)
            os.execv(command[0], command)  # noqa: S606 - the harness's fixed command line
        finally:
            os._exit(127)
    os.write(report, (json.dumps({"pid": pid, "spawned_at": spawned_at}) + "\n").encode())
    _, status, usage = os.wait4(pid, 0)
    exited_at = time.monotonic()
    code = os.waitstatus_to_exitcode(status)
    done = {
        "exited_at": exited_at,
        "status": code,
        "user": usage.ru_utime,
        "system": usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
    }
    os.write(report, (json.dumps(done) + "\n").encode())
    os.close(report)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
