"""TLS for the two listeners, from PEM files (BUCKETD_TLS_CERT_FILE, BUCKETD_TLS_KEY_FILE and,
for mutual TLS on gRPC, BUCKETD_TLS_CLIENT_CA_FILE)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from bucketd.config import SettingsError


@dataclass(frozen=True)
class TlsFiles:
    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    @classmethod
    def of(
        cls, cert_file: str | None, key_file: str | None, client_ca_file: str | None
    ) -> TlsFiles | None:
        """The files, or None when TLS is off; a half configuration is refused."""
        if not cert_file and not key_file:
            if client_ca_file:
                raise SettingsError(
                    "BUCKETD_TLS_CLIENT_CA_FILE needs BUCKETD_TLS_CERT_FILE and _KEY_FILE"
                )
            return None
        if not cert_file or not key_file:
            raise SettingsError(
                "set both BUCKETD_TLS_CERT_FILE and BUCKETD_TLS_KEY_FILE, or neither"
            )
        for path in (cert_file, key_file, client_ca_file):
            if path and not Path(path).is_file():
                raise SettingsError(f"TLS file {path} does not exist or is not a file")
        return cls(cert_file, key_file, client_ca_file)

    def grpc_credentials(self) -> grpc.ServerCredentials:
        client_ca = Path(self.client_ca_file).read_bytes() if self.client_ca_file else None
        return grpc.ssl_server_credentials(
            [(Path(self.key_file).read_bytes(), Path(self.cert_file).read_bytes())],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )

    def http_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_file, self.key_file)
        return context
