"""Benchmarks of the nightly sync and the synthetic network generator they run on."""
