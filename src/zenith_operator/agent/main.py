"""`zenith-operator agent`: configure, boot the engine, serve the API until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import sys

import structlog
from aiohttp import web

from zenith_operator.agent.auth import (
    StaticToken,
    Token,
    TokenFile,
    hide_process_memory,
    take_token_from_env,
)
from zenith_operator.agent.config import AgentConfig, ConfigError, load_config
from zenith_operator.agent.core import Agent
from zenith_operator.agent.engine import Engine, EngineError
from zenith_operator.agent.metrics import disable_created_metrics, serve_metrics
from zenith_operator.agent.server import AgentRunner, make_app, reload_tls, ssl_context

USAGE = "usage: zenith-operator agent   (all settings come from the environment)"


def setup_logging(pod: str, level: str = "info") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(pod=pod)


def make_engine(config: AgentConfig) -> Engine:
    if config.engine == "command":
        from zenith_operator.agent.engines.command import CommandEngine

        return CommandEngine(config)
    try:
        from zenith_operator.agent.engines.postgres import PostgresEngine
    except ModuleNotFoundError as exc:  # the operator image has no psycopg
        if exc.name != "psycopg":
            raise
        raise EngineError(
            "the postgres engine needs psycopg: pip install 'zenith-operator[agent]'"
        ) from exc
    return PostgresEngine(config)


async def serve(config: AgentConfig, engine: Engine, token: Token) -> int:
    log = structlog.get_logger("zenith.agent")
    tls = config.tls_files
    try:
        ctx = ssl_context(str(tls[0]), str(tls[1])) if tls else None
    except (OSError, ssl.SSLError) as exc:
        print(f"zenith-operator agent: bad TLS files in {config.tls_dir}: {exc}", file=sys.stderr)
        return 2
    agent = Agent(config, engine)
    app = make_app(agent, token)
    runner = AgentRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(
        runner,
        host=config.pod_ip,
        port=config.agent_port,
        ssl_context=ctx,
        reuse_address=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await site.start()
    except OSError as exc:
        log.error("cannot listen", host=config.pod_ip, port=config.agent_port, error=str(exc))
        await runner.cleanup()
        return 1
    log.info(
        "agent listening",
        host=config.pod_ip,
        port=config.agent_port,
        tls=bool(tls),
        engine=engine.name,
    )
    metrics = None
    if config.metrics_port:
        disable_created_metrics()  # type: ignore[no-untyped-call]
        metrics = await serve_metrics(agent, config.pod_ip, config.metrics_port)
    boot = loop.create_task(agent.boot())
    tls_task = loop.create_task(reload_tls(ctx, str(tls[0]), str(tls[1]))) if tls and ctx else None
    await stop.wait()
    log.info("shutting down: fast shutdown of the database")
    boot.cancel()
    if tls_task is not None:
        tls_task.cancel()
    await agent.shutdown()
    if metrics is not None:
        await metrics.cleanup()
    await runner.cleanup()
    log.info("bye")
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv:
        print(f"zenith-operator agent: unexpected arguments {argv}\n{USAGE}", file=sys.stderr)
        return 2
    hide_process_memory()
    given = take_token_from_env(os.environ)  # before any child process exists
    try:
        config = load_config(token_given=given is not None)
    except ConfigError as exc:
        print(f"zenith-operator agent: bad configuration: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.pod_name, config.file.log_level)
    try:
        engine = make_engine(config)
    except (EngineError, ConfigError) as exc:
        print(f"zenith-operator agent: {exc}", file=sys.stderr)
        return 2
    if given is not None:
        token: Token = StaticToken(given)
    else:
        assert config.token_file is not None
        token = TokenFile(config.token_file)
    return asyncio.run(serve(config, engine, token))
