"""`python -m server` is the `bucketd` command."""

import sys

from server.cli import main

sys.exit(main())
