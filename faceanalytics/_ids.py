"""What a provider's session id looks like: read by the clients (which refuse any other before
it is counted or sent) and by ``fetch`` (which finds the ids in a file by them).  No imports:
the clients load without pyarrow or pandas."""
from __future__ import annotations

import re

__all__ = ["BIZ_ID", "TOKEN_CHAR"]

# A Megvii biz_id as the Lite and liveness documents give it: "<unix time>,<id>"
# ("1462259748,52b13fb5-8dfb-4537-a62b-a641d5e929f1").
BIZ_ID = re.compile(r"[0-9]{1,12},[0-9A-Za-z][0-9A-Za-z._-]{0,127}")

# A character of a Baidu verify_token ("Yz9rWITm4vak16PBAh5x8oG7"): letters, digits, ``-`` and ``_``.
TOKEN_CHAR = "[0-9A-Za-z_-]"
