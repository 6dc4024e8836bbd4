"""Validate Memory Doctor comm messages against ``protocol.json``.

The schema is the producer's contract for protocol 1.2 (every field a 1.2
helper sends is required, nothing else may appear), so a message that passes
here is one the generated TypeScript decoders read. On top of JSON Schema this
checks the schema's own keyword ``x-unique-by`` and the ``x-invariants`` it
lists in words (``rss_delta == rss_after - rss_before`` and the like), which
JSON Schema cannot say.

Use it from tests only: ``jsonschema`` is a test dependency, never imported by
the helper.

    validate_kernel_message(message, request_type="scan")   # raises ProtocolViolation
    problems("Holder", holder)                               # a list of sentences

:class:`MessageChecker` is what the test fakes and the kernel driver's wrapper
use: it remembers each request's type by its ``request_id`` and checks every
message from the kernel, an ok reply's ``result`` against that request's
result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

#: The schema, shipped inside the package next to the module generated from it.
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "python/memory_doctor/protocol/protocol.json"


class ProtocolViolation(AssertionError):
    """A message that does not follow ``protocol.json``; ``problems`` lists each way."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(f"{what} violates protocol.json:\n  " + "\n  ".join(problems))


@cache
def load_schema() -> dict[str, Any]:
    """The parsed schema (checked against the 2020-12 metaschema once)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


def constant(name: str) -> Any:
    """A value of the schema's ``x-constants`` (sums computed)."""
    entries = load_schema()["x-constants"]
    entry = entries[name]
    if "sum" in entry:
        return sum(constant(term) for term in entry["sum"])
    return entry["value"]


def _unique_by(
    validator: Any, key: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """``x-unique-by``: no two items of the array share ``item[key]``."""
    del schema
    if not validator.is_type(instance, "array"):
        return
    first: dict[Any, int] = {}
    for i, item in enumerate(instance):
        if not isinstance(item, dict) or key not in item:
            continue
        value = item[key]
        if not isinstance(value, (str, int, float, bool)) and value is not None:
            continue  # the type check reports it
        if value in first:
            yield ValidationError(f"{key} {value!r} repeats item {first[value]}'s", path=(i, key))
        else:
            first[value] = i


_ProtocolValidator = validators.extend(Draft202012Validator, {"x-unique-by": _unique_by})


@cache
def _validator(definition: str) -> Any:
    schema = load_schema()
    if definition not in schema["$defs"]:
        raise KeyError(f"protocol.json has no definition {definition!r}")
    return _ProtocolValidator({"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"})


# ---------------------------------------------------------------------- dispatch


def _member_const(name: str, prop: str) -> Any:
    node = load_schema()["$defs"][name].get("properties", {}).get(prop, {})
    return node.get("const", _MISSING)


_MISSING = object()


def _branch(definition: str, value: Any) -> str:
    """The member of a union definition ``value`` claims to be, by its consts.

    ``KernelMessage`` by ``type``, then ``ReplyMessage`` by ``ok``: validating
    against the chosen member gives errors about its fields instead of "is not
    valid under any of the given schemas".
    """
    defs = load_schema()["$defs"]
    members = defs[definition].get("oneOf") or defs[definition].get("anyOf")
    if not members or not isinstance(value, dict):
        return definition
    names = [m["$ref"].rsplit("/", 1)[-1] for m in members if "$ref" in m]
    if len(names) != len(members):
        return definition
    for name in names:
        leaf = _branch(name, value)
        props = defs[leaf].get("properties", {})
        consts = {k: v["const"] for k, v in props.items() if "const" in v}
        if consts and all(value.get(k, _MISSING) == c for k, c in consts.items()):
            return leaf
    return definition


def _flatten(error: ValidationError) -> Iterator[ValidationError]:
    """The errors inside an ``X or null`` union, instead of "not valid under any"."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        yield error
        return
    branches: dict[int, list[ValidationError]] = {}
    for inner in error.context:
        branches.setdefault(int(inner.relative_schema_path[0]), []).append(inner)
    alternatives = error.validator_value
    real = [i for i in branches if alternatives[i].get("type") != "null"]
    if len(real) != 1:
        yield error
        return
    for inner in branches[real[0]]:
        yield from _flatten(inner)


def _is_union(definition: str) -> bool:
    node = load_schema()["$defs"][definition]
    return "oneOf" in node or "anyOf" in node


def _leaves(definition: str) -> list[str]:
    node = load_schema()["$defs"][definition]
    members = node.get("oneOf") or node.get("anyOf")
    if not members:
        return [definition]
    return [leaf for m in members for leaf in _leaves(m["$ref"].rsplit("/", 1)[-1])]


def _dispatch_error(definition: str, value: Mapping[str, Any]) -> str:
    """Which const field (``type``, then ``ok``) matches no member of the union."""
    leaves = _leaves(definition)
    checked: set[str] = set()
    while True:
        props = load_schema()["$defs"][leaves[0]].get("properties", {})
        prop = next((k for k, v in props.items() if "const" in v and k not in checked), None)
        if prop is None:
            return f"$: matches no member of {definition}"
        checked.add(prop)
        known = [leaf for leaf in leaves if _member_const(leaf, prop) == value.get(prop, _MISSING)]
        if not known:
            values = sorted({json.dumps(_member_const(leaf, prop)) for leaf in leaves})
            return f"$.{prop}: {value.get(prop)!r} is not one of {', '.join(values)}"
        leaves = known


# ---------------------------------------------------------------------- invariants


def _scan_result(value: Mapping[str, Any]) -> list[str]:
    out = []
    if value["unattributed_bytes"] != max(value["rss"] - value["attributed_bytes"], 0):
        out.append("unattributed_bytes != max(rss - attributed_bytes, 0)")
    if len(value["holders"]) + len(value.get("holder_index", [])) > value.get(
        "holders_total", len(value["holders"])
    ):
        out.append("len(holders) + len(holder_index) > holders_total")
    holders = {h["id"] for h in value["holders"]}
    resources = {r["id"] for r in value["resources"]}
    resource_actions = {
        "close_resource",
        "terminate_process",
        "close_pool",
        "close_figures",
        "cancel_task",
    }
    for i, s in enumerate(value["suggestions"]):
        if s["holder_id"] is not None and s["holder_id"] not in holders:
            out.append(f".suggestions[{i}].holder_id: {s['holder_id']!r} names no holder")
        if s["resource_id"] is not None and s["resource_id"] not in resources:
            out.append(f".suggestions[{i}].resource_id: {s['resource_id']!r} names no resource")
        if s["action"] in resource_actions and not set(s["targets"]) <= resources:
            out.append(f".suggestions[{i}].targets: not all resource ids")
    return out


#: The checks behind each definition's ``x-invariants``, run once its shape is valid. Each
#: returns sentences about the object, or ``".field: sentence"`` about a part of it.
def _sums(v: Mapping[str, Any]) -> list[str]:
    """A Dask cluster reading's figures add up (``memory == managed + unmanaged``)."""
    return [] if v["memory"] == v["managed"] + v["unmanaged"] else ["memory == managed + unmanaged"]


INVARIANTS: dict[str, Callable[[Mapping[str, Any]], list[str]]] = {
    "MemoryLimit": lambda v: (
        []
        if (v["bytes"] is None) == (v["source"] == "unknown")
        else ["bytes is null exactly when source is unknown"]
    ),
    "Growth": lambda v: (
        []
        if v["flagged"] == (v["runs"] >= constant("LEAK_MIN_RUNS"))
        else ["flagged == (runs >= LEAK_MIN_RUNS)"]
    ),
    "CellRecord": lambda v: [
        text
        for text, ok in (
            (
                "rss_delta == rss_after - rss_before",
                v["rss_delta"] == v["rss_after"] - v["rss_before"],
            ),
            (
                "peak_increase == peak_rss - rss_before",
                v["peak_increase"] == v["peak_rss"] - v["rss_before"],
            ),
            (
                "peak_rss >= max(rss_before, rss_after)",
                v["peak_rss"] >= max(v["rss_before"], v["rss_after"]),
            ),
        )
        if not ok
    ],
    "GetRssResult": lambda v: [] if v["peak_rss"] >= v["rss"] else ["peak_rss >= rss"],
    "Holder": lambda v: [
        text
        for text, ok in (
            (
                "labels == [root.label for root in roots]",
                v["labels"] == [r["label"] for r in v["roots"]],
            ),
            ("kind == roots[0].kind", v["kind"] == v["roots"][0]["kind"]),
            ("shared == (len(roots) > 1)", v["shared"] == (len(v["roots"]) > 1)),
            (
                "freeable == (len(also_held_by) == 0)",
                v.get("freeable", True) == (not v.get("also_held_by")),
            ),
        )
        if not ok
    ],
    "ScanSummary": lambda v: (
        [] if v["complete"] == (v["stopped"] is None) else ["complete == (stopped is None)"]
    ),
    "Suggestion": lambda v: (
        []
        if v["destructive"] == (v["action"] not in ("gc_collect", "malloc_trim"))
        else ["destructive == (action not in (gc_collect, malloc_trim))"]
    ),
    "ScanResult": _scan_result,
    "ClusterMemory": _sums,
    "ClusterTotals": _sums,
    "ClusterWorker": _sums,
    "ClusterHolder": lambda v: [
        text
        for text, ok in (
            (
                "worker_bytes == sum(w.bytes for w in workers) when not null",
                v["worker_bytes"] is None
                or v["worker_bytes"] == sum(w["bytes"] for w in v["workers"]),
            ),
            (
                "keys >= pending_keys when not null",
                v["pending_keys"] is None or v["keys"] >= v["pending_keys"],
            ),
        )
        if not ok
    ],
    "ClusterCellEntry": lambda v: [
        text
        for text, ok in (
            (
                "delta_bytes == keys.bytes_added - keys.bytes_removed when keys",
                v["keys"] is None
                or v["delta_bytes"] == v["keys"]["bytes_added"] - v["keys"]["bytes_removed"],
            ),
            (
                "status == ok exactly when keys is not null",
                (v["status"] == "ok") == (v["keys"] is not None),
            ),
        )
        if not ok
    ],
    "CellCluster": lambda v: [
        text
        for text, ok in (
            (
                "delta_bytes == sum of the ok clusters' delta_bytes, null when none is ok",
                v["delta_bytes"]
                == (
                    sum(c["delta_bytes"] for c in v["clusters"] if c["status"] == "ok")
                    if any(c["status"] == "ok" for c in v["clusters"])
                    else None
                ),
            ),
            ("clusters is empty while pending", not (v["pending"] and v["clusters"])),
        )
        if not ok
    ],
    "FixResult": lambda v: (
        []
        if v["measured_freed_bytes"] == max(v["rss_before"] - v["rss_after"], 0)
        else ["measured_freed_bytes == max(rss_before - rss_after, 0)"]
    ),
}


def _walk(node: Mapping[str, Any], value: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """``(definition, path, value)`` for every definition ``value`` holds, along ``node``."""
    defs = load_schema()["$defs"]
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = _branch(ref.rsplit("/", 1)[-1], value)
        yield name, path, value
        yield from _walk(defs[name], value, path)
        return
    for alternative in node.get("anyOf", ()):
        if alternative.get("type") != "null" and value is not None:
            yield from _walk(alternative, value, path)
    if isinstance(value, dict):
        for key, prop in node.get("properties", {}).items():
            if key in value:
                yield from _walk(prop, value[key], f"{path}.{key}")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            yield from _walk(node["items"], item, f"{path}[{i}]")


# ---------------------------------------------------------------------- checking


def problems(definition: str, value: Any) -> list[str]:
    """Every way ``value`` breaks ``definition``: shape errors first, then invariants."""
    chosen = _branch(definition, value)
    if chosen == definition and isinstance(value, dict) and _is_union(definition):
        return [_dispatch_error(definition, value)]
    definition = chosen
    shape = sorted(_validator(definition).iter_errors(value), key=lambda e: list(e.absolute_path))
    out = [f"{e.json_path}: {e.message}" for error in shape for e in _flatten(error)]
    if out:
        return out  # invariants assume the shape
    for name, path, item in _walk({"$ref": f"#/$defs/{definition}"}, value, "$"):
        check = INVARIANTS.get(name)
        if check is not None and isinstance(item, dict):
            out.extend(
                f"{path}{text}" if text[0] in ".[" else f"{path}: {text}" for text in check(item)
            )
    return out


def validate(definition: str, value: Any) -> None:
    """Raise :class:`ProtocolViolation` unless ``value`` is a valid ``definition``."""
    found = problems(definition, value)
    if found:
        raise ProtocolViolation(definition, found)


def result_definition(request_type: str) -> str:
    """The definition of the result of an ok reply to ``request_type`` (its ``x-result``)."""
    defs = load_schema()["$defs"]
    for member in defs["RequestMessage"]["oneOf"]:
        name = member["$ref"].rsplit("/", 1)[-1]
        if defs[name]["properties"]["type"]["const"] == request_type:
            return str(defs[name]["x-result"]["$ref"].rsplit("/", 1)[-1])
    raise KeyError(f"protocol.json has no request {request_type!r}")


def kernel_message_problems(message: Any, request_type: str | None = None) -> list[str]:
    """Every way a message from the kernel breaks the schema.

    An ok reply's ``result`` is checked against the result of ``request_type``
    (the type of the request with that ``request_id``) when it is given.
    """
    found = problems("KernelMessage", message)
    if found or request_type is None:
        return found
    if message.get("type") == "reply" and message.get("ok") is True:
        return [
            f"$.result{p[1:]}" for p in problems(result_definition(request_type), message["result"])
        ]
    return []


def validate_kernel_message(message: Any, request_type: str | None = None) -> None:
    """Raise :class:`ProtocolViolation` unless ``message`` is a valid kernel message."""
    found = kernel_message_problems(message, request_type)
    if found:
        what = f"{message.get('type', '?')} message" if isinstance(message, dict) else "message"
        if request_type is not None:
            what += f" (to {request_type})"
        raise ProtocolViolation(what, found)


class MessageChecker:
    """Checks every message a test receives from the helper; knows each request's type.

    ``note_request(data)`` for what the test sends, ``check(message)`` for what
    arrives (raises :class:`ProtocolViolation`). Requests sent malformed on
    purpose (no ``request_id``) leave their replies checked as plain messages.
    """

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        #: How many messages were checked (a test can insist it saw some).
        self.checked = 0
        #: What :meth:`record` found, for :meth:`assert_clean` to raise later.
        self.violations: list[ProtocolViolation] = []

    def note_request(self, data: Any) -> None:
        """Remember the type of a request about to be sent."""
        if isinstance(data, Mapping):
            request_id, type_ = data.get("request_id"), data.get("type")
            if isinstance(request_id, str) and isinstance(type_, str):
                self.types[request_id] = type_

    def request_type(self, message: Any) -> str | None:
        """The type of the known request an ok reply answers, else None."""
        if not isinstance(message, Mapping) or message.get("type") != "reply":
            return None
        request_type = self.types.get(str(message.get("request_id")))
        if request_type is None or request_type not in _request_types():
            return None  # an unknown type: the reply is an error anyway
        return request_type

    def check(self, message: Any) -> None:
        """Raise :class:`ProtocolViolation` unless ``message`` follows the schema."""
        self.checked += 1
        validate_kernel_message(message, self.request_type(message))

    def record(self, message: Any) -> None:
        """:meth:`check`, keeping a violation for :meth:`assert_clean` instead of raising.

        For where an exception would be swallowed (a comm's ``send`` inside the
        helper, which never raises into the kernel) or break a message pump.
        """
        try:
            self.check(message)
        except ProtocolViolation as violation:
            self.violations.append(violation)

    def assert_clean(self) -> None:
        """Raise the first recorded violation (with how many there were), then forget them."""
        found, self.violations = self.violations, []
        if found:
            first = found[0]
            raise ProtocolViolation(
                f"{first.what} (1 of {len(found)} messages that broke the schema)",
                first.problems,
            )


@cache
def _request_types() -> frozenset[str]:
    defs = load_schema()["$defs"]
    return frozenset(
        defs[m["$ref"].rsplit("/", 1)[-1]]["properties"]["type"]["const"]
        for m in defs["RequestMessage"]["oneOf"]
    )
