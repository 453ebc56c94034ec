"""`kubectl zenith`: the kubectl plugin (executable `kubectl-zenith`), see docs/operations.md."""
