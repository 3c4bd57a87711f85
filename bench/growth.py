"""How one day's cost grows with the warehouse: the same day of K new leads against N existing people.

    python -m bench.growth --sizes 100000,2000000 --leads 14000 [--backend sqlite,postgresql]

For each backend and size: generates N people's history with the demo generator and builds the
warehouse by a fast path (history lands through ingest, then people, person records, accounts,
lifecycle starts and touches are written straight into the warehouse with the store's bulk
writer: no identity resolution, no history day by day; the history is then scored and queued
once, as of the day before), then lands one day of K new leads
(another seed) and runs the daily steps (``leadflow.pipeline.DAILY_STEPS``), timing each.
Prints seconds per step per size and the ratio of the largest size to the smallest, and writes
bench/results/growth_<backend>.json. The build's own time is printed but is not the day's.

``--keep-builds DIR`` keeps each SQLite build (warehouse file and landing folder, the day's
files included) and reuses it on later runs, so two code versions time the same day against
the same warehouse: run the bench of each version (a git worktree) with the same folder.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench._util import demo_config, measure, scratch_warehouse, write_result

RUN_DATE = date(2026, 11, 26)


def bulk_history(ctx: Any) -> dict[str, int]:
    """Landed history rows -> people, person_records, accounts, lifecycle starts and touches,
    one person per address (or source record), written in bulk; staging rows marked loaded."""
    import pandas as pd
    import sqlalchemy as sa

    from leadflow import campaigns
    from leadflow.identity import load as L
    from leadflow.identity.accounts import match_accounts, new_accounts
    from leadflow.identity.golden import golden
    from leadflow.store import db
    from leadflow.store.schema import (
        STAGING,
        accounts,
        lifecycle_events,
        people,
        person_records,
        stg_inbound_leads,
        stg_touches,
        touches,
    )
    from leadflow.vocab.mailboxes import normalise_emails

    with ctx.engine.begin() as conn:
        raw = db.read_df(conn, sa.select(stg_inbound_leads).where(stg_inbound_leads.c.state == "landed")
                         .order_by(stg_inbound_leads.c.batch_id, stg_inbound_leads.c.row_number))
        st = L.prepare_records(raw, L.source_priority(ctx))
        st["record_hash"] = L.record_hash(raw).to_numpy()
        st["pkey"] = st["email_norm"].astype(object).where(st["email_norm"].notna(), L._source_key(st))
        gold = golden(st, "pkey")
        fresh = new_accounts(gold, L.store.read_accounts(conn))
        if len(fresh):
            db.copy_upsert(conn, accounts, fresh.assign(created_at=ctx.as_of, is_customer=False,
                                                        has_open_deal=False))
        gold = gold.join(match_accounts(gold, L.store.read_accounts(conn)))
        gold["is_competitor"] = False
        gold["source_key"] = gold.index.where(gold["email_norm"].isna(), None)
        created = pd.to_datetime(st.groupby("pkey")["record_time"].min()).reindex(gold.index)
        rows = gold.assign(lifecycle_stage="lead", cycle=1, created_at=created.to_numpy(),
                           updated_at=created.to_numpy())
        cols = ["email_norm", "source_key", *L.PEOPLE_VALUE_COLS, "first_source", "first_campaign_id",
                "first_channel", "lifecycle_stage", "cycle", "created_at", "updated_at"]
        db.copy_upsert(conn, people, rows[cols])
        ids = db.read_df(conn, sa.select(people.c.person_id, people.c.email_norm, people.c.source_key))
        ids["pkey"] = ids["email_norm"].where(ids["email_norm"].notna(), ids["source_key"])
        pid = st["pkey"].map(ids.set_index("pkey")["person_id"])
        recs = pd.DataFrame({
            "batch_id": st["batch_id"], "row_number": st["row_number"], "source": st["source"],
            "person_id": pid, "match_rule": "email", "match_score": 1.0, "created_at": ctx.as_of,
            "source_record_id": st["source_record_id"], "email_norm": st["email_norm"],
            "record_hash": st["record_hash"]})
        # an exact re-delivery (same source id and content) is one record, as the load keeps it
        again = recs["source_record_id"].notna() & recs.duplicated(["source", "source_record_id", "record_hash"])
        db.copy_upsert(conn, person_records, recs[~again.to_numpy()], conflict=["batch_id", "row_number"])
        keys = L.store.build_keys(conn)
        db.copy_upsert(conn, lifecycle_events, pd.DataFrame({
            "person_id": ids["person_id"], "cycle": 1, "from_stage": None, "to_stage": "lead",
            "occurred_at": ctx.as_of, "reason": "bench history", "run_id": "bench"}))
        del raw, st, gold, rows

        tch = db.read_df(conn, sa.select(stg_touches).where(stg_touches.c.state == "landed"))
        by_email = ids.dropna(subset=["email_norm"]).set_index("email_norm")["person_id"]
        t_pid = normalise_emails(tch["email"])["email_norm"].map(by_email)
        ok = t_pid.notna() & tch["touch_type"].notna() & tch["occurred_at"].notna()
        t = tch[ok.to_numpy()]
        db.copy_upsert(conn, touches, pd.DataFrame({
            "source": t["source"], "source_touch_id": t["source_touch_id"].astype(object).where(
                t["source_touch_id"].notna(), t["batch_id"].astype(str) + ":" + t["row_number"].astype(str)),
            "person_id": t_pid[ok].astype("int64"), "touch_type": t["touch_type"],
            "occurred_at": pd.to_datetime(t["occurred_at"], utc=True).dt.tz_localize(None),
            "campaign_id": t["campaign_id"], "channel": t["channel"], "batch_id": t["batch_id"],
            "row_number": t["row_number"]}), conflict=["source", "source_touch_id"])
        for kind, table in STAGING.items():
            to = "passed" if kind == "campaign_spend" else "loaded"
            conn.execute(sa.update(table).where(table.c.state == "landed").values(state=to))
        n = {"people": len(ids), "person_keys": keys, "touches": int(ok.sum())}
    campaigns.load_spend(ctx)
    with ctx.engine.begin() as conn:
        db.analyze(conn)
    return n


def settle_history(ctx: Any) -> None:
    """The history scored and queued as the days before would have left it: the timed day then
    hands off its own MQLs, not the whole unscored backlog of the warehouse. The bulk path
    hands the history off in one day, so every handed-off person sits in ``contact_changes``
    (the withdrawal's queue: a day's handoffs are checked by the next day's run); the history's
    own daily runs would have checked all but the last day's, so the queue is emptied here and
    the timed day checks the changes of its own day. For the same reason the scoring watch
    list is cleared of the people handed off (the next day's scoring drops them; here they are
    the whole history's MQLs, not a day's), and PostgreSQL's tables are vacuumed, as autovacuum
    would have done over the history's days, of the dead row versions the bulk path's mass
    updates left (a day's run then met every history row's old version in its indexes)."""
    import sqlalchemy as sa

    from leadflow import pipeline
    from leadflow.score import due
    from leadflow.store import db
    from leadflow.store.schema import contact_changes
    pipeline.run_steps(ctx, pipeline.steps_named(["score", "queue"]))
    with ctx.engine.begin() as conn:
        conn.execute(sa.delete(contact_changes))
        due.drop_handed_off(conn)
    with ctx.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        db.analyze(conn, vacuum=True)


def land_day(tmp: Path, leads: int) -> None:
    """Generate the timed day's ``leads`` new leads (another seed than the history) and put its
    files in the landing folder under ``tmp / "data"``, beside the history's."""
    from leadflow import demo
    demo.generate(tmp / "day", leads=leads, seed=202, days=1, end_date=RUN_DATE)
    for f in (tmp / "day" / "landing").rglob("*"):
        if f.is_file():
            target = tmp / "data" / "landing" / f.relative_to(tmp / "day" / "landing")
            target.parent.mkdir(parents=True, exist_ok=True)
            _new_ids(f)
            shutil.move(str(f), target)


def _new_ids(f: Path) -> None:
    """The generator numbers lead and event ids from the same start for every seed, so the day's
    files would re-deliver the history's ids (touches all refused as already loaded, leads joined
    to history people by their source id). A day of new leads gets ids of its own."""
    if f.suffix in (".csv", ".jsonl"):
        text = f.read_text(encoding="utf-8")
        f.write_text(text.replace('"WL-', '"WLD-').replace('"EV-', '"EVD-'), encoding="utf-8")


def _reuse(kept: Path | None, tmp: Path) -> bool:
    """Copy a kept SQLite build (``--keep-builds``: warehouse file and landing folder with the
    day's files) into ``tmp``; False when there is none yet."""
    if kept is None or not (kept / "warehouse.db").exists():
        return False
    shutil.copy(kept / "warehouse.db", tmp / "warehouse.db")
    shutil.copytree(kept / "data", tmp / "data")
    return True


def _keep(eng: Any, kept: Path | None, tmp: Path) -> None:
    """Save the build (checkpointed into its one file) and its landing folder for later runs."""
    if kept is None:
        return
    with eng.connect() as c:
        c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp / "warehouse.db", kept / "warehouse.db")
    shutil.rmtree(kept / "data", ignore_errors=True)
    shutil.copytree(tmp / "data", kept / "data")


def run_size(backend: str, size: int, leads: int, hist_days: int,
             profile: Path | None = None, keep: Path | None = None) -> dict[str, Any]:
    from leadflow import config as cfg
    from leadflow import demo, ingest, pipeline
    from leadflow.context import RunContext, make_run_id
    from leadflow.monitor import run_step
    from leadflow.store import db

    tmp = Path(tempfile.mkdtemp(prefix="leadflow-growth-"))
    kept = keep / f"sqlite_{size}_{leads}" if keep is not None and backend == "sqlite" else None
    rows: dict[str, Any] = {}
    try:
        with scratch_warehouse(backend == "postgresql", tmp) as url:
            os.environ["LEADFLOW_DATABASE_URL"] = url
            reused = _reuse(kept, tmp)
            settings = cfg.load(demo_config(tmp))
            eng = db.engine(url)
            db.init(eng)
            yesterday = RUN_DATE - timedelta(days=1)
            if reused:
                rows["build"] = {"seconds": 0.0, "counts": {"reused": str(kept)}}
            else:
                with measure("build", rows):
                    demo.generate(tmp / "data", leads=size, seed=101, days=hist_days, end_date=yesterday)
                    hctx = RunContext(settings, eng, yesterday, make_run_id("history", yesterday), "bench")
                    ingest.land(hctx)
                    built = bulk_history(hctx)
                    settle_history(hctx)
                rows["build"]["counts"] = built
                land_day(tmp, leads)
                _keep(eng, kept, tmp)
            print(f"  {backend} N={size}: build {rows['build']['seconds']:.1f} s {rows['build']['counts']}",
                  flush=True)
            ctx = RunContext(settings, eng, RUN_DATE, make_run_id("bench", RUN_DATE), "bench")
            for name, fn in pipeline.DAILY_STEPS:
                prof = cProfile.Profile() if profile else None
                with measure(name, rows):
                    if prof:
                        prof.enable()
                    counts = run_step(ctx, name, fn)
                    if prof:
                        prof.disable()
                rows[name]["counts"] = {k: v for k, v in counts.items() if isinstance(v, (int, float))}
                print(f"    {name:<10} {rows[name]['seconds']:8.2f} s  cpu {rows[name]['cpu_seconds']:8.2f} s"
                      f"  peak {rows[name]['peak_mib']:7.0f} MiB", flush=True)
                if prof:
                    assert profile is not None
                    print_profile(prof, profile / f"growth_{backend}_{size}_{name}.prof")
            day = [v for k, v in rows.items() if k != "build"]
            rows["day total"] = {"seconds": round(sum(v["seconds"] for v in day), 3),
                                 "cpu_seconds": round(sum(v["cpu_seconds"] for v in day), 3),
                                 "peak_mib": max(v["peak_mib"] for v in day)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def print_profile(prof: cProfile.Profile, path: Path) -> None:
    """Save a step's profile and print its six most expensive leadflow functions (cumulative
    seconds, the step wrappers left out), so a step that grows with the warehouse says where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(str(path))
    stats = pstats.Stats(str(path)).stats   # type: ignore[attr-defined]
    own = sorted(((v[3], f"{Path(k[0]).name}:{k[1]}({k[2]})") for k, v in stats.items()
                  if "/leadflow/" in k[0] and not k[0].endswith(("monitor.py", "pipeline.py", "locks.py"))),
                 reverse=True)
    print("      " + "; ".join(f"{name} {secs:.2f}" for secs, name in own[:6]), flush=True)


def print_growth(backend: str, leads: int, by_size: dict[int, dict[str, Any]]) -> None:
    """Wall and CPU seconds (this process; PostgreSQL's server work is in wall only) per step."""
    sizes = sorted(by_size)
    print(f"\none day of {leads} new leads on {backend}, wall / cpu seconds by existing people")
    print(f"{'step':<12}" + "".join(f"{f'N={n:,}':>20}" for n in sizes) + f"{'ratio wall':>12}{'ratio cpu':>11}")
    for step in [s for s in by_size[sizes[0]] if s != "build"]:
        secs = [by_size[n][step]["seconds"] for n in sizes]
        cpu = [by_size[n][step]["cpu_seconds"] for n in sizes]
        ratio = [x[-1] / x[0] if x[0] > 0 else float("nan") for x in (secs, cpu)]
        print(f"{step:<12}" + "".join(f"{f'{s:.2f} / {c:.2f}':>20}" for s, c in zip(secs, cpu))
              + f"{ratio[0]:>12.2f}{ratio[1]:>11.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,400000", help="existing people, comma-separated")
    ap.add_argument("--leads", type=int, default=14_000, help="new leads in the timed day")
    ap.add_argument("--backend", default="sqlite", help="sqlite, postgresql or both (comma-separated)")
    ap.add_argument("--history-days", type=int, default=30)
    ap.add_argument("--keep-builds", type=Path, default=None,
                    help="folder: keep each SQLite build there and reuse it on later runs (compare code "
                         "versions on the same warehouse: run each version's bench with the same folder)")
    ap.add_argument("--profile", type=Path, default=None,
                    help="folder: cProfile each timed step, save it there and print its costliest functions")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    for backend in a.backend.split(","):
        by_size = {n: run_size(backend, n, a.leads, a.history_days, a.profile, a.keep_builds) for n in sizes}
        print_growth(backend, a.leads, by_size)
        p = write_result(f"growth_{backend}", {"backend": backend, "leads": a.leads,
                                               "sizes": {str(k): v for k, v in by_size.items()}})
        print(f"written {p}")


if __name__ == "__main__":
    main()
