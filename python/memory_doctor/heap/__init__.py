"""The retained-size engine: which roots keep which bytes alive, and why.

Owns: reading objects without running user code (``introspect.py``), whose
code an object is (``ownership.py``), the user's roots (``roots.py``) and the
rest of the heap's root groups (``groups.py``), how each type is sized and
walked (``sizers.py``, ``layout.py``), the walk itself in two engines with one
API (``_walker.c``, the native engine; ``pywalker.py``, its pure-Python
reference; ``model.py``, ``engine.py``), the sliced scan (``scan.py``), the
why-alive paths (``paths.py``) and the read-only cyclic-garbage count
(``garbage.py``). See ``README.md`` in this folder.

May import: protocol, log, format, procmem.
"""
