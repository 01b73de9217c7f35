"""``python -m dqn_helpers`` runs the command line (see dqn_helpers.cli)."""

import sys

from dqn_helpers.cli import main

sys.exit(main())
