"""`python -m logsvc` runs the CLI."""

import sys

from logsvc.cli import main

sys.exit(main())
