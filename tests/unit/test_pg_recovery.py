"""Pure parts of a PostgreSQL start in recovery (agent/engines/postgres/recovery.py)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from zenith_operator.agent.engines.postgres.recovery import (
    HOT_STANDBY_SETTINGS,
    MAX_FAILED_STARTS,
    StartFailures,
    incompatible,
    parse_controldata,
    server_major,
    standby_floor,
)

CONTROLDATA = """\
pg_control version number:            1300
Database cluster state:               in archive recovery
wal_level setting:                    replica
wal_log_hints setting:                on
max_connections setting:              200
max_worker_processes setting:         8
max_wal_senders setting:              10
max_prepared_xacts setting:           0
max_locks_per_xact setting:           64
track_commit_timestamp setting:       off
"""


def test_parse_controldata_reads_the_primarys_hot_standby_settings() -> None:
    assert parse_controldata(CONTROLDATA) == {
        "max_connections": 200,
        "max_worker_processes": 8,
        "max_wal_senders": 10,
        "max_prepared_transactions": 0,
        "max_locks_per_transaction": 64,
    }
    assert parse_controldata("garbage\nmax_connections setting: x\n") == {}


def test_floor_raises_only_what_is_below_the_primary() -> None:
    primary = parse_controldata(CONTROLDATA)
    configured = dict(primary, max_connections=150, max_wal_senders=20)
    assert standby_floor(primary, configured) == {"max_connections": 200}
    assert standby_floor(primary, primary) == {}
    assert standby_floor(primary, {}) == {}  # unknown configured value: left alone


values = st.integers(min_value=0, max_value=10_000)
settings_maps = st.fixed_dictionaries({name: values for name in HOT_STANDBY_SETTINGS})


@settings(derandomize=True)
@given(primary=settings_maps, configured=settings_maps)
@example(
    primary={n: 1 for n in HOT_STANDBY_SETTINGS}, configured={n: 0 for n in HOT_STANDBY_SETTINGS}
)
def test_floor_makes_every_setting_at_least_the_primarys(
    primary: dict[str, int], configured: dict[str, int]
) -> None:
    effective = dict(configured, **standby_floor(primary, configured))
    for name in HOT_STANDBY_SETTINGS:
        assert effective[name] == max(primary[name], configured[name])


def test_server_major_and_incompatibility() -> None:
    assert server_major("postgres (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)") == "15"
    assert server_major("postgres (PostgreSQL) 18.6") == "18"
    assert server_major("postgres (PostgreSQL) 9.6.24") == "9.6"
    assert server_major("something else") is None
    assert incompatible("15", "15") is None
    message = incompatible("14", "15")
    assert message is not None
    assert "PostgreSQL 14 but the server is PostgreSQL 15" in message
    assert "major version upgrade is not supported" in message


def test_start_failures_block_the_same_configuration_only() -> None:
    f = StartFailures()
    for _ in range(MAX_FAILED_STARTS - 1):
        f.record("h1", "FATAL: x")
        assert f.blocked("h1") is None
    f.record("h1", "FATAL: recovery aborted")
    why = f.blocked("h1")
    assert why is not None and "3 times" in why and "FATAL: recovery aborted" in why
    assert f.blocked("h2") is None  # a changed configuration is tried
    f.record("h2", "FATAL: y")  # and counted afresh
    assert f.count == 1 and f.blocked("h2") is None
    f.record("h2", "FATAL: y")
    f.record("h2", "FATAL: y")
    assert f.blocked("h2") is not None
    f.clear()  # an explicit start
    assert f.blocked("h2") is None
