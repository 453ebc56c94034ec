"""PostgreSQL reference engine.

Layout under $ZENITH_DATA_DIR (every file outside `pgdata` is rewritten by the agent, so
pg_basebackup / pg_rewind, which copy the peer's config files, cannot carry one
instance's settings to the other):

    pgdata/                 PGDATA (0700, owner postgres)
    conf/postgresql.conf    base settings; includes db.conf then instance.conf
    conf/db.conf            concatenation of $ZENITH_CONFIG_DIR/db/* (user settings)
    conf/instance.conf      listen address, port, socket dir, upstream, sync standby names
    conf/pg_hba.conf        scram everywhere, trust on the (0700) unix socket directory
    conf/pgpass             peer passwords for primary_conninfo, pg_rewind, pg_basebackup
    run/                    unix socket directory (0700)

The postmaster is the agent's direct child (never `pg_ctl start`), runs as user
`postgres` when the agent is root, stays in the agent's process group and gets
PR_SET_PDEATHSIG=SIGKILL so it dies with the agent.
"""

from zenith_operator.agent.engines.postgres.base import find_bindir
from zenith_operator.agent.engines.postgres.engine import PostgresEngine

__all__ = ["PostgresEngine", "find_bindir"]
