"""Security of the real agent: the database superuser cannot read the agent token, and
hostile request bodies and headers get the documented error JSON."""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import sys
from collections.abc import Iterator

import psycopg
import pytest
import requests
from agent_harness import TOKEN, Pod, pods, wait_for

pytestmark = pytest.mark.integration

IP = "127.0.0.4"
# The interpreter may live where user postgres cannot read (root's pyenv): load the
# agent's modules as root, switch uid, then make the process dumpable again as a fresh
# exec as that uid would be (a uid switch clears it), so the agent's own hiding is tested.
AS_USER = """
import ctypes, os, sys
import zenith_operator.agent.main as agent_main
import zenith_operator.agent.engines.postgres, zenith_operator.agent.engines.command
os.setgroups([]); os.setgid({gid}); os.setuid({uid})
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)
sys.exit(agent_main.main([]))
"""


@pytest.fixture
def same_uid_pod(need_pg: None) -> Iterator[Pod]:
    """An agent as a Kubernetes pod runs it: the agent and PostgreSQL share one uid, the
    token comes in $ZENITH_AGENT_TOKEN (no token file, as resources/pod.py builds it)."""
    user = pwd.getpwnam("postgres")
    with pods(("sec-0", IP)) as (pod,):
        (pod.config / "agent" / "agent-token").unlink()
        os.chown(pod.base, user.pw_uid, user.pw_gid)
        env = {k: v for k, v in pod.env.items() if k != "ZENITH_TOKEN_FILE"}
        env["ZENITH_AGENT_TOKEN"] = TOKEN
        with pod.log.open("ab") as out:
            pod.proc = subprocess.Popen(
                [sys.executable, "-c", AS_USER.format(uid=user.pw_uid, gid=user.pw_gid)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for("agent /health", pod._alive, timeout=20)
        yield pod


def test_database_superuser_cannot_read_the_agent_token(same_uid_pod: Pod) -> None:
    pod = same_uid_pod
    assert pod.proc is not None
    pod.call("/v1/promote", {"lease_ttl": 60})
    assert pod.get("/v1/status", auth=False).status_code == 401
    assert pod.get("/v1/status").status_code == 200  # the env token works
    agent_pid = pod.proc.pid
    with psycopg.connect(pod.dsn(), autocommit=True) as conn:
        # the postmaster's own environment never held the token
        own = conn.execute("SELECT pg_read_binary_file('/proc/self/environ')").fetchone()
        assert own is not None and TOKEN.encode() not in bytes(own[0])
        for path in (f"/proc/{agent_pid}/environ", f"/proc/{agent_pid}/mem"):
            with pytest.raises(psycopg.Error, match=r"(?i)permission denied"):
                conn.execute("SELECT pg_read_binary_file(%s)", (path,))
        with pytest.raises(psycopg.Error, match=r"(?i)no such file"):
            conn.execute("SELECT pg_read_file(%s)", (str(pod.config / "agent" / "agent-token"),))


@pytest.fixture
def solo_pod(need_pg: None) -> Iterator[Pod]:
    with pods(("hard-0", IP)) as (pod,):
        pod.start()
        yield pod


def _post_raw(pod: Pod, path: str, body: bytes) -> requests.Response:
    headers = {**pod.headers(), "Content-Type": "application/json"}
    return requests.post(pod.url + path, data=body, headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"[" * 30000 + b"]" * 30000, "deeper"),
        (b'{"ttl": ' + b"[" * 50 + b"]" * 50 + b"}", "deeper"),
        (b'{"ttl": Infinity}', "not JSON"),
        (b'{"ttl": NaN}', "not JSON"),
        (b'{"ttl": 1e309}', "out of range"),
        (b'{"ttl": "1"}', "ttl"),
        (b'{"ttl": true}', "ttl"),
        (b'{"ttl": 1e9}', "ttl"),
        (b'{"ttl": -1}', "ttl"),
        (b'{"ttl": 10, "holder": ""}', "holder"),
    ],
)
def test_hostile_lease_bodies_are_400(solo_pod: Pod, body: bytes, words: str) -> None:
    resp = _post_raw(solo_pod, "/v1/lease", body)
    assert resp.status_code == 400, resp.text
    err = resp.json()
    assert err["reason"] in ("MalformedJSON", "Invalid") and words in err["message"]
    assert solo_pod.status()["lease_remaining"] is None  # nothing was granted


def test_other_hostile_bodies(solo_pod: Pod) -> None:
    bad = {
        "/v1/promote": b'{"lease_ttl": 1e400}',
        "/v1/follow": b'{"host": "h", "port": "5432"}',
        "/v1/rebuild": b'{"host": "h", "port": 70000}',
        "/v1/replication": b'{"mode": "sync", "standby_name": 7}',
    }
    for path, body in bad.items():
        resp = _post_raw(solo_pod, path, body)
        assert resp.status_code == 400, (path, resp.text)
        assert set(resp.json()) == {"reason", "message"}


def test_oversized_body_and_headers_answer_error_json(solo_pod: Pod) -> None:
    resp = _post_raw(solo_pod, "/v1/lease", b'{"ttl": 1, "holder": "' + b"x" * 70000 + b'"}')
    assert resp.status_code == 413
    assert resp.json()["reason"] == "RequestEntityTooLarge"
    with socket.create_connection((solo_pod.ip, solo_pod.agent_port), timeout=10) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] in (b"400", b"431"), head
    assert b"application/json" in head
    err = json.loads(body)
    assert set(err) == {"reason", "message"}
