"""Where and as whom the client calls: arguments first, then BUCKETD_* environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ADDRESS = "localhost:50051"
DEFAULT_NAMESPACE = "default"
# gRPC's client-side balancing: pick_first (gRPC's default: one connection) or round_robin (calls
# spread over every address the target resolves to, e.g. a Kubernetes headless Service's pods).
LB_POLICIES = ("pick_first", "round_robin")


@dataclass(frozen=True)
class ClientSettings:
    address: str = DEFAULT_ADDRESS
    api_key: str = ""
    namespace: str = DEFAULT_NAMESPACE
    # TLS: on when asked, or when a CA file is given (else the system's roots are trusted).
    tls: bool = False
    ca_file: Path | None = None
    load_balancing: str | None = None  # None: gRPC's default (pick_first)

    @classmethod
    def resolve(
        cls,
        *,
        address: str | None = None,
        api_key: str | None = None,
        namespace: str | None = None,
        tls: bool | None = None,
        ca_file: str | Path | None = None,
        load_balancing: str | None = None,
    ) -> ClientSettings:
        """Each value from its argument, else BUCKETD_ADDRESS, BUCKETD_API_KEY,
        BUCKETD_NAMESPACE, BUCKETD_TLS (1/true), BUCKETD_TLS_CA_FILE, BUCKETD_LB_POLICY, else
        the default."""
        env = os.environ
        policy = load_balancing or env.get("BUCKETD_LB_POLICY") or None
        if policy is not None and policy not in LB_POLICIES:
            raise ValueError(
                f"load balancing {policy!r} is unknown: use {' or '.join(LB_POLICIES)} "
                "(load_balancing= or BUCKETD_LB_POLICY)"
            )
        ca = ca_file or env.get("BUCKETD_TLS_CA_FILE") or None
        env_tls = env.get("BUCKETD_TLS", "").lower() in {"1", "true", "yes"}
        return cls(
            address=address or env.get("BUCKETD_ADDRESS") or DEFAULT_ADDRESS,
            api_key=api_key or env.get("BUCKETD_API_KEY", ""),
            namespace=namespace or env.get("BUCKETD_NAMESPACE") or DEFAULT_NAMESPACE,
            tls=bool(tls if tls is not None else env_tls) or ca is not None,
            ca_file=Path(ca) if ca else None,
            load_balancing=policy,
        )
