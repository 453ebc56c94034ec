"""Pod template rollout (the seed's procedure for any template change), as helpers of
`decide()`.

The StatefulSet uses `updateStrategy: OnDelete`: a changed pod template (image,
resources, env, sidecars, probes, the config hash annotation, ...) reaches a pod only
when the pod is deleted. The StatefulSet controller labels each pod with the revision it
was created from (`controller-revision-hash`) and publishes the template's revision as
`status.updateRevision`; a pod on another revision is stale. From `Normal` only, the
operator deletes the standby's pod, waits for `Normal` again (the new standby in sync),
switches over to it (the ordinary Switchover machinery), then deletes the former
active's pod. The intent is recorded in `status.rollout` before any pod is deleted, so
a restarted operator resumes. A single instance is restarted in place (downtime).
Pods that never served (Initializing) are replaced at once. A pod on the new revision
that does not start pauses the rollout; a spec change (a fix or a revert) resumes it.

Pure, like the rest of ha/: everything comes from the Plan (status, observations, now).
"""

from __future__ import annotations

from zenith_operator.api.status import RolloutStatus
from zenith_operator.ha.model import DeletePod
from zenith_operator.ha.plan import Plan
from zenith_operator.ha.states import RolloutStep
from zenith_operator.ha.times import fmt, parse
from zenith_operator.wire import DatabaseState

ROLLOUT_REASON = "pod template rollout"
MAX_ROLLOUT_RESTARTS = 6  # pods deleted for one target revision before giving up (Stalled)
PAUSE_AFTER_TIMEOUTS = 3  # a new pod not up after this many unreachableTimeouts: Paused

EVENT_OF_STEP = {
    RolloutStep.RESTART_STANDBY: "RolloutRestartStandby",
    RolloutStep.RESTART_FORMER_ACTIVE: "RolloutRestartFormerActive",
    RolloutStep.RESTART_INSTANCE: "RolloutRestartInstance",
    RolloutStep.REPLACE_UNINITIALIZED: "RolloutReplaceUninitialized",
}


def stale(p: Plan, name: str) -> bool:
    """The pod of `name` exists and was created from another revision than the template's."""
    desired = p.obs.update_revision
    o = p.inst(name)
    return desired is not None and o.pod_exists and o.revision is not None and o.revision != desired


def updated(p: Plan, name: str) -> bool:
    """The pod of `name` exists and runs the template's revision."""
    o = p.inst(name)
    return (
        p.obs.update_revision is not None and o.pod_exists and o.revision == p.obs.update_revision
    )


def any_stale(p: Plan) -> bool:
    return any(stale(p, n) for n in p.names)


def short(revision: str | None) -> str:
    """The hash part of a revision name (NAME-HASH)."""
    return (revision or "?").rsplit("-", 1)[-1]


def record(p: Plan, step: RolloutStep, instance: str) -> RolloutStatus:
    """status.rollout for the current target revision (started, or retargeted, here)."""
    desired = p.obs.update_revision or "?"
    r = p.st.rollout
    if r is None:
        active = p.st.active_instance
        source = p.inst(active).revision if active in p.names else None
        r = RolloutStatus(
            from_revision=source or p.inst(instance).revision,
            to_revision=desired,
            step=step,
            instance=instance,
            started=fmt(p.now),
        )
        p.st.rollout = r
        if step == RolloutStep.REPLACE_UNINITIALIZED:
            first = "replacing the pods that never started"
        else:
            first = "restarting" + (" the standby first" if p.pair else " the single instance")
        p.event(
            "RolloutStarted",
            f"the pod template changed (revision {short(r.from_revision)} -> "
            f"{short(desired)}): {first}",
        )
        return r
    if r.to_revision != desired:
        p.event(
            "RolloutRetargeted",
            f"the pod template changed again during the rollout: now rolling out revision "
            f"{short(desired)} (was {short(r.to_revision)})",
        )
        r.to_revision = desired
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
    target = short(r.to_revision)
    if r.step == RolloutStep.STALLED:
        return (
            f"rollout stalled: {r.restarts} pods deleted and {name} still does not run "
            f"revision {target}"
        )
    if not o.pod_exists or o.pod_deleting:
        return f"rollout: waiting for {name}'s pod to be recreated"
    last = parse(r.last_attempt)
    sent = not p.unsent(r.last_attempt)
    if r.deleted_uid == o.pod_uid and last is not None and p.now - last < p.timeout and sent:
        return f"rollout: waiting for {name}'s pod to go"
    if sent and r.restarts >= MAX_ROLLOUT_RESTARTS:
        r.step = RolloutStep.STALLED
        p.event(
            "RolloutStalled",
            f"{r.restarts} pods deleted and {name} still does not run revision {target}: "
            "check the StatefulSet; the rollout resumes when the pod template changes again",
            warning=True,
        )
        return f"rollout stalled after {r.restarts} pod restarts"
    r.deleted_uid = o.pod_uid
    r.last_attempt = fmt(p.now)
    r.restarts += 1 if sent else 0
    p.act(DeletePod(name, o.pod_uid))
    what = {
        RolloutStep.RESTART_STANDBY: f"restarting the standby {name}",
        RolloutStep.RESTART_FORMER_ACTIVE: f"restarting the former active {name}",
        RolloutStep.RESTART_INSTANCE: (
            f"restarting the single instance {name} in place (no writes until it is back)"
            if not p.pair
            else f"restarting the active {name}, which does not serve"
        ),
        RolloutStep.REPLACE_UNINITIALIZED: f"replacing {name}, which does not serve",
    }.get(step, f"restarting {name}")
    text = f"rollout: {what} with revision {target}"
    p.event(EVENT_OF_STEP.get(step, "RolloutRestart"), f"deleting pod {name}: {text}")
    return text


def replaceable(p: Plan, name: str) -> bool:
    """A stale pod whose database is down (crashed, stopped, or no answer) and that runs
    no command: replacing it with the current template loses nothing (its data is on its
    volume). A database still starting (crash recovery) is left to finish."""
    o = p.inst(name)
    if not stale(p, name) or o.serving_active or o.busy:
        return False
    a = o.agent
    return a is None or a.database in (DatabaseState.CRASHED, DatabaseState.STOPPED)


def paused(p: Plan, name: str, why: str) -> str | None:
    """During a rollout, `name` runs the new revision but has not come up (`why`) for
    PAUSE_AFTER_TIMEOUTS x unreachableTimeout: the rollout pauses (a Warning Event once);
    it goes on by itself if the pod comes up, or with a new template (a fix or a revert).

    Returns the sentence appended to the decision's reason."""
    r = p.st.rollout
    o = p.inst(name)
    if r is None or r.step == RolloutStep.STALLED or not updated(p, name) or o.busy:
        return None
    since = o.seen_since or parse(r.last_attempt) or parse(r.started)
    if since is None or p.now - since < PAUSE_AFTER_TIMEOUTS * p.timeout:
        return None
    target = short(r.to_revision)
    text = (
        f"rollout paused: {name} runs revision {target} but does not start ({why}); "
        "fix or revert the spec to go on"
    )
    if r.step != RolloutStep.PAUSED:
        r.step = RolloutStep.PAUSED
        r.instance = name
        p.event("RolloutPaused", text, warning=True)
    return text


def complete(p: Plan) -> str | None:
    """In Normal with every pod on the template's revision: the rollout is over."""
    r = p.st.rollout
    if r is None or p.obs.update_revision is None or any_stale(p):
        return None
    p.st.rollout = None
    text = f"rollout of revision {short(r.to_revision)} completed"
    p.event("RolloutCompleted", f"{text}: every instance runs the current pod template")
    return text
