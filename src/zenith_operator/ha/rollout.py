"""Configuration rollout (the seed's procedure), as helpers of `decide()`.

The StatefulSet uses `updateStrategy: OnDelete`: a changed pod template (its config
hash annotation) reaches a pod only when the pod is deleted. From `Normal` only, the
operator deletes the standby's pod, waits for `Normal` again (the new standby in sync),
switches over to it (the ordinary Switchover machinery), then deletes the former
active's pod. The intent is recorded in `status.rollout` before any pod is deleted, so
a restarted operator resumes. A single instance is restarted in place (downtime).

Pure, like the rest of ha/: everything comes from the Plan (status, observations, now).
"""

from __future__ import annotations

from zenith_operator.api.status import RolloutStatus
from zenith_operator.ha.model import DeletePod
from zenith_operator.ha.plan import Plan
from zenith_operator.ha.states import RolloutStep
from zenith_operator.ha.times import fmt, parse

ROLLOUT_REASON = "configuration rollout"
MAX_ROLLOUT_RESTARTS = 6  # pods deleted for one target hash before giving up (Stalled)

EVENT_OF_STEP = {
    RolloutStep.RESTART_STANDBY: "RolloutRestartStandby",
    RolloutStep.RESTART_FORMER_ACTIVE: "RolloutRestartFormerActive",
    RolloutStep.RESTART_INSTANCE: "RolloutRestartInstance",
}


def stale(p: Plan, name: str) -> bool:
    """The pod of `name` exists and carries another config hash than the template."""
    desired = p.obs.desired_config_hash
    o = p.inst(name)
    return (
        desired is not None
        and o.pod_exists
        and o.config_hash is not None
        and o.config_hash != desired
    )


def any_stale(p: Plan) -> bool:
    return any(stale(p, n) for n in p.names)


def _short(h: str | None) -> str:
    return (h or "?")[:8]


def record(p: Plan, step: RolloutStep, instance: str) -> RolloutStatus:
    """status.rollout for the current target hash (started, or retargeted, here)."""
    desired = p.obs.desired_config_hash or "?"
    r = p.st.rollout
    if r is None:
        r = RolloutStatus(target_hash=desired, step=step, instance=instance, since=fmt(p.now))
        p.st.rollout = r
        first = "restarting" + (" the standby first" if p.pair else " the single instance")
        p.event(
            "RolloutStarted",
            f"the pod template's configuration changed (config hash {_short(desired)}): {first}",
        )
        return r
    if r.target_hash != desired:
        p.event(
            "RolloutRetargeted",
            f"the configuration changed again during the rollout: now rolling out config "
            f"hash {_short(desired)} (was {_short(r.target_hash)})",
        )
        r.target_hash = desired
        r.restarts = 0
        r.step = step
    if r.step != RolloutStep.STALLED:
        r.step = step
        r.instance = instance
    return r


def restart(p: Plan, name: str, step: RolloutStep) -> str:
    """Delete the pod of `name` (once per incarnation) so it restarts with the new template.

    Returns the sentence appended to the decision's reason.
    """
    o = p.inst(name)
    r = record(p, step, name)
    target = _short(r.target_hash)
    if r.step == RolloutStep.STALLED:
        return (
            f"configuration rollout stalled: {r.restarts} pods deleted and {name} still "
            f"does not carry config hash {target}"
        )
    if not o.pod_exists or o.pod_deleting:
        return f"configuration rollout: waiting for {name}'s pod to be recreated"
    last = parse(r.last_attempt)
    if r.deleted_uid == o.pod_uid and last is not None and p.now - last < p.timeout:
        return f"configuration rollout: waiting for {name}'s pod to go"
    if r.restarts >= MAX_ROLLOUT_RESTARTS:
        r.step = RolloutStep.STALLED
        p.event(
            "RolloutStalled",
            f"{r.restarts} pods deleted and {name} still does not carry config hash {target}: "
            "check the StatefulSet's pod template; the rollout resumes when the "
            "configuration changes again",
            warning=True,
        )
        return f"configuration rollout stalled after {r.restarts} pod restarts"
    r.deleted_uid = o.pod_uid
    r.last_attempt = fmt(p.now)
    r.restarts += 1
    p.act(DeletePod(name, o.pod_uid))
    what = {
        RolloutStep.RESTART_STANDBY: f"restarting the standby {name}",
        RolloutStep.RESTART_FORMER_ACTIVE: f"restarting the former active {name}",
        RolloutStep.RESTART_INSTANCE: (
            f"restarting the single instance {name} in place (no writes until it is back)"
        ),
    }.get(step, f"restarting {name}")
    text = f"configuration rollout: {what} with config hash {target}"
    p.event(EVENT_OF_STEP.get(step, "RolloutRestart"), f"deleting pod {name}: {text}")
    return text


def complete(p: Plan) -> str | None:
    """In Normal with every pod on the template's hash: the rollout is over."""
    r = p.st.rollout
    if r is None or p.obs.desired_config_hash is None or any_stale(p):
        return None
    p.st.rollout = None
    text = f"configuration rollout of config hash {_short(r.target_hash)} completed"
    p.event("RolloutCompleted", f"{text}: every instance runs the new configuration")
    return text
