"""Pure rules of bucketd: no I/O, no gRPC, no driver types."""
