"""The keyed hash tombstones are made of (keyed SHA-256), and where its key comes from.

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

import numpy as np
import pandas as pd

from leadflow.config import Settings

# Erasures made before tombstones (table ``erasures``, moved here by migration 0003): the plain,
# unkeyed SHA-256 of the normalised address. Still honoured; never written any more.
LEGACY_KIND = "email_sha256_legacy"

DEMO_KEY = "leadflow-demo-hash-key (set LEADFLOW_HASH_KEY in production)"


def hash_key(settings: Settings) -> bytes:
    """The tombstone key: $<privacy.hash_key_env>, else the demo key."""
    return (os.environ.get(settings.privacy.hash_key_env) or DEMO_KEY).encode()


def uses_demo_key(settings: Settings) -> bool:
    return not os.environ.get(settings.privacy.hash_key_env)


def keyed_hashes(kind: str, values: pd.Series, key: bytes) -> pd.Series:
    """Keyed SHA-256 hex per value (NA stays NA), computed once per distinct value.

    ``SHA-256(k_kind || value)`` with the per-kind subkey ``k_kind = HMAC-SHA256(key, kind)``: a
    secret fixed-length prefix makes SHA-256 a keyed hash (length extension does not matter
    for equality look-ups), at a third of the cost of a full HMAC per value, which counts
    when every landed row is checked.
    """
    sub = hmac.digest(key, kind.encode(), "sha256")
    sha = hashlib.sha256
    uniq = values.dropna().unique()
    return values.map({v: sha(sub + str(v).encode()).hexdigest() for v in uniq}).astype(object)


def matches(kind: str, values: pd.Series, hashes: set[str], key: bytes) -> np.ndarray:
    """Which values hash (as ``keyed_hashes``) into ``hashes``; each distinct value hashed once
    and only the few hits mapped back (the landing guard's hot path)."""
    sub = b"" if kind == LEGACY_KIND else hmac.digest(key, kind.encode(), "sha256")
    sha = hashlib.sha256
    hit = [v for v in values.dropna().unique() if sha(sub + str(v).encode()).hexdigest() in hashes]
    return values.isin(hit).to_numpy(dtype=bool) if hit else np.zeros(len(values), dtype=bool)
