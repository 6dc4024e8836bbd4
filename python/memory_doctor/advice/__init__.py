"""What to do about it: resources held open, process findings, suggestions and fixes.

Owns: the resource describers (``resources.py``), the process-wide findings
(``findings.py``), the C allocators' free memory and ``malloc_trim``
(``allocator.py``), the suggestions of a scan (``suggestions.py``) and the
fixed operations ``apply_fix`` runs, with their re-validation (``fixes.py``).
Plain functions and data: the kernel package decides when they run.

May import: heap, protocol, log, format, procmem.
"""
