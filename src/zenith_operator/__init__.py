"""zenith-operator: a Kubernetes operator for the zenith active/standby database."""

__version__ = "0.1.0"
