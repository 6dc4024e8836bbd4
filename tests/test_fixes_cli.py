"""``memory-doctor run --fix`` applies suggestions in order, and reports both figures.

A fake session answers ``apply_fix`` with scripted results, so the order
logic is checked without a kernel: a fix that acted on a target makes later
suggestions on it redundant, one that freed nothing of its estimate does not.
"""

from __future__ import annotations

from typing import Any

from memory_doctor.headless import report
from memory_doctor.headless.cli import apply_suggestions


class FakeSession:
    """Answers each ``apply_fix`` with the result scripted for its suggestion id."""

    def __init__(self, results: dict[str, dict[str, Any]]) -> None:
        self.results = results
        self.applied: list[str] = []
        self._pending: dict[str, str] = {}

    def send_request(self, type: str, **params: Any) -> str:
        assert type == "apply_fix"
        request_id = f"c{len(self._pending) + 1}"
        self._pending[request_id] = params["suggestion_id"]
        return request_id

    def wait_reply(self, request_id: str, timeout: float) -> dict[str, Any]:
        sid = self._pending.pop(request_id)
        self.applied.append(sid)
        return {"type": "reply", "request_id": request_id, "ok": True, "result": self.results[sid]}

    def is_alive(self) -> bool:
        return True


def sug(sid: str, action: str, targets: list[str], estimate: int | None) -> dict[str, Any]:
    return {"id": sid, "action": action, "targets": targets, "estimated_freed_bytes": estimate}


def result(sid: str, freed: int, returned: int) -> dict[str, Any]:
    return {
        "suggestion_id": sid,
        "action": "x",
        "estimated_freed_bytes": None,
        "measured_freed_bytes": returned,
        "freed_in_process_bytes": freed,
        "returned_to_os_bytes": returned,
        "already_done": [],
        "rss_before": returned,
        "rss_after": 0,
        "explanation": None,
    }


def test_a_fix_that_freed_nothing_leaves_its_target_to_the_next_suggestion() -> None:
    session = FakeSession(
        {
            "s1": result("s1", 0, 0),  # the copy freed nothing: something else holds the base
            "s2": result("s2", 40_000_000, 39_000_000),
            "s3": result("s3", 0, 0),
        }
    )
    fixes = apply_suggestions(
        session,
        [
            sug("s1", "copy_view", ["axes"], 40_000_000),
            sug("s2", "delete_holder", ["axes"], 40_000_000),
            sug("s3", "delete_holder", ["axes", "fig"], 50_000_000),
        ],
    )
    assert session.applied == ["s1", "s2"]
    assert [f["ok"] for f in fixes] == [True, True, False]
    assert fixes[2]["error"] == "skipped: s2 already acted on it"
    assert fixes[1]["freed_in_process_bytes"] == 40_000_000
    assert fixes[1]["returned_to_os_bytes"] == 39_000_000


def test_a_fix_without_an_estimate_acted_on_its_targets() -> None:
    session = FakeSession({"s1": result("s1", 0, 0), "s2": result("s2", 0, 0)})
    apply_suggestions(
        session,
        [
            sug("s1", "close_figures", ["r1"], None),
            sug("s2", "close_figures", ["r1", "r2"], None),
        ],
    )
    assert session.applied == ["s1"]


def test_the_report_says_freed_and_returned() -> None:
    entry = report.fix_entry("s1", result("s1", 320_000_000, 318_000_000), None)
    assert report.fix_outcome_text(entry) == "freed 320 MB \u00b7 returned to the OS 318 MB"
    old = report.fix_entry("s1", {"measured_freed_bytes": 5_000_000}, None)  # a 1.2 helper
    assert old["freed_in_process_bytes"] is None
    assert report.fix_outcome_text(old) == "returned to the OS 5.0 MB"


def test_the_report_lists_findings_per_allocator() -> None:
    section = report.findings_section(
        {
            "findings": {
                "open_fds": 12,
                "threads": 3,
                "children": 0,
                "cyclic_garbage": {"objects": 5, "bytes": 400},
                "allocator_gap": {
                    "bytes": 30,
                    "malloc_trim": True,
                    "parts": [
                        {"allocator": "pymalloc", "bytes": 10, "returnable": False},
                        {"allocator": "glibc_heap", "bytes": 20, "returnable": True},
                    ],
                },
            }
        }
    )
    assert section["allocator_gap"] == [
        {"allocator": "pymalloc", "bytes": 10, "returnable": False},
        {"allocator": "glibc_heap", "bytes": 20, "returnable": True},
    ]
    assert section["cyclic_garbage"] == {"objects": 5, "bytes": 400}
    html = report.render_section(
        "fixes.html.j2", {"findings": section, "resources": [], "suggestions": []}
    )
    assert "glibc&#39;s main heap" in html and "reused by Python" in html
    assert "Cyclic garbage: 5 unreachable objects" in html
