"""CPython layout knowledge for sizing: what ``__sizeof__`` leaves out, and where.

- :func:`pre_header` and :func:`sizeof_of`: what ``sys.getsizeof`` would say,
  without ever resolving a Python-level ``__sizeof__``.
- :func:`inline_values`: 3.11's attribute values of an instance whose
  ``__dict__`` was never materialised live in a separate block that no
  ``__sizeof__`` counts (about 40 B per dataclass instance).
- :func:`mmap_pages`: resident bytes of a mapping (``/proc/self/pagemap``, else
  ``mincore``) instead of its length, and whether it is file-backed.
- :func:`cython_memviews`: the Cython typed-memoryview objects an extension
  instance holds in its C struct, where ``tp_traverse`` never looks
  (scikit-learn's ``KDTree.data``...).
- :func:`is_interned`, :func:`read_word`, :func:`safe_read`: the low-level
  reads the above and the reference check need.

Version-specific layout knowledge lives here, and only here: the C engine is
told offsets and sizes, it does not know CPython's private structs.
"""

from __future__ import annotations

import ctypes
import os
import sys
import types
from array import array
from typing import Any, Final

from .introspect import (
    PY311,
    PY312,
    TPFLAGS_HAVE_GC,
    TPFLAGS_HEAPTYPE,
    TPFLAGS_MANAGED_DICT,
    TPFLAGS_MANAGED_WEAKREF,
    type_basicsize,
    type_flags,
    type_mro,
    type_ns,
)
from .model import S_BASIC, S_CALL, S_SIZEOF, TypeInfo

PTR: Final = ctypes.sizeof(ctypes.c_void_p)
GC_HEAD: Final = sys.getsizeof([]) - [].__sizeof__()
_C_DESCRIPTORS: Final = (
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.BuiltinFunctionType,
    types.ClassMethodDescriptorType,
)
_OBJECT_SIZEOF: Final = vars(object)["__sizeof__"]


# ---------------------------------------------------------------------- headers and __sizeof__


def pre_header(tp: type) -> int:
    """Bytes in front of an object of type ``tp`` that ``__sizeof__`` leaves out
    (``_PyType_PreHeaderSize``): the GC head, and the managed dict (and, 3.12+,
    weakref) pointers."""
    flags = type_flags(tp)
    size = GC_HEAD if flags & TPFLAGS_HAVE_GC else 0
    managed = TPFLAGS_MANAGED_DICT if PY311 else TPFLAGS_MANAGED_DICT | TPFLAGS_MANAGED_WEAKREF
    if flags & managed:
        size += 2 * PTR
    return size


def sizeof_of(tp: type) -> tuple[int, Any]:
    """``(S_BASIC, None)`` or ``(S_SIZEOF, descriptor)``: the first C ``__sizeof__``
    in the MRO (a Python-level one is skipped: it would be user code)."""
    for cls in type_mro(tp):
        try:
            impl = type_ns(cls).get("__sizeof__")
        except Exception:  # noqa: S112 - a half-built class: look further
            continue
        if impl is None or type(impl) not in _C_DESCRIPTORS:
            continue
        if impl is _OBJECT_SIZEOF:
            return S_BASIC, None
        return S_SIZEOF, impl
    return S_BASIC, None


def object_size(o: Any, info: TypeInfo) -> int:
    """Bytes of ``o`` by its type's :class:`~memory_doctor.heap.model.TypeInfo`, as
    both engines compute them: the sizer, plus the pre-header, plus the inline
    values block when the object has one (0 when a sizer fails)."""
    sizer = info.sizer
    try:
        if sizer == S_SIZEOF:
            base = int(info.sizer_arg(o))
        elif sizer == S_BASIC:
            base = _OBJECT_SIZEOF(o)
        elif sizer == S_CALL:
            return max(int(info.sizer_arg(o)), 0)
        else:
            return 0
    except Exception:
        base = 0
    size = base + info.pre
    if info.xbytes and read_word(id(o) + info.xoff) & info.xmask:
        size += info.xbytes
    return size


# ---------------------------------------------------------------------- raw reads


def read_word(address: int) -> int:
    """The pointer-sized word at ``address`` (inside a live object)."""
    return int(ctypes.c_size_t.from_address(address).value)


_MEM_FD: list[int] = []


def safe_read(address: int, size: int) -> bytes | None:
    """``size`` bytes at ``address``, or None when unmapped: read through
    ``/proc/self/mem``, which answers EIO instead of crashing."""
    if address <= 0 or size <= 0:
        return None
    if not _MEM_FD:
        try:
            _MEM_FD.append(os.open("/proc/self/mem", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            _MEM_FD.append(-1)
    fd = _MEM_FD[0]
    if fd < 0:
        return None
    try:
        data = os.pread(fd, size, address)
    except (OSError, OverflowError, ValueError):
        return None
    return data if len(data) == size else None


def is_interned(s: str) -> bool:
    """Whether the exact ``str`` ``s`` is interned, without interning it.

    3.11-3.13: ``PyASCIIObject.state.interned`` is the low two bits of the word
    after ``length`` and ``hash`` (what ``PyUnicode_CHECK_INTERNED`` reads).
    """
    checker = getattr(sys, "_is_interned", None)
    if checker is not None:
        return bool(checker(s))
    state = ctypes.c_uint32.from_address(id(s) + 4 * PTR).value
    return bool(state & 3)


# ---------------------------------------------------------------------- inline values (3.11)


def _values_block(slots: int) -> int:
    """3.11 ``new_values(size)``: a prefix of ``size + 2`` bytes rounded up to a
    pointer, then one pointer per slot."""
    prefix = (slots + 2 + PTR - 1) // PTR * PTR
    return prefix + slots * PTR


_NAME_OF: Final = type.__dict__["__name__"].__get__
_QUALNAME_OF: Final = type.__dict__["__qualname__"].__get__


def _shared_keys_slots(tp: type) -> int | None:
    """``dk_nentries + dk_usable`` of the heap type's shared (cached) keys: the
    value slots the next instance's block gets.

    Read, without creating anything, from ``PyHeapTypeObject.ht_cached_keys``,
    the word after ``ht_name, ht_slots, ht_qualname`` (found by the addresses of
    the name and qualname objects), then ``dk_usable``/``dk_nentries`` (words 2
    and 3 of the keys object). (A probe instance would do, but creating one
    shrinks the shared keys by one slot each time while they are young: sizes
    would drift from scan to scan.)
    """
    try:
        name, qual = _NAME_OF(tp), _QUALNAME_OF(tp)
    except Exception:
        return None
    # Exactly the heap type struct: type.__basicsize__ is sizeof(PyHeapTypeObject).
    size = type_basicsize(type)
    words = array("Q", ctypes.string_at(id(tp), size - size % PTR))
    for i in range(len(words) - 3):
        if words[i] == id(name) and words[i + 2] == id(qual):
            keys = words[i + 3]
            break
    else:
        return None
    if not keys:
        return None
    head = safe_read(keys, 4 * PTR)
    if head is None:
        return None
    _refcnt, _bits, usable, nentries = array("q", head)
    slots = usable + nentries
    return slots if 0 < slots < 1 << 16 else None


def inline_values(tp: type) -> tuple[int, int, int]:
    """``(xoff, xmask, xbytes)`` for :class:`~memory_doctor.heap.model.TypeInfo`: add ``xbytes``
    when the word at ``id(obj) + xoff`` masked by ``xmask`` is non-zero.

    3.11: the values pointer sits four words before the object; non-NULL means
    the attribute values live in their own block (no ``__dict__`` yet).
    3.12: one tagged word three words before the object (tag bit 1 = values).
    3.13+: the values are inside the object and ``__sizeof__`` counts them.
    Every instance is assumed to have the block size the next instance gets:
    exact once a class has ~30 instances (until then the shared keys shrink by
    one slot per new instance, so the first instances have larger blocks).
    """
    flags = type_flags(tp)
    if not (flags & TPFLAGS_HEAPTYPE and flags & TPFLAGS_MANAGED_DICT):
        return 0, 0, 0
    if not (PY311 or PY312):
        return 0, 0, 0
    slots = _shared_keys_slots(tp)
    if not slots:
        return 0, 0, 0
    if PY311:
        return -4 * PTR, (1 << (8 * PTR)) - 1, _values_block(slots)
    return -3 * PTR, 1, _values_block(slots)  # pragma: no cover - 3.12 untested here


# ---------------------------------------------------------------------- mappings


class _PyBuffer(ctypes.Structure):
    _fields_ = [
        ("buf", ctypes.c_void_p),
        ("obj", ctypes.c_void_p),
        ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t),
        ("readonly", ctypes.c_int),
        ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p),
        ("shape", ctypes.c_void_p),
        ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p),
        ("internal", ctypes.c_void_p),
    ]


_get_buffer = ctypes.pythonapi.PyObject_GetBuffer
_get_buffer.argtypes = [ctypes.py_object, ctypes.POINTER(_PyBuffer), ctypes.c_int]
_get_buffer.restype = ctypes.c_int
_release_buffer = ctypes.pythonapi.PyBuffer_Release
_release_buffer.argtypes = [ctypes.POINTER(_PyBuffer)]
_release_buffer.restype = None


def buffer_span(obj: Any) -> tuple[int, int] | None:
    """``(address, length)`` of a C buffer exporter (an mmap), without copying.

    The export is released at once (a closed mmap refuses it: None).
    """
    view = _PyBuffer()
    try:
        if _get_buffer(obj, ctypes.byref(view), 0) != 0:
            return None
    except Exception:  # BufferError/ValueError: closed, or no buffer
        return None
    try:
        return int(view.buf or 0), int(view.len)
    finally:
        _release_buffer(ctypes.byref(view))


PAGE: Final = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _pagemap_resident(start: int, npages: int) -> int | None:
    try:
        fd = os.open("/proc/self/pagemap", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        present = 0
        first = start // PAGE
        done = 0
        while done < npages:
            n = min(npages - done, 1 << 16)
            raw = os.pread(fd, n * 8, (first + done) * 8)
            if len(raw) != n * 8:
                return None
            entries = array("Q", raw)
            present += sum(1 for e in entries if e >> 62)  # present (63) or swapped (62)
            done += n
        return present * PAGE
    except OSError:
        return None
    finally:
        os.close(fd)


def _mincore_resident(start: int, npages: int) -> int | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        vec = (ctypes.c_ubyte * npages)()
        rc = libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(npages * PAGE), vec)
    except Exception:
        return None
    if rc != 0:
        return None
    return sum(b & 1 for b in vec) * PAGE


_SHMEM_PATHS: Final = ("/dev/zero", "/memfd:", "/SYSV", "/dev/shm/")  # noqa: S108 - prefixes to classify


def _mapping_of(address: int) -> tuple[bool, str] | None:
    """``(file_backed, path)`` of the mapping holding ``address`` (/proc/self/maps)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                bounds, _perms, _off, _dev, inode, *rest = [*line.split(maxsplit=5), ""]
                lo, _, hi = bounds.partition("-")
                if int(lo, 16) <= address < int(hi, 16):
                    path = rest[0].strip() if rest else ""
                    # mmap(-1, n) is MAP_SHARED|MAP_ANONYMOUS: shmem shown as
                    # "/dev/zero (deleted)", with an inode. memfd and SysV are shmem too.
                    anonymous = not path.startswith("/") or path.startswith(_SHMEM_PATHS)
                    return inode != "0" and not anonymous, path
    except (OSError, ValueError):
        return None
    return None


def mmap_pages(obj: Any) -> tuple[int, int, bool] | None:
    """``(address, resident bytes, file_backed)`` of an ``mmap.mmap``; None if closed.

    Resident means mapped in this process now: ``/proc/self/pagemap`` (present
    or swapped pages), else ``mincore`` (page-cache residency), else the length.
    """
    span = buffer_span(obj)
    if span is None:
        return None
    address, length = span
    if length <= 0 or address <= 0:
        return address, 0, False
    start = address // PAGE * PAGE
    npages = (address + length - start + PAGE - 1) // PAGE
    resident = _pagemap_resident(start, npages)
    if resident is None:
        resident = _mincore_resident(start, npages)
    if resident is None:
        resident = length
    found = _mapping_of(address)
    file_backed = found[0] if found is not None else False
    return address, min(resident, npages * PAGE), file_backed


# ---------------------------------------------------------------------- Cython memoryviews

#: ``__Pyx_memviewslice``: memview, data, shape[8], strides[8], suboffsets[8].
_SLICE_WORDS: Final = 2 + 3 * 8
_ALL_ONES: Final = (1 << (8 * PTR)) - 1
_MEMVIEW_NAMES: Final = (".memoryview", "._memoryviewslice")
_MEMVIEW_MODULES: Final = ("_cyutility.", "View.MemoryView.", "_cython_")


def is_cython_extension(tp: type) -> bool:
    """A Cython ``cdef class`` (or subclass) whose C struct is large enough to
    hold a typed-memoryview slice."""
    if type_basicsize(tp) < 2 * PTR + _SLICE_WORDS * PTR:
        return False
    for cls in type_mro(tp):
        try:
            ns = type_ns(cls)
            if "__pyx_vtable__" in ns or "__reduce_cython__" in ns:
                return True
        except Exception:  # noqa: S112 - a half-built class: look further
            continue
    return False


def _c_string(address: int, limit: int = 96) -> str | None:
    raw = safe_read(address, limit)
    if raw is None:
        return None
    end = raw.find(b"\0")
    return raw[: end if end >= 0 else limit].decode("ascii", "replace")


def _memview_at(address: int) -> bool:
    """Whether ``address`` holds a live Cython memoryview object (read safely)."""
    head = safe_read(address, 2 * PTR)
    if head is None:
        return False
    refcnt, tp = array("Q", head)
    if not 0 < refcnt < 1 << 40 or tp == 0:
        return False
    name_ptr = safe_read(tp + 3 * PTR, PTR)  # tp_name follows ob_refcnt, ob_type, ob_size
    if name_ptr is None:
        return False
    name = _c_string(array("Q", name_ptr)[0])
    if name is None:
        return False
    return name.endswith(_MEMVIEW_NAMES) and name.startswith(_MEMVIEW_MODULES)


def cython_memviews(obj: Any) -> list[Any]:
    """The memoryview objects held by the typed-memoryview slices in ``obj``'s
    C struct (each once).

    A slice is recognised by its layout (memview pointer, data pointer, then
    ``shape``/``strides``/``suboffsets`` of 8 entries where the first ``ndim``
    suboffsets are -1 and the rest is zero), and the memview pointer is
    checked through ``/proc/self/mem`` to be an object of a Cython memoryview
    type before it is touched.
    """
    size = type_basicsize(type(obj))
    words = array("Q", ctypes.string_at(id(obj), size - size % PTR))
    out: list[Any] = []
    seen: set[int] = set()
    n = len(words)
    i = 2  # after ob_refcnt and ob_type
    while i + _SLICE_WORDS <= n:
        mv = words[i]
        if mv == 0 or mv % PTR or words[i + 1] == 0 or words[i + 18] != _ALL_ONES:
            i += 1
            continue
        sub = words[i + 18 : i + 26]
        ndim = 0
        while ndim < 8 and sub[ndim] == _ALL_ONES:
            ndim += 1
        shape = words[i + 2 : i + 10]
        strides = words[i + 10 : i + 18]
        ok = all(v == 0 for v in sub[ndim:])
        ok = ok and all(v == 0 for v in shape[ndim:]) and all(v == 0 for v in strides[ndim:])
        ok = ok and all(v < 1 << 48 for v in shape[:ndim])
        if ok and mv not in seen and _memview_at(mv):
            seen.add(mv)
            out.append(ctypes.cast(mv, ctypes.py_object).value)
            i += _SLICE_WORDS
            continue
        i += 1
    return out
