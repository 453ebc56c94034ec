"""The emulator's request counters (used by `make bench-scale`) and its pause fault."""

from __future__ import annotations

import threading
import urllib.request

from zenith_sandbox.apiserver import ApiServer


def _get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def test_requests_are_counted_by_verb_and_resource(apiserver: ApiServer) -> None:
    _get(f"{apiserver.url}/api/v1/namespaces/default/pods")
    _get(f"{apiserver.url}/api/v1/namespaces/default")
    text = _get(f"{apiserver.url}/metrics")
    assert 'apiserver_request_total{verb="LIST",resource="pods"} 1' in text
    assert 'apiserver_request_total{verb="GET",resource="namespaces"} 1' in text


def test_a_paused_server_answers_after_resume(apiserver: ApiServer) -> None:
    apiserver.pause()
    answered = threading.Event()

    def ask() -> None:
        _get(f"{apiserver.url}/api/v1/namespaces/default", timeout=30)
        answered.set()

    worker = threading.Thread(target=ask, daemon=True)
    worker.start()
    assert not answered.wait(0.5), "a paused server answered"
    apiserver.resume()
    assert answered.wait(10), "no answer after resume"
