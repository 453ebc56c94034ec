"""Read Prometheus metrics in the sandbox: the operator's and each agent's /metrics.

Used by the demo (what moved during the failover) and by the scenarios that assert it.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from zenith_operator import naming

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Samples:
    values: dict[tuple[str, Labels], float]

    def get(self, metric: str, /, **labels: str) -> float | None:
        """The one sample named `metric` whose labels include `labels` (None: absent)."""
        want = set(labels.items())
        found = [v for (n, ls), v in self.values.items() if n == metric and want <= set(ls)]
        return found[0] if len(found) == 1 else None

    def total(self, metric: str, /, **labels: str) -> float:
        """The sum of every sample named `metric` whose labels include `labels`."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.values.items() if n == metric and want <= set(ls))


def scrape(url: str, timeout: float = 5.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode()
    return Samples(
        {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
    )


def agent_url(pod_ip: str, port: int = naming.DEFAULT_METRICS_PORT) -> str:
    return f"http://{pod_ip}:{port}/metrics"
