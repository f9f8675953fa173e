"""OTLP request bodies to pipeline data: `protobuf` (the reference path, protobuf and OTLP/JSON through
ParseDict), `direct_json` (OTLP/JSON straight to rows, or declined), `checks` (the refusal, the limits and the
point checks both share). receiver/otlp/decode.py chooses between the two paths."""
