"""The TypeScript and Python halves of the protocol, and its doc, must agree.

``src/protocol.ts`` is parsed as text (no Node needed): string constants and
``as const`` string arrays are extracted and compared with ``protocol.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memory_doctor import protocol

ROOT = Path(__file__).resolve().parent.parent
TS = (ROOT / "src" / "protocol.ts").read_text(encoding="utf-8")
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def ts_string(name: str) -> str:
    match = re.search(rf"export const {name} = '([^']*)';", TS)
    assert match, f"{name} not found in src/protocol.ts"
    return match.group(1)


def ts_array(name: str) -> tuple[str, ...]:
    match = re.search(rf"export const {name} = \[(.*?)\] as const;", TS, re.S)
    assert match, f"{name} not found in src/protocol.ts"
    return tuple(re.findall(r"'([^']*)'", match.group(1)))


@pytest.mark.parametrize(
    "name", ["COMM_TARGET", "PROTOCOL_VERSION", "BOOTSTRAP_CODE", "PIP_INSTALL_HINT"]
)
def test_constants_agree(name: str) -> None:
    assert ts_string(name) == getattr(protocol, name)


@pytest.mark.parametrize(
    "name",
    [
        "KERNEL_MESSAGES",
        "REQUESTS",
        "ERROR_CODES",
        "PEAK_METHODS",
        "RECORD_FIELDS",
        "HOLDER_KINDS",
        "SCAN_PHASES",
        "SCAN_STOPPED",
        "RESOURCE_KINDS",
        "FIX_ACTIONS",
        "LIMIT_SOURCES",
    ],
)
def test_lists_agree(name: str) -> None:
    assert ts_array(name) == tuple(getattr(protocol, name))


def test_record_interface_lists_every_field() -> None:
    body = re.search(r"export interface ICellRecord \{(.*?)\n\}", TS, re.S)
    assert body
    fields = tuple(re.findall(r"^\s*(\w+)\??:", body.group(1), re.M))
    assert fields == protocol.RECORD_FIELDS


def test_doc_names_version_target_and_every_message() -> None:
    assert f"**Protocol version:** `{protocol.PROTOCOL_VERSION}`" in DOC
    assert f"**Comm target:** `{protocol.COMM_TARGET}`" in DOC
    headings = set(re.findall(r"^### `(\w+)`", DOC, re.M))
    assert headings == set(protocol.KERNEL_MESSAGES) | set(protocol.REQUESTS)
    for code in protocol.ERROR_CODES:
        assert f"`{code}`" in DOC
    for method in protocol.PEAK_METHODS:
        assert f"`{method}`" in DOC
    # The documented record example has exactly the record fields, in order.
    example = re.search(r'"record": \{(.*?)\}', DOC, re.S)
    assert example
    assert tuple(re.findall(r'"(\w+)":', example.group(1))) == protocol.RECORD_FIELDS


def test_version_history_mentions_current_version() -> None:
    assert re.search(rf"^### {re.escape(protocol.PROTOCOL_VERSION)}$", DOC, re.M)


def test_doc_lists_every_resource_kind_fix_action_and_limit_source() -> None:
    for name in (*protocol.RESOURCE_KINDS, *protocol.FIX_ACTIONS, *protocol.LIMIT_SOURCES):
        assert f"`{name}`" in DOC, name
