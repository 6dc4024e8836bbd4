"""Engine selection, the fallback without a compiled walker, and the cyclic-garbage count.

An sdist installed without a compiler has no ``memory_doctor.heap._walker``:
the package must then use the pure-Python engine, with the same answers.
That is checked in a fresh interpreter whose import of the extension fails.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from heap_helpers import ENGINES

from memory_doctor.heap import engine
from memory_doctor.heap.garbage import GarbageCount, cyclic_garbage

BLOCK = """
import sys

class NoCompiler:
    '''The walker's import fails, as in an sdist built without a compiler.'''

    def find_spec(self, name, path=None, target=None):
        if name == "memory_doctor.heap._walker":
            raise ImportError("no compiled walker in this install")
        return None

sys.meta_path.insert(0, NoCompiler())
"""

SCAN = """
import json
from memory_doctor.heap import engine
from memory_doctor.heap.roots import enumerate_roots
from memory_doctor.heap.scan import scan_now

ns = {"data": [bytes(1000) for _ in range(100)]}
result = scan_now(enumerate_roots(ns, {}, modules={}), user_ns=ns, user_module_names=())
(holder,) = [h for h in result["holders"] if h["labels"] == ["data"]]
print(json.dumps({
    "available": engine.native_available(),
    "chosen": engine.engine_name(),
    "ran": result["scan"]["engine"],
    "bytes": holder["retained_bytes"],
}))
"""


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )


def test_without_the_compiled_walker_the_python_engine_runs(monkeypatch) -> None:
    monkeypatch.delenv(engine.ENV, raising=False)
    done = run_python(BLOCK + SCAN)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["available"] is False
    assert found["chosen"] == "python" and found["ran"] == "python"
    assert found["bytes"] >= 100 * 1000


def test_asking_for_the_missing_native_engine_says_why(monkeypatch) -> None:
    env = {**__import__("os").environ, engine.ENV: "native"}
    done = run_python(BLOCK + SCAN, env)
    assert done.returncode != 0
    assert "MEMORY_DOCTOR_ENGINE=native but the native engine is not built" in done.stderr
    assert "no compiled walker in this install" in done.stderr


@pytest.mark.skipif(len(ENGINES) < 2, reason="the native engine is not built")
def test_both_engines_give_the_same_scan_in_a_fresh_interpreter(monkeypatch) -> None:
    answers = {}
    for name in ("native", "python"):
        env = {**__import__("os").environ, engine.ENV: name}
        done = run_python(SCAN, env)
        assert done.returncode == 0, done.stderr
        answers[name] = json.loads(done.stdout)
    assert answers["native"]["ran"] == "native" and answers["python"]["ran"] == "python"
    assert answers["native"]["bytes"] == answers["python"]["bytes"]


def test_the_environment_variable_picks_the_engine(monkeypatch) -> None:
    monkeypatch.setenv(engine.ENV, "python")
    assert engine.engine_name() == "python"
    monkeypatch.setenv(engine.ENV, "")
    assert engine.engine_name() == ("native" if engine.native_available() else "python")
    assert engine.engine_name("python") == "python"


class Node:
    def __init__(self) -> None:
        self.other: Any = None
        self.payload = bytearray(1000)


def _cycles(n: int) -> None:
    """``n`` two-object cycles, unreachable once this returns."""
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()  # a clean start: nothing else awaits collection
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_cyclic_garbage_count_agrees_with_the_collector(eng: str, collector_off: None) -> None:
    _cycles(500)
    found = cyclic_garbage(eng)
    assert found is not None
    collected = gc.collect()  # outside truth: what the collector then frees
    assert found["objects"] == collected
    # Each Node and its instance dict, plus its bytearray (held only by the garbage).
    assert found["bytes"] >= 1000 * 1000


def test_the_garbage_count_runs_in_steps(eng: str, collector_off: None) -> None:
    _cycles(20_000)
    count = GarbageCount(eng)
    steps = 1
    while not count.step(0.0):  # a deadline already past: one piece of work per step
        steps += 1
    assert steps > 5
    found = count.result()
    assert found is not None and found["objects"] >= 40_000
    count.close()
    gc.collect()
