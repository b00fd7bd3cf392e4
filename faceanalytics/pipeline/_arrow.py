"""pyarrow in a process that only ingests, without the pandas import it would make."""
from __future__ import annotations

import sys

import pyarrow as pa

__all__ = ["arrow_without_pandas"]


class _NoPandas:
    """An import finder that refuses pandas (see :func:`arrow_without_pandas`)."""

    def find_spec(self, name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is not imported by an ingest process")
        return None


def arrow_without_pandas() -> None:
    """For a process that only ingests (the ``ingest`` and ``rebuild`` commands), called
    before the flatteners are imported: the first time pyarrow converts Python objects it
    imports pandas, only to ask whether they are pandas objects.  Ingest never hands it
    any, and the import costs ~0.25 s of CPU and ~55 MiB of peak memory (a sixth of a
    100,000-record ingest of small records; ``benchmarks/bench_ingest.py``).  That first
    conversion is made here with pandas out of reach: pyarrow notes it as absent, and
    still imports it should a pandas conversion (``to_pandas``, ``from_pandas``) be asked
    for later.  Nothing is done when pandas is already imported (a test run, a notebook):
    pyarrow must then recognise pandas objects as such."""
    if "pandas" in sys.modules:
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(finder)
