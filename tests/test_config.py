"""leadflow.yaml validation: errors name the file and the field, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadflow import config as cfg
from leadflow.errors import ConfigError

SOURCE = {"name": "web", "owner": "ops", "kind": "inbound_leads",
          "connector": {"type": "file", "path": "landing"}, "mapping": {"E-mail": "email"}}


def test_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    p = tmp_path / "leadflow.yaml"
    p.write_text("sources: []\n")
    s = cfg.load(p)
    assert s.config_path == p.resolve()
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.qualification.min_grade == "B"


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        cfg.load(tmp_path / "nope.yaml")


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "leadflow.yaml"
    p.write_text("sources:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        cfg.load(p)
    assert str(p) in str(e.value) and "line" in str(e.value)


@pytest.mark.parametrize("patch, field", [
    ({"connector": {"type": "ftp", "path": "x"}}, "sources[0:web].connector"),
    ({"mapping": {"E-mail": "e_mail"}}, "sources[0:web].mapping"),
    ({"kind": "leads"}, "sources[0:web].kind"),
    ({"surprise": 1}, "sources[0:web].surprise"),
])
def test_invalid_source_names_the_field(tmp_path: Path, patch: dict, field: str) -> None:
    doc = {"sources": [{**SOURCE, **patch}]}
    with pytest.raises(ConfigError) as e:
        cfg.parse(doc, "leadflow.yaml")
    msg = str(e.value)
    assert msg.startswith("leadflow.yaml: ") and field in msg and "\n" not in msg


def test_unknown_rep_in_territory_is_rejected() -> None:
    doc = {"routing": {"reps": [{"id": "ann", "name": "Ann"}],
                       "territories": [{"name": "emea", "reps": ["bob"]}]}}
    with pytest.raises(ConfigError, match="unknown rep"):
        cfg.parse(doc, "leadflow.yaml")


def test_duplicate_source_names_rejected() -> None:
    with pytest.raises(ConfigError, match="duplicate source"):
        cfg.parse({"sources": [SOURCE, SOURCE]}, "leadflow.yaml")


def test_database_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = cfg.parse({}, "x")
    monkeypatch.delenv("LEADFLOW_DATABASE_URL", raising=False)
    assert s.database_url.startswith("sqlite:///")
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert s.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize("field, value", [("recycle_reasons", "No Budget"),
                                          ("disqualify_reasons", "student ")])
def test_a_reason_not_spelled_as_a_code_is_named(field: str, value: str) -> None:
    """Outcomes' reasons are read as codes (lower case, underscores); a configured reason spelled
    otherwise could never match one, so it is refused with the spelling to use."""
    with pytest.raises(ConfigError) as e:
        cfg.parse({"feedback": {field: ["bad_timing", value]}}, "leadflow.yaml")
    msg = str(e.value)
    assert f"feedback.{field}" in msg and repr(value.strip().lower().replace(" ", "_")) in msg
