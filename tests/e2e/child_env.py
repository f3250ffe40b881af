"""The environment of a `bucketd` child process: exactly the configuration its test means to test.

`MONGODB_URI=… make test` runs the suite against the operator's MongoDB; a `bucketd serve` the
test starts must not inherit that (or any other setting) by accident, or it tests a configuration
nobody chose (a half configuration, say, refused before the test's own point is reached).
"""

from __future__ import annotations

import os

# Every variable bucketd reads (server/settings.py, gateway/settings.py) starts with one of these.
SETTING_PREFIXES = ("MONGODB_", "S3_", "AWS_", "BUCKETD_")


def child_env(**settings: str) -> dict[str, str]:
    """This process's environment without any bucketd setting, plus `settings`."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    return {**inherited, **settings}
