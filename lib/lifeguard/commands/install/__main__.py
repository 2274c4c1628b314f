"""`python -m lifeguard.commands.install` (what install.sh runs)."""

import sys

from .command import main

sys.exit(main())
