"""Daily lead lists: the pre-approach brief per rep, as CSV, XLSX and HTML.

Spreadsheet formula injection is neutralised in every text cell: a value starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so a lead who typed
``=HYPERLINK(...)`` as their name is shown as text, never run as a formula (OWASP CSV injection).
"""

from __future__ import annotations

import io
import re
from urllib.parse import quote

import pandas as pd
from jinja2 import Environment, select_autoescape

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")

# Column order of every list (header text a rep reads).
COLUMNS = {
    "priority": "Priority", "sla_due": "SLA due", "name": "Name", "job_title": "Title",
    "company": "Company", "company_size": "Employees", "country": "Country", "email": "Email",
    "phone": "Phone", "score": "Score", "grade": "Grade", "probability": "Probability",
    "qualified_by": "Qualified by", "top_reasons": "Why this lead", "recent_touches": "Recent touches",
    "campaign": "Campaign of origin", "channel": "Channel of origin", "route": "Why you",
    "handoff_id": "Handoff id", "person_id": "Person id",
}


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix an apostrophe to text cells that a spreadsheet would read as a formula."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            s = out[c]
            is_text = s.map(lambda v: isinstance(v, str))
            bad = is_text & s.astype("string").str.startswith(DANGEROUS).fillna(False).astype(bool)
            out[c] = s.where(~bad, "'" + s.astype("string"))
    return out


def safe_name(owner: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", owner) or "_"


def csv_bytes(df: pd.DataFrame) -> bytes:
    """The list as UTF-8 CSV; rendered in memory so files are published whole and the same
    bytes are attached to the email (and hashed to tell whether the list changed)."""
    return neutralise(df).rename(columns=COLUMNS).to_csv(index=False).encode("utf-8")


PHONE = re.compile(r"^\+\d{6,15}$")
_WIDTHS = {"priority": 9, "sla_due": 18, "name": 24, "job_title": 26, "company": 24, "company_size": 11,
           "country": 9, "email": 30, "phone": 17, "score": 8, "grade": 7, "probability": 11,
           "qualified_by": 13, "top_reasons": 60, "recent_touches": 60, "campaign": 24, "channel": 16,
           "route": 40, "handoff_id": 11, "person_id": 10}


def _sla_split(s: pd.Series) -> tuple[pd.Series, str]:
    """'2026-11-27 13:00 Europe/Berlin' → (local datetimes, 'Europe/Berlin'); one zone per rep's list."""
    parts = s.fillna("").astype(str).str.rsplit(" ", n=1, expand=True)
    if parts.shape[1] < 2:
        return pd.Series(pd.NaT, index=s.index), ""
    zones = [z for z in parts[1].dropna().unique() if z]
    return pd.to_datetime(parts[0], format="%Y-%m-%d %H:%M", errors="coerce"), (zones[0] if len(zones) == 1 else "")


def xlsx_bytes(df: pd.DataFrame, title: str) -> bytes:
    """Write-only workbook (streams rows): typed numbers and dates (SLA due as a date-time in the
    rep's zone), frozen header, autofilter and column widths. Every text cell is written as a
    string cell, which a spreadsheet never evaluates; free text is still neutralised, phone
    numbers (validated E.164, so never a formula) are shown as typed, without an apostrophe."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("leads")
    safe = neutralise(df)
    if "phone" in df:
        ok = df["phone"].astype("string").str.fullmatch(PHONE).fillna(False).astype(bool)
        safe["phone"] = df["phone"].where(ok, safe["phone"])
    headers = [COLUMNS.get(c, c) for c in safe.columns]
    dates: set[int] = set()
    if "sla_due" in safe:
        local, zone = _sla_split(df["sla_due"])
        if local.notna().any():
            safe["sla_due"] = local.astype(object).where(local.notna(), None)
            i = list(safe.columns).index("sla_due")
            headers[i] = f"SLA due ({zone})" if zone else "SLA due (local)"
            dates.add(i)
    for i, c in enumerate(safe.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS.get(c, min(max(len(headers[i - 1]) + 2, 12), 60))
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(safe) + 1}"
    header = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=str(h))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in safe.astype(object).where(safe.notna(), None).itertuples(index=False):
        cells = []
        for i, v in enumerate(row):
            if isinstance(v, float) and v != v:
                v = None
            cell = WriteOnlyCell(ws, value=v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
            if isinstance(v, str):
                cell.data_type = "s"          # a string cell: never read as a formula
            elif i in dates and v is not None:
                cell.number_format = "yyyy-mm-dd hh:mm"
            cells.append(cell)
        ws.append(cells)
    wb.properties.title = title
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1.5rem;max-width:72rem;
     color:#1f2933;background:#f5f7fa;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 .3rem}
.lead{font-size:.95rem;color:#52606d;margin:0 0 1rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(30rem,1fr));gap:1rem}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:.5rem;padding:1rem 1.1rem;min-width:0;
      overflow-wrap:anywhere}
.card h2{font-size:1.1rem;margin:0}
.who{color:#52606d;margin:.15rem 0 .5rem}
.tags{display:flex;flex-wrap:wrap;gap:.4rem;margin:.3rem 0 .6rem}
.tag{background:#e4ecf7;border-radius:1rem;padding:.1rem .6rem;font-size:.85rem}
.sla{background:#fdecea;color:#8a1c1c;font-weight:600}
h3{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#7b8794;margin:.6rem 0 .2rem}
ul{margin:0;padding-left:1.1rem}
.why{font-size:1rem}
.contact a{color:#0b5cad;margin-right:1rem;text-decoration:none}
.contact a:hover{text-decoration:underline}
.small{font-size:.85rem;color:#52606d}
</style></head><body>
<h1>{{ title }}</h1>
<p class="lead">{{ n }} lead{{ '' if n == 1 else 's' }}, highest priority first. Hand-raisers have the shortest SLA.</p>
<main class="cards">
{% for c in cards %}<article class="card" id="h{{ c.handoff_id }}">
<h2>{{ c.name or '(no name)' }}</h2>
<p class="who">{{ c.job_title or 'Title unknown' }}
{%- if c.company %} at {{ c.company }}{% endif %}
{%- if c.company_size %} ({{ c.company_size }} employees){% endif %}
{%- if c.country %}, {{ c.country }}{% endif %}</p>
<div class="tags"><span class="tag sla">SLA due {{ c.sla }}</span><span class="tag">Score {{ c.score }}</span>
<span class="tag">Grade {{ c.grade }}</span><span class="tag">Priority {{ c.priority }}</span></div>
<h3>Why now</h3>
<ul class="why">{% for r in c.why %}<li>{{ r }}</li>{% else %}<li>{{ c.qualified_by }}</li>{% endfor %}</ul>
<h3>Last touches</h3>
<ul class="small">{% for t in c.touches %}<li>{{ t }}</li>{% else %}<li>none recorded</li>{% endfor %}</ul>
<h3>Campaign</h3>
<p class="small">{{ c.campaign or 'unknown' }}{% if c.channel %} ({{ c.channel }}){% endif %}</p>
<h3>Why you</h3>
<p class="small">{{ c.route }}</p>
<p class="contact">{% if c.phone %}<a href="tel:{{ c.phone }}">{{ c.phone }}</a>{% endif %}
{%- if c.email %}<a href="mailto:{{ c.mailto }}">{{ c.email }}</a>{% endif %}</p>
<p class="small">Handoff {{ c.handoff_id }} · person {{ c.person_id }}</p>
</article>
{% endfor %}</main></body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def sla_texts(s: pd.Series) -> pd.Series:
    """'2026-11-27 13:00 Europe/Berlin' → 'Fri 27 Nov, 13:00 (Europe/Berlin)', for a whole list
    at once (parsed in one call, not one per lead); a value that does not parse is shown as
    delivered, a missing one as 'not set'."""
    text = s.where(s.map(lambda v: isinstance(v, str) and v != ""), None).astype(object)
    parts = text.fillna("").astype(str).str.rpartition(" ")
    t = pd.to_datetime(parts[0], format="%Y-%m-%d %H:%M", errors="coerce")
    shown = t.dt.strftime("%a %d %b, %H:%M") + " (" + parts[2] + ")"
    return shown.where(t.notna(), text).where(text.notna(), "not set").astype(object)


def _split(v: object, k: int | None = None) -> list[str]:
    parts = [p.strip() for p in v.split(";") if p.strip()] if isinstance(v, str) else []
    return parts[:k] if k else parts


def cards(df: pd.DataFrame) -> list[dict[str, object]]:
    """One dict per lead for the brief (HTML cards, plain-text email); build them once per list
    and pass them to ``html_of`` and ``plain_text_of``."""
    sla = sla_texts(df["sla_due"]) if "sla_due" in df else pd.Series("not set", index=df.index, dtype=object)
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    out = []
    for r, due in zip(rows, sla.tolist()):
        email = r.get("email") if isinstance(r.get("email"), str) and "@" in r["email"] else None
        out.append({**r, "sla": due, "why": _split(r.get("top_reasons")),
                    "touches": _split(r.get("recent_touches"), 3),
                    "phone": r.get("phone") if isinstance(r.get("phone"), str) and PHONE.match(r["phone"]) else None,
                    # '?', '&', '=' are legal in an address; in a mailto: link they start headers
                    "email": email, "mailto": quote(email, safe="@") if email else None})
    return out


def to_html_text(df: pd.DataFrame, title: str) -> str:
    """The pre-approach brief: one card per lead, readable at a laptop's width."""
    return html_of(cards(df), title)


def html_of(cs: list[dict[str, object]], title: str) -> str:
    """The brief's HTML from the list's ``cards``."""
    return _env.from_string(_HTML).render(title=title, cards=cs, n=len(cs))


def to_plain_text(df: pd.DataFrame, title: str) -> str:
    """The brief as the email's plain-text part: every lead, most important first."""
    return plain_text_of(cards(df), title)


def plain_text_of(cs: list[dict[str, object]], title: str) -> str:
    """The plain-text brief from the list's ``cards``."""
    lines = [title, ""]
    for i, c in enumerate(cs, start=1):
        who = ", ".join(str(x) for x in (c.get("job_title"), c.get("company")) if x)
        lines.append(f"{i}. {c.get('name') or '(no name)'}" + (f" - {who}" if who else ""))
        lines.append(f"   SLA due {c['sla']}; score {c.get('score')}, grade {c.get('grade')}")
        if c["why"]:
            lines.append(f"   Why now: {'; '.join(c['why'])}")  # type: ignore[arg-type]
        contact = " | ".join(str(x) for x in (c.get("phone"), c.get("email")) if x)
        if contact:
            lines.append(f"   {contact}")
        lines.append("")
    return "\n".join(lines)
