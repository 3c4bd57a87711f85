"""The one aging rule: when a handoff with no win counts as lost (inferred).

Wins-only CRMs never report a loss, so without a rule every unconverted handoff is "not yet".
With ``feedback.aging_days`` (or ``aging_days`` on the lead's first source, which wins) a
handoff with no opportunity or win ``N`` days after its **MQL time** counts as lost, marked
inferred. The clock starts at the MQL time (the lifecycle ``mql`` event of the handoff's cycle,
the lead's own date) and not at ``handed_off_at`` (the run that handed it over): a history loaded
in one run is handed off on its last day, and must age exactly as the same history replayed day
by day. In daily operation both are the same day. ``handed_off_at`` stands in when no MQL event
is recorded.

Here, in the scoring layer, because the trainer (score), the training feed (feedback) and the
report all apply it and none may import a later stage.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.store.schema import lifecycle_events

LABEL_STATUSES = ("won", "lost", "lost_inferred", "open")
POSITIVE = ("opportunity", "won")
NEGATIVE = ("rejected", "lost")


def aging_days(settings: Any, first_source: pd.Series) -> pd.Series:
    """Per row, the days after which no win means lost: the lead source's ``aging_days``, else
    ``feedback.aging_days``; NaN where neither is set (no aging)."""
    if settings is None:
        return pd.Series(np.nan, index=first_source.index)
    per = {s.name: float(s.aging_days) for s in settings.sources if s.aging_days is not None}
    glob = settings.feedback.aging_days
    return first_source.map(per).astype(float).fillna(np.nan if glob is None else float(glob))


def aging_on(settings: Any) -> bool:
    """Whether any aging window is configured (globally or for a source)."""
    return settings is not None and (settings.feedback.aging_days is not None
                                     or any(s.aging_days is not None for s in settings.sources))


def mql_times() -> sa.Subquery:
    """(person_id, cycle, mql_at): when each person's cycle became an MQL, the aging clock's start."""
    le = lifecycle_events
    return (sa.select(le.c.person_id, le.c.cycle, sa.func.min(le.c.occurred_at).label("mql_at"))
            .where(le.c.to_stage == "mql").group_by(le.c.person_id, le.c.cycle).subquery())


def aging_start(mql_at: pd.Series, handed_off_at: pd.Series) -> pd.Series:
    """The MQL time, or the handoff time where no MQL event is recorded."""
    return pd.to_datetime(mql_at).fillna(pd.to_datetime(handed_off_at))


def label_status(start: pd.Series, converted: pd.Series, lost: pd.Series, days: pd.Series,
                 as_of: datetime) -> pd.DataFrame:
    """Per handoff (aligned Series): ``aged_at`` (when no win began to mean lost; NaT without
    aging), ``label_status`` (won, lost, lost_inferred or open) and ``inferred`` (1 when lost is
    inferred)."""
    aged_at = pd.to_datetime(start) + pd.to_timedelta(days.to_numpy(), unit="D")
    won = converted.to_numpy(dtype=bool)
    lost_ = lost.to_numpy(dtype=bool)
    aged = (aged_at <= pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    status = np.select([won, lost_, aged], ["won", "lost", "lost_inferred"], default="open")
    return pd.DataFrame({"aged_at": aged_at, "label_status": status,
                         "inferred": (status == "lost_inferred").astype(int)}, index=start.index)
