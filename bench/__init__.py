"""Benchmarks (`make bench`); the load generator they drive is the product's `loadgen` package."""
