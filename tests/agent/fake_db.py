#!/usr/bin/env python3
"""A pretend database for the command engine tests: state in one JSON file.

usage: fake_db.py DATA_DIR OP [ARGS...]
Ops: init, start MODE HOST PORT, stop, fence, promote, follow HOST PORT,
rebuild HOST PORT, status, write, set_replication MODE STANDBY, apply_config CONFIG_DIR.
A file `fail-OP` in DATA_DIR makes OP fail (exit 3).
A `write` fails (exit 1) unless the database runs writable; position counts writes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {"running": False, "writable": False, "position": 0, "timeline": 1}


def save(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    data_dir, op, args = Path(argv[0]), argv[1], argv[2:]
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "fake-db.json"
    st = load(path)
    with (data_dir / "calls.log").open("a") as calls:
        calls.write(json.dumps([op, *args]) + "\n")
    if (data_dir / f"fail-{op}").exists():
        print(f"injected failure of {op}", file=sys.stderr)
        return 3
    if op == "init":
        st.update(initialised=True)
    elif op == "start":
        mode, host, port = [*args, "", "", ""][:3]
        st.update(
            running=True, writable=mode == "writable", upstream=f"{host}:{port}" if host else None
        )
    elif op == "stop":
        st.update(running=False, writable=False)
    elif op == "fence":
        st.update(writable=False)
    elif op == "promote":
        if not st["running"]:
            print("not running", file=sys.stderr)
            return 1
        st.update(writable=True, upstream=None, timeline=st["timeline"] + 1)
    elif op in ("follow", "rebuild"):
        st.update(running=True, writable=False, upstream=f"{args[0]}:{args[1]}", initialised=True)
    elif op == "write":
        if not (st["running"] and st["writable"]):
            print("read-only", file=sys.stderr)
            return 1
        st["position"] += 1
    elif op == "set_replication":
        st.update(mode=args[0], standby=args[1] or None)
    elif op == "apply_config":
        print(f"applied {len(list(Path(args[0], 'db').iterdir()))} file(s)")
    elif op == "status":
        host, _, port = (st.get("upstream") or "").partition(":")
        out = {
            "database": "running" if st["running"] else "stopped",
            "writable": st["writable"],
            "timeline": st["timeline"],
            "position": st["position"],
            "engine_version": "fake-1",
            "replication": {
                "upstream_host": host or None,
                "upstream_port": int(port) if port else None,
                "receiving": bool(host) and st["running"],
            },
        }
        if st["writable"] and "mode" in st:
            out["replication"].update(mode=st["mode"], sync_standby=st.get("standby"))
        print(json.dumps(out))
        return 0
    else:
        print(f"unknown op {op}", file=sys.stderr)
        return 2
    save(path, st)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
