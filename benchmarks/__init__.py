"""Benchmarks of the build, outside the product package: `python3 tasks.py bench` runs
`python -m benchmarks` (see bench.py). Editing them rebuilds no pack (not in the code digest)."""
