"""Outside the kernel: ``memory-doctor run``, the kernel driver and the report.

Owns: the command line (``cli.py``), a jupyter_client driver that speaks the
protocol as JupyterLab does (``driver.py``), the JSON/HTML report
(``report.py`` and ``templates/``; ``profile.py`` for ``--profile``) and the
errors with their next steps (``errors.py``). It talks to the helper only
through the protocol: it never imports the engine or the kernel side.

May import: protocol, log, format.
"""
