"""`python -m bucketd` is the `bucketd` command."""

import sys

from bucketd.cli import main

sys.exit(main())
