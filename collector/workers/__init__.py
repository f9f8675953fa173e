"""`run --workers N`: OTLP receivers in N processes sharing the ports, one writer (collector/README.md,
Receiver workers)."""
