from __future__ import annotations

from pathlib import Path

from pdata.options import ConfigError
from receiver.otlp.admission import Admission
from receiver.otlp.auth import OrganizationMismatch, TokenAuth, TokensFileError
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.grpc_server import create_otlp_grpc_server
from receiver.otlp.http_server import create_otlp_http_app


def create_token_auth(config: OtlpReceiverConfig) -> TokenAuth:
    """The ingest tokens (auth.*); raises ConfigError naming the tokens file, the entry and what is wrong."""
    required = None if config.require_token == "auto" else config.require_token == "true"
    mismatch: OrganizationMismatch = "override" if config.organization_mismatch == "override" else "refuse"
    if config.tokens_file:
        try:
            return TokenAuth.from_file(Path(config.tokens_file), required, mismatch)
        except TokensFileError as exc:
            raise ConfigError(str(exc)) from None
    return TokenAuth({}, required=bool(required), organization_mismatch=mismatch)


def create_admission(config: OtlpReceiverConfig) -> Admission:
    """The in-flight byte budget; pass the same one to both servers so they share it."""
    return Admission(config.max_inflight_bytes)


# The servers' constructors, under the names the composition root builds them by.
create_http_app = create_otlp_http_app
create_grpc_server = create_otlp_grpc_server
