"""OTLP receiver: gRPC :4317 and HTTP :4318, protobuf and JSON, gzip, auth, size limits and admission."""

from receiver.otlp.config import OtlpReceiverConfig
from receiver.otlp.factory import create_admission, create_grpc_server, create_http_app

__all__ = ["OtlpReceiverConfig", "create_admission", "create_grpc_server", "create_http_app"]
