"""The keyed hash tombstones are made of (HMAC-SHA256), and where its key comes from.

Keyed, not plain SHA-256: addresses and phone numbers are guessable, so an unkeyed hash of
one can be confirmed by hashing a guess. The key lives in the environment variable named by
``privacy.hash_key_env`` (default ``LEADFLOW_HASH_KEY``); without it a fixed demo key is used,
so the demo works out of the box. Production must set its own key and never change it: with
another key, earlier tombstones no longer match.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

from leadflow.config import Settings

DEMO_KEY = "leadflow-demo-hash-key (set LEADFLOW_HASH_KEY in production)"


def hash_key(settings: Settings) -> bytes:
    """The tombstone key: $<privacy.hash_key_env>, else the demo key."""
    return (os.environ.get(settings.privacy.hash_key_env) or DEMO_KEY).encode()


def keyed_hashes(kind: str, values: pd.Series, key: bytes) -> pd.Series:
    """HMAC-SHA256 hex of ``kind:value`` per value (NA stays NA), computed once per distinct value."""
    base = hmac.new(key, digestmod=hashlib.sha256)

    def one(v: str) -> str:
        h = base.copy()
        h.update(f"{kind}:{v}".encode())
        return h.hexdigest()

    uniq = values.dropna().unique()
    return values.map({v: one(str(v)) for v in uniq}).astype(object)
