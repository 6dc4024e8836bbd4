"""The retained-size engine: which roots keep which bytes alive, and why.

Owns: reading objects without running user code (``introspect.py``), whose
code an object is (``ownership.py``), sizing and walking known types
(``sizers.py``), the roots (``roots.py``), the sliced walk (``scan.py``) and
the why-alive paths (``paths.py``). See ``README.md`` in this folder.

May import: protocol, log, format, procmem.
"""
