"""Benchmark harness of ecs-one-off-task: `make bench` runs `python -m bench.run`.

See `bench.run` for what each figure means and how it is measured; the results land in
`bench/RESULTS.md`.
"""
