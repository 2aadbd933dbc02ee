"""`python -m handover`: the same as the `handover` command."""

import sys

from handover.cli.main import main

sys.exit(main())
