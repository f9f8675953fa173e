"""Exporters: where processed facts go (ClickHouse) and how they are served (Prometheus)."""
