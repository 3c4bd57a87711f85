"""A person's full name delivered in one column ('Ann Lee', 'Lee, Ann', 'Dr. Ann Lee Jr.') as
given and family name, vectorised (regular expressions over the column, no loop per name).

Honorifics before the name and generational or academic suffixes after it are set aside (they
are not part of either name); a family name keeps its lowercase particles ('van Beethoven',
'de la Cruz'); middle names stay with the given name ('Mary Ann'), so nothing typed is lost but
the titles. One word is a given name alone.
"""

from __future__ import annotations

import pandas as pd

HONORIFIC = r"^(?:(?:mr|mrs|ms|miss|mx|dr|prof|sir|dame)(?:\.?\s+|\.?$))+"
SUFFIX = r"(?:,?\s+(?:jr|sr|ii|iii|iv|phd|md|esq|mba)\.?)+$"
PARTICLES = r"(?:(?:van|von|de|da|del|della|di|du|la|le|der|den|ter|ten|bin|al|dos|das)\s+)*"


def split_full_name(full: pd.Series) -> pd.DataFrame:
    """``first_name`` and ``last_name`` (NA where absent) of each full name."""
    s = full.astype("string").str.split().str.join(" ")
    s = s.str.replace(HONORIFIC, "", case=False, regex=True).str.replace(SUFFIX, "", case=False, regex=True)
    s = s.str.strip(" ,").where(lambda x: x.str.len() > 0)
    comma = s.str.extract(r"^(?P<last_name>[^,]+?),\s*(?P<first_name>[^,]+)$")
    spaced = s.str.extract(rf"^(?P<first_name>.+?)\s+(?P<last_name>{PARTICLES}\S+)$")
    out = pd.DataFrame({"first_name": comma["first_name"].fillna(spaced["first_name"]).fillna(s),
                        "last_name": comma["last_name"].fillna(spaced["last_name"])}, index=full.index)
    return out.astype(object).where(out.notna(), None)
