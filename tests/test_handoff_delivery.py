"""Lead lists and email: formula injection neutralised, attachments arrive at a real SMTP server,
late opt-outs never appear; the CLI explains a handoff."""

from __future__ import annotations

import csv
import email
import socket
from datetime import date, datetime
from email import policy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from leadflow.cli import main
from leadflow.handoff import deliver, queue
from leadflow.handoff import synthetic as syn
from leadflow.store.schema import people

D = date(2026, 11, 26)
EVIL = '=HYPERLINK("http://x","y")'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(tmp_path: Path, **delivery: Any) -> dict[str, Any]:
    return {"paths": {"lists_dir": str(tmp_path / "lists")},
            "routing": {"reps": [
                {"id": "ann", "name": "Ann", "weight": 1, "timezone": "Europe/Berlin", "email": "ann@sales.test"},
                {"id": "bob", "name": "Bob", "weight": 1, "timezone": "America/New_York", "email": "bob@sales.test"}]},
            "delivery": delivery}


def _seed(engine: sa.Engine) -> None:
    ids = list(range(1, 9))
    ppl = pd.DataFrame({"person_id": ids, "first_name": [f"First{i}" for i in ids],
                        "last_name": [f"Last{i}" for i in ids], "job_title": "VP Sales",
                        "company": [f"Co{i}" for i in ids], "company_size": 120, "country": "DE",
                        "first_campaign_id": "cmp1", "first_channel": "webinar"})
    ppl.loc[0, "first_name"] = EVIL
    ppl.loc[0, "last_name"] = "+1"
    ppl.loc[0, "company"] = "@SUM(A1)"
    ppl.loc[0, "job_title"] = "-2+3"
    scores = pd.DataFrame({"person_id": ids, "score": [70.0 + i for i in ids], "grade": "A",
                           "reasons": [["Works at a 100-500 company", "Attended a webinar"]] * len(ids)})
    with engine.begin() as c:
        syn.add_people(c, ppl)
        syn.add_scores(c, scores, D)
        syn.add_touches(c, pd.DataFrame({"person_id": [1, 1, 2], "touch_type": ["webinar", "pricing_page", "download"],
                                         "occurred_at": [datetime(2026, 11, 20, 9), datetime(2026, 11, 24, 9),
                                                         datetime(2026, 11, 25, 9)],
                                         "channel": ["webinar", "organic", "email"]}))


def test_formula_injection_is_harmless_in_csv_and_xlsx(engine, make_ctx, tmp_path) -> None:
    _seed(engine)
    ctx = make_ctx(_config(tmp_path), engine, D)
    queue(ctx)
    out = deliver(ctx)
    csvs = [Path(p) for p in out["paths"] if p.endswith(".csv")]
    rows = [r for p in csvs for r in csv.DictReader(p.open(encoding="utf-8"))]
    evil = next(r for r in rows if r["Person id"] == "1")
    assert evil["Name"] == "'" + EVIL + " +1"
    assert evil["Company"] == "'@SUM(A1)" and evil["Title"] == "'-2+3"
    for r in rows:
        for v in r.values():
            assert not v or v[0] not in "=+-@\t\r", v
    from openpyxl import load_workbook
    cells = []
    for p in (Path(x) for x in out["paths"] if x.endswith(".xlsx")):
        ws = load_workbook(p).active
        cells += [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and not any(c.data_type == "f" for c in cells)
    assert "'" + EVIL + " +1" in [c.value for c in cells]
    html = "".join(Path(p).read_text(encoding="utf-8") for p in out["paths"] if p.endswith(".html"))
    assert "<td>=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;) +1</td>" in html


def test_lists_are_a_pre_approach_brief_highest_priority_first(engine, make_ctx, tmp_path) -> None:
    _seed(engine)
    ctx = make_ctx(_config(tmp_path), engine, D)
    queue(ctx)
    out = deliver(ctx)
    day = tmp_path / "lists" / D.isoformat()
    assert sorted(p.name for p in day.iterdir()) == sorted(
        f"{r}.{x}" for r in ("ann", "bob") for x in ("csv", "html", "xlsx"))
    assert out["files"] == 6 and out["leads"] == 8
    for rep in ("ann", "bob"):
        df = pd.read_csv(day / f"{rep}.csv")
        assert df["Priority"].is_monotonic_decreasing
        assert df["Why this lead"].str.contains("Attended a webinar").all()
        assert df["SLA due"].str.endswith("Europe/Berlin" if rep == "ann" else "America/New_York").all()
        assert (df["Campaign of origin"] == "cmp1").all() and (df["Channel of origin"] == "webinar").all()
    allrows = pd.concat([pd.read_csv(day / f"{r}.csv") for r in ("ann", "bob")])
    p1 = allrows[allrows["Person id"] == 1].iloc[0]
    assert p1["Recent touches"] == "2026-11-24 pricing_page (organic); 2026-11-20 webinar (webinar)"
    assert p1["Employees"] == 120 and p1["Country"] == "DE"
    # Re-delivering the same day gives the same files.
    before = (day / "ann.csv").read_bytes()
    deliver(ctx)
    assert (day / "ann.csv").read_bytes() == before


class _Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.rcpts: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.rcpts += envelope.rcpt_tos
        return "250 OK"


def test_email_with_attachments_arrives_and_late_opt_out_is_absent(engine, make_ctx, tmp_path,
                                                                  monkeypatch) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def auth(server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and data.login == b"lists" and data.password == b"s3cret"
        return AuthResult(success=ok)

    sink, port = _Sink(), _free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False)
    ctl.start()
    try:
        monkeypatch.setenv("LF_SMTP_USER", "lists")
        monkeypatch.setenv("LF_SMTP_PASS", "s3cret")
        _seed(engine)
        doc = _config(tmp_path, email_enabled=True,
                      smtp={"host": "127.0.0.1", "port": port, "username_env": "LF_SMTP_USER",
                            "password_env": "LF_SMTP_PASS", "sender": "leadflow@corp.test"})
        ctx = make_ctx(doc, engine, D)
        queue(ctx)
        with engine.begin() as c:   # opts out after queueing, before the lists go out
            c.execute(sa.update(people).where(people.c.person_id == 5).values(opt_out=True))
        out = deliver(ctx)
    finally:
        ctl.stop()
    assert out["emailed"] == 2 and out["withdrawn_late"] == 1
    assert sorted(sink.rcpts) == ["ann@sales.test", "bob@sales.test"]
    for m in sink.messages:
        names = sorted(a.get_filename() for a in m.iter_attachments())
        assert [n.rsplit(".", 1)[1] for n in names] == ["csv", "xlsx"]
        body = m.get_body(("html",)).get_content()
        assert "Lead list 2026-11-26" in m["Subject"]
        assert "First5" not in body
        for a in m.iter_attachments():
            if a.get_filename().endswith(".csv"):
                assert "First5" not in a.get_content()
    assert sum(m.get_body(("html",)).get_content().count("<tr>") - 1 for m in sink.messages) == 7


def test_unreachable_smtp_server_is_a_one_line_error(engine, make_ctx, tmp_path) -> None:
    from leadflow.handoff.mail import DeliveryError
    port = _free_port()          # nothing listens there
    _seed(engine)
    ctx = make_ctx(_config(tmp_path, email_enabled=True, smtp={"host": "127.0.0.1", "port": port,
                                                               "timeout_seconds": 5}), engine, D)
    queue(ctx)
    with pytest.raises(DeliveryError) as e:
        deliver(ctx)
    msg = str(e.value)
    assert f"127.0.0.1:{port}" in msg and "ConnectionRefusedError" in msg and "\n" not in msg
    assert "sales.test" not in msg
    # The files were written before sending, so nothing is lost.
    assert (tmp_path / "lists" / D.isoformat() / "ann.csv").is_file()


def test_cli_queue_list_and_handoff_explain(engine, make_ctx, tmp_path, capsys) -> None:
    _seed(engine)
    ctx = make_ctx(_config(tmp_path), engine, D)
    queue(ctx)
    cfg = str(tmp_path / "leadflow.yaml")
    assert main(["queue", "list", "--config", cfg, "--owner", "ann", "--json"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert lines and all('"owner_rep": "ann"' in x for x in lines)
    assert main(["queue", "list", "--config", cfg, "--date", "2026-11-26"]) == 0
    table = capsys.readouterr().out
    assert "sales queue (8 shown)" in table and "round_robin" in table and "First" not in table
    assert main(["handoff", "explain", "8", "--config", cfg]) == 0
    text = capsys.readouterr().out
    assert "why this lead" in text and "qualified by threshold" in text
    assert "why this owner" in text and "round_robin" in text and "skipped account_owner" in text
    assert "SLA" in text and "Attended a webinar" in text
    assert "First8" not in text                 # ids and decisions only
    assert main(["handoff", "explain", "999", "--config", cfg]) == 2
    assert "no person with id 999" in capsys.readouterr().err


def test_smtp_credentials_from_env_or_an_airflow_connection(monkeypatch) -> None:
    from leadflow.config import Smtp
    from leadflow.notify import resolve
    monkeypatch.setenv("LF_USER", "lists")
    monkeypatch.setenv("LF_PASS", "pw-from-env")
    t = resolve(Smtp(host="smtp.corp.test", port=587, username_env="LF_USER", password_env="LF_PASS"))
    assert (t.host, t.port, t.username, t.password) == ("smtp.corp.test", 587, "lists", "pw-from-env")
    monkeypatch.setenv("AIRFLOW_CONN_LISTS_SMTP", "smtp://airflow-user:p%40ss-word@mail.corp.test:2525")
    t = resolve(Smtp(host="ignored", port=25, airflow_conn_id="lists_smtp"))
    assert (t.host, t.port, t.username, t.password) == ("mail.corp.test", 2525, "airflow-user", "p@ss-word")


def test_handoff_list_quality_gate_holds_back_bad_rows(engine, make_ctx, tmp_path) -> None:
    from leadflow import quality
    assert hasattr(quality, "validate_frame")
    _seed(engine)
    with engine.begin() as c:
        c.execute(sa.update(people).where(people.c.person_id == 3).values(email_norm="not an email"))
    ctx = make_ctx(_config(tmp_path), engine, D)
    queue(ctx)
    out = deliver(ctx)
    assert out["quality_gate"] == "ran" and out["gate_held_back"] == 1 and out["warnings"]
    rows = pd.concat([pd.read_csv(p) for p in out["paths"] if p.endswith(".csv")])
    assert 3 not in set(rows["Person id"]) and len(rows) == 7


def test_lead_held_by_the_gate_is_logged_not_lost(engine, make_ctx, tmp_path) -> None:
    """A lead the handoff_list gate holds back is marked held and logged in suppressions."""
    from leadflow.store.schema import handoffs, suppressions
    _seed(engine)
    with engine.begin() as c:
        c.execute(sa.update(people).where(people.c.person_id == 3).values(email_norm="not an email"))
    ctx = make_ctx(_config(tmp_path), engine, D)
    queue(ctx)
    deliver(ctx)
    with engine.connect() as c:
        status = c.execute(sa.select(handoffs.c.status).where(handoffs.c.person_id == 3)).scalar()
        reasons = [r for (r,) in c.execute(sa.select(suppressions.c.reason)
                                           .where(suppressions.c.person_id == 3))]
    assert status == "held"
    assert len(reasons) == 1 and reasons[0].startswith("quality_gate:")
