#!/usr/bin/env bash
# Installs everything the demo and the tests need on a fresh Debian machine:
# PostgreSQL server binaries (the agent's reference engine) and a virtualenv with
# the product (zenith-operator, with its dev extras) and the sandbox (./sandbox,
# zenith-sandbox), both editable. Idempotent and quick when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo ">> installing PostgreSQL server (Debian package postgresql)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
# iptables: the sandbox's "agent port unreachable" fault (optional; skipped without it).
if ! command -v iptables >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo ">> installing iptables (sandbox network faults)"
  { apt-get install -y -qq iptables >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq iptables >/dev/null; }; } ||
    echo ">> iptables unavailable: network fault scenarios will be skipped" >&2
fi
# The agent drops privileges to this user for the postmaster when run as root.
id postgres >/dev/null 2>&1 || $SUDO useradd --system --home-dir /var/lib/postgresql postgres

if ! command -v kubectl >/dev/null 2>&1; then
  echo ">> kubectl not found: kubectl checks in the conformance suite will be skipped" >&2
fi

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ sandbox/pyproject.toml -nt "$stamp" ]; then
  echo ">> installing zenith-operator (dev extras) and zenith-sandbox into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]" -e ./sandbox
  touch "$stamp"
fi
