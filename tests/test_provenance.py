"""Provenance: which cell last bound each variable, from per-cell namespace diffs.

Units of ``memory_doctor.kernel.provenance`` plus the helper's hooks in a real
``InteractiveShell`` (no kernel; comms go through the recording fake of
``test_helper_unit``).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from IPython.core.interactiveshell import InteractiveShell

import memory_doctor
from memory_doctor.kernel import comm as comm_shim
from memory_doctor.kernel import extension
from memory_doctor.kernel.provenance import Provenance, base_name, output_count, snapshot

# --------------------------------------------------------------------------- pure units


class Hostile:
    """Every dunder the helper must never call raises."""

    def __hash__(self) -> int:
        raise AssertionError("hashed a user object")

    def __eq__(self, other: object) -> bool:
        raise AssertionError("compared a user object")

    def __repr__(self) -> str:
        raise AssertionError("repr of a user object")

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"getattr {name}")


class CountingKey:
    """A user object used as a namespace key: counts how often it is hashed."""

    hashed = 0

    def __hash__(self) -> int:
        CountingKey.hashed += 1
        return 1


def test_snapshot_keeps_ids_only_and_never_hashes_user_keys():
    value = Hostile()
    key = CountingKey()
    ns: dict[object, object] = {"a": value, "b": 1, 7: "int key", key: "user key"}
    hashed = CountingKey.hashed
    snap = snapshot(ns)  # type: ignore[arg-type]
    assert CountingKey.hashed == hashed  # a user __hash__ is user code
    assert snap == {"a": id(value), "b": id(ns["b"])}
    assert all(type(v) is int for v in snap.values())


@pytest.mark.parametrize(
    ("label", "base"),
    [
        ("big", "big"),
        ("Registry.items", "Registry"),
        ("f.__closure__[0].cell_contents", "f"),
        ("load.cache_info()", "load"),
        ("données[0]", "données"),
        ("sys.last_traceback.tb_frame", "sys"),
        ("[odd]", None),
        ("", None),
    ],
)
def test_base_name(label, base):
    assert base_name(label) == base


def test_output_count_reads_labels_and_finds_underscore_by_identity():
    obj, other = [1], [2]
    ns = {"Out": {2: other, 3: obj}, "_": obj, "__": other, "___": "not an output"}
    assert output_count("Out[3]") == 3
    assert output_count("_oh[12]") == 12
    assert output_count("_3") == 3
    assert output_count("_3[0]") == 3
    assert output_count("_", ns) == 3
    assert output_count("__", ns) == 2
    assert output_count("___", ns) is None
    assert output_count("_x1") is None
    assert output_count("big") is None
    assert output_count("_") is None  # without the namespace there is no telling


def test_begin_end_records_bound_rebound_and_deleted_names():
    prov = Provenance()
    ns: dict[str, object] = {"keep": [0], "gone": [1], "same": [2]}
    prov.begin(1, ns)
    ns["new"] = [3]
    ns["keep"] = [4]  # rebound: new object
    del ns["gone"]
    bound = prov.end(1, ns, "cell-a", 5)
    assert sorted(bound) == ["keep", "new"]
    assert prov.where("keep") == ("cell-a", 5)
    assert prov.where("new") == ("cell-a", 5)
    assert prov.where("same") is None  # bound before we watched; untouched since
    assert prov.where("gone") is None
    assert prov.cell_of_count(5) == "cell-a"

    prov.begin(2, ns)
    ns["same"].append(9)  # type: ignore[attr-defined]  # mutation is not binding
    del ns["new"]
    prov.end(2, ns, "cell-b", 6)
    assert prov.where("same") is None
    assert prov.where("new") is None  # deleted in cell-b
    assert prov.where("keep") == ("cell-a", 5)


def test_end_without_begin_and_discard_record_nothing():
    prov = Provenance()
    ns = {"x": 1}
    assert prov.end(99, ns, "c", 1) == []
    prov.begin(1, {})
    prov.discard(1)
    assert prov.end(1, ns, "c", 1) == []
    assert prov.where("x") is None


def test_snapshot_holds_no_reference_to_values():
    prov = Provenance()

    class Blob:
        pass

    ns: dict[str, object] = {"blob": Blob()}
    ref = weakref.ref(ns["blob"])
    prov.begin(1, ns)
    del ns["blob"]
    gc.collect()
    assert ref() is None  # the open snapshot did not keep it alive
    prov.end(1, ns, "c", 1)


def test_fill_uses_first_root_and_output_cells():
    prov = Provenance()
    ns: dict[str, object] = {"Out": {}}
    prov.begin(1, ns)
    ns["f"] = lambda: None
    prov.end(1, ns, "cell-f", 3)
    prov.begin(2, ns)
    arr = [0]
    ns["Out"] = {4: arr}  # type: ignore[assignment]
    ns["_4"] = arr
    ns["_"] = arr
    ns["sys"] = object()  # `import sys` in some cell: not where sys.last_value came from
    ns["thread"] = object()
    prov.end(2, ns, "cell-out", 4)
    prov.begin(3, ns)
    prov.end(3, ns, "cell-raised", 5, failed=True)
    prov.begin(4, ns)
    prov.end(4, ns, "cell-fine", 6)
    holders = [
        {"labels": ["f"], "roots": [{"label": "f.__closure__[0].cell_contents"}]},
        {"labels": ["_", "Out[4]", "_4"], "roots": [{"label": "_"}, {"label": "Out[4]"}]},
        {"labels": ["Out[4]"]},  # no roots list: labels[0] is used
        {"labels": ["sys.last_value"], "roots": [{"label": "sys.last_value", "kind": "traceback"}]},
        {"labels": ["thread 'w'"], "roots": [{"label": "thread 'w'", "kind": "thread"}]},
        {"labels": ["sys.x"], "kind": "module"},
        {"labels": ["f"], "cell_id": "already", "execution_count": 1},
    ]
    for holder in holders:
        holder.setdefault("cell_id", None)
        holder.setdefault("execution_count", None)
    prov.fill(holders, ns)
    got = [(h["cell_id"], h["execution_count"]) for h in holders]
    assert got == [
        ("cell-f", 3),
        ("cell-out", 4),
        ("cell-out", 4),
        ("cell-raised", 5),  # the last cell that raised, not the one that imported sys
        (None, None),  # threads, generators and modules are not bound by a cell
        (None, None),
        ("already", 1),
    ]


# --------------------------------------------------------------------------- in a shell


class _Manager:
    def __init__(self) -> None:
        self.targets: dict[str, object] = {}

    def register_target(self, target_name: str, f: object) -> None:
        self.targets[target_name] = f

    def unregister_target(self, target_name: str, f: object) -> object:
        return self.targets.pop(target_name)


@pytest.fixture
def doctor(shell: InteractiveShell) -> Iterator[extension.MemoryDoctor]:
    previous = comm_shim.use_manager(_Manager())
    memory_doctor.load_ipython_extension(shell)
    state = extension.get(shell)
    assert state is not None
    try:
        yield state
    finally:
        memory_doctor.unload_ipython_extension(shell)
        comm_shim.use_manager(previous)


def test_hooks_record_the_cell_that_bound_each_name(shell, doctor):
    first = shell.run_cell("prov_a = [1]; prov_b = 2", store_history=True, cell_id="cell-1")
    second = shell.run_cell("prov_a = [3]", store_history=True, cell_id="cell-2")
    assert doctor.provenance.where("prov_a") == ("cell-2", second.execution_count)
    assert doctor.provenance.where("prov_b") == ("cell-1", first.execution_count)
    shell.run_cell("del prov_b", store_history=True, cell_id="cell-3")
    assert doctor.provenance.where("prov_b") is None


def test_raising_cell_still_records_what_it_bound(shell, doctor):
    result = shell.run_cell("prov_err = 1\n1 / 0", store_history=True, cell_id="cell-err")
    assert result.error_in_exec is not None
    where = ("cell-err", result.execution_count)
    assert doctor.provenance.where("prov_err") == where
    shell.run_cell("prov_fine = 1", store_history=True, cell_id="cell-fine")
    assert doctor.provenance.lookup("sys.last_value", shell.user_ns, "traceback") == where


def test_output_cache_names_map_to_their_cell(shell, doctor):
    result = shell.run_cell("[7] * 3", store_history=True, cell_id="cell-out")
    n = result.execution_count
    assert shell.user_ns[f"_{n}"] == [7, 7, 7]
    assert doctor.provenance.lookup(f"Out[{n}]", shell.user_ns) == ("cell-out", n)
    assert doctor.provenance.lookup(f"_{n}", shell.user_ns) == ("cell-out", n)
    assert doctor.provenance.lookup("_", shell.user_ns) == ("cell-out", n)


def test_nested_run_cell_counts_for_the_outer_cell(shell, doctor):
    code = "get_ipython().run_cell('prov_inner = 1', store_history=False)\nprov_outer = 2"
    result = shell.run_cell(code, store_history=True, cell_id="outer")
    assert doctor.provenance.where("prov_inner") == ("outer", result.execution_count)
    assert doctor.provenance.where("prov_outer") == ("outer", result.execution_count)


def test_silent_runs_bind_nothing_we_see(shell, doctor):
    shell.run_cell("prov_silent = 1", silent=True)
    assert doctor.provenance.where("prov_silent") is None


def test_unload_forgets_everything(shell):
    previous = comm_shim.use_manager(_Manager())
    try:
        memory_doctor.load_ipython_extension(shell)
        state = extension.get(shell)
        assert state is not None
        shell.run_cell("prov_unload = 1", store_history=True, cell_id="c")
        assert state.provenance.where("prov_unload") is not None
        memory_doctor.unload_ipython_extension(shell)
        assert state.provenance.where("prov_unload") is None
    finally:
        comm_shim.use_manager(previous)


def test_names_bound_by_an_earlier_cells_global_function_count_for_the_caller(shell, doctor):
    shell.run_cell(
        "def prov_load():\n    global prov_g\n    prov_g = [1]", store_history=True, cell_id="def"
    )
    assert doctor.provenance.where("prov_g") is None
    call = shell.run_cell("prov_load()", store_history=True, cell_id="call")
    assert doctor.provenance.where("prov_g") == ("call", call.execution_count)


def test_dynamic_binding_falls_back_to_comparing_the_whole_namespace(shell, doctor):
    direct = shell.run_cell("globals()['prov_dyn'] = 1", store_history=True, cell_id="dyn")
    assert doctor.provenance.where("prov_dyn") == ("dyn", direct.execution_count)
    shell.run_cell(
        "def prov_setter(v):\n    globals()['prov_via'] = v", store_history=True, cell_id="d2"
    )
    call = shell.run_cell("prov_setter(2)", store_history=True, cell_id="call2")
    assert doctor.provenance.where("prov_via") == ("call2", call.execution_count)
    magic = shell.run_cell("%time prov_magic = 3", store_history=True, cell_id="magic")
    assert doctor.provenance.where("prov_magic") == ("magic", magic.execution_count)


def test_a_plain_cell_looks_only_at_the_names_it_mentions() -> None:
    provenance = Provenance()
    namespace: dict[object, object] = {f"_i{i}": "history" for i in range(1000)}
    namespace.update({"a": 1, "b": 2, CountingKey(): "user key"})
    hashed = CountingKey.hashed
    provenance.begin(1, namespace, "a = [a]\nc = 3")
    before, names = provenance._pending[1]
    assert names is not None and {"a", "c"} <= names and "_i5" not in names
    assert set(before) == {"a"}  # `c` does not exist yet; nothing else was read
    namespace["a"], namespace["c"] = [1], 3
    del namespace["b"]  # not mentioned: a deletion elsewhere is not this cell's
    assert sorted(provenance.end(1, namespace, "cell", 4)) == ["a", "c"]
    assert provenance.where("a") == ("cell", 4) and provenance.where("c") == ("cell", 4)
    assert CountingKey.hashed == hashed


@pytest.mark.parametrize(
    "code",
    [
        "from os.path import *",
        "vars()['x'] = 1",
        "exec('x = 1')",
        "files = !ls",
        "%run script.py",
        "%%capture out\nprint(1)",
        "setattr(sys.modules[__name__], 'x', 1)",
    ],
)
def test_cells_that_may_bind_unmentioned_names_compare_everything(code: str) -> None:
    provenance = Provenance()
    provenance.begin(1, {"a": 1}, code)
    assert provenance._pending[1][1] is None
