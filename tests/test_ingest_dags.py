"""dags/source_imports.py: one import DAG per enabled source, on its own schedule, with an Asset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

_INSPECT = r"""
import json, sys, time
t0 = time.perf_counter()
import runpy
ns = runpy.run_path(sys.argv[1], run_name="source_imports")
secs = time.perf_counter() - t0
out = {"seconds": secs, "pandas": "pandas" in sys.modules, "dags": {}}
for k, v in ns.items():
    if k.startswith("import_") and hasattr(v, "dag_id"):
        tt = v.timetable
        out["dags"][v.dag_id] = {
            "tags": sorted(v.tags), "summary": getattr(tt, "summary", str(tt)),
            "tasks": {t.task_id: {"retries": t.retries,
                                  "outlets": sorted(a.uri for a in t.outlets)} for t in v.tasks}}
print("JSON" + json.dumps(out))
"""


def test_one_dag_per_enabled_source(tmp_path):
    conn = {"type": "file", "path": "landing"}
    doc = {"sources": [
        {"name": "web_forms", "owner": "ops", "kind": "inbound_leads", "connector": conn, "schedule": "15 6 * * *"},
        {"name": "spend", "owner": "ops", "kind": "campaign_spend", "connector": conn},
        {"name": "old", "owner": "ops", "kind": "touches", "connector": conn, "enabled": False},
    ]}
    cfgp = tmp_path / "leadflow.yaml"
    cfgp.write_text(yaml.safe_dump(doc), encoding="utf-8")
    env = {**os.environ, "LEADFLOW_CONFIG": str(cfgp), "AIRFLOW_HOME": str(tmp_path / "af"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", _INSPECT, str(ROOT / "dags" / "source_imports.py")],
                       env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    line = next((x for x in r.stdout.splitlines() if x.startswith("JSON")), None)
    assert r.returncode == 0 and line, r.stderr[-3000:]
    out = json.loads(line[4:])
    assert set(out["dags"]) == {"import_web_forms", "import_spend"}
    assert out["pandas"] is False                      # parse stays cheap: YAML only
    web = out["dags"]["import_web_forms"]
    assert "15 6 * * *" in web["summary"]
    assert "@daily" in out["dags"]["import_spend"]["summary"] or "0 0 * * *" in out["dags"]["import_spend"]["summary"]
    assert {"leadflow", "import", "inbound_leads"} <= set(web["tags"])
    assert web["tasks"]["land"]["retries"] >= 1
    assert web["tasks"]["land"]["outlets"] == ["leadflow://sources/web_forms"]
