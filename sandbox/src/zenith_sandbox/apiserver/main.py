"""`zenith-operator apiserver`: serve the emulator in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

import yaml

from . import ApiServer
from .rest import Ctx


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zenith-operator apiserver",
        description="Serve the Kubernetes API emulator on localhost.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--kubeconfig", type=Path, help="write a kubeconfig for the server here")
    p.add_argument(
        "--crd",
        type=Path,
        action="append",
        default=[],
        help="a CRD manifest (YAML, may hold several documents) to apply at start",
    )
    return p


def _apply_crds(srv: ApiServer, files: list[Path]) -> None:
    rt = srv.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert rt is not None
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                srv.api.create(rt, "", doc, Ctx())


async def _serve(args: argparse.Namespace) -> int:
    srv = ApiServer(host=args.host, port=args.port)
    await srv.start_async()
    _apply_crds(srv, args.crd)
    if args.kubeconfig:
        srv.write_kubeconfig(args.kubeconfig)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"apiserver listening on {srv.url}", flush=True)
    await stop.wait()
    await srv.stop_async()
    return 0


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return asyncio.run(_serve(args))
