"""bucketd's gRPC server: api (servicers) -> services -> domain <- storage (adapters)."""
