"""Helpers shared by the end-to-end tests of the fixes: apply one, find one, compare."""

from __future__ import annotations

from typing import Any

from memory_doctor.headless.driver import KernelSession


def apply(session: KernelSession, sug: dict[str, Any], **override: Any) -> dict[str, Any]:
    """Send ``apply_fix`` for a suggestion (fields overridden as given); the reply."""
    params = {
        "suggestion_id": sug["id"],
        "action": sug["action"],
        "targets": sug["targets"],
        **override,
    }
    request_id = session.send_request("apply_fix", **params)
    return session.wait_reply(request_id, timeout=120)


def applied(session: KernelSession, sug: dict[str, Any]) -> dict[str, Any]:
    """Apply a suggestion that must succeed; its result, checked for the basics."""
    reply = apply(session, sug)
    assert reply["ok"] is True, reply
    result: dict[str, Any] = reply["result"]
    assert result["suggestion_id"] == sug["id"] and result["action"] == sug["action"]
    assert result["measured_freed_bytes"] == max(result["rss_before"] - result["rss_after"], 0)
    return result


def suggestions(result: dict[str, Any], action: str, **match: Any) -> list[dict[str, Any]]:
    """The scan's suggestions of ``action`` whose fields equal ``match``."""
    return [
        s
        for s in result["suggestions"]
        if s["action"] == action and all(s.get(k) == v for k, v in match.items())
    ]


def only(result: dict[str, Any], action: str, **match: Any) -> dict[str, Any]:
    """The one suggestion of ``action`` matching ``match`` (fails on none or several)."""
    found = suggestions(result, action, **match)
    assert len(found) == 1, (action, match, result["suggestions"])
    return found[0]


def value(session: KernelSession, expression: str) -> str:
    """The repr of ``expression`` evaluated in the kernel (as ``user_expressions``)."""
    return str(session.evaluate({"v": expression})["v"])


def within(measured: int, estimate: int, low: float = 0.8, high: float = 1.25) -> bool:
    """Whether ``measured`` is between ``low`` and ``high`` times ``estimate``."""
    return low * estimate <= measured <= high * estimate
