"""Derived record ids are not identity (``record_id: row_number`` / ``hash``; docs/ingest.md).

A source without an id column can have leadflow derive one, so a re-run recognises a row it has
seen. That id names the *record*: ``leads.csv:3`` is whoever happens to be on row 3, and a
re-delivery of the same rows in another order puts someone else there. If the load step treated
it like a CRM's own lead id, row 3 of the second delivery would join the person of row 3 of the
first (merging two people), and a person without an address would be keyed on it. So for such
sources the id takes no part in matching, and people without an address fall back to the
landed row as their key.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from leadflow.config import Settings
from leadflow.ingest.mapping import derived_id_field


def derived_sources(settings: Settings) -> set[str]:
    """Names of the sources whose record ids leadflow derives."""
    return {s.name for s in settings.sources if derived_id_field(s) is not None}


def identity_sources(settings: Settings, sources: Iterable[str]) -> list[str]:
    """The given sources whose record ids are their own (may identify a person)."""
    derived = derived_sources(settings)
    return sorted(str(s) for s in sources if s not in derived)


def without_derived_ids(st: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """``st`` with source_record_id blanked on the rows of derived-id sources."""
    derived = derived_sources(settings)
    if not derived or "source_record_id" not in st.columns:
        return st
    hide = st["source"].isin(derived).to_numpy()
    if not hide.any():
        return st
    return st.assign(source_record_id=st["source_record_id"].mask(hide))
