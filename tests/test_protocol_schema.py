"""protocol.json, the modules generated from it, the recorded fixtures and the docs.

``python/memory_doctor/protocol/protocol.json`` is the protocol's one source:
``jlpm build:protocol`` (``scripts/generate-protocol.js``) generates
``memory_doctor/protocol/generated.py`` and ``src/protocol/generated.ts`` from
it. These tests need no kernel: the schema is valid, the generated module is
current (by the schema's hash, so without Node too), the helper takes its
constants from it, the committed fixtures still follow the schema, the checks
can fail, and every message example of docs/protocol.md follows the schema.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from protocol_schema import (
    INVARIANTS,
    SCHEMA_PATH,
    MessageChecker,
    ProtocolViolation,
    constant,
    kernel_message_problems,
    load_schema,
    problems,
)

from memory_doctor import protocol
from memory_doctor.kernel import growth
from memory_doctor.protocol import generated

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "protocol"
DOC = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def fixtures(folder: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.stem, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted((FIXTURES / folder).glob("*.json"))
    ]


def recorded(name: str) -> Any:
    """A fresh copy of a recorded message."""
    return copy.deepcopy(dict(fixtures("messages"))[name]["message"])


# ---------------------------------------------------------------------- the schema


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()  # check_schema() raises otherwise
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == f"Memory Doctor comm protocol {protocol.PROTOCOL_VERSION}"


def test_schema_ships_inside_the_package_not_as_a_settings_schema() -> None:
    """schema/ is JupyterLab's settings folder: every file there becomes a settings plugin."""
    assert SCHEMA_PATH.parent == Path(protocol.__file__).parent
    assert not list((ROOT / "schema").glob("protocol*.json"))


def test_generated_python_is_current() -> None:
    """Catches a schema edited without regenerating, where Node is not installed."""
    digest = hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest()
    assert digest == generated.SCHEMA_SHA256, "run `jlpm build:protocol`"
    typescript = (ROOT / "src" / "protocol" / "generated.ts").read_text(encoding="utf-8")
    assert f"(sha256 {digest})" in typescript, "run `jlpm build:protocol`"


HAS_GENERATOR = (
    shutil.which("node") is not None
    and (ROOT / "node_modules" / "json-schema-to-typescript").is_dir()
)


@pytest.mark.skipif(not HAS_GENERATOR, reason="needs Node and `jlpm install`")
def test_generator_check_mode_passes() -> None:
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "scripts/generate-protocol.js", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_invariant_has_a_check() -> None:
    described = {n for n, d in load_schema()["$defs"].items() if "x-invariants" in d}
    assert described == set(INVARIANTS)


# ---------------------------------------------------------------------- one source


def test_generated_constants_are_the_schemas() -> None:
    for name in load_schema()["x-constants"]:
        assert getattr(generated, name) == constant(name), name
    assert constant("FIX_REPLY_TIMEOUT_S") > constant("FIX_WAIT_S") + constant("TERMINATE_WAIT_S")


def test_the_protocol_package_is_the_generated_module() -> None:
    """memory_doctor.protocol re-exports every public name of the generated module, unchanged."""
    public = [name for name in vars(generated) if not name.startswith("_")]
    for name in public:
        assert getattr(protocol, name) is getattr(generated, name), name


def test_the_helper_takes_its_limits_from_the_protocol() -> None:
    """Limits that live in the helper's modules equal the schema's (imported, or tied here)."""
    from memory_doctor.advice import fixes, resources  # noqa: PLC0415 - only for this test
    from memory_doctor.heap import scan  # noqa: PLC0415 - as above

    pairs = {
        "GROWTH_HISTORY_RUNS": growth.HISTORY_RUNS,
        "GROWTH_MAX_LABELS": growth.MAX_LABELS,
        "GROWTH_MIN_VARIABLE_BYTES": growth.MIN_VARIABLE_GROWTH,
        "GROWTH_CENSUS_BUDGET_S": growth.CENSUS_BUDGET_S,
        "TERMINATE_WAIT_S": fixes.TERMINATE_WAIT_S,
        "MAX_FIX_TARGETS": fixes._MAX_TARGETS,
        "MAX_FIX_TARGET_CHARS": fixes._MAX_TARGET_CHARS,
        "MAX_HELD_BY": resources.MAX_HELD_BY,
        "MAX_RESOURCE_DETAIL_CHARS": resources._MAX_DETAIL,
        "COMPOSITION_TOP": scan.COMPOSITION_TOP,
        "ALSO_HELD_BY_TOP": scan.ALSO_HELD_BY_TOP,
        "HELD_ELSEWHERE_TOP": scan.HELD_ELSEWHERE_TOP,
    }
    for name, value in pairs.items():
        assert value == constant(name), name


def test_scan_reply_timeout_covers_a_queued_scan_and_the_scan() -> None:
    budget = constant("MAX_SCAN_BUDGET_S")
    helper_may_take = 2 * (budget + constant("SCAN_OVERRUN_S"))
    assert protocol.scan_reply_timeout_s(budget) > helper_may_take
    assert protocol.scan_reply_timeout_s(0.001) >= constant("REQUEST_TIMEOUT_S")


def test_settings_allow_no_more_than_the_helper_accepts() -> None:
    settings = json.loads((ROOT / "schema" / "plugin.json").read_text(encoding="utf-8"))
    properties = settings["properties"]
    assert properties["maxHolders"]["maximum"] == constant("MAX_MAX_HOLDERS")
    assert properties["maxHolders"]["default"] == constant("DEFAULT_MAX_HOLDERS")
    assert properties["scanBudgetSeconds"]["maximum"] == constant("MAX_SCAN_BUDGET_S")
    assert properties["scanBudgetSeconds"]["default"] == constant("DEFAULT_SCAN_BUDGET_S")


# ---------------------------------------------------------------------- fixtures


@pytest.mark.parametrize(("name", "body"), fixtures("messages"))
def test_recorded_message_follows_the_schema(name: str, body: dict[str, Any]) -> None:
    assert kernel_message_problems(body["message"], body["request_type"]) == [], name


@pytest.mark.parametrize(("name", "body"), fixtures("violations"))
def test_recorded_violation_still_fails_as_recorded(name: str, body: dict[str, Any]) -> None:
    assert kernel_message_problems(body["message"], body["request_type"]) == body["problems"]


def test_mutations_are_caught_at_their_path() -> None:
    scan = recorded("reply_scan")
    cases = {
        "$.result.holders[0].retained_bytes": lambda d: d["result"]["holders"][0].update(
            retained_bytes=-1
        ),
        "$.result.resources[0]": lambda d: d["result"]["resources"][0].update(_path="fh"),
        "$.result.suggestions[0].action": lambda d: d["result"]["suggestions"][0].update(
            action="rm_rf"
        ),
        "$.result.findings.allocator_gap": lambda d: d["result"]["findings"][
            "allocator_gap"
        ].update(_malloc=3),
        "$.result.suggestions[2].holder_id": lambda d: d["result"]["suggestions"][2].update(
            holder_id="h999"
        ),
        "$.result.holders[0]": lambda d: d["result"]["holders"][0].update(shared=True),
    }
    for path, change in cases.items():
        data = copy.deepcopy(scan)
        change(data)
        found = kernel_message_problems(data, "scan")
        assert any(p.startswith(path) for p in found), (path, found)


def test_schema_is_at_least_as_strict_as_the_old_front_end_checks() -> None:
    """What the hand-written TypeScript checks rejected, the schema rejects too."""
    record = recorded("cell_measured_tracemalloc")
    for broken in (
        {**record, "record": {**record["record"], "status": "maybe"}},
        {**record, "record": {**record["record"], "started_at": "now"}},
        {**record, "record": {**record["record"], "cell_id": 3}},
    ):
        assert problems("KernelMessage", broken)
    hello = recorded("hello")
    assert problems("KernelMessage", {**hello, "records": None})
    assert problems("KernelMessage", {**hello, "protocol_version": 1})
    assert problems("KernelMessage", {"type": "reply", "request_id": "1", "ok": "yes"})
    assert problems("KernelMessage", {"type": "error", "code": "internal"})
    assert problems("KernelMessage", {"type": "scan_progress", "request_id": "1"})


def test_the_test_fakes_checker_fails_on_a_bad_message_and_a_wrong_result() -> None:
    """The recording comms of the unit tests and the kernel driver's wrapper use this."""
    checker = MessageChecker()
    checker.note_request({"type": "get_rss", "request_id": "r1"})
    checker.record(recorded("hello"))
    checker.record({"type": "reply", "request_id": "r1", "ok": True, "result": {"rss": 1}})
    checker.record({"type": "frobnicated"})
    assert checker.checked == 3
    with pytest.raises(ProtocolViolation) as caught:
        checker.assert_clean()
    assert "reply message (to get_rss) (1 of 2 messages" in str(caught.value)
    assert "$.result: 'peak_rss' is a required property" in caught.value.problems
    checker.assert_clean()  # forgotten once raised


# ---------------------------------------------------------------------- docs/protocol.md


def doc_examples() -> list[tuple[str, Any]]:
    """Every ``json`` block of docs/protocol.md, parsed, with the heading above it."""
    found = []
    heading = ""
    for match in re.finditer(r"^(#+ [^\n]*)$|^ *```json\n(.*?)^ *```$", DOC, re.M | re.S):
        if match.group(1):
            heading = match.group(1).lstrip("# ").strip().strip("`")
        else:
            found.append((heading, json.loads(match.group(2))))
    return found


def _example_problems(heading: str, value: Any) -> list[str]:
    """The problems of one example: the bootstrap, a comm_open, a request, a kernel message
    (an ok reply against the result of the request its section is about), or a part of one
    (the definition whose fields it has)."""
    defs = load_schema()["$defs"]
    if not isinstance(value, dict):
        return [f"not a JSON object: {value!r}"]
    if "code" in value and "type" not in value:
        expected = {"code": protocol.BOOTSTRAP_CODE, "silent": True, "store_history": False}
        return [] if expected.items() <= value.items() else ["not the bootstrap request"]
    if "target_name" in value:
        return (
            ([] if value["target_name"] == protocol.COMM_TARGET else ["another comm target"])
            + problems("CommOpenData", value["data"])
            + problems("CommOpenMetadata", value["metadata"])
        )
    kind = value.get("type")
    if kind in protocol.KERNEL_MESSAGES:
        if kind != "reply" or value.get("ok") is not True or heading in protocol.REQUESTS:
            return kernel_message_problems(value, heading if heading in protocol.REQUESTS else None)
        # A reply outside a request's section: the result of some request.
        tries = [kernel_message_problems(value, r) for r in protocol.REQUESTS]
        return [] if [] in tries else min(tries, key=len)
    if kind in protocol.REQUESTS:
        fits = ["RequestMessage"]
    else:  # a part of a message
        fits = [n for n, d in defs.items() if set(d.get("properties", ())) == set(value)]
    return problems(fits[0], value) if fits else [f"no definition has the fields {sorted(value)}"]


def test_doc_examples_follow_the_schema() -> None:
    examples = doc_examples()
    assert len(examples) >= 15
    failures = {
        f"{heading}: {json.dumps(value)[:70]}": found
        for heading, value in examples
        if (found := _example_problems(heading, value))
    }
    assert not failures, json.dumps(failures, indent=2)


def test_doc_example_checks_can_fail() -> None:
    examples = dict(doc_examples())
    scan_reply = copy.deepcopy(examples["scan"])
    del scan_reply["result"]["suggestions"]
    assert _example_problems("scan", scan_reply) == [
        "$.result: 'suggestions' is a required property"
    ]
    growth = {"runs": 3, "growth_per_run_bytes": 1, "flagged": False, "what_grew": []}
    assert _example_problems("cell_measured", growth) == ["$: flagged == (runs >= LEAK_MIN_RUNS)"]
    assert _example_problems(
        "reply", {"type": "reply", "request_id": "1", "ok": True, "result": {}}
    )


def test_doc_shows_every_request_and_its_result() -> None:
    examples = doc_examples()
    for request in protocol.REQUESTS:
        section = [value for heading, value in examples if heading == request]
        assert any(v.get("type") == request for v in section), request
        assert any(v.get("type") == "reply" and v.get("ok") for v in section), request


def test_doc_examples_show_the_current_version() -> None:
    versions = set(re.findall(r'"(?:protocol_)?version": "([0-9.]+)"', DOC))
    assert versions == {protocol.PROTOCOL_VERSION}


def test_doc_names_version_target_every_message_and_enumeration() -> None:
    assert f"**Protocol version:** `{protocol.PROTOCOL_VERSION}`" in DOC
    assert f"**Comm target:** `{protocol.COMM_TARGET}`" in DOC
    headings = set(re.findall(r"^### `(\w+)`", DOC, re.M))
    assert headings == set(protocol.KERNEL_MESSAGES) | set(protocol.REQUESTS)
    for name in (
        *protocol.ERROR_CODES,
        *protocol.PEAK_METHODS,
        *protocol.RESOURCE_KINDS,
        *protocol.FIX_ACTIONS,
        *protocol.LIMIT_SOURCES,
    ):
        assert f"`{name}`" in DOC, name
    # The documented record example has exactly the record fields, in order.
    example = re.search(r'"record": \{(.*?)\}', DOC, re.S)
    assert example
    assert tuple(re.findall(r'"(\w+)":', example.group(1))) == protocol.RECORD_FIELDS


def test_doc_version_history_mentions_the_current_version() -> None:
    assert re.search(rf"^### {re.escape(protocol.PROTOCOL_VERSION)}$", DOC, re.M)


def test_doc_states_the_limits_and_waits_the_helper_enforces() -> None:
    for name in (
        "FIX_WAIT_S",
        "FIX_REPLY_TIMEOUT_S",
        "MAX_SCAN_BUDGET_S",
        "MAX_MAX_HOLDERS",
        "MAX_FIX_TARGETS",
        "COMPOSITION_TOP",
        "MAX_HELD_BY",
        "MAX_RESOURCE_DETAIL_CHARS",
    ):
        assert f"`{name}`" in DOC, name
