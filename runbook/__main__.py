"""`python -m runbook`: the CLI (`runbook.cli.main`). Ctrl-C while it loads exits 130 quietly
(`runbook.interrupts`, set up as the package loads)."""

import sys

from runbook.cli import main

sys.exit(main())
