from __future__ import annotations

from pathlib import Path

import grpc
from starlette.applications import Starlette

from pdata.consumer import Consumer
from pdata.options import ConfigError
from receiver.otlp.admission import Admission
from receiver.otlp.auth import OrganizationMismatch, TokenAuth, TokensFileError
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.grpc_server import create_otlp_grpc_server
from receiver.otlp.http_server import create_otlp_http_app
from receiver.otlp.observer import IngestObserver


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


def create_http_app(
    config: OtlpReceiverConfig,
    auth: TokenAuth,
    consumer: Consumer,
    observer: IngestObserver,
    admission: Admission | None = None,
) -> Starlette:
    return create_otlp_http_app(config, auth, consumer, observer, admission)


def create_grpc_server(
    config: OtlpReceiverConfig,
    auth: TokenAuth,
    consumer: Consumer,
    observer: IngestObserver,
    admission: Admission | None = None,
) -> grpc.aio.Server:
    return create_otlp_grpc_server(config, auth, consumer, observer, admission)
