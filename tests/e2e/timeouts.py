"""Named timeouts of the e2e suite (seconds). Every wait in tests/e2e uses one of these.

Generous on purpose: kind on a laptop or a CI runner is slow, and a wait returns as soon
as its condition holds. The HA timing of the clusters under test is in `manifests.py`.
"""

from __future__ import annotations

# --- environment (session setup)
DOCKER_INFO = 20  # `docker info` during the availability check
KIND_CREATE = 300  # `kind create cluster --wait` plus node readiness
IMAGE_BUILD = 1800  # `docker build` of the operator/agent image (PostgreSQL install)
IMAGE_LOAD = 600  # `kind load docker-image`
CRD_ESTABLISHED = 60
OPERATOR_AVAILABLE = 300  # the operator Deployment becomes Available
KIND_DELETE = 180

# --- single commands
KUBECTL = 60  # one kubectl command
EXEC = 30  # one `kubectl exec` (psql, kill, ls)
SQL = 15  # one statement through psql (client side, on top of connect)

# --- cluster lifecycle
CLUSTER_NORMAL = 420  # a new ZenithCluster reaches Normal (PVC binding, initdb, clone)
CLIENT_POD_READY = 180  # the SQL client / writer pod is Running
FAILOVER = 180  # from a fault on the active to another instance being active
RECOVERY = 420  # from a fault back to Normal (the lost pod rebuilt and in sync)
STATE_SEEN = 120  # a transient state (StandbyDown, ActiveDown, ...) shows up in the status
SWITCHOVER = 300  # switchover-to annotation -> roles swapped, Normal and sync again
CONFIG_ROLLOUT = 900  # dbConfigMap edit -> both instances restarted, switchover, Normal
STOP = 300  # stopped: true -> no pods left
DELETE = 300  # ZenithCluster deleted -> owned objects gone
NAMESPACE_DELETE = 300
WRITES_RESUME = 120  # acknowledged writes flow again after a fault

# --- pacing
POLL = 1.0  # interval of wait_for
MONITOR_INTERVAL = 0.5  # sampling interval of the split-brain monitor

# --- whole test (pytest-timeout; the first test also pays for the session setup)
TEST = 3600
