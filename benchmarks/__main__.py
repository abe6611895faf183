"""`python -m benchmarks [ARGS]`: the build benchmark (benchmarks/bench.py);
`python -m benchmarks cycle|harvest|serve [ARGS]`: the review-cycle, the harvest or the download
page's benchmark."""

import sys

from benchmarks import bench, cycle, harvest, serve

SUITES = {"cycle": cycle.main, "harvest": harvest.main, "serve": serve.main}

if len(sys.argv) > 1 and sys.argv[1] in SUITES:
    sys.exit(SUITES[sys.argv[1]](sys.argv[2:]))
sys.exit(bench.main())
