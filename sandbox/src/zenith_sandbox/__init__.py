"""Run zenith-operator on one machine without Docker: the Kubernetes API emulator
(`sandbox.apiserver`), the local pod runtime (`sandbox.runtime`), faults on demand
(`sandbox.faults`), the processes of a running sandbox (`sandbox.stack`, with
`start_sandbox` for tests and the demo) and the `zenith-operator sandbox` CLI
(`sandbox.cli`). Import-light: nothing is loaded here."""
