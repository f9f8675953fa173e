from __future__ import annotations

import grpc
from starlette.applications import Starlette

from pdata.consumer import Consumer
from receiver.otlp.auth import TokenAuth
from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.grpc_server import create_otlp_grpc_server
from receiver.otlp.http_server import create_otlp_http_app
from receiver.otlp.observer import IngestObserver


def create_http_app(
    config: OtlpReceiverConfig, auth: TokenAuth, consumer: Consumer, observer: IngestObserver
) -> Starlette:
    return create_otlp_http_app(config, auth, consumer, observer)


def create_grpc_server(
    config: OtlpReceiverConfig, auth: TokenAuth, consumer: Consumer, observer: IngestObserver
) -> grpc.aio.Server:
    return create_otlp_grpc_server(config, auth, consumer, observer)
