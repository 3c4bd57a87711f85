"""Shared storage (leadflow/store/shared.py, ``storage`` in leadflow.yaml): locations by URL,
whole-file writes and folder publishing on local disk and on an fsspec store (``memory://``
stands in for s3/gs), and landing from object storage with the local file checks."""

from __future__ import annotations

import uuid
from pathlib import Path

import fsspec
import pytest

from leadflow import config as cfg
from leadflow.errors import ConfigError
from leadflow.store import shared
from tests.conftest import write_config


@pytest.fixture
def mem_url() -> str:
    url = f"memory://lf-{uuid.uuid4().hex[:10]}"
    yield url
    fs = fsspec.filesystem("memory")
    root = url.split("://", 1)[1]
    if fs.exists("/" + root):
        fs.rm("/" + root, recursive=True)


def _settings(tmp_path: Path, doc: dict) -> cfg.Settings:
    return cfg.load(write_config(tmp_path / "leadflow.yaml", doc))


def test_unset_storage_keeps_paths_beside_the_config(tmp_path: Path) -> None:
    s = _settings(tmp_path, {})
    assert s.reports_dir == tmp_path.resolve() / "reports"
    assert s.lists_dir == tmp_path.resolve() / "reports" / "lead_lists"
    assert s.artifacts_dir == tmp_path.resolve() / "models"
    assert cfg.is_local(s.reports_dir)


def test_file_url_resolves_relative_paths_under_the_shared_root(tmp_path: Path) -> None:
    root = tmp_path / "mnt"
    s = _settings(tmp_path, {"storage": {"url": f"file://{root}"}})
    assert s.reports_dir == root / "reports"
    assert s.artifacts_dir == root / "models"
    assert cfg.is_local(s.lists_dir)                     # local safety code applies on a mount


def test_object_store_url_gives_fsspec_paths(tmp_path: Path, mem_url: str) -> None:
    s = _settings(tmp_path, {"storage": {"url": mem_url}})
    assert not cfg.is_local(s.reports_dir)
    assert str(s.lists_dir).endswith("/reports/lead_lists")
    assert str(s.lists_dir).startswith("memory://")


def test_unknown_storage_protocol_names_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _settings(tmp_path, {"storage": {"url": "nosuchfs://bucket/x"}})
    assert "leadflow.yaml" in str(e.value) and "storage.url" in str(e.value)
    with pytest.raises(ConfigError, match="storage.url"):
        _settings(tmp_path, {"storage": {"url": "/just/a/path"}})


@pytest.mark.parametrize("where", ["local", "memory"])
def test_put_and_publish_dir(tmp_path: Path, mem_url: str, where: str) -> None:
    s = _settings(tmp_path, {} if where == "local" else {"storage": {"url": mem_url}})
    f = shared.put(s.reports_dir / "runs" / "a.html", b"<p>1</p>")
    assert shared.get(f) == b"<p>1</p>" and shared.exists(f)
    shared.put(f, b"<p>2</p>")
    assert shared.get(f) == b"<p>2</p>"
    day = s.lists_dir / "2026-11-26"
    shared.publish_dir(day, {"ava.csv": b"x\n1\n", "noah.csv": b"x\n2\n"})
    shared.publish_dir(day, {"ava.csv": b"x\n3\n"})        # noah's list withdrawn on a re-run
    assert sorted(p.name for p in day.iterdir()) == ["ava.csv"]
    assert shared.get(day / "ava.csv") == b"x\n3\n"
    if where == "local":
        assert not [p for p in day.parent.iterdir() if ".tmp" in p.name]


def test_put_tree_copies_a_local_folder(tmp_path: Path, mem_url: str) -> None:
    src = tmp_path / "site"
    (src / "static").mkdir(parents=True)
    (src / "index.html").write_text("i")
    (src / "static" / "a.css").write_text("c")
    target = cfg.shared_path(mem_url, {}) / "docs"
    shared.put_tree(target, src)
    assert shared.get(target / "static" / "a.css") == b"c"
    assert shared.location(str(target / "index.html")).read_text() == "i"


def test_model_artifact_round_trips_through_object_storage(tmp_path: Path, mem_url: str) -> None:
    from leadflow.score import registry
    s = _settings(tmp_path, {"storage": {"url": mem_url}})
    b = registry.Bundle("v1", "logistic", {"m": 1}, None, [], {})
    path = registry.save(b, s.artifacts_dir)
    assert str(path).startswith("memory://")
    assert registry.load(str(path)).model == {"m": 1}      # by the URL kept in the warehouse
    with pytest.raises(registry.RegistryError, match="missing"):
        registry.load(str(path).replace("v1", "v2"))


# --------------------------------------------------------------------------- landing from objects
def _mem_source_doc(mem_url: str, archive: bool = True) -> dict:
    return {"storage": {"url": mem_url},
            "sources": [{"name": "web", "owner": "ops", "kind": "inbound_leads", "connector": {
                "type": "file", "path": "landing/web", "pattern": "*.csv", "min_age_seconds": 0,
                "archive": archive},
                "mapping": {"id": "source_record_id", "Email": "email", "First": "first_name"}}]}


def test_landing_from_object_storage_files_objects_away(make_ctx, engine, mem_url: str) -> None:
    from leadflow import ingest
    ctx = make_ctx(_mem_source_doc(mem_url), engine)
    web = ctx.settings.shared("landing/web")
    shared.put(web / "leads_2026-11-25.csv", b"id,Email,First\n1,a@example.com,Ann\n2,b@example.com,Bo\n")
    shared.put(web / "broken_2026-11-25.csv", b"")             # empty: fails, filed with a note
    shared.put(web / ".hidden.csv", b"Email\nx@example.com\n")  # ignored, like locally
    res = {r["uri"]: r for r in ingest.land(ctx, ["web"])}
    assert res["leads_2026-11-25.csv"]["status"] == "landed"
    assert res["leads_2026-11-25.csv"]["rows_landed"] == 2
    assert res["broken_2026-11-25.csv"]["status"] == "failed"
    assert ".hidden.csv" not in res
    assert [e.name for e in shared.entries(web)] == [".hidden.csv"]
    assert [e.name for e in shared.entries(web / "archive")] == ["leads_2026-11-25.csv"]
    assert sorted(e.name for e in shared.entries(web / "failed")) == [
        "broken_2026-11-25.csv", "broken_2026-11-25.csv.why.txt"]
    assert b"empty" in shared.get(web / "failed" / "broken_2026-11-25.csv.why.txt")
    # the same content delivered again lands nothing and is archived under a free name
    shared.put(web / "leads_2026-11-25.csv", b"id,Email,First\n1,a@example.com,Ann\n2,b@example.com,Bo\n")
    again = ingest.land(ctx, ["web"])
    assert [r["status"] for r in again] == ["duplicate"]
    assert [e.name for e in shared.entries(web / "archive")] == [
        "leads_2026-11-25.1.csv", "leads_2026-11-25.csv"]


def test_object_replaced_while_copied_waits(make_ctx, engine, mem_url: str, monkeypatch) -> None:
    from leadflow import ingest
    ctx = make_ctx(_mem_source_doc(mem_url), engine)
    web = ctx.settings.shared("landing/web")
    shared.put(web / "leads.csv", b"id,Email,First\n1,a@example.com,Ann\n")
    real = shared.fetch

    def racing(p, local, seen):           # a new upload lands between listing and copying
        shared.put(p, b"id,Email,First\n1,a@example.com,Ann\n3,c@example.com,Cy\n")
        return real(p, local, seen)

    monkeypatch.setattr(shared, "fetch", racing)
    res = ingest.land(ctx, ["web"])
    assert [r["status"] for r in res] == ["waiting"]
    assert [e.name for e in shared.entries(web)] == ["leads.csv"]      # left for the next run


def test_erasure_reaches_files_on_object_storage(tmp_path: Path, mem_url: str) -> None:
    """An erased person leaves the lead lists and report pages on the shared storage too."""
    from types import SimpleNamespace

    from leadflow.privacy import files as pfiles
    s = _settings(tmp_path, {"storage": {"url": mem_url}})
    day = s.lists_dir / "2026-11-26"
    shared.publish_dir(day, {"ava.csv": b"Person id,Company\n7,Acme\n8,Beta\n"})
    shared.put(s.reports_dir / "runs" / "r.html", b"<p>call ann.lee@example.com today</p>")
    sub = SimpleNamespace(person_ids=[7], handoff_ids=[], clear={"emails": {"ann.lee@example.com"}})
    changed = pfiles.scrub(s, sub)
    assert len(changed) == 2
    assert shared.get(day / "ava.csv") == b"Person id,Company\n8,Beta\n"
    assert b"ann.lee" not in shared.get(s.reports_dir / "runs" / "r.html")
