"""Clients, fetch from Python, crypto and plots misused as an analyst in a notebook would:
each case gets a clear error naming the argument (or the right answer), nothing is sent that
cannot be an id, no quota is charged for it, and no secret is echoed."""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest

from faceanalytics.clients import BaiduClient, MegviiClient, QuotaLedger
from faceanalytics.clients.testing import Reply, ScriptedServer

KEY, SECRET = "careless-key-0123", "careless-secret-4567-abcdefghijklmnop"
BIZ = "1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1"
TOKEN = "cIupeyP51sn28XzxGVTfYqoN"

NOT_BIZ_IDS = [BIZ + " ", " " + BIZ, BIZ + "\n", BIZ + "\n" + BIZ, "hello world", TOKEN, "1462259748",
               "1462259748, 52b13fb5", "1.5"]


@pytest.mark.parametrize("biz_id", NOT_BIZ_IDS)
@pytest.mark.parametrize("call", ["get_lite_result", "get_liveness_result"])
def test_megvii_client_never_sends_what_is_not_a_biz_id(tmp_path, biz_id, call):
    """Each send spends one of the three calls Megvii allows per biz_id: a value with spaces,
    a line break or no ``<unix time>,`` was sent and answered RESULT_NOT_FOUND."""
    ledger = QuotaLedger(tmp_path / "megvii.log", limit=3, provider="megvii")
    with ScriptedServer() as server:
        server.script("/faceid/lite/get_result", Reply(200, {"status": "OK", "request_id": "r"}))
        server.script("/faceid/liveness/v2/get_result", Reply(200, {"status": "OK", "request_id": "r"}))
        client = MegviiClient(KEY, SECRET, base_url=server.url, ledger=ledger)
        with pytest.raises(ValueError, match="not a biz_id") as err:
            getattr(client, call)(biz_id)
        assert server.requests == []
    assert ledger.total() == 0
    assert SECRET not in str(err.value) and KEY not in str(err.value)
    ledger.close()


@pytest.mark.parametrize("value", [None, math.nan, 1.5, "", "  ", [BIZ], pd.DataFrame({"a": [BIZ]})])
def test_megvii_client_refuses_non_text_ids_naming_the_type(value):
    with ScriptedServer() as server:
        client = MegviiClient(KEY, SECRET, base_url=server.url)
        with pytest.raises(ValueError, match="biz_id must be a non-empty string"):
            client.get_lite_result(value)
        assert server.requests == []


@pytest.mark.parametrize("token", [TOKEN + " ", TOKEN + "\n", "a b", BIZ, "tok/../x", "ä" * 20])
def test_baidu_client_never_sends_what_is_not_a_verify_token(token):
    """Not even the access token is asked for: the refusal comes first."""
    with ScriptedServer() as server:
        server.script("/oauth/2.0/token", Reply(200, {"access_token": "at-1", "expires_in": 2592000}))
        client = BaiduClient(KEY, SECRET, base_url=server.url)
        with pytest.raises(ValueError, match="not a verify_token"):
            client.result("detail", token)
        assert server.requests == []


def test_the_megvii_client_still_sends_a_real_biz_id():
    with ScriptedServer() as server:
        server.script("/faceid/lite/get_result", Reply(200, {"status": "OK", "request_id": "r"}))
        MegviiClient(KEY, SECRET, base_url=server.url).get_lite_result(BIZ)
        assert [r.query["biz_id"] for r in server.requests] == [BIZ]


@pytest.mark.parametrize("base_url", [None, 8800, b"http://127.0.0.1"])
def test_a_base_url_that_is_not_text_is_a_clear_type_error(base_url):
    with pytest.raises(TypeError, match="base_url is a URL as text"):
        MegviiClient(KEY, SECRET, base_url=base_url)


# -- crypto -----------------------------------------------------------------------------------

from faceanalytics.crypto import decrypt_will_file, encrypt_will_file, verify_callback_sign  # noqa: E402

CB_DATA = '{"biz_id": "1462259748,52b13fb5", "status": "OK"}'
CB_SIGN = hashlib.sha1((SECRET + CB_DATA).encode()).hexdigest()


def test_a_callback_body_as_bytes_is_verified_as_the_text_it_carries():
    """A web framework's ``request.body`` is bytes: every genuine callback was "forged" (False)."""
    assert verify_callback_sign(CB_DATA.encode(), CB_SIGN, SECRET) is True
    assert verify_callback_sign(bytearray(CB_DATA.encode()), CB_SIGN.encode(), SECRET) is True
    assert verify_callback_sign(CB_DATA, CB_SIGN, SECRET.encode()) is True
    assert verify_callback_sign(CB_DATA.encode() + b" ", CB_SIGN, SECRET) is False


def test_a_parsed_callback_is_refused_not_called_forged():
    import json
    with pytest.raises(TypeError, match="JSON text as received") as err:
        verify_callback_sign(json.loads(CB_DATA), CB_SIGN, SECRET)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize("secret", [12345, 3.5, ["s"]])
def test_a_secret_of_the_wrong_type_is_named_by_type_never_shown(secret):
    blob = encrypt_will_file(b"x" * 2000, SECRET)
    for call in (lambda: verify_callback_sign(CB_DATA, CB_SIGN, secret), lambda: decrypt_will_file(blob, secret)):
        with pytest.raises(TypeError, match="api_secret is text") as err:
            call()
        assert str(secret) not in str(err.value)


@pytest.mark.parametrize("blob,hint", [("a" * 2000, "a path"), ("/tmp/will.mp4", "a path"), (None, "NoneType"),
                                       (12, "int")])
def test_decrypt_will_file_of_what_is_not_bytes_says_so(blob, hint):
    with pytest.raises(TypeError, match="takes the download as bytes") as err:
        decrypt_will_file(blob, SECRET)
    assert hint in str(err.value) and SECRET not in str(err.value)


def test_decrypt_will_file_of_an_open_file_says_read_it_first(tmp_path):
    p = tmp_path / "w.bin"
    p.write_bytes(encrypt_will_file(b"x" * 2000, SECRET))
    with open(p, "rb") as fh, pytest.raises(TypeError, match=r"read it first"):
        decrypt_will_file(fh, SECRET)
    assert decrypt_will_file(p.read_bytes(), SECRET.encode()) == b"x" * 2000      # a bytes secret works


def test_decrypt_will_file_with_swapped_arguments_never_shows_the_secret():
    blob = encrypt_will_file(b"x" * 2000, SECRET)
    with pytest.raises(TypeError) as err:
        decrypt_will_file(SECRET, blob)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value.args)


# -- fetch from Python ------------------------------------------------------------------------

from faceanalytics.pipeline.fetch import fetch_baidu, fetch_megvii  # noqa: E402
from faceanalytics.sandbox import Sandbox  # noqa: E402


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(seed=31, n_lite=4, n_liveness=0, n_baidu=2) as sb:
        yield sb


def _calls(sb) -> int:
    import json
    import urllib.request
    stats = json.loads(urllib.request.urlopen(sb.url + "/_sandbox/stats").read())
    return sum(v for k, v in stats.get("requests", {}).items() if not k.startswith("/_sandbox"))


def _quota(data) -> str:
    d = data / "state" / "quota"
    return "".join(p.read_text() for p in d.glob("*")) if d.exists() else ""


@pytest.mark.parametrize("ids,error,match", [
    (None, TypeError, "not NoneType"), (math.nan, TypeError, "not float"), (12, TypeError, "not int"),
    (b"1462259748,52b13fb5", TypeError, "as bytes"), ({BIZ: 1}, TypeError, "not dict"),
    ("", ValueError, "empty string"), (BIZ, ValueError, "for one id pass a list"),
])
def test_fetch_megvii_of_what_is_not_ids_says_so_and_sends_nothing(tmp_path, monkeypatch, sandbox, ids, error,
                                                                  match):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    before = _calls(sandbox)
    with pytest.raises(error, match=match) as err:
        fetch_megvii(ids, tmp_path / "data", progress=False)
    assert _calls(sandbox) == before and _quota(tmp_path / "data") == ""
    assert sandbox.env()["MEGVII_API_SECRET"] not in str(err.value)


def test_fetch_with_the_data_directory_as_ids_says_they_look_swapped(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    (tmp_path / "data").mkdir()
    with pytest.raises(ValueError, match="swapped with the data directory"):
        fetch_megvii(tmp_path / "data", tmp_path / "other", progress=False)


def test_fetch_with_a_column_the_dataframe_lacks_lists_its_columns(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    df = pd.DataFrame({"biz": sandbox.ids("megvii-lite"), "n": range(4)})
    with pytest.raises(ValueError, match=r"no column 'biz_id' in the DataFrame \(its columns: biz, n\)"):
        fetch_megvii(df, tmp_path / "data", column="biz_id", progress=False)


@pytest.mark.parametrize("chunk_size", [0, -1, "500", 2.5, True])
def test_a_chunk_size_that_is_not_a_count_is_refused_before_any_call(tmp_path, monkeypatch, sandbox, chunk_size):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    before = _calls(sandbox)
    with pytest.raises(ValueError, match="chunk_size must be a whole number"):
        fetch_megvii(sandbox.ids("megvii-lite"), tmp_path / "data", chunk_size=chunk_size, progress=False)
    with pytest.raises(ValueError, match="chunk_size must be a whole number"):
        fetch_baidu(sandbox.ids("baidu"), tmp_path / "data", chunk_size=chunk_size, progress=False)
    assert _calls(sandbox) == before


def test_fetch_baidu_what_none_is_a_clear_error(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    with pytest.raises(TypeError, match="what is a list of result APIs"):
        fetch_baidu(sandbox.ids("baidu"), tmp_path / "data", what=None, progress=False)


def test_fetch_still_takes_a_list_an_array_and_a_series(tmp_path, monkeypatch, sandbox):
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    ids = sandbox.ids("megvii-lite")
    before = _calls(sandbox)
    rep = fetch_megvii(np.array(ids[:2]), tmp_path / "data", progress=False)
    assert rep.fetched == 2 and _calls(sandbox) == before + 2 and ids[0] in _quota(tmp_path / "data")
    rep = fetch_megvii(pd.Series(ids), tmp_path / "data", progress=False)
    assert (rep.fetched, rep.skipped) == (2, 2)


# -- plots ------------------------------------------------------------------------------------

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import faceanalytics as fa  # noqa: E402
from faceanalytics.plots import (plot_confidence_thresholds, plot_det, plot_drift, plot_error_codes,  # noqa: E402
                                 plot_genuineness, plot_margins, plot_pass_rates, plot_status_funnel)

from test_analytics import NEW, _genuineness, _sessions, comparisons  # noqa: E402


def _comparisons():
    rows = [("megvii_lite", f"s{i}", "2026-03-02", "faceid", c, NEW) for i, c in enumerate([60., 70., 80., 90.])]
    return comparisons(rows)


def _rates():
    return pd.DataFrame({"threshold": [60.0, 70.0], "far": [0.1, 0.01], "frr": [0.05, 0.2],
                         "n_genuine": [30, 30], "n_impostor": [40, 40]})


PLOTS = {
    "plot_confidence_thresholds": lambda **kw: plot_confidence_thresholds(_comparisons(), **kw),
    "plot_margins": lambda **kw: plot_margins(_comparisons(), **kw),
    "plot_pass_rates": lambda **kw: plot_pass_rates(_comparisons(), **kw),
    "plot_drift": lambda **kw: plot_drift(_comparisons(), _comparisons(), **kw),
    "plot_genuineness": lambda **kw: plot_genuineness(_genuineness(), **kw),
    "plot_error_codes": lambda **kw: plot_error_codes(_sessions(), **kw),
    "plot_status_funnel": lambda **kw: plot_status_funnel(_sessions(), **kw),
    "plot_det": lambda **kw: plot_det(_rates(), **kw),
}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_every_plot_says_what_ax_must_be(name):
    """A Figure, the array of plt.subplots(1, 2), or text failed deep inside as
    "'Figure' object has no attribute 'bar'"."""
    fig, axes = plt.subplots(1, 2)
    for bad, hint in ((fig, "fig.axes[0]"), (axes, "axes[0]"), ("left", "not str")):
        with pytest.raises(TypeError, match="ax is a matplotlib Axes") as err:
            PLOTS[name](ax=bad)
        assert hint in str(err.value)
    assert PLOTS[name](ax=axes[1]) is axes[1]


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_every_plot_takes_lang_and_refuses_an_unknown_one(name):
    """``lang=`` went on to ``ax.bar``/``ax.plot`` and failed there as an unknown property."""
    fig, ax = plt.subplots()
    assert PLOTS[name](ax=ax, lang="zh-CN") is ax
    zh = ax.get_title()
    fig, ax = plt.subplots()
    PLOTS[name](ax=ax)
    assert zh != ax.get_title()                          # drawn in the language asked for
    assert fa._i18n.current_lang() == "en"               # and only for that call
    with pytest.raises(ValueError, match="language must be one of"):
        PLOTS[name](ax=ax, lang="klingon")
    import inspect
    assert "lang" in inspect.signature(getattr(fa, name)).parameters


def test_plot_genuineness_of_one_attack_as_text_draws_that_attack():
    g = _genuineness()
    one = sorted(g["attack"].unique())[0]
    fig, ax = plt.subplots()
    plot_genuineness(g, attacks=one, ax=ax)
    fig2, ax2 = plt.subplots()
    plot_genuineness(g, attacks=[one], ax=ax2)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == \
        [t.get_text() for t in ax2.get_legend().get_texts()]


def test_plot_genuineness_of_the_sessions_table_names_what_it_needs():
    with pytest.raises(KeyError, match=r"plot_genuineness .* needs column\(s\) attack, confidence"):
        plot_genuineness(_sessions())


@pytest.mark.parametrize("top", [0, -1, "3", 2.5, True])
def test_plot_error_codes_top_must_be_a_count(top):
    with pytest.raises(ValueError, match="top is how many codes"):
        plot_error_codes(_sessions(), top=top)


def test_plot_det_with_counts_missing_draws_and_says_zero():
    fig, ax = plt.subplots()
    rates = _rates().assign(n_genuine=np.nan, n_impostor=None)
    assert plot_det(rates, ax=ax) is ax
    fig2, ax2 = plt.subplots()
    plot_det(_rates().assign(n_genuine=0, n_impostor=0), ax=ax2)
    assert ax.get_title() == ax2.get_title()


def test_plot_confidence_thresholds_of_the_genuineness_table_points_to_plot_genuineness():
    """It has a confidence column too (0-1): drawn as face comparisons, silently."""
    with pytest.raises(ValueError, match="use plot_genuineness"):
        plot_confidence_thresholds(_genuineness())


@pytest.mark.parametrize("min_n", ["5", -1, 2.5])
@pytest.mark.parametrize("name", ["plot_confidence_thresholds", "plot_pass_rates", "plot_drift"])
def test_min_n_must_be_a_count(name, min_n):
    """'5' failed inside as "'<' not supported between 'int' and 'str'" (or a numpy ufunc error)."""
    with pytest.raises(ValueError, match="min_n is the fewest rows"):
        PLOTS[name](min_n=min_n)


@pytest.mark.parametrize("option", ["refresh_pending", "keep_pii", "progress"])
@pytest.mark.parametrize("value", ["no", "False", None, 2])
def test_a_yes_no_option_given_as_text_is_refused_before_any_call(tmp_path, monkeypatch, sandbox, option, value):
    """``refresh_pending="no"`` re-polled pending sessions (quota) and ``keep_pii="no"`` kept
    personal data: truthy text, taken silently."""
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    before = _calls(sandbox)
    with pytest.raises(TypeError, match=f"{option} is True or False"):
        fetch_megvii(sandbox.ids("megvii-lite"), tmp_path / "data", **{"progress": False, option: value})
    if option != "refresh_pending":
        with pytest.raises(TypeError, match=f"{option} is True or False"):
            fetch_baidu(sandbox.ids("baidu"), tmp_path / "data", **{"progress": False, option: value})
    assert _calls(sandbox) == before and _quota(tmp_path / "data") == ""


@pytest.mark.parametrize("option,value", [("return_image", "yes"), ("return_image", None),
                                          ("return_image", -1), ("get_image_type", "x")])
def test_an_image_option_that_is_not_a_number_is_refused_up_front(tmp_path, monkeypatch, sandbox, option, value):
    """It failed in every worker as "invalid literal for int() with base 10: 'yes'"."""
    for k, v in sandbox.env().items():
        monkeypatch.setenv(k, v)
    before = _calls(sandbox)
    with pytest.raises(ValueError, match=f"{option} is a whole number"):
        fetch_megvii(sandbox.ids("megvii-lite"), tmp_path / "data", progress=False, **{option: value})
    assert _calls(sandbox) == before and _quota(tmp_path / "data") == ""


def test_a_client_for_the_other_provider_is_refused_before_any_call(tmp_path, sandbox):
    env = sandbox.env()
    baidu = BaiduClient(env["BAIDU_API_KEY"], env["BAIDU_SECRET_KEY"], base_url=sandbox.url)
    megvii = MegviiClient(env["MEGVII_API_KEY"], env["MEGVII_API_SECRET"], base_url=sandbox.url)
    before = _calls(sandbox)
    with pytest.raises(TypeError, match="client is a MegviiClient for this fetch, not BaiduClient"):
        fetch_megvii(sandbox.ids("megvii-lite"), tmp_path / "data", client=baidu, progress=False)
    with pytest.raises(TypeError, match="client is a BaiduClient for this fetch, not MegviiClient"):
        fetch_baidu(sandbox.ids("baidu"), tmp_path / "data", client=megvii, progress=False)
    with pytest.raises(TypeError, match="not str"):
        fetch_megvii(sandbox.ids("megvii-lite"), tmp_path / "data", client="megvii", progress=False)
    assert _calls(sandbox) == before and _quota(tmp_path / "data").count("\n") <= 2   # headers only


def test_credentials_that_do_not_match_cost_one_call_not_one_per_worker(tmp_path, sandbox):
    """The first call goes alone: an AUTHENTICATION_ERROR stops the run after one call, where
    all of the first ``concurrency`` ids were sent (each losing one of its three calls)."""
    env = sandbox.env()
    client = MegviiClient(env["MEGVII_API_KEY"], "not-the-secret-0123456789", base_url=sandbox.url)
    ledger_dir = tmp_path / "data"
    before = _calls(sandbox)
    rep = fetch_megvii(sandbox.ids("megvii-lite"), ledger_dir, client=client, concurrency=8, progress=False)
    assert "AUTHENTICATION_ERROR" in rep.fatal and "not-the-secret" not in rep.fatal
    assert rep.calls == 1 and _calls(sandbox) == before + 1


@pytest.mark.parametrize("cls,names", [(MegviiClient, ("api_key", "api_secret")),
                                       (BaiduClient, ("api_key", "secret_key"))])
@pytest.mark.parametrize("bad", ["{}\n", " {}", "{}\r", "{} "])
def test_a_credential_with_a_newline_or_spaces_at_its_ends_is_refused_by_name(cls, names, bad):
    """Copied from a file with its newline, it was sent, refused by the provider, and counted."""
    with ScriptedServer() as server:
        for i, name in enumerate(names):
            creds = [KEY, SECRET]
            creds[i] = bad.format(creds[i])
            with pytest.raises(ValueError, match=f"{name} has spaces or a line break") as err:
                cls(*creds, base_url=server.url)
            assert KEY not in str(err.value) and SECRET not in str(err.value)
        assert server.requests == []


@pytest.mark.parametrize("value,said", [(None, "not NoneType"), ("", "not an empty one"), (123, "not int")])
def test_a_credential_that_is_not_text_is_named(value, said):
    with pytest.raises(ValueError, match=f"api_secret must be a non-empty string, {said}"):
        MegviiClient(KEY, value, base_url="http://127.0.0.1:1")
