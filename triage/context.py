"""Deprecated alias of `triage.jobs.context` (the rq-job context), kept while callers move.

`from triage import context` gets the very module `triage.jobs.context`, so there is one
configuration per process whichever name configured it. Remove once nothing imports this name.
"""

import sys

from triage.jobs import context as _context

sys.modules[__name__] = _context
