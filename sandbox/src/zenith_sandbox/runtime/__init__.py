"""Local pod runtime of the sandbox: StatefulSet controller, scheduler, provisioner and
kubelet, talking to any Kubernetes API server through the `kubernetes` client.
Entry point: `zenith-operator runtime` (`main.main`); see docs/sandbox.md."""
