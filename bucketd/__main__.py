"""`python -m bucketd` is the `bucketd` command."""

import sys

from bucketd.server.cli import main

sys.exit(main())
