from __future__ import annotations

from pathlib import Path

from pdata.options import ConfigError
from receiver.otlp.admission import Admission
from receiver.otlp.auth import Binding, OrganizationMismatch, TokenAuth, TokensFileError
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.grpc_server import create_otlp_grpc_server
from receiver.otlp.http_server import create_otlp_http_app
from receiver.otlp.shared_inflight import SharedInflight
from receiver.otlp.shared_tokens import SharedTokens


def create_token_auth(config: OtlpReceiverConfig, shared: SharedTokens | None = None) -> TokenAuth:
    """The ingest tokens (auth.*); raises ConfigError naming the tokens file, the entry and what is wrong.

    `shared`: a receiver process of several (`--workers N`), which starts from the newest good version another
    receiver process read while the file is faulty (the collector checked the file at start-up)."""
    required = None if config.require_token == "auto" else config.require_token == "true"
    mismatch: OrganizationMismatch = "override" if config.organization_mismatch == "override" else "refuse"
    if config.tokens_file:
        try:
            if shared is not None:
                return TokenAuth.from_shared(Path(config.tokens_file), shared, required, mismatch)
            return TokenAuth.from_file(Path(config.tokens_file), required, mismatch)
        except TokensFileError as exc:
            raise ConfigError(str(exc)) from None
    return TokenAuth({}, required=bool(required), organization_mismatch=mismatch)


def shared_tokens(data_dir: Path) -> SharedTokens:
    """Where the receiver processes of one collector agree on the last good tokens (`--workers N`, N > 1)."""
    return SharedTokens(data_dir / "ingest-tokens.shared.json", Binding)


def create_admission(config: OtlpReceiverConfig, shared: SharedInflight | None = None) -> Admission:
    """The in-flight byte budget; pass the same one to both servers so they share it. `shared`: a receiver
    process of several (`--workers N`), whose budget is shared with the others'."""
    return Admission(config.max_inflight_bytes, shared=shared)


# The servers' constructors, under the names the composition root builds them by.
create_http_app = create_otlp_http_app
create_grpc_server = create_otlp_grpc_server
