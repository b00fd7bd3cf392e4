"""``faceanalytics review`` with careless options: a ``--segment`` naming nothing, a labels file
written by a script or a spreadsheet (unquoted Megvii ids, tabs, UTF-16, BOM, header in another
case), a labels file with no labels.  Each is read for what it says or refused in one line
(exit 2); never a report that reads "no comparison in this period" or "none of the labelled
sessions has a comparison"."""
from __future__ import annotations

import pytest

import faceanalytics as fa
from faceanalytics.cli import main
from faceanalytics.report import read_labels, review

from test_careless_api2 import datadir  # noqa: F401  (the module's small ingested population)

SINCE, UNTIL = "2026-03-01", "2026-04-02"


def _args(data, out, *more):
    return ["review", "-q", "--data", str(data), "--out", str(out), "--since", SINCE, "--until", UNTIL, *more]


def test_a_segment_naming_nothing_is_refused_naming_the_keys_found(datadir, tmp_path, capsys):  # noqa: F811
    """``--segment chanel`` wrote a report whose segments section read "No comparison in this
    period" (a key with no value), exit 0."""
    out = tmp_path / "r.html"
    assert main(_args(datadir, out, "--segment", "channel", "--segment", "chanel")) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--segment 'chanel': no sessions column and no biz_extra_data key" in err
    assert "that segment values are read from (a sample on large data); the keys they carry: channel" in err
    assert not out.exists()
    with pytest.raises(ValueError, match="segment 'chanel'"):
        review(datadir, SINCE, UNTIL, segments=["chanel"])
    assert main(_args(datadir, out, "--segment", "channel", "--segment", "procedure_type")) == 0
    assert main(_args(datadir, out, "--segment", "chanel", "--since", "2030-01-01", "--until", "2030-02-01")) == 0


def _ids(datadir, n=60):
    c = fa.load(datadir, "comparisons")
    ids = c[c["source"] == "megvii_lite"]["session_id"].drop_duplicates().head(n).tolist()
    assert all("," in i for i in ids)                  # Megvii biz_ids: "<unix time>,<uuid>"
    return ids


@pytest.mark.parametrize("layout", ["unquoted", "quoted", "tab", "semicolon", "utf-16", "bom", "header case",
                                    "genuine first"])
def test_labels_as_scripts_and_spreadsheets_write_them_are_read(datadir, tmp_path, layout):  # noqa: F811
    """A script's ``f"{id},{flag}"`` was "not a readable UTF-8 CSV file of labels (ParserError)"
    (the biz_id's comma), so were tabs and UTF-16; ``Session_ID`` was "labels need column(s)"."""
    ids = _ids(datadir)
    flags = ["true" if i % 4 else "false" for i in range(len(ids))]
    sep = {"tab": "\t", "semicolon": ";"}.get(layout, ",")
    head = {"header case": "Session_ID, Genuine", "genuine first": "genuine,session_id"}.get(
        layout, f"session_id{sep}genuine")
    body = [f'"{i}",{f}' if layout == "quoted" else f"{f},{i}" if layout == "genuine first" else f"{i}{sep}{f}"
            for i, f in zip(ids, flags)]
    text = "\n".join([head, *body]) + "\n"
    f = tmp_path / "labels.csv"
    if layout == "utf-16":
        f.write_text(text, encoding="utf-16")
    else:
        f.write_text(text, encoding="utf-8-sig" if layout == "bom" else "utf-8")
    lab = read_labels(f)
    assert lab["session_id"].tolist() == ids and lab["genuine"].tolist() == [x == "true" for x in flags]


@pytest.mark.parametrize("text,msg", [
    ("session_id,genuine\n", "no labels: no row has a session_id and a genuine value"),
    ("session_id,genuine\nabc,\n\n", "no labels"),
    ("", "empty: no header"),
    ("\n\n", "empty: no header"),
])
def test_a_labels_file_without_labels_is_refused(datadir, tmp_path, capsys, text, msg):  # noqa: F811
    """A header alone wrote a report saying "None of the labelled sessions has a comparison in
    this period" (exit 0): there were no labels at all."""
    f = tmp_path / "labels.csv"
    f.write_text(text)
    out = tmp_path / "r.html"
    assert main(_args(datadir, out, "--labels", str(f))) == 2
    err = capsys.readouterr().err
    assert msg in err and str(f) in err and not out.exists()


def test_labels_with_unquoted_megvii_ids_give_error_rates(datadir, tmp_path):  # noqa: F811
    ids = _ids(datadir)
    f = tmp_path / "labels.csv"
    f.write_text("session_id,genuine\n" + "".join(f"{i},{'yes' if k % 4 else 'no'}\n" for k, i in enumerate(ids)))
    r = review(datadir, SINCE, UNTIL, labels=read_labels(f))
    html = r.html()
    assert "None of the labelled sessions" not in html and "impostors accepted" in html


def test_write_report_labels_argument_checked_before_the_review(datadir, tmp_path):  # noqa: F811
    """A frame without ``session_id`` was a bare ``KeyError: 'session_id'`` after the whole
    review, a Series "expected str, bytes or os.PathLike", an empty frame a report saying
    "None of the labelled sessions has a comparison"."""
    import pandas as pd

    out = tmp_path / "r.html"
    with pytest.raises(KeyError, match="labels need column.*session_id, genuine; the frame has id, label"):
        fa.write_report(datadir, out, SINCE, UNTIL, labels=pd.DataFrame({"id": ["a"], "label": [1]}))
    with pytest.raises(TypeError, match="labels is a DataFrame .*got Series"):
        fa.write_report(datadir, out, SINCE, UNTIL, labels=pd.Series([True]))
    with pytest.raises(ValueError, match="labels: no labels"):
        fa.write_report(datadir, out, SINCE, UNTIL, labels=pd.DataFrame({"session_id": [], "genuine": []}))
    assert not out.exists()
    ids = _ids(datadir)
    lab = pd.DataFrame({"session_id": ids, "genuine": ["yes" if k % 4 else "no" for k in range(len(ids))]})
    assert "impostors accepted" in fa.write_report(datadir, out, SINCE, UNTIL, labels=lab).read_text("utf-8")


def test_summaries_histogram_of_a_comparison_kind_naming_nothing_is_refused(datadir):  # noqa: F811
    from faceanalytics.report import summarize

    s = summarize(datadir, SINCE, UNTIL, engine="duckdb")
    with pytest.raises(ValueError, match="histogram comparison: unknown 'face_id'; known: faceid"):
        s.histogram(comparison="face_id")
    assert s.histogram(comparison="faceid")["count"].sum() > 0
    assert s.histogram(comparison="ref3").empty                  # documented, absent: empty


def test_duckdb_out_of_memory_is_one_line_not_a_traceback(datadir, tmp_path, capsys, monkeypatch):  # noqa: F811
    """A count DuckDB cannot finish within its memory limit (it spills most, not all) ended the
    review with a traceback; now one line that says what happened and what to do, exit 1."""
    monkeypatch.setattr("faceanalytics.report._period.MEMORY_LIMIT", "1MB")
    out = tmp_path / "r.html"
    assert main(_args(datadir, out)) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("faceanalytics review: Out of Memory Error")
    assert "--engine spark" in err and not out.exists()
