"""What the executors' Python workers need set once per process.

pyspark's worker calls `importlib.invalidate_caches()` before every task (so that a file added with
`addPyFile` is seen), and a zip importer answers by reading its archive's whole directory again.
Spark puts its own spark-core jar (about 4,200 entries) on the workers' path beside pyspark.zip,
so every task paid about 45 ms of CPU for that alone: with a few partitions a batch and three
passes over each (the ledger's keys, the undecodable records, the processor and the sink), most
of a core for a job reading 30 records a second. The archives already on a worker's path do not
change while it lives (a file added later comes with a path, and an importer, of its own), so
their importers keep the directory they read.
"""

from __future__ import annotations

import zipimport


def keep_zip_directories() -> None:
    """Make zip importers keep their archive's directory when import caches are invalidated."""
    if getattr(zipimport.zipimporter.invalidate_caches, "__name__", "") != _keep_directory.__name__:
        zipimport.zipimporter.invalidate_caches = _keep_directory  # type: ignore[method-assign]


def _keep_directory(self: zipimport.zipimporter) -> None:
    """The archive has not changed since it was read: nothing to do."""
