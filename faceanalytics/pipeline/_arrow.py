"""pyarrow in a process that only ingests: the system allocator under all of Arrow, and
without the pandas import it would make."""
from __future__ import annotations

import os
import sys

__all__ = ["arrow_with_system_allocator", "arrow_without_pandas"]

_POOL_VAR = "ARROW_DEFAULT_MEMORY_POOL"


def arrow_with_system_allocator() -> bool:
    """For a process that streams records (``ingest``, ``rebuild``, ``fetch``, ``receive``),
    called before pyarrow is imported: Arrow's C++ default memory pool becomes the system
    allocator.  ``pa.set_memory_pool`` only reaches what Python hands a pool to; with
    mimalloc as the C++ default, the allocator still reserved and touched its arenas for
    the few MiB Arrow's internals allocate there: ~50 MiB of peak memory for 100,000 small
    records (Baidu simple 196 -> 144 MiB, media 213 -> 171 MiB;
    ``benchmarks/bench_ingest.py``), for no speed.  The pool is chosen once, when pyarrow
    loads, from the environment: the variable is set for that import only, so the
    processes this one starts inherit nothing.  -> whether it took effect (not when
    pyarrow was imported already, by a test run or a notebook, or the variable is set)."""
    if "pyarrow" in sys.modules or _POOL_VAR in os.environ:
        return False
    os.environ[_POOL_VAR] = "system"
    try:
        import pyarrow  # noqa: F401  (reads the variable as it loads)
    finally:
        del os.environ[_POOL_VAR]
    return True


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
    import pyarrow as pa

    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(finder)
