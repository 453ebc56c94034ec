"""Agent configuration: the environment (docs/dev/contracts.md) plus an optional agent.yaml.

`load_config(env)` parses everything once into a typed `AgentConfig`; every problem is a
`ConfigError` whose message names the variable or the yaml field, so `main` can exit with
one clear line.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zenith_operator import naming

ENGINES = ("postgres", "command")


class ConfigError(Exception):
    """Bad agent configuration; the message is one line naming the culprit."""


class CommandTemplates(BaseModel):
    """Shell command templates of the `command` engine (docs/command-engine.md)."""

    model_config = ConfigDict(extra="forbid")

    init: str | None = None
    start: str
    stop: str
    promote: str
    follow: str
    rebuild: str | None = None
    status: str
    apply_config: str | None = None
    set_replication: str | None = None
    fence: str | None = None


class AgentFile(BaseModel):
    """$ZENITH_CONFIG_DIR/agent/agent.yaml (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["postgres", "command"] | None = None
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    command_timeout: float = Field(default=60.0, gt=0)
    commands: CommandTemplates | None = None
    # postgres engine
    pg_bindir: str | None = None
    synchronous_commit: Literal["on", "remote_apply", "remote_write"] = "on"
    fence_grace: float = Field(
        default=1.0, ge=0, description="seconds of fast shutdown before an immediate one"
    )
    replication_user: str = "replicator"


class AgentConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    pod_name: str
    namespace: str = "default"
    pod_ip: str
    cluster: str = ""
    engine: Literal["postgres", "command"] = "postgres"
    config_dir: Path
    data_dir: Path
    agent_port: int
    listen_port: int
    replication_port: int
    metrics_port: int | None = None  # unauthenticated /metrics (agent/metrics.py); None: off
    token_file: Path | None = None  # None: the token came in $ZENITH_AGENT_TOKEN
    tls_dir: Path | None = None
    # spec.zenithSpec.unreachableTimeout: the replication timeouts follow it (None: engine's)
    unreachable_timeout: int | None = None
    file: AgentFile = Field(default_factory=AgentFile)

    @property
    def tls_files(self) -> tuple[Path, Path] | None:
        if self.tls_dir is None:
            return None
        crt, key = self.tls_dir / "tls.crt", self.tls_dir / "tls.key"
        return (crt, key) if crt.is_file() and key.is_file() else None


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw or (raw == "0" and default == 0):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name}={value} is out of range 1-65535")
    return value


def _read_agent_file(config_dir: Path) -> AgentFile:
    path = config_dir / "agent" / "agent.yaml"
    if not path.exists():
        return AgentFile()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        one_line = " ".join(str(exc).split())
        raise ConfigError(f"{path}: cannot parse yaml: {one_line}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return AgentFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(root)"
        raise ConfigError(f"{path}: field {field}: {err['msg']}") from None


def load_config(env: Mapping[str, str] | None = None, token_given: bool = False) -> AgentConfig:
    """`token_given`: the token came in $ZENITH_AGENT_TOKEN (no token file is read)."""
    env = os.environ if env is None else env
    pod = env.get("POD_NAME", "").strip()
    if not pod:
        raise ConfigError("POD_NAME is not set")
    pod_ip = env.get("POD_IP", "").strip() or "127.0.0.1"
    try:
        ipaddress.ip_address(pod_ip)
    except ValueError:
        raise ConfigError(f"POD_IP={pod_ip!r} is not an IP address") from None
    config_dir = Path(env.get("ZENITH_CONFIG_DIR", naming.CONFIG_DIR))
    data_dir = Path(env.get("ZENITH_DATA_DIR", naming.DATA_DIR))
    token_file: Path | None = None
    if not token_given:
        token_file = Path(
            env.get("ZENITH_TOKEN_FILE", str(config_dir / "agent" / naming.AGENT_TOKEN_KEY))
        )
        try:
            if not token_file.read_text().strip():
                raise ConfigError(f"ZENITH_TOKEN_FILE {token_file} is empty")
        except OSError as exc:
            raise ConfigError(
                f"ZENITH_TOKEN_FILE {token_file} is unreadable: {exc.strerror}"
            ) from None
    file = _read_agent_file(config_dir)
    engine = env.get("ZENITH_ENGINE", "").strip() or file.engine or "postgres"
    if engine not in ENGINES:
        raise ConfigError(f"ZENITH_ENGINE={engine!r} is unknown (known: {', '.join(ENGINES)})")
    if engine == "command" and file.commands is None:
        raise ConfigError(f"engine 'command' needs 'commands' in {config_dir}/agent/agent.yaml")
    tls = env.get("ZENITH_TLS_DIR", "").strip()
    raw_timeout = env.get("ZENITH_UNREACHABLE_TIMEOUT", "").strip()
    try:
        timeout = int(raw_timeout) if raw_timeout else None
    except ValueError:
        raise ConfigError(f"ZENITH_UNREACHABLE_TIMEOUT={raw_timeout!r} is not a number") from None
    if timeout is not None and timeout < 1:
        raise ConfigError(f"ZENITH_UNREACHABLE_TIMEOUT={timeout} must be at least 1")
    return AgentConfig(
        pod_name=pod,
        namespace=env.get("POD_NAMESPACE", "default") or "default",
        pod_ip=pod_ip,
        cluster=env.get("ZENITH_CLUSTER", ""),
        engine="command" if engine == "command" else "postgres",
        config_dir=config_dir,
        data_dir=data_dir,
        agent_port=_port(env, "ZENITH_AGENT_PORT", naming.DEFAULT_AGENT_PORT),
        listen_port=_port(env, "ZENITH_LISTEN_PORT", naming.DEFAULT_LISTEN_PORT),
        replication_port=_port(env, "ZENITH_REPLICATION_PORT", naming.DEFAULT_REPLICATION_PORT),
        metrics_port=_port(env, "ZENITH_METRICS_PORT", 0) or None,
        token_file=token_file,
        tls_dir=Path(tls) if tls else None,
        unreachable_timeout=timeout,
        file=file,
    )
