"""The magics' words for suggestions read as the panel's (src/panels/fixes/text.ts)."""

from __future__ import annotations

from typing import Any

from memory_doctor.kernel import words


def sug(action: str, targets: list[str]) -> dict[str, Any]:
    return {"action": action, "targets": targets}


def test_a_cache_is_named_after_its_function() -> None:
    assert words.suggestion_title(sug("cache_clear", ["load_chunk"])) == "Clear load_chunk's cache"


def test_a_log_buffer_is_named_after_its_handler() -> None:
    label = "logging.getLogger('md').handlers[0]"
    assert words.suggestion_title(sug("clear_log_buffer", [label])) == (
        f"Clear the log buffer of {label}"
    )


def test_figures_are_counted() -> None:
    resources = [{"id": f"r{i}", "label": f"Figure {i}"} for i in range(1, 6)]
    several = sug("close_figures", [r["id"] for r in resources])
    assert words.suggestion_title(several, resources) == "Close 5 figures"
    assert words.suggestion_title(sug("close_figures", ["r2"]), resources) == "Close Figure 2"
    assert words.suggestion_title(sug("close_figures", [])) == "Close all pyplot figures"
