"""Run zenith-operator on one machine without Docker: the Kubernetes API emulator
(`sandbox.apiserver`), the local pod runtime (`sandbox.runtime`), faults on demand
(`sandbox.faults`) and the `zenith-operator sandbox` CLI (`sandbox.cli`, with
`start_sandbox` for tests and the demo). Import-light: nothing is loaded here."""
