"""Checks shared by the magics tests: an output's bundle, validated against
``protocol/mime.json`` (which references ``protocol.json``), and its HTML
read back with the standard library's parser."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

from memory_doctor.kernel.rich import MIME_TYPE

PROTOCOL_DIR = Path(__file__).resolve().parent.parent / "python" / "memory_doctor" / "protocol"


def _registry() -> tuple[dict[str, Any], Registry]:
    schemas = {
        name: json.loads((PROTOCOL_DIR / name).read_text(encoding="utf-8"))
        for name in ("mime.json", "protocol.json")
    }
    protocol = Resource.from_contents(schemas["protocol.json"])
    registry: Registry = Registry().with_resources(
        [
            (schemas["mime.json"]["$id"], Resource.from_contents(schemas["mime.json"])),
            (schemas["protocol.json"]["$id"], protocol),
            # mime.json names the protocol without its version (see its description).
            ("urn:jupyterlab-memory-doctor:protocol", protocol),
        ]
    )
    return schemas["mime.json"], registry


MIME_SCHEMA, REGISTRY = _registry()


def validate(data: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``data`` is a valid output."""
    jsonschema.Draft202012Validator(MIME_SCHEMA, registry=REGISTRY).validate(data)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> Tags:
    """The tags and text of ``html``."""
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def assert_safe_html(html: str) -> Tags:
    """The HTML runs nothing: no script, no event handler, no link or embedded resource."""
    tags = parse_html(html)
    for tag, attrs in tags.tags:
        assert tag in {
            "div",
            "style",
            "h3",
            "h4",
            "p",
            "pre",
            "code",
            "span",
            "table",
            "thead",
            "tbody",
            "tr",
            "th",
            "td",
        }, tag
        for name, _ in attrs:
            assert name in {"class", "title", "colspan", "data-view"}, (tag, name)
    return tags


def check_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """Validate one output bundle (all three types) and return its data."""
    assert set(bundle) >= {MIME_TYPE, "text/html", "text/plain"}, set(bundle)
    data = bundle[MIME_TYPE]
    validate(data)
    assert_safe_html(bundle["text/html"])
    assert isinstance(bundle["text/plain"], str)
    assert bundle["text/plain"].strip()
    return data
