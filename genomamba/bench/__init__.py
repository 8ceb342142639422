"""Benchmarks. Each module has ``main(argv) -> int`` that prints a table (see docs/benchmarks.md)."""
