"""A local sandbox that speaks Megvii FaceID and Baidu H5 faceprint over a seeded population.

One loopback HTTP/1.1 server answers both providers' paths (they do not collide):

- Megvii: ``GET /faceid/lite/get_result``, ``GET /faceid/liveness/v2/get_result``
  (documented error bodies and HTTP statuses, three calls per biz_id).
- Baidu: ``POST /oauth/2.0/token`` and ``POST /rpc/2.0/brain/solution/faceprint/...``
  (verifyToken/generate, idcard/submit, uploadMatchImage, result/simple|detail|stat|getall|media/query).
- Admin: ``GET /_sandbox/ids?kind=megvii-lite|megvii-liveness|baidu``, ``GET /_sandbox/stats``,
  ``GET|POST /_sandbox/config``, ``POST /_sandbox/reset``, ``GET /_sandbox/media/<name>``
  (encrypted will_file downloads), ``GET /_sandbox/blob/<name>``, ``GET /_sandbox/callback?biz_id=``,
  ``POST /_sandbox/flow`` ``{"verify_token": ...}`` (a user goes through a minted token's H5 flow).

Answers have the documents' shapes by default; ``wild=RATE`` (``--wild RATE``) answers that
share of sessions with the variations deployments send beside the documents.

>>> from faceanalytics.sandbox import Sandbox
>>> with Sandbox(seed=7, n_lite=100) as sb:           # doctest: +SKIP
...     sb.url, sb.ids("megvii-lite")[:1]
"""
from ._cli import build_parser, main, run
from ._config import RUNTIME_FIELDS, SandboxConfig
from ._media import encrypt_will_file
from ._server import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "RUNTIME_FIELDS", "encrypt_will_file", "main", "run", "build_parser"]
