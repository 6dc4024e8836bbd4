"""A Dask LocalCluster in a process group of its own, for the cluster tests.

Prints the scheduler address, then serves until stdin closes (the test's
fixture closes it, or kills the group: a test may freeze or kill the
scheduler with its workers). Two worker processes, one thread each, and a
small memory limit. With the argument ``spill`` the workers spill managed
data above 5 % of their limit, so a small test can make them spill.
"""

import sys

import dask
from distributed import LocalCluster

if __name__ == "__main__":
    if "spill" in sys.argv[1:]:
        dask.config.set({"distributed.worker.memory.target": 0.05})
    cluster = LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        memory_limit="400MB",
        dashboard_address=None,
    )
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
    cluster.close(timeout=10)
