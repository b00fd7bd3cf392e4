"""Masking of personal data in tidy tables.

An ID number becomes ``id_number_hash`` (keyed BLAKE2b, a MAC: 20 hex characters
under a 256-bit key kept in the data directory, so the same number hashes the same
across runs and can be counted and joined) plus ``id_number_last4``; names keep their first character, addresses
their first three (province level), birth dates their year.  ``keep_pii=True``
also writes the plain values.

The flatteners mask the fields the documents name.  Everything else goes through
one choke point, :func:`scrub_table`, which the ingest hands to the store as its
``scrub`` and the store applies to every table it writes
(:class:`~faceanalytics.storage.tables.Store`): in every string column (unknown fields
kept as JSON in ``sessions.extra``, ``biz_extra_data``, the raw text in
``quarantine``, messages, URLs...) it masks

* mainland ID numbers, 18 or 15 digits, also spelled ``ID110101...``, with spaces or
  dashes (kept: the last four), recognised by their region and birth date so that
  a 13-digit millisecond time, a biz_id or a log id stay as they are; right after
  other letters (``idno110101...``) an 18-character one with its check digit right;
  in full-width digits (``１１０１０１…``) too, then written back in ASCII digits;
* mainland mobile numbers (``139 1234 5678``, ``+86-139...``; kept: the last four);
* the value of any field named like a person's name, address or phone (``real_name``,
  ``fullName``, ``姓名``, ``home_address``, ``住址``, ``tel``...), in JSON, in JSON carried
  in a string, in JSON too broken to parse, in query strings and in prose
  (``姓名：张三，住址：...``); landlines written with their area code;
* credentials and ``user:password@`` in URLs (as the clients' redaction does);

and, before that, the ingest masks every name a name field of the chunk held wherever
else the chunk's tables carry it, and every address so (:func:`mask_seen_in_text`).

Candidate values are found by one regular expression over the whole Arrow column;
only those are looked at in Python.  The raw archive keeps the originals (owner-only).

The key is ``DATA/state/pii.key``, created once (exclusively: by ``O_EXCL``-style
link locally, by a conditional PUT ``If-None-Match: *`` on S3) and owner-only on
local disk.  On S3 there are no file modes: whoever may read ``state/`` can undo
the hashing of ID numbers by brute force, so give analysts read access to
``tables/`` only.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from urllib.parse import quote, unquote

import orjson

from ..storage import DataDir
from ..storage.durable import atomic_write_bytes

def load_or_create_key(data_dir) -> bytes:
    path = DataDir.of(data_dir).pii_key
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_bytes(path, key.hex().encode(), mode=0o600, exclusive=True)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text().strip())
    return key


class Masker:
    """Masks the documented personal fields.  ``seen``: when a dict, every name and
    address masked is added to it, plain -> masked (the ingest gives each chunk its own,
    and masks them wherever else the chunk's tables carry them: :func:`mask_seen_in_text`)."""

    __slots__ = ("_key", "keep_pii", "_cache", "seen")

    def __init__(self, key: bytes, keep_pii: bool = False):
        self._key = key
        self.keep_pii = keep_pii
        self._cache: dict[str, str] = {}
        self.seen: dict[str, str] | None = None

    def id_number(self, v):
        """-> (hash, last4, plain or None)."""
        if not isinstance(v, str) or not v.strip():
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)
            else:
                return None, None, None
        s = v.strip().upper()
        h = self._cache.get(s)
        if h is None:
            # Keyed BLAKE2b is a MAC (RFC 7693 §2.5) and one C call, several times hmac's speed.
            h = hashlib.blake2b(s.encode(), key=self._key, digest_size=10).hexdigest()
            if len(self._cache) < 100_000:
                self._cache[s] = h
        return h, s[-4:], (s if self.keep_pii else None)

    def id_numbers(self, arr):
        """Vectorised :meth:`id_number` over an Arrow string array -> three arrays."""
        import pyarrow as pa
        import pyarrow.compute as pc

        norm = pc.utf8_upper(pc.utf8_trim_whitespace(arr))
        norm = pc.if_else(pc.equal(norm, ""), pa.scalar(None, pa.string()), norm)
        uniq = pc.unique(norm).drop_null()
        key = self._key
        b2 = hashlib.blake2b
        hashes = pa.array([b2(s.encode(), key=key, digest_size=10).hexdigest()
                           for s in uniq.to_pylist()], pa.string())
        h = hashes.take(pc.index_in(norm, value_set=uniq))
        last4 = pc.utf8_slice_codeunits(norm, -4)
        plain = norm if self.keep_pii else pa.nulls(len(arr), pa.string())
        return h, last4, plain

    def names(self, arr):
        """Vectorised :meth:`name`."""
        return arr if self.keep_pii else self._seen(arr, mask_names(arr))

    def addresses(self, arr):
        """Vectorised :meth:`address`."""
        return arr if self.keep_pii else self._seen(arr, mask_addresses(arr))

    def _seen(self, arr, masked):
        """``masked``, after noting its plain values in :attr:`seen`."""
        if self.seen is not None and arr.null_count < len(arr):
            import pyarrow.compute as pc

            present = pc.is_valid(arr)
            self.seen.update(zip(arr.filter(present).to_pylist(), masked.filter(present).to_pylist()))
        return masked

    def name(self, v):
        if not isinstance(v, str) or not v:
            return None
        return self._one("name", v)

    def address(self, v):
        if not isinstance(v, str) or not v:
            return None
        return self._one("address", v)

    def _one(self, kind: str, v: str) -> str:
        """``v`` masked as ``kind`` is (:func:`_mask_as`), noted in :attr:`seen`."""
        if self.keep_pii:
            return v
        out = _mask_as(kind, v)
        if self.seen is not None:
            self.seen[v] = out
        return out

    def plain(self, v):
        """A value kept only with keep_pii (e.g. a full birth date)."""
        return v if self.keep_pii else None


def mask_names(arr):
    """A name column: the first character, then one ``*`` per other character."""
    import pyarrow.compute as pc

    arr = pc.if_else(pc.equal(arr, ""), None, arr)
    stars = pc.binary_repeat("*", pc.max_element_wise(pc.subtract(pc.utf8_length(arr), 1), 0))
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 1), stars, "")


def mask_addresses(arr):
    """An address column: the first three characters (province level), then ``***``."""
    import pyarrow.compute as pc

    arr = pc.if_else(pc.equal(arr, ""), None, arr)
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 3), "***", "")


# --- the choke point: every string column of every table written --------------------------

#: Columns never scrubbed: keys, digests, file paths (a session id is not personal data,
#: and masking a path would break the link to its file; a media pack's name is a hex
#: digest, whose digits can look like a phone number).
_EXEMPT = frozenset({"source", "month", "session_id", "biz_id", "request_id", "log_id",
                     "verify_log_id", "verify_request_id", "raw_sha1", "sha256", "path", "pack",
                     "id_number_hash", "id_number_last4"})
# Region codes of mainland provinces (the first two digits of an ID number).
_PROVINCES = frozenset("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 "
                       "53 54 61 62 63 64 65 71 81 82 83 91".split())
_DATE18 = re.compile(r"(?:18|19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
_DATE15 = re.compile(r"\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])")
# 15 to 18 ID characters, single spaces or dashes allowed between them, optionally after "ID".
_ID_ANY = re.compile(r"(?<![0-9A-Za-z])(?P<pre>[Ii][Dd][:#]?\s?)?"
                     r"(?P<num>\d(?:[ -]?\d){13,16}[ -]?[\dXx])(?![0-9A-Za-z])")
# ... and 18 characters right after other letters (``idno110101...``): there only with the
# check digit right (ISO 7064 MOD 11-2), as an alphanumeric token's digits seldom have it.
_ID_GLUED = re.compile(r"(?<=[A-Za-z])(?P<num>\d{17}[\dXx])(?![0-9A-Za-z])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Full-width digits (``１１０１０１…``) read as ASCII ones (``str.isdigit`` and ``re``'s ``\d`` take them).
_WIDE_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_PHONE = re.compile(r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?"
                    r"(?P<num>1[3-9]\d[ -]?\d{4}[ -]?\d{4})(?![0-9A-Za-z])")
# A landline with its area code set apart: (010) 6234 5678, 0755-12345678, 021-6234-5678.
_LANDLINE = re.compile(r"(?<![0-9A-Za-z])(?:\(0\d{2,3}\)[ -]?|0\d{2,3}-)\d{3,4}[ -]?\d{4}(?![0-9A-Za-z])")
# Quick test for "may hold something to mask" (RE2, run by Arrow over a whole column).
# Digits escaped one by one (``%31%31%30…``, once or more: ``%2531…``; full-width ones
# ``%EF%BC%91…``), with escaped separators between: a number hidden from the patterns until
# ``_scrub_encoded`` decodes it.  Four in a row, as ``[０-９]{4}``: escaped text holds few.
_ESCAPED_DIGIT = r"%(?:25)*(?:3\d|(?i:EF%(?:25)*BC%(?:25)*9)\d)"
# ... and with the ``%`` signs themselves escaped, each character again (``%25%33%31``: "%31"
# escaped whole, three or more times too): what a digit (or an escaped space or dash) turns
# into then is ``%25`` followed by ``%3N`` escapes and digits only; a full-width digit
# escaped so (``%25%45%46%25%42%43%25%39%31``) is taken alone.
_DEEP_DIGIT = r"%25(?:%3\d|\d)+"
_DEEP_WIDE = r"%25(?i:E|%[46]5)(?i:F|%[46]6)%25(?i:B|%[46]2)(?i:C|%[46]3)%25(?:9|%39)(?:%3\d|\d)"
_CANDIDATES = (r"\d{3}[ \-]?\d{4}[ \-]?\d{4}|\(0\d{2,3}\)|0\d{2,3}-\d{3}|[０-９]{4}"
               rf"|{_ESCAPED_DIGIT}(?:(?:%(?:25)*(?:20|2[Dd])|\+)?{_ESCAPED_DIGIT}){{3}}"
               rf"|(?:{_DEEP_DIGIT}){{4}}|{_DEEP_WIDE}"
               r"|(?i:name|addr|phone|mobile|tel|fax|cell|api_key|secret|token|client_id)"
               r"|姓名|名字|住址|地址|联系人|户名|电话|手机|座机|传真|://[^/@\s]+@")
# "key": "value" pairs in text that is not JSON (or JSON carried in a JSON string).
_JSON_PAIR = re.compile(r'(?P<q>\\*)"(?P<key>[^"\\]{1,64})(?P=q)"\s*:\s*(?P=q)"'
                        r'(?P<val>(?:(?!(?P=q)").)*)(?P=q)"')
# "label: value" in prose (姓名：张三，住址：北京市..., name: Zhang San; tel: ...): the value
# runs to a separator or to the next label.
_LABEL_PAIR = re.compile(r"(?<![\w\u4e00-\u9fff])(?P<key>[A-Za-z_\u4e00-\u9fff]{1,20})\s*[:：]\s*"
                         r"(?P<val>[^,，;；、|\n\r]+?)"
                         r"(?=\s*(?:[,，;；、|。\n\r]|$)|\s+[A-Za-z_\u4e00-\u9fff]{1,20}\s*[:：])")
_QUERY_PAIR = re.compile(r"(?<![^&?;\s])(?P<key>[^=&\s?#;]{1,64})=(?P<val>[^&\s#;]*)")
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+|[\u4e00-\u9fff]+")
# Words that make a "...name" key technical, not a person's name (api_name, plan_name...).
_TECHNICAL = frozenset("api plan file app table field column device model browser os host path type "
                       "event bucket method class process service step task attack key product brand "
                       "domain server node image media video audio font tag label param arg module "
                       "package queue topic channel source algorithm template scene project config "
                       "org company bank dir folder db schema index sheet".split())
_NAME_WORDS = frozenset("name username realname fullname nickname surname firstname lastname givenname "
                        "familyname holdername 姓名 名字 联系人 户名 姓名拼音".split())


def _key_kind(key: str) -> str | None:
    """``"name"``, ``"address"`` or ``"phone"`` if a field called ``key`` holds a person's
    name, address or phone number."""
    words = [w.lower() for w in _WORDS.findall(key)]
    if not words:
        return None
    if any(w in ("address", "addr") or "地址" in w or "住址" in w for w in words):
        return "address"
    if any(w in _PHONE_WORDS or any(p in w for p in _PHONE_HAN) for w in words) \
            and not any(w in _TECHNICAL for w in words):
        return "phone"
    if any(w in _NAME_WORDS or (w.endswith("name") and w[:-4] in _NAME_PREFIXES)
           or any(h in w for h in _NAME_HAN) for w in words) \
            and not any(w in _TECHNICAL for w in words):
        return "name"
    return None


# a landline or foreign number under such a key has no shape of its own to find it by
_PHONE_WORDS = frozenset("phone mobile tel telephone cellphone cell fax phoneno mobileno telno".split())
_PHONE_HAN = ("电话", "手机", "座机", "传真")
_NAME_HAN = ("姓名", "名字", "联系人", "户名")
_NAME_PREFIXES = frozenset("user real full nick sur first last given family holder legal idcard id "
                           "card cert person customer contact owner account payer member".split())


def _mask_as(kind: str, v):
    """Mask a value found under a name-, address- or phone-like key (any JSON value): a
    phone number keeps its last four digits (and a value of four digits or fewer, such as
    ``"mobile": "yes"``, stays)."""
    if isinstance(v, dict):
        return {k: _mask_as(kind, x) for k, x in v.items()}
    if isinstance(v, list):
        return [_mask_as(kind, x) for x in v]
    if v is None or isinstance(v, bool):
        return v
    text = str(v)
    if not text:
        return text
    if kind == "phone":
        digits = sum(c.isdigit() for c in text)
        return v if digits <= 4 else _keep_last_digits(text, digits)
    return text[0] + "*" * (len(text) - 1) if kind == "name" else text[:3] + "***"


def _keep_last_digits(text: str, digits: int, keep: int = 4) -> str:
    """``text`` with every digit but the last ``keep`` of its ``digits`` starred."""
    out, n = [], 0
    for c in text:
        if c.isdigit():
            n += 1
            out.append(c if n > digits - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _id_repl(m: re.Match) -> str:
    num = m.group("num").replace(" ", "").replace("-", "").translate(_WIDE_DIGITS)
    ok = (len(num) == 18 and num[:2] in _PROVINCES and _DATE18.fullmatch(num, 6, 14)) or \
         (len(num) == 15 and num.isdigit() and num[:2] in _PROVINCES and _DATE15.fullmatch(num, 6, 12))
    if not ok:
        return m.group(0)
    return (m.groupdict().get("pre") or "") + "*" * (len(num) - 4) + num[-4:].upper()


def _glued_repl(m: re.Match) -> str:
    num = m.group("num").translate(_WIDE_DIGITS).upper()
    check = "10X98765432"[sum(int(c) * w for c, w in zip(num, _ID_WEIGHTS)) % 11]
    return _id_repl(m) if num.isascii() and num[17] == check else m.group(0)


# Ten digits somewhere in a text: what the shortest of the patterns below (a landline) holds.
# A search stops at the tenth; counting every character with ``str.isdigit`` cost ingest
# ~0.4 s a 100,000 Lite records (helper L's profile).
_TEN_DIGITS = re.compile(r"\d(?:\D*\d){9}")


def _scrub_values(text: str) -> str:
    """ID numbers, mobile numbers and landlines written with their area code, wherever
    they sit in free text."""
    if _TEN_DIGITS.search(text) is None:
        return text
    ascii_digits = text.translate(_WIDE_DIGITS)
    if ascii_digits != text:  # full-width digits: masked as ASCII ones, and written so where masked
        masked = _scrub_values(ascii_digits)
        return text if masked == ascii_digits else masked
    text = _ID_ANY.sub(_id_repl, text)
    text = _ID_GLUED.sub(_glued_repl, text)
    text = _PHONE.sub(lambda m: "*" * 7 + m.group("num")[-4:], text)
    return _LANDLINE.sub(lambda m: _keep_last_digits(m.group(0), sum(c.isdigit() for c in m.group(0))), text)


def _walk(v, key_kind=None, found=None, unescapes=None):
    """``v`` masked; ``found`` collects the names and addresses masked by their key
    (plain -> masked), to be masked wherever else the document says them; ``unescapes``:
    as :func:`_scrub`'s."""
    if key_kind is not None:
        out = _mask_as(key_kind, v)
        if found is not None and key_kind != "phone" and isinstance(v, str):
            found[v] = out
        return out
    if isinstance(v, dict):
        return {_scrub_values(k) if isinstance(k, str) else k: _walk(x, _key_kind(str(k)), found, unescapes)
                for k, x in v.items()}
    if isinstance(v, list):
        return [_walk(x, None, found, unescapes) for x in v]
    if isinstance(v, str):
        return _scrub(v, _MAX_UNESCAPES if unescapes is None else unescapes)
    if isinstance(v, int) and not isinstance(v, bool) and v > 10**10:
        masked = _scrub_values(str(v))
        return v if masked == str(v) else masked
    return v


def _scrub_pairs(text: str, found: dict | None = None, unescapes: int = 0) -> str:
    """Mask by key in text that is not JSON: "key": "value" pairs, key=value pairs and
    "label: value" in prose (``found``: as :func:`_walk`'s; ``unescapes``: as :func:`_scrub`'s)."""
    def keyed_pair(m: re.Match) -> str:          # "key": "value" and "label: value"
        kind = _key_kind(m.group("key"))
        if kind is None:
            return m.group(0)
        start, end = m.span("val")
        value = m.group("val")
        new = _mask_as(kind, value)
        if found is not None and kind != "phone":
            found[value] = new
        return m.string[m.start():start] + new + m.string[end:m.end()]

    def query_pair(m: re.Match) -> str:
        raw = m.group("val")
        decode = "%" in raw and unescapes > 0
        value = unquote(raw.replace("+", " ")) if decode else raw
        kind = _key_kind(unquote(m.group("key")))
        new = _mask_as(kind, value) if kind else _scrub(value, unescapes - decode)
        if kind and kind != "phone" and found is not None:
            found[value] = new
        if new == value:
            return m.group(0)
        return f"{m.group('key')}={quote(new, safe='') if decode else new}"

    if '"' in text:
        text = _JSON_PAIR.sub(keyed_pair, text)
    if "=" in text:
        text = _QUERY_PAIR.sub(query_pair, text)
    if ":" in text or "：" in text:
        text = _LABEL_PAIR.sub(keyed_pair, text)
    return text


def scrub_text(text: str) -> str:
    """``text`` with the personal data and credentials in it masked (see the module doc).

    >>> scrub_text("name=张三&tel=13912345678&t=1700000000123")
    'name=张*&tel=*******5678&t=1700000000123'
    """
    return _scrub(text, _MAX_UNESCAPES)


# Percent-decodings one value may go through (a value escaped as a whole, a k=v value
# escaped alone, each counting): a number escaped twice character by character
# (``%25%33%31…``) needs two; hostile text escaped a thousand times must not cost a
# thousand passes (nor recursion past Python's limit).  An escaped ``%`` run (``%252525…31``,
# ``quote`` applied again and again) is read as one escape in a single pass, whatever its depth.
_MAX_UNESCAPES = 4


def _scrub(text: str, unescapes: int) -> str:
    """:func:`scrub_text`, percent-decoding at most ``unescapes`` more times."""
    if not text:
        return text
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, (dict, list)):
            found: dict[str, str] = {}
            new = _walk(doc, found=found, unescapes=unescapes)
            finder = _Finder.of(found)        # a name masked by its key, said again elsewhere
            if finder is not None:
                new = finder.deep(new)
            return text if new == doc else orjson.dumps(new).decode()
    found = {}
    out = _scrub_pairs(text, found, unescapes)
    finder = _Finder.of(found)
    if finder is not None:
        out = finder.mask(out)
    out = _scrub_values(out)
    if "@" in out or "=" in out or '"' in out:
        from ..redact import redact  # credentials, user:password@ in URLs

        out = redact(out)
    if "%" in out and unescapes > 0:
        out = _scrub_encoded(out, unescapes)
    return out


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_ESCAPED_PERCENTS = re.compile(r"%(?:25)+(?=[0-9A-Fa-f]{2})")


def _scrub_encoded(text: str, unescapes: int) -> str:
    """Text percent-encoded as a whole (``idno%3D110101…%26ch%3Dapp``: a ``k=v&…``
    ``biz_extra_data`` encoded once more) hides its keys and what follows an escape from
    the patterns above; a value encoded alone is decoded where it is found
    (``_scrub_pairs``).  The decoded text is scrubbed and, if anything was masked, encoded
    again (the star and the separators left readable); else ``text`` is kept as it is.
    ``unescapes`` (at least 1) bounds the decodings still allowed, this one included."""
    if not _ESCAPE.search(text):
        return text
    decoded = unquote(_ESCAPED_PERCENTS.sub("%", text))
    if decoded == text:
        return text
    masked = _scrub(decoded, unescapes - 1)
    return text if masked == decoded else quote(masked, safe="*=&:/?,;@ ")


def scrub_table(t, keep_pii: bool = False):
    """Mask personal data in every string column of an Arrow table (the store's choke
    point; ``keep_pii`` returns ``t`` as it is).  Columns named like a name or an
    address are masked whole; in the others only values that may hold something
    (one regular expression over the column) are looked at in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if keep_pii or not t.num_rows:
        return t
    for i, f in enumerate(t.schema):
        if f.name in _EXEMPT or not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
            continue
        col = t.column(i)
        if col.null_count == len(col):
            continue
        col = col.combine_chunks()
        kind = _key_kind(f.name)
        if kind in ("name", "address"):  # a column named like a name or address: masked whole
            mask = mask_names if kind == "name" else mask_addresses
            uniq = pc.unique(col).drop_null()
            if mask(uniq).equals(uniq):  # the flattener masked it already (the usual case)
                continue
            new = mask(col)
        else:
            hit = _candidates(col)
            if hit is None:
                continue
            old = col.filter(hit).to_pylist()
            masked = [scrub_text(v) for v in old]
            if masked == old:
                continue
            new = pc.replace_with_mask(col, hit, pa.array(masked, col.type))
        t = t.set_column(i, f, new)
    return t


# A name or address masked in its field is masked wherever else it appears in the chunk (a will
# question or answer that says it, an unknown field, a message) when it holds a Chinese
# character and is at least two long: a Latin name as short as "LI" would mask codes
# such as LIVENESS_FAIL.
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class _Finder:
    """Finds the plain values of ``seen`` (plain -> masked) in text and puts their masked
    form in their place: the values' first characters by one character class, then the
    values starting there, longest first."""

    __slots__ = ("seen", "by_first", "firsts", "_re")

    @classmethod
    def of(cls, seen: dict[str, str]) -> "_Finder | None":
        """A finder of the values worth finding (None: there are none)."""
        keep = {n: m for n, m in seen.items() if isinstance(n, str) and len(n) >= 2 and _HAN.search(n)}
        return cls(keep) if keep else None

    def __init__(self, seen: dict[str, str]) -> None:
        self.seen = seen
        self.by_first: dict[str, list[str]] = {}
        for n in sorted(seen, key=len, reverse=True):
            self.by_first.setdefault(n[0], []).append(n)
        self.firsts = "[" + "".join("\\" + c if c in "\\]^-[" else c for c in self.by_first) + "]"
        self._re = re.compile(self.firsts)

    def mask(self, text: str) -> str:
        out, last = [], 0
        for m in self._re.finditer(text):
            i = m.start()
            if i < last:
                continue
            for n in self.by_first[text[i]]:
                if text.startswith(n, i):
                    out += (text[last:i], self.seen[n])
                    last = i + len(n)
                    break
        return text if not out else "".join(out) + text[last:]

    def deep(self, v):
        """``mask`` over every string of a JSON value (keys too)."""
        if isinstance(v, str):
            return self.mask(v)
        if isinstance(v, dict):
            return {self.mask(k) if isinstance(k, str) else k: self.deep(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.deep(x) for x in v]
        return v


def mask_seen_in_text(tables: dict, seen: dict[str, str]) -> dict:
    """``tables`` (name -> Arrow table) with every occurrence of the plain names and
    addresses the chunk's fields held (``seen``: plain -> masked, :attr:`Masker.seen`)
    masked as their field was, in every string column but the exempt ones and the name
    and address columns themselves.

    A column is searched for the values' first characters by one regular expression
    (Arrow's RE2, one character class): only values holding one are looked at in Python.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    finder = _Finder.of(seen)
    if finder is None:
        return tables
    result = {}
    for name, t in tables.items():
        for i, f in enumerate(t.schema if t is not None else ()):
            if f.name in _EXEMPT or not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)) \
                    or _key_kind(f.name) in ("name", "address"):
                continue
            col = t.column(i)
            if col.null_count == len(col):
                continue
            col = col.combine_chunks()
            if not _has_han_bytes(col):
                continue
            hit = pc.fill_null(pc.match_substring_regex(col, finder.firsts), False)
            if not pc.any(hit).as_py():
                continue
            old = col.filter(hit)
            uniq = pc.unique(old)           # each distinct value once (an issuing office, say)
            before = uniq.to_pylist()
            after = [finder.mask(v) for v in before]
            if after != before:
                new = pa.array(after, col.type).take(pc.index_in(old, value_set=uniq))
                t = t.set_column(i, f, pc.replace_with_mask(col, hit, new))
        result[name] = t
    return result


def _has_han_bytes(col) -> bool:
    """Whether a string column's bytes may hold a Chinese character (in UTF-8, U+3400 and
    above start with a byte from E3 up): most columns (ids, codes, URLs, logs) hold none
    and need no regular expression run over them."""
    import numpy as np

    data = col.buffers()[2]
    if data is None:
        return False
    b = np.frombuffer(data, np.uint8)
    return bool((b >= 0xE3).any())


def _candidates(col):
    """A mask of the values that may hold something to mask, or None if none may.

    A column of few distinct values (statuses, codes) is tested once per value."""
    import pyarrow.compute as pc

    probe = col.slice(0, 2048)
    if len(pc.unique(probe)) * 4 <= len(probe):
        uniq = pc.unique(col).drop_null()
        hit = pc.match_substring_regex(uniq, _CANDIDATES)
        if not pc.any(hit).as_py():
            return None
        return pc.fill_null(pc.is_in(col, value_set=uniq.filter(hit)), False)
    hit = pc.fill_null(pc.match_substring_regex(col, _CANDIDATES), False)
    return hit if pc.any(hit).as_py() else None
