"""The registry: config errors, `leadflow sources check`, `leadflow ingest`, read_mapped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import yaml

from leadflow import config as cfg
from leadflow.cli import main
from leadflow.errors import ConfigError, InputError
from leadflow.ingest import read_mapped, registry
from tests.ingest_helpers import HEADER, ROWS, lead_source, write


def test_unknown_connector_names_the_source_and_field(tmp_path):
    src = lead_source()
    src["connector"] = {"type": "ftp", "path": "x"}
    with pytest.raises(ConfigError) as e:
        cfg.parse({"sources": [src]}, "leadflow.yaml")
    msg = str(e.value)
    assert "sources[0:web].connector" in msg and "leadflow.yaml" in msg and "\n" not in msg


def test_mapping_to_unknown_canonical_field_is_refused():
    src = lead_source()
    src["mapping"]["Email"] = "e_mail"
    with pytest.raises(ConfigError, match="unknown canonical field.*e_mail"):
        cfg.parse({"sources": [src]})


def test_next_run_from_cron_and_aliases():
    at = datetime(2026, 11, 26, 12, 30)
    assert registry.next_run("0 6 * * *", at) == datetime(2026, 11, 27, 6, 0)
    assert registry.next_run("@daily", at) == datetime(2026, 11, 27, 0, 0)
    assert registry.next_run(None, at) is None
    with pytest.raises(ConfigError, match="invalid cron"):
        registry.next_run("every tuesday", at)


def _config(tmp_path: Path, *sources: dict) -> Path:
    p = tmp_path / "leadflow.yaml"
    p.write_text(yaml.safe_dump({"sources": list(sources)}), encoding="utf-8")
    return p


def test_sources_check_reports_coverage_and_missing_columns(tmp_path, capsys):
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    write(tmp_path / "other" / "b.csv", "Id,Mail\n1,a@x.com\n")
    good = lead_source(schedule="0 6 * * *")
    bad = lead_source(path="other", name="partial")
    p = _config(tmp_path, good, bad)
    checks = {c.name: c for c in registry.check(cfg.load(p), datetime(2026, 11, 26, 7, 0))}
    assert checks["web"].problems == [] and checks["web"].columns_present == "6/6"
    assert checks["web"].mapped == 6 and checks["web"].canonical == 20
    assert checks["web"].next_run == datetime(2026, 11, 27, 6, 0)
    assert checks["partial"].columns_present == "1/6"
    assert any("'Email'" in x for x in checks["partial"].problems)
    assert main(["sources", "check", "--config", str(p)]) == 2
    out = capsys.readouterr()
    assert "web" in out.out and "error: source partial" in out.err


def test_sources_check_flags_a_mapped_column_named_twice(tmp_path):
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER + ",Email", *[r + ",z@y.com" for r in ROWS]]) + "\n")
    check = registry.check(cfg.load(_config(tmp_path, lead_source())), datetime(2026, 11, 26, 7, 0))[0]
    assert check.columns_present == "6/6"
    assert check.problems == ["mapped column(s) named more than once in landing: 'Email' (2 columns)"]


def test_ingest_cli_lands_and_prints_counts(tmp_path, monkeypatch, capsys):
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    p = _config(tmp_path, lead_source())
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    assert main(["init", "--config", str(p)]) == 0
    assert main(["ingest", "--config", str(p), "--all", "--date", "2026-11-26"]) == 0
    out = capsys.readouterr().out
    assert "rows in 3 = landed 3 + rejected 0" in out
    write(tmp_path / "landing" / "a_again.csv", "\n".join([HEADER, *ROWS]) + "\n")   # re-delivered
    assert main(["ingest", "--config", str(p), "--source", "web"]) == 0
    assert "1 already landed" in capsys.readouterr().out
    # a failing source: one line per error, non-zero exit
    write(tmp_path / "landing" / "b.csv", b"")
    assert main(["ingest", "--config", str(p), "--all"]) == 2
    err = capsys.readouterr().err
    assert "error: source web, file b.csv" in err and "Traceback" not in err
    assert main(["ingest", "--config", str(p)]) == 2       # neither --source nor --all


def test_read_mapped_returns_typed_canonical_and_declared_attributes(tmp_path):
    write(tmp_path / "landing" / "a.csv", "\n".join([HEADER, *ROWS, "4,d@x.com,lots,,No,Web,"]) + "\n")
    src = cfg.Source.model_validate(lead_source(attributes={"Notes": "capture"}))
    df = read_mapped(src, base_dir=tmp_path)
    assert list(df["row_number"]) == [1, 2, 3, 4]
    assert list(df["lead_source"].astype(object).where(df["lead_source"].notna(), None)) == \
        ["Google", None, "Webinar", "Web"]
    assert str(df["company_size"].dtype) == "Int64" and df["company_size"].isna().tolist() == [False, False, True, True]
    assert str(df["opt_out"].dtype) == "boolean" and str(df["created_at"].dtype).startswith("datetime64")
    assert "Notes" in df.columns and "Employees" not in df.columns
    assert df.attrs["rejected_rows"] == 1 and "company_size" in df.attrs["reasons"][4][0]
    # explicit path, and a missing mapped column is a one-line InputError naming the field
    write(tmp_path / "x.csv", "Id,Email\n1,a@x.com\n")
    with pytest.raises(InputError, match=r"source web, file x\.csv, row 1 \(header\), field company_size"):
        read_mapped(src, path=tmp_path / "x.csv")


@pytest.mark.realdata
def test_real_files_import_completely_and_only_once(shared_data, make_ctx, engine):
    """Both real files through examples/real_data.yaml: every row accounted for, then nothing."""
    import sqlalchemy as sa

    from leadflow.ingest import land, summarise
    from leadflow.store.schema import stg_inbound_leads
    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "examples" / "real_data.yaml").read_text())
    for s in doc["sources"]:        # the tests' config sits elsewhere: point at the shared data
        name = Path(s["connector"]["path"]).name
        sub = "x_education" if name == "Leads.csv" else "uci_bank_marketing"
        s["connector"]["path"] = str(shared_data / sub / name)
    doc.pop("paths", None)
    ctx = make_ctx(doc, engine)
    res = land(ctx)
    by = {r["source"]: r for r in res}
    expected = {"x_education_leads": _data_rows(shared_data / "x_education" / "Leads.csv"),
                "uci_bank_marketing": _data_rows(shared_data / "uci_bank_marketing" / "bank-full.csv")}
    for name, n in expected.items():
        r = by[name]
        assert r["status"] == "landed", r
        assert r["rows_in"] == n == r["rows_landed"] + r["rows_rejected"]
    with engine.connect() as c:
        t = stg_inbound_leads
        x = c.execute(sa.select(t.c.lead_source, sa.func.count()).where(t.c.source == "x_education_leads")
                      .group_by(t.c.lead_source)).all()
        sources = {k: v for k, v in x}
        assert "google" not in sources and sources["Google"] > 0
        conv = c.execute(sa.select(sa.func.count()).where(t.c.source == "uci_bank_marketing",
                                                          t.c.converted.is_(True))).scalar()
        assert 0.10 < conv / expected["uci_bank_marketing"] < 0.13
        attrs = c.execute(sa.select(t.c.attributes).where(t.c.source == "x_education_leads",
                                                          t.c.row_number == 1)).scalar()
        assert "Select" not in attrs.values() and "Unnamed: 37" not in attrs
    again = summarise(land(ctx))
    assert again["rows_landed"] == 0 and again["duplicates"] == 2


def _data_rows(p: Path) -> int:
    with open(p, "rb") as f:
        return sum(1 for line in f if line.strip()) - 1
