"""The seeded synthetic population: who verified when, and how genuine they were.

Numbers that shape analyses (session times, subject class, base comparison confidence,
status) are drawn for a whole cohort at once with numpy, so 50k sessions take a fraction
of a second. Everything else about a session is drawn on demand from a per-session
``random.Random(sub_seed)``, so a payload depends only on (seed, kind, index).
"""
from __future__ import annotations

import calendar
import datetime as _dt
import random
import time
import uuid
from dataclasses import dataclass

import numpy as np

# Subject classes.
GENUINE, IMPOSTOR, MASK, SCREEN, SYNTHETIC = range(5)
CLASS_NAMES = ("genuine", "impostor", "mask", "screen_replay", "synthetic_face")
CLASS_P = np.array([0.82, 0.10, 0.03, 0.03, 0.02])
# Face-to-reference comparison confidence per class (mean, sd), clipped to [0, 100].
CONF_MEAN = np.array([80.0, 45.0, 55.0, 76.0, 68.0])
CONF_SD = np.array([6.0, 12.0, 12.0, 7.0, 9.0])

LITE_STATUSES = ("OK", "NOT_STARTED", "PROCESSING", "WEBRTC_UNSUPPORTED", "FAILED",
                 "CANCELLED", "TIMEOUT")
LITE_STATUS_P = np.array([0.85, 0.03, 0.02, 0.03, 0.03, 0.02, 0.02])

EPOCH_2016 = calendar.timegm((2016, 1, 1, 0, 0, 0))
EPOCH_2017 = calendar.timegm((2017, 1, 1, 0, 0, 0))

# Megvii threshold sets by era (lite: four levels; web liveness v2: three).
THRESHOLDS_2016 = {"1e-3": 65.3, "1e-4": 71.8, "1e-5": 76.5, "1e-6": 79.9}
THRESHOLDS_NOW = {"1e-3": 62.169, "1e-4": 69.315, "1e-5": 74.399, "1e-6": 78.038}
THRESHOLDS_V2_DOC = {"1e-3": 64, "1e-4": 69, "1e-5": 74}

_ALNUM = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))


def megvii_thresholds(old_era: bool) -> dict[str, float]:
    """The reference threshold set of a session (the older one before an era change)."""
    return dict(THRESHOLDS_2016 if old_era else THRESHOLDS_NOW)


def reference_epoch(reference_date: str) -> int:
    day = _dt.date.fromisoformat(str(reference_date))
    return calendar.timegm(day.timetuple())


@dataclass(frozen=True)
class Session:
    """The cohort-level facts of one session; details come from ``rng()``."""

    kind: str
    index: int
    session_id: str
    epoch: int
    cls: int
    base_conf: float
    status: str
    expired: bool
    u_wild: float
    sub_seed: int
    old_era: bool = False  # answered with the older reference thresholds
    unused: bool = False   # a Baidu token no user went through: no results exist

    @property
    def uuid(self) -> str:
        return self.session_id.split(",", 1)[-1]

    def rng(self, salt: str = "") -> random.Random:
        return random.Random(f"{self.sub_seed}:{salt}") if salt else random.Random(self.sub_seed)

    def conf(self, rng: random.Random, cls: int | None = None, noise: float = 1.5) -> float:
        """A comparison confidence near the session's base (or drawn fresh for ``cls``)."""
        if cls is None:
            value = self.base_conf + rng.gauss(0.0, noise)
        else:
            value = rng.gauss(float(CONF_MEAN[cls]), float(CONF_SD[cls]))
        return round(min(max(value, 0.0), 100.0), 3)


class Cohort:
    """One provider population: arrays plus an id -> index map."""

    def __init__(self, kind: str, n: int, ss: np.random.SeedSequence, *, end_epoch: int,
                 window_days: float, era_2016_share: float, expired_rate: float,
                 era_change_epoch: int | None = None, unused_rate: float = 0.0,
                 token_ids: bool = False) -> None:
        rng = np.random.default_rng(ss)
        self.kind = kind
        self.n = n
        span = max(window_days * 86400.0, 1.0)
        epoch = end_epoch - rng.random(n) * span
        if era_2016_share > 0:
            old = rng.random(n) < era_2016_share
            epoch = np.where(old, EPOCH_2016 + rng.random(n) * (EPOCH_2017 - EPOCH_2016 - 3600), epoch)
        self.epoch = np.sort(epoch.astype(np.int64))
        self.cls = rng.choice(len(CLASS_P), size=n, p=CLASS_P)
        base = CONF_MEAN[self.cls] + CONF_SD[self.cls] * rng.standard_normal(n)
        self.base_conf = np.clip(base, 0.0, 100.0)
        self.status = rng.choice(len(LITE_STATUSES), size=n, p=LITE_STATUS_P)
        self.expired = rng.random(n) < expired_rate
        self.u_wild = rng.random(n)
        self.sub_seed = rng.integers(0, 2**62, size=n)
        if token_ids:
            letters = _ALNUM[rng.integers(0, len(_ALNUM), size=(n, 24))]
            self.ids = ["".join(row) for row in letters.tolist()]
        else:
            raw = rng.bytes(16 * n)
            self.ids = [f"{e},{uuid.UUID(bytes=raw[16 * i:16 * i + 16], version=4)}"
                        for i, e in enumerate(self.epoch.tolist())]
        self.index = {sid: i for i, sid in enumerate(self.ids)}
        if len(self.index) != n:  # astronomically unlikely; keep ids unique anyway
            raise RuntimeError("duplicate synthetic ids; pick another seed")
        self.by_uuid = {} if token_ids else {sid.split(",", 1)[1]: i for i, sid in enumerate(self.ids)}
        # Drawn after everything else, so the rest of a seed's population stays as it was.
        self.unused = rng.random(n) < unused_rate
        self.old_era = self.epoch < max(EPOCH_2017, era_change_epoch or EPOCH_2017)

    def __len__(self) -> int:
        return self.n

    def session(self, i: int) -> Session:
        return Session(
            kind=self.kind, index=i, session_id=self.ids[i], epoch=int(self.epoch[i]),
            cls=int(self.cls[i]), base_conf=float(self.base_conf[i]),
            status=LITE_STATUSES[int(self.status[i])], expired=bool(self.expired[i]),
            u_wild=float(self.u_wild[i]), sub_seed=int(self.sub_seed[i]),
            old_era=bool(self.old_era[i]), unused=bool(self.unused[i]),
        )

    def get(self, session_id: str) -> Session | None:
        i = self.index.get(session_id)
        return None if i is None else self.session(i)


class Population:
    """The three cohorts for a seed. Cohorts use independent streams, so changing
    ``n_baidu`` leaves the Megvii sessions as they were."""

    KINDS = ("megvii-lite", "megvii-liveness", "baidu")

    def __init__(self, seed: int, n_lite: int, n_liveness: int, n_baidu: int, *,
                 reference_date: str, window_days: float, era_2016_share: float,
                 expired_rate: float, era_change_days: float | None = None,
                 unused_rate: float = 0.0) -> None:
        self.seed = seed
        end = reference_epoch(reference_date)
        change = None if era_change_days is None else int(end - era_change_days * 86400)
        lite_ss, live_ss, baidu_ss, extra_ss = np.random.SeedSequence(seed).spawn(4)
        common = dict(end_epoch=end, window_days=window_days, expired_rate=expired_rate)
        megvii = dict(era_2016_share=era_2016_share, era_change_epoch=change, **common)
        self.lite = Cohort("megvii-lite", n_lite, lite_ss, **megvii)
        self.liveness = Cohort("megvii-liveness", n_liveness, live_ss, **megvii)
        self.baidu = Cohort("baidu", n_baidu, baidu_ss, era_2016_share=0.0, token_ids=True,
                            unused_rate=unused_rate, **common)
        self._extra_rng = random.Random(int(extra_ss.generate_state(1)[0]))

    def cohort(self, kind: str) -> Cohort:
        try:
            return {"megvii-lite": self.lite, "megvii-liveness": self.liveness, "baidu": self.baidu}[kind]
        except KeyError:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(self.KINDS)}") from None

    def new_baidu_token(self) -> str:
        """A fresh verify_token, as verifyToken/generate mints it."""
        return "".join(self._extra_rng.choice(_ALNUM.tolist()) for _ in range(24))

    def new_baidu_session(self, token: str, epoch: int) -> Session:
        """The session of a minted token once a user has gone through the H5 flow."""
        r = self._extra_rng
        cls = r.choices(range(len(CLASS_P)), weights=CLASS_P.tolist())[0]
        base = min(max(r.gauss(float(CONF_MEAN[cls]), float(CONF_SD[cls])), 0.0), 100.0)
        return Session(kind="baidu", index=-1, session_id=token, epoch=epoch, cls=cls,
                       base_conf=base, status="OK", expired=False, u_wild=r.random(),
                       sub_seed=r.getrandbits(62))


# --- synthetic identities (fake, but well-formed) -------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玲丹萍鹏宇浩"
_REGIONS = (
    ("110108", "北京市海淀区", "北京市公安局海淀分局"),
    ("310104", "上海市徐汇区", "上海市公安局徐汇分局"),
    ("440305", "广东省深圳市南山区", "深圳市公安局南山分局"),
    ("330106", "浙江省杭州市西湖区", "杭州市公安局西湖分局"),
    ("510107", "四川省成都市武侯区", "成都市公安局武侯区分局"),
    ("420106", "湖北省武汉市武昌区", "武汉市公安局武昌分局"),
    ("370211", "山东省青岛市黄岛区", "青岛市公安局黄岛分局"),
    ("320106", "江苏省南京市鼓楼区", "南京市公安局鼓楼分局"),
)
_STREETS = ("中关村大街", "人民路", "解放路", "建设路", "文三路", "长江路", "和平街", "滨江大道")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


@dataclass(frozen=True)
class Identity:
    name: str
    id_number: str
    gender: str
    birth: _dt.date
    address: str
    issued_by: str
    valid_from: _dt.date
    valid_to: _dt.date
    race: str


def identity(rng: random.Random, epoch: int) -> Identity:
    """A fake resident-ID holder with a checksummed 18-digit number."""
    code, place, police = rng.choice(_REGIONS)
    year = time.gmtime(epoch).tm_year
    birth = _dt.date(year - rng.randint(18, 65), rng.randint(1, 12), rng.randint(1, 28))
    female = rng.random() < 0.5
    seq = rng.randint(0, 99) * 10 + (rng.choice((0, 2, 4, 6, 8)) if female else rng.choice((1, 3, 5, 7, 9)))
    body = f"{code}{birth:%Y%m%d}{seq:03d}"
    check = _CHECK[sum(int(d) * w for d, w in zip(body, _WEIGHTS)) % 11]
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
    issued = _dt.date(max(year - rng.randint(0, 19), birth.year + 16), rng.randint(1, 12), rng.randint(1, 28))
    valid_to = issued.replace(year=issued.year + (10 if rng.random() < 0.6 else 20))
    address = f"{place}{rng.choice(_STREETS)}{rng.randint(1, 300)}号"
    race = "汉" if rng.random() < 0.92 else rng.choice(("回", "满", "壮", "苗", "蒙古"))
    return Identity(name, body + check, "女" if female else "男", birth, address, police,
                    issued, valid_to, race)
