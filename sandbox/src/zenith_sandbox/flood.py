"""An unauthenticated HTTP flood, as anyone who can reach a pod can send: many clients
requesting one URL in a loop, from a process of its own (so the flood does not share the
interpreter, and its GIL, with whoever measures the victim).

    with Flood("http://127.0.0.2:8008/health", clients=64):
        ...  # probe the victim meanwhile

CLI: `python -m zenith_sandbox.flood URL [--clients N] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from types import TracebackType

import aiohttp


async def flood(url: str, clients: int, seconds: float, answers: list[int]) -> None:
    """Request url from `clients` concurrent loops for `seconds`; counts in answers[0]."""
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=5)

    async def one(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    answers[0] += 1
            except (aiohttp.ClientError, TimeoutError, OSError):
                await asyncio.sleep(0.01)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one(session) for _ in range(clients)))


class Flood:
    """Runs `flood` in a child process for the duration of a `with` block."""

    def __init__(self, url: str, clients: int = 64, seconds: float = 600.0) -> None:
        self.argv = [
            sys.executable, "-m", "zenith_sandbox.flood", url,
            "--clients", str(clients), "--seconds", str(seconds),
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Flood:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> int:
        """Stop the flood; returns the number of answers it got (-1 if unknown)."""
        if self.proc is None:
            return -1
        if self.proc.poll() is None:
            self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        self.proc = None
        try:
            return int(out.decode().strip() or -1)
        except ValueError:
            return -1


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m zenith_sandbox.flood")
    p.add_argument("url")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20.0)
    args = p.parse_args(argv)
    answers = [0]

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(flood(args.url, args.clients, args.seconds, answers))
    print(answers[0], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
