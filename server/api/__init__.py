"""gRPC servicers and interceptors: proto <-> domain translation, nothing else."""
