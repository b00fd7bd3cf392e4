"""The streaming commands' allocator settings (``cli._streaming_memory``), on glibc.

Left to glibc, the mmap threshold rises to the largest block freed: after a chunk's
~18 MB buffer is let go, every block below that comes from the heap, which fragments and
grew over a 1,000,000-record ingest (``benchmarks/bench_ingest.py`` part 5 traces it).
The streaming commands fix the threshold at 4 MiB, so a large block is mapped and
unmapped whole.  Seen from inside a process: a 5 MiB block allocated after an 18 MB one
was freed gets a mapping of its own only with the threshold fixed.
"""
import os
import subprocess
import sys

import pytest

_CODE = r"""
import sys
from faceanalytics.cli import _streaming_memory
if sys.argv[1] == "fixed":
    _streaming_memory()

def mappings():
    out = set()
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            if hi - lo >= 5 << 20 and len(fields) < 6:   # anonymous, no [heap] or file name
                out.add((lo, hi))
    return out

big = bytearray(18 << 20)
del big                      # an 18 MB block freed: glibc's threshold rises past 5 MiB
before = mappings()
block = bytearray(5 << 20)
print("own mapping" if mappings() - before else "heap")
"""


def _where_a_5mib_block_goes(mode: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _CODE, mode], capture_output=True, text=True,
                         env=env, check=True, timeout=120)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's")
def test_large_blocks_are_mapped_whole_once_the_threshold_is_fixed():
    assert _where_a_5mib_block_goes("fixed") == "own mapping"
    assert _where_a_5mib_block_goes("default") == "heap"    # what glibc does left alone


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's")
def test_an_analysts_own_threshold_is_left_alone():
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}
    out = subprocess.run([sys.executable, "-c", _CODE, "fixed"], capture_output=True, text=True,
                         env=env, check=True, timeout=120)
    assert out.stdout.strip() == "heap"
