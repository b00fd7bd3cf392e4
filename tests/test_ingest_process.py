"""An ingest process: what it imports, and that what it leaves out is still there when asked."""
import json
import subprocess
import sys

from _helpers import assert_prints_ok, envelope, seed, write_jsonl


def test_ingest_and_rebuild_processes_never_import_pandas(tmp_path):
    """pyarrow's first conversion of Python objects would import pandas (a sixth of a small
    ingest's CPU); the commands land the same rows without it."""
    src = write_jsonl(tmp_path / "in.jsonl", [
        envelope("baidu_simple", "tokS", seed("baidu_simple.json")),
        envelope("megvii_lite", "1700000000,abc", seed("megvii_lite_success.json")),
    ])
    code = (
        "import sys\n"
        "from faceanalytics.cli import main\n"
        "for argv in (['ingest', sys.argv[1], '--data', sys.argv[2]], ['rebuild', '--data', sys.argv[2]]):\n"
        "    assert main(argv) == 0\n"
        "import os, pyarrow as pa\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules, 'pool': pa.default_memory_pool().backend_name,\n"
        "                  'env': os.environ.get('ARROW_DEFAULT_MEMORY_POOL')}))\n"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + code, str(src), str(tmp_path / "data")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    # Arrow's C++ default pool is the system allocator (chosen as pyarrow loaded, the variable
    # set for that import only: a process the command starts inherits nothing)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"pandas": False, "pool": "system", "env": None}
    assert "landed 2" in out.stdout

    from faceanalytics.storage.tables import load
    assert set(load(tmp_path / "data", "sessions")["session_id"]) == {"tokS", "1700000000,abc"}


def test_pandas_conversions_still_work_after_the_probe():
    assert_prints_ok(
        "from faceanalytics.pipeline._arrow import arrow_without_pandas\n"
        "arrow_without_pandas()\n"
        "import sys; assert 'pandas' not in sys.modules\n"
        "import pyarrow as pa, pandas as pd\n"
        "t = pa.table({'a': [1, None]})\n"
        "df = t.to_pandas()\n"
        "assert pa.Table.from_pandas(df).column('a').to_pylist() == [1, None]\n"
        "assert pa.array(pd.Series([1, None], dtype='Int64')).to_pylist() == [1, None]\n"
        "print('ok')\n")


def test_probe_leaves_a_process_with_pandas_alone():
    assert_prints_ok(
        "import pandas as pd, pyarrow as pa\n"
        "from faceanalytics.pipeline._arrow import arrow_without_pandas\n"
        "arrow_without_pandas()\n"
        "assert pa.array(pd.Series([1, None], dtype='Int64')).to_pylist() == [1, None]\n"
        "print('ok')\n")


def test_the_system_allocator_is_chosen_only_before_pyarrow_loads():
    """Called after pyarrow was imported (a test run, a notebook), nothing changes; a pool the
    environment names is left as named."""
    assert_prints_ok(
        "import os, sys\n"
        "from faceanalytics.pipeline._arrow import arrow_with_system_allocator\n"
        "assert 'pyarrow' not in sys.modules\n"
        "assert arrow_with_system_allocator() is True\n"
        "import pyarrow as pa\n"
        "assert pa.default_memory_pool().backend_name == 'system'\n"
        "assert 'ARROW_DEFAULT_MEMORY_POOL' not in os.environ\n"
        "assert arrow_with_system_allocator() is False\n"
        "print('ok')\n")
    assert_prints_ok(
        "import pyarrow as pa\n"
        "from faceanalytics.pipeline._arrow import arrow_with_system_allocator\n"
        "before = pa.default_memory_pool().backend_name\n"
        "assert arrow_with_system_allocator() is False\n"
        "assert pa.default_memory_pool().backend_name == before\n"
        "print('ok')\n")
