"""`python -m benchmarks [ARGS]`: the build benchmark (benchmarks/bench.py);
`python -m benchmarks cycle|harvest|serve|cluster [ARGS]`: the review-cycle, the harvest, the
download page's or the Dask (`--cluster local:N` against `--jobs N`) benchmark."""

import sys

from benchmarks import bench, cluster, cycle, harvest, serve

SUITES = {
    "cycle": cycle.main,
    "harvest": harvest.main,
    "serve": serve.main,
    "cluster": cluster.main,
}

if len(sys.argv) > 1 and sys.argv[1] in SUITES:
    sys.exit(SUITES[sys.argv[1]](sys.argv[2:]))
sys.exit(bench.main())
