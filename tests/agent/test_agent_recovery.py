"""Starts in recovery (issue 12 items 2 and 4): hot-standby settings lowered standby-first,
a failing start bounded and reported, a data directory of another major version refused."""

from __future__ import annotations

import hashlib
import os

import psycopg
import pytest
from agent_harness import DB_SETTINGS, Pod, pods, streaming_in_sync, wait_for

pytestmark = pytest.mark.integration


def show(pod: Pod, name: str) -> str:
    with psycopg.connect(pod.dsn(), autocommit=True) as conn:
        row = conn.execute(f"SHOW {name}").fetchone()
    assert row is not None
    return str(row[0])


def set_db(pod: Pod, text: str) -> None:
    (pod.config / "db" / "zenith.conf").write_text(text)


def test_lowered_max_connections_rolls_out_standby_first(pair: tuple[Pod, Pod]) -> None:
    """PostgreSQL aborts a standby's recovery when its max_connections is below the
    primary's: the restarted standby runs with the primary's value until it is promoted,
    the promoted one restarts with its own, and the former active follows it."""
    a, b = pair
    assert show(a, "max_connections") == "40"
    lowered = DB_SETTINGS.replace("max_connections = 40", "max_connections = 30")
    set_db(b, lowered)
    b.call("/v1/stop")
    b.call("/v1/start")
    wait_for("restarted standby streams in sync", lambda: streaming_in_sync(a, "pair-1"))
    assert show(b, "max_connections") == "40"  # the primary's, not the configured 30
    assert "max_connections = 40" in (b.data / "conf" / "instance.conf").read_text()
    # switchover: the promoted standby applies its own value
    set_db(a, lowered)
    a.call("/v1/stop")
    b.call("/v1/promote", {"lease_ttl": 60})
    assert show(b, "max_connections") == "30"
    a.call("/v1/follow", b.address())
    b.call("/v1/replication", {"mode": "sync", "standby_name": "pair-0"})
    wait_for("former active follows in sync", lambda: streaming_in_sync(b, "pair-0"))
    # it started with its own control file's 40; once it replayed the new primary's
    # parameter change its agent restarts it with the configured 30
    wait_for("former active runs its own value", lambda: show(a, "max_connections") == "30", 40)
    wait_for("and follows in sync again", lambda: streaming_in_sync(b, "pair-0"))
    with psycopg.connect(b.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE after_switch (x int)")
        conn.execute("INSERT INTO after_switch VALUES (1)")
    assert b.status()["last_error"] is None and a.status()["last_error"] is None


def test_failing_start_is_bounded_and_reported(pair: tuple[Pod, Pod]) -> None:
    """A standby that cannot start is not restarted, rewound and cloned forever: after
    three failed starts with one configuration the agent says why and waits; a fixed
    configuration starts it again."""
    a, b = pair
    b.call("/v1/stop")
    set_db(b, DB_SETTINGS + "shared_buffers = 'lots'\n")
    failures = []
    for path, body in (("/v1/start", None), ("/v1/follow", a.address())):
        resp = b.post(path, body)
        assert resp.status_code == 500, resp.text
        failures.append(resp.json()["message"])
    assert "postgres exited with code 1 on start: FATAL:" in failures[0], failures[0]
    resp = b.post("/v1/rebuild", a.address())  # the third failure, after a clone or rewind
    assert resp.status_code == 500, resp.text
    clone_mtime = os.stat(b.data / "pgdata" / "PG_VERSION").st_mtime_ns
    for path in ("/v1/rebuild", "/v1/follow"):
        resp = b.post(path, a.address())
        assert resp.status_code == 500
        message = resp.json()["message"]
        assert "failed to start 3 times with this configuration" in message, message
        assert "FATAL" in message and "not trying again" in message
    assert os.stat(b.data / "pgdata" / "PG_VERSION").st_mtime_ns == clone_mtime
    status = b.status()
    assert status["database"] in ("stopped", "crashed") and "3 times" in status["last_error"]
    print(f"reported: {status['last_error']}")
    set_db(b, DB_SETTINGS)  # fixed: the next command starts it
    b.call("/v1/follow", a.address())
    wait_for("standby streams again", lambda: streaming_in_sync(a, "pair-1"))


def tree_digest(root: str) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            st = os.stat(path)
            h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def test_data_directory_of_another_major_version_is_refused(need_pg: None) -> None:
    with pods(("major-0", "127.0.0.2")) as (pod,):
        pod.start()
        pod.call("/v1/promote", {"lease_ttl": 60})
        version = (pod.data / "pgdata" / "PG_VERSION").read_text().strip()
        assert pod.terminate() == 0
        other = str(int(version) - 1)
        (pod.data / "pgdata" / "PG_VERSION").write_text(other + "\n")
        before = tree_digest(str(pod.data / "pgdata"))
        pod.start()
        expected = f"the data directory is PostgreSQL {other} but the server is PostgreSQL"
        wait_for("refusal in status", lambda: expected in (pod.status()["last_error"] or ""))
        assert "major version upgrade is not supported" in pod.status()["last_error"]
        for path, body in (("/v1/promote", {"lease_ttl": 60}), ("/v1/start", None)):
            resp = pod.post(path, body)
            assert resp.status_code == 500 and expected in resp.json()["message"], resp.text
        resp = pod.post("/v1/rebuild", {"host": "127.0.0.9", "port": 5432, "name": "x"})
        assert resp.status_code == 500 and expected in resp.json()["message"], resp.text
        assert pod.status()["database"] == "stopped"
        assert tree_digest(str(pod.data / "pgdata")) == before
