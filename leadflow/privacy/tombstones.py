"""Tombstones: what stops an erased person from coming back.

Three kinds of identifier are kept, each only as a keyed hash (see ``hashing``):
``email_norm_untagged`` (the matcher's email key: lower case, no ``+tag``, no Gmail dots),
``phone_e164`` and ``source_record_id`` (``<source>\\x1f<id>``; a touch's id counts for the lead
source it refers to). A row matching any of them is the erased person again: it is suppressed
at landing (``guard``) and, as a second guard, at identity load. Erasures made before
tombstones existed are kept as ``email_sha256_legacy`` (plain SHA-256 of the normalised address)
and honoured the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadflow.privacy.hashing import LEGACY_KIND, keyed_hashes, matches
from leadflow.store import db
from leadflow.store.schema import tombstones

KINDS = ("email_norm_untagged", "phone_e164", "source_record_id")

__all__ = ["KINDS", "add", "blocked", "identifiers", "keyed_hashes", "read", "record_key"]


def read(conn: Connection) -> dict[str, set[str]]:
    """kind -> set of hashes (small: one row per erased identifier)."""
    out: dict[str, set[str]] = {}
    for kind, h in conn.execute(sa.select(tombstones.c.kind, tombstones.c.value_hash)):
        out.setdefault(kind, set()).add(h)
    return out


def record_key(source: pd.Series | str, record_id: pd.Series) -> pd.Series:
    """``source\\x1frecord id`` (NA where the id is missing)."""
    rid = record_id.astype("str").str.strip()
    rid = rid.where(rid.str.len() > 0)
    src = source if isinstance(source, str) else source.astype("str")
    return (src + "\x1f" + rid).astype(object).where(rid.notna(), None)


def identifiers(frame: pd.DataFrame, id_source: pd.Series | str | None = None,
                kinds: Iterable[str] = KINDS) -> pd.DataFrame:
    """The tombstone identifiers (clear, normalised) of staging-shaped rows, one column per kind.

    Uses columns where present: ``email_key`` or ``email_norm`` or ``email``; ``phone_e164`` or
    ``phone`` (+ ``country``); ``source_record_id`` with ``id_source`` (default: ``source``).
    Only the ``kinds`` asked for are computed (normalising phones is not free).
    """
    kinds = set(kinds)
    from leadflow.vocab.mailboxes import normalise_emails  # the matcher's own rules: both agree
    out = pd.DataFrame(index=frame.index)
    src_col = next((c for c in ("email_norm", "email") if c in frame), None)
    em = None
    if "email_norm_untagged" in kinds and "email_key" in frame:
        out["email_norm_untagged"] = frame["email_key"].astype(object)
    elif "email_norm_untagged" in kinds and src_col:
        em = normalise_emails(frame[src_col], filler_is_address=True)
        out["email_norm_untagged"] = em["email_key"].astype(object)
    if "email_norm_untagged" in out and "email" in frame and src_col != "email":
        # identity leaves a filler address (noemail@) out of its columns; privacy reads it as typed
        redo = out["email_norm_untagged"].isna().to_numpy() & frame["email"].notna().to_numpy()
        if redo.any():
            out.loc[redo, "email_norm_untagged"] = normalise_emails(
                frame.loc[redo, "email"], filler_is_address=True)["email_key"].astype(object).to_numpy()
    if LEGACY_KIND in kinds and src_col:
        norm = frame[src_col] if src_col == "email_norm" else (
            em if em is not None else normalise_emails(frame[src_col], filler_is_address=True))["email_norm"]
        out[LEGACY_KIND] = norm.astype(object)
    if "phone_e164" in kinds and "phone_e164" in frame:
        out["phone_e164"] = frame["phone_e164"].astype(object)
    elif "phone_e164" in kinds and "phone" in frame and frame["phone"].notna().any():
        from leadflow.vocab.geo import country_iso2
        from leadflow.vocab.phones import to_e164
        country = country_iso2(frame["country"]) if "country" in frame else None
        out["phone_e164"] = to_e164(frame["phone"], country).astype(object)
    if "source_record_id" in kinds and "source_record_id" in frame:
        src = id_source if id_source is not None else frame["source"]
        out["source_record_id"] = record_key(src, frame["source_record_id"])
    return out.where(out.notna(), None)


def blocked(ids: pd.DataFrame, tomb: dict[str, set[str]], key: bytes) -> np.ndarray:
    """Rows of ``ids`` (from ``identifiers``) that match a tombstone of any kind."""
    hit = np.zeros(len(ids), dtype=bool)
    for kind, hashes in tomb.items():
        if hashes and kind in ids.columns:
            hit |= matches(kind, ids[kind], hashes, key)
    return hit


def erased_rows(frame: pd.DataFrame, id_source: pd.Series | str | None, tomb: dict[str, set[str]],
                key: bytes) -> np.ndarray:
    """Rows of a staging-shaped frame that belong to an erased person: any identifier matches a
    tombstone, including any address of a field listing several ('a@x.com; b@y.com' reads as
    its first elsewhere; erasure looks at each)."""
    hit = blocked(identifiers(frame, id_source, tomb), tomb, key)
    if "email" not in frame.columns:
        return hit
    from leadflow.vocab.emails import addresses_listed
    many = ~hit & (frame["email"].astype("str").str.count("@").fillna(0).to_numpy() >= 2)
    if many.any():
        listed = addresses_listed(frame["email"][many])
        each = blocked(identifiers(pd.DataFrame({"email": listed["address"].to_numpy(dtype=object)}),
                                   None, tomb), tomb, key)
        hit[np.flatnonzero(many)[listed["row"].to_numpy()[each]]] = True
    return hit


def add(conn: Connection, values: dict[str, Iterable[str]], key: bytes, at: datetime) -> int:
    """Tombstone the given clear identifiers (kind -> values); returns the hashes stored."""
    rows = []
    for kind, vals in values.items():
        s = pd.Series(sorted({v for v in vals if isinstance(v, str) and v}), dtype=object)
        rows += [{"kind": kind, "value_hash": h, "erased_at": at} for h in keyed_hashes(kind, s, key)]
    return db.insert_ignore(conn, tombstones, rows, ["kind", "value_hash"]) if rows else 0
