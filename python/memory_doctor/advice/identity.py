"""Is it still the very object the scan saw? An identity that survives ``id()`` reuse.

A fix re-resolves its targets before it acts. The same ``id()`` and type are
not enough: CPython reuses the memory (and so the id) of a freed object at
once, and a list freed and made again inside one cell, e.g. through
``globals()['big'] = [...]`` in a function, gets the old list's id back from
the free list. Nothing at a cell boundary sees that rebinding.

:func:`identify` therefore keeps, without keeping the object alive:

- a weak reference when the type allows one (arrays, DataFrames, most
  instances): the same object and only it dereferences to it;
- otherwise a fingerprint a new object cannot share by accident: the length
  and a sample of the items, each item by weak reference where possible, an
  immutable item by its type and hash (an equal value is an equal target);
- for immutable values (``int``, ``str``, ``bytes``...) their type and hash.

When neither is possible (a C object without weak references or references
the collector can see), :func:`same` cannot prove identity and says no.
Everything is read through the exact built-in types' own C methods or
``gc.get_referents``: no user code runs.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final

#: Items sampled from each end of a container.
SAMPLE: Final = 8
_ATOMS: Final = (int, float, complex, str, bytes, bool, type(None))
_SEQUENCES: Final = (list, tuple)
_SETS: Final = (set, frozenset)


@dataclass(frozen=True)
class Identity:
    """What :func:`same` checks an object against (no strong references)."""

    object_id: int
    type_ref: Any
    ref: Any = None
    fingerprint: tuple[Any, ...] | None = None

    @property
    def provable(self) -> bool:
        """Whether this identity can tell the object from a new one at its id."""
        return self.ref is not None or self.fingerprint is not None


def _weak(value: Any) -> Any:
    try:
        return weakref.ref(value)
    except TypeError:  # lists, dicts, ints, slotted classes without __weakref__
        return None


def _item(value: Any) -> tuple[Any, ...]:
    """One sampled item: a weak reference, an immutable value's hash, or its id."""
    tp = type(value)
    if tp in _ATOMS:
        return ("value", tp, hash(value))  # an exact built-in atom: its own C hash
    ref = _weak(value)
    if ref is not None:
        return ("ref", ref)
    return ("id", id(value), tp)


def _item_matches(entry: tuple[Any, ...], value: Any) -> bool:
    kind = entry[0]
    if kind == "ref":
        return entry[1]() is value
    if kind == "value":
        tp = type(value)
        return tp is entry[1] and hash(value) == entry[2]
    return id(value) == entry[1] and type(value) is entry[2]


def _ends(items: list[Any], length: int) -> list[Any]:
    return items if length <= 2 * SAMPLE else [*items[:SAMPLE], *items[-SAMPLE:]]


def _sample(value: Any) -> tuple[int, list[Any]] | None:
    """``(length, sampled items)`` of a container, read with the exact types' C methods."""
    tp = type(value)
    if tp in _SEQUENCES:
        length = tp.__len__(value)
        if length <= 2 * SAMPLE:
            return length, list(value)
        head = tp.__getitem__(value, slice(0, SAMPLE))
        tail = tp.__getitem__(value, slice(length - SAMPLE, length))
        return length, [*head, *tail]
    if tp is dict:
        pairs = list(islice(dict.items(value), 2 * SAMPLE))
        return dict.__len__(value), [x for pair in pairs for x in pair]
    if tp in _SETS:
        return tp.__len__(value), list(islice(tp.__iter__(value), 2 * SAMPLE))
    if gc.is_tracked(value):
        refs = gc.get_referents(value)  # a slotted instance: its slot values
        return len(refs), _ends(refs, len(refs))
    return None


def identify(value: Any) -> Identity:
    """The identity of ``value`` now, to check with :func:`same` later."""
    tp = type(value)
    type_ref = _weak(tp)
    if tp in _ATOMS:
        return Identity(id(value), type_ref, fingerprint=("value", hash(value)))
    ref = _weak(value)
    if ref is not None:
        return Identity(id(value), type_ref, ref=ref)
    found = _sample(value)
    if found is None:
        return Identity(id(value), type_ref)
    length, items = found
    return Identity(
        id(value), type_ref, fingerprint=("items", length, tuple(_item(x) for x in items))
    )


def same(ident: Identity, value: Any) -> bool:
    """Whether ``value`` is the object ``ident`` was taken from (False when unprovable)."""
    tp = type(value)
    if id(value) != ident.object_id or ident.type_ref is None or ident.type_ref() is not tp:
        return False
    if ident.ref is not None:
        return ident.ref() is value
    fp = ident.fingerprint
    if fp is None:
        return False
    if fp[0] == "value":
        return tp in _ATOMS and hash(value) == fp[1]
    found = _sample(value)
    if found is None or found[0] != fp[1] or len(found[1]) != len(fp[2]):
        return False
    return all(map(_item_matches, fp[2], found[1]))


__all__ = ["SAMPLE", "Identity", "identify", "same"]
