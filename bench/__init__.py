"""Load generator and benchmarks (`make bench`, `cc-analytics loadgen`)."""
