"""The source registry: choosing sources, checking them, and when each runs next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from leadflow.canonical import FIELDS
from leadflow.config import FileConnector, HttpConnector, Settings, Source, SqlConnector, is_local
from leadflow.errors import ConfigError
from leadflow.ingest.mapping import key_field, missing_columns, repeated_columns

CRON_ALIASES = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
                "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *",
                "@annually": "0 0 1 1 *"}


def select(settings: Settings, names: list[str] | None = None) -> list[Source]:
    """The named sources (unknown names are a ConfigError), else every enabled one."""
    if names:
        return [settings.source(n) for n in names]
    return [s for s in settings.sources if s.enabled]


def next_run(schedule: str | None, after: datetime) -> datetime | None:
    """Next time the cron schedule fires after ``after`` (None: manual only)."""
    if not schedule or schedule in ("@once", "None", "none"):
        return None
    from croniter import croniter
    expr = CRON_ALIASES.get(schedule, schedule)
    if not croniter.is_valid(expr):
        raise ConfigError(f"invalid cron schedule {schedule!r}")
    return croniter(expr, after).get_next(datetime)


def connector_label(src: Source) -> str:
    c = src.connector
    if isinstance(c, FileConnector):
        return f"file {Path(c.path).name or c.path} ({c.format}" + (f", {c.pattern})" if c.pattern != "*" else ")")
    if isinstance(c, SqlConnector):
        return f"sql ${c.url_env}" + (f", watermark {c.watermark_column}" if c.watermark_column else "")
    if isinstance(c, HttpConnector):
        from leadflow.ingest.connectors.http import redact
        return f"http {redact(c.url)}"
    return c.type


def header_columns(src: Source, base_dir: Path) -> list[str] | None:
    """Columns of the first ready file of a file source (None when none can be peeked)."""
    c = src.connector
    if not isinstance(c, FileConnector) or not is_local(base_dir):
        return None             # object storage: not peeked (landing reports problems)
    from leadflow.ingest import files, formats
    try:
        paths = files.candidates(c, base_dir)
        if not paths:
            return None
        p = paths[0]
        small = c.model_copy(update={"chunk_rows": 100})
        # Through prepare, like landing: a link or a pipe is never opened or waited on.
        with files.prepare(small, p, p.parent, src.limits) as d:
            if d.fmt == "csv":
                f = d.readable or p
                sep = formats.sniff_delimiter(f, d.encoding, d.delimiter or c.delimiter)
                # the capped header reader: a hostile header is refused here too, never parsed whole
                cols = formats.csv_header(f, d.encoding, sep, c.quotechar, src.limits)
                return [x for x in cols if not x.startswith("Unnamed: ")]
            for raw, _ in files.read(small, d):
                return list(raw.columns)
    except Exception:  # noqa: BLE001 - a peek only; landing reports real problems
        return None
    return None


@dataclass
class SourceCheck:
    name: str
    kind: str
    owner: str
    enabled: bool
    connector: str
    mapped: int
    canonical: int
    columns_present: str
    next_run: datetime | None
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _header_problems(s: Source, cols: list[str]) -> list[str]:
    """What a peeked header would make landing refuse: mapped columns missing or named twice."""
    where = Path(str(getattr(s.connector, "path", ""))).name
    probs = []
    missing = missing_columns(s, cols)
    if missing:
        probs.append(f"mapped column(s) not in {where}: " + ", ".join(repr(m) for m in missing))
    twice = repeated_columns(s, cols)
    if twice:
        probs.append(f"mapped column(s) named more than once in {where}: "
                     + ", ".join(f"{c!r} ({n} columns)" for c, n in twice.items()))
    return probs


def check(settings: Settings, now: datetime) -> list[SourceCheck]:
    """Per source: connector, mapping coverage, whether mapped columns are present, next run."""
    out = []
    for s in settings.sources:
        probs: list[str] = []
        nr: datetime | None = None
        try:
            nr = next_run(s.schedule, now)
        except (ConfigError, ValueError, KeyError) as e:
            probs.append(f"schedule: {e}")
        fields = FIELDS[s.kind]
        mapped = len(set(s.mapping.values()) | set(s.constants))
        if s.record_id:
            kf = key_field(s.kind)
            if kf and kf not in s.mapping.values():
                mapped += 1
        bad_const = sorted(k for k in s.constants if k not in fields)
        if bad_const:
            probs.append(f"constants name unknown field(s): {', '.join(bad_const)}")
        cols = header_columns(s, settings.storage_root)
        if cols is None:
            present = "n/a (no file to peek)" if isinstance(s.connector, FileConnector) else "n/a"
        else:
            present = f"{sum(c in cols for c in s.mapping)}/{len(s.mapping)}"
            probs.extend(_header_problems(s, cols))
        if isinstance(s.connector, SqlConnector) and ":watermark" in s.connector.query \
                and not s.connector.watermark_column:
            probs.append("query uses :watermark but no watermark_column is set")
        out.append(SourceCheck(s.name, s.kind, s.owner, s.enabled, connector_label(s), min(mapped, len(fields)),
                               len(fields), present, nr, probs))
    return out
