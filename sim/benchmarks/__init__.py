"""Benchmarks run by ``crdtsim bench NAME``; each module exposes ``main(argv) -> int``."""
