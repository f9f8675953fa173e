"""The pieces of dashboards/generate.py, one module per output."""
