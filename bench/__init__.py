"""Benchmarks that print numbers (run as modules: `.venv/bin/python -m bench.upload`)."""
