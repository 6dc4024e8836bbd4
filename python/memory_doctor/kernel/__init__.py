"""The helper inside the user's kernel: the IPython hooks and the comm.

Owns: ``%load_ext``/``%unload_ext`` (``extension.py``), the per-cell
measurement and its records (``measure.py``, ``growth.py``, ``provenance.py``,
``limits.py``), the comm and its one request registry (``comm.py``,
``server.py``), the sliced scans on the kernel's event loop (``runner.py``) and
``apply_fix`` (``fixing.py``), and the ``%memory``/``%%memory`` magics with
their one-bundle output (``magics.py``, ``rich.py``, ``words.py``,
``templates/``), and opt-in line profiles of one run (``profile/``).
Everything here runs as a guest: it never raises into a cell, prints (except
a magic the user ran), or keeps the user's objects.

Nothing imports this package except ``memory_doctor/__init__.py`` (lazily, on
``%load_ext``).

May import: heap, advice, protocol, log, format, procmem.
"""
