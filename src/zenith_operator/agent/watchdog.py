"""The lease outside the agent's process: kills the database when the lease ends even if
the agent itself hangs.

The agent fences its database when its lease runs out, but an agent that hangs (a
deadlock, SIGSTOP, a stuck event loop) cannot: without this process only the kubelet's
liveness probe would stop its database, possibly long after the lease (docs/states.md,
"Fencing").
This small process, started by the agent, holds the last deadline the agent wrote
(`time.monotonic()`, the same clock in every process of the machine) and SIGKILLs every
process running in the data directory once it has passed. It dies with the agent
(PR_SET_PDEATHSIG) and does nothing while no deadline is armed.

usage: python -m zenith_operator.agent.watchdog STATE_FILE DATA_DIR
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import time
from pathlib import Path

TICK = 0.05
PR_SET_PDEATHSIG = 1
# The agent's own fence (fast shutdown, then read-only) gets this long to act first.
SLACK = 0.2


def processes_in(directory: Path, skip: tuple[int, ...] = ()) -> list[int]:
    """Pids of the processes whose working directory is `directory` (PostgreSQL's
    postmaster and every backend run in PGDATA)."""
    try:
        target = os.path.realpath(directory)
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{entry}/cwd") == target:
                found.append(int(entry))
    return found


def arm(state_file: Path, deadline: float | None) -> None:
    """Write the deadline (monotonic seconds, None: disarmed) atomically."""
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"deadline": deadline}))
    os.replace(tmp, state_file)


def read_deadline(state_file: Path) -> float | None:
    try:
        value = json.loads(state_file.read_text()).get("deadline")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def due(deadline: float | None, now: float) -> bool:
    return deadline is not None and now >= deadline


def main(argv: list[str]) -> int:
    state_file, data_dir = Path(argv[0]), Path(argv[1])
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    while True:
        # Past the deadline and still armed: the agent hangs (a running agent disarms as
        # its lease ends and fences by itself). Kill whatever runs there, every tick,
        # until the agent wakes up and disarms.
        if due(read_deadline(state_file), time.monotonic()):
            pids = processes_in(data_dir, skip=(os.getpid(), os.getppid()))
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if pids:
                print(
                    json.dumps({"event": "lease ended: database killed", "pids": pids}),
                    file=sys.stderr,
                    flush=True,
                )
        time.sleep(TICK)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
