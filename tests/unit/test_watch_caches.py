"""The reflector's cache and the map of ConfigMap/Secret users: plain data, no server."""

from __future__ import annotations

from zenith_operator.controller.config_users import ConfigUsers
from zenith_operator.controller.reflector import Cache


def test_cache_put_drop_and_replace_keep_keys_exact() -> None:
    seen: list[tuple[tuple[str, str], str]] = []
    cache = Cache[str](lambda key, value: seen.append((key, value)))
    cache.put("u1", {("ns", "a"): "a-0"})
    cache.put("u2", {("ns", "a"): "a-1"})
    assert sorted(cache[("ns", "a")]) == ["a-0", "a-1"]
    cache.put("u1", {("ns", "b"): "b-0"})  # relabelled: it moves, nothing stays behind
    assert cache[("ns", "a")] == ("a-1",) and cache[("ns", "b")] == ("b-0",)
    cache.put("u2", {})  # no longer ours
    assert ("ns", "a") not in cache and len(cache) == 1
    cache.replace({"u3": {("ns", "c"): "c-0"}})  # a new list: u1 is gone
    assert dict(cache) == {("ns", "c"): ("c-0",)}
    cache.drop("u3")
    cache.drop("unknown")
    assert len(cache) == 0 and cache.get(("ns", "c"), ()) == ()
    assert seen[-1] == (("ns", "c"), "c-0")


def test_config_users_follow_each_cluster_spec() -> None:
    users = ConfigUsers()
    cm = ("ns", "ConfigMap", "tuning")
    secret = ("ns", "Secret", "tls")
    users.uses("ns", "a", [cm, secret])
    users.uses("ns", "b", [cm])
    assert users.users(cm) == ["a", "b"] and users.users(secret) == ["a"]
    users.uses("ns", "a", [cm])  # its spec dropped the secret
    assert users.users(secret) == []
    users.uses("ns", "b", [])  # deleted
    assert users.users(cm) == ["a"] and users.users(("ns", "ConfigMap", "x")) == []
