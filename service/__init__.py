"""Process wiring: the `triage` command, `triage serve`, `triage worker`, demo loading.

The top floor: it may import `triage`, `web` and `classifier`; nothing imports it except the
one hand-over in `triage/__main__.py` (so `python -m triage` keeps working). Only this package
prints to stdout/stderr or parses argv.
"""
