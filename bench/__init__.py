"""Load and latency benchmarks: `python -m bench --help`."""
