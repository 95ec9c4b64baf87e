"""The canonical hash of one entry of a hash chain (the audit trail, the access records).

``entry_hash = SHA-256(canonical JSON of {"prev": previous hash, "seq": position, "entry": columns})``,
datetimes as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, keys sorted, no spaces. **Frozen**: every stored chain
was computed with it (the migration that chained the existing entries imports it too); a change means a
new chain format, not an edit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

GENESIS = "0" * 64


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def entry_hash(prev_hash: str, seq: int, entry: Mapping[str, Any]) -> str:
    payload = json.dumps({"prev": prev_hash, "seq": seq, "entry": _canonical(entry)}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()
