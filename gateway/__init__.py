"""bucketd's REST gateway: JSON over HTTP, translated to the gRPC API. No business logic here."""
