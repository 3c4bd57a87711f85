"""Daily lead lists: the pre-approach brief per rep, as CSV, XLSX and HTML.

Spreadsheet formula injection is neutralised in every text cell: a value starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe, so a lead who typed
``=HYPERLINK(...)`` as their name is shown as text, never run as a formula (OWASP CSV injection).
"""

from __future__ import annotations

import io
import re

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


def xlsx_bytes(df: pd.DataFrame, title: str) -> bytes:
    """Write-only workbook (streams rows; uses lxml when installed). Text is neutralised first,
    so no cell can start with '=' and become a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("leads")
    safe = neutralise(df).rename(columns=COLUMNS)
    for i, col in enumerate(safe.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(len(str(col)) + 2, 12), 60)
    ws.freeze_panes = "A2"
    header = []
    for col in safe.columns:
        cell = WriteOnlyCell(ws, value=str(col))
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in safe.astype(object).where(safe.notna(), None).itertuples(index=False):
        ws.append([None if (isinstance(v, float) and v != v) else v for v in row])
    wb.properties.title = title
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.3rem .45rem;vertical-align:top;text-align:left}
th{background:#f0f3f7} tr:nth-child(even){background:#fafafa}
.hr{font-weight:bold;color:#a33}
</style></head><body>
<h1>{{ title }}</h1>
<p>{{ n }} lead{{ '' if n == 1 else 's' }}, highest priority first. Hand-raisers have the shortest SLA.</p>
<table><thead><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr>{% for v in row %}<td>{{ '' if v is none else v }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table></body></html>
"""

_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def to_html_text(df: pd.DataFrame, title: str) -> str:
    safe = df.rename(columns=COLUMNS)
    rows = safe.astype(object).where(safe.notna(), None).values.tolist()
    return _env.from_string(_HTML).render(title=title, headers=list(safe.columns), rows=rows, n=len(rows))
