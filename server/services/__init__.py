"""Use cases: what bucketd does, in terms of the domain and of the storage ports."""
