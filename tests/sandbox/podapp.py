"""A trivial container for the sandbox tests: an HTTP server on $POD_IP:$PORT.

Env: POD_IP, PORT (default 8080), DATA_DIR (records lives there), TERM_DELAY (seconds
to linger after SIGTERM). Files in DATA_DIR steer it: `unready` -> GET /ready is 503,
`unhealthy` -> GET /health is 500. Every start appends "start <pid>" to
DATA_DIR/lives.txt; SIGTERM appends "sigterm <pid>".
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

DATA = Path(os.environ.get("DATA_DIR", "."))


def note(line: str) -> None:
    with (DATA / "lives.txt").open("a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 200
        if self.path.startswith("/ready") and (DATA / "unready").exists():
            code = 503
        if self.path.startswith("/health") and (DATA / "unhealthy").exists():
            code = 500
        body = f"{self.path} {os.getpid()} {os.environ.get('POD_NAME', '')}\n".encode()
        if self.path.startswith("/env"):
            body = json.dumps(dict(os.environ)).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    DATA.mkdir(parents=True, exist_ok=True)
    note(f"start {os.getpid()}")
    server = http.server.ThreadingHTTPServer(
        (os.environ["POD_IP"], int(os.environ.get("PORT", "8080"))), Handler
    )

    def on_term(*_: object) -> None:
        note(f"sigterm {os.getpid()}")
        delay = float(os.environ.get("TERM_DELAY", "0"))

        def later() -> None:
            time.sleep(delay)
            server.shutdown()

        threading.Thread(target=later, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    print(f"serving on {os.environ['POD_IP']}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
