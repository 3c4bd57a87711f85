"""SLA due times in business hours of the owner's time zone.

A lead handed off at 23:59 UTC on a Friday to a rep in Berlin with a 4-hour SLA is due at 13:00
Berlin time on Monday (09:00 + 4 h), stored as naive UTC like every timestamp in the warehouse.
Weekends (Saturday, Sunday) are not business days. Computed once per (time zone, hours, start):
the clock of a hand-raiser starts at the prospect's request, of anyone else at the handoff.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from leadflow.config import Routing
from leadflow.errors import ConfigError


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"routing: unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def business_due(start_utc: datetime, hours: float, tz: str, start_hour: int = 9,
                 end_hour: int = 17) -> datetime:
    """Add ``hours`` business hours to a naive-UTC start; returns naive UTC."""
    zone = _zone(tz)
    t = start_utc.replace(tzinfo=UTC).astimezone(zone)
    left = timedelta(hours=hours)
    day_len = timedelta(hours=end_hour - start_hour)
    if day_len <= timedelta(0):
        raise ConfigError("routing.sla: business_end_hour must be after business_start_hour")
    for _ in range(3660):  # ten years of days: a hard stop, never reached with sane SLAs
        open_t = t.replace(hour=start_hour, minute=0, second=0, microsecond=0)
        close_t = (t.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(hours=end_hour))
        close_t = close_t.replace(tzinfo=zone)
        if t.weekday() < 5 and t < close_t:
            begin = max(t, open_t)
            avail = close_t - begin
            if left <= avail:
                return (begin + left).astimezone(UTC).replace(tzinfo=None)
            left -= avail
        nxt = (t + timedelta(days=1)).replace(hour=start_hour, minute=0, second=0, microsecond=0)
        t = nxt.replace(tzinfo=zone)
    raise ConfigError("routing.sla: SLA hours too large")


def due_times(df: pd.DataFrame, routing: Routing, handed_off_at: datetime,
              start: pd.Series | None = None) -> pd.Series:
    """SLA due per handoff: hand-raisers get ``sla.hand_raiser_hours``, others ``default_hours``.

    ``df`` needs owner_rep and hand_raiser. The fallback queue uses UTC. ``start``: when each
    clock starts (naive UTC; the prospect's request time for hand-raisers), else ``handed_off_at``.
    """
    tz_of = {r.id: r.timezone for r in routing.reps}
    sla = routing.sla
    tz = df["owner_rep"].map(tz_of).fillna("UTC")
    hours = df["hand_raiser"].astype(bool).map({True: sla.hand_raiser_hours, False: sla.default_hours})
    at = pd.Series(pd.Timestamp(handed_off_at), index=df.index) if start is None \
        else pd.to_datetime(start).reindex(df.index).fillna(pd.Timestamp(handed_off_at))
    keys = pd.DataFrame({"tz": tz, "hours": hours, "at": at})
    table = {(z, h, t): business_due(t.to_pydatetime(), h, z, sla.business_start_hour, sla.business_end_hour)
             for z, h, t in keys.drop_duplicates().itertuples(index=False)}
    return pd.Series([table[k] for k in zip(keys["tz"], keys["hours"], keys["at"])], index=df.index,
                     dtype="datetime64[us]")
