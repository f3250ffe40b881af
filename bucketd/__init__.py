"""bucketd: the one import package of the distribution.

Its sub-packages are the project's top-level folders, linked here: `bucketd.server` (server/),
`bucketd.gateway` (gateway/), `bucketd.client` (client/), `bucketd.standins` (standins/,
development and tests only), next to `bucketd.v1`, the stubs generated from protos/. Import them
only under these names (tests/unit/test_package_links.py holds this list, the links and
pyproject.toml's lint configuration to one another).
"""
