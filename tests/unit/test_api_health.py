"""The HA loops' view of the API: away after an error that means 'no answer', back
after one shared probe answers."""

from __future__ import annotations

import asyncio

from zenith_operator.controller.api_health import ApiHealth
from zenith_operator.controller.reconcile_kube import UNREACHABLE, KubeError, is_unreachable


def test_which_errors_mean_the_api_is_away() -> None:
    assert is_unreachable(KubeError(0, UNREACHABLE, "timed out"))
    assert is_unreachable(KubeError(503, "ServiceUnavailable", ""))
    assert is_unreachable(KubeError(429, "TooManyRequests", ""))
    assert not is_unreachable(KubeError(409, "Conflict", ""))
    assert not is_unreachable(KubeError(422, "Invalid", ""))
    assert not is_unreachable(ValueError("boom"))


def test_away_until_the_probe_answers() -> None:
    answers: list[bool] = [False, True]
    probes: list[float] = []
    now = [0.0]

    def probe() -> None:
        probes.append(now[0])
        if not answers.pop(0):
            raise KubeError(0, UNREACHABLE, "refused")

    async def scenario() -> None:
        health = ApiHealth(probe, clock=lambda: now[0], probe_every=1.0)
        health.failed(KubeError(409, "Conflict", "lost a race"))
        assert not health.away, "a refusal is an answer"
        health.failed(KubeError(0, UNREACHABLE, "timed out"))
        assert health.away  # starts the first probe
        await asyncio.sleep(0.05)
        assert health.away and probes == [0.0]
        now[0] = 0.5
        assert health.away and probes == [0.0], "probes are spaced by probe_every"
        now[0] = 1.0
        assert health.away  # second probe, which answers
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not health.away:
                break
        assert not health.away and probes == [0.0, 1.0]

    asyncio.run(scenario())


def test_the_write_budget_keeps_renewals_within_half_the_lease() -> None:
    from zenith_operator.controller.ha_loop import write_budget
    from zenith_operator.ha.model import Settings
    from zenith_operator.ha.states import FailoverPolicy

    def settings(interval: float, timeout: int) -> Settings:
        return Settings(
            replicas=2,
            polling_interval=interval,
            unreachable_timeout=timeout,
            failover_policy=FailoverPolicy.ZERO_DATA_LOSS,
        )

    assert write_budget(settings(10, 30), 2.0) == 10  # defaults: one interval
    assert write_budget(settings(5, 15), 2.0) == 3.0  # lease 14: 14 / 2 - 2 x 2
    assert write_budget(settings(1, 4), 0.5) == 0.5  # lease 3: 1.5 - 1
    assert write_budget(settings(5, 6), 2.0) == 0.5  # never below half a second
