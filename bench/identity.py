"""Benchmark: identity resolution quality and speed on the demo generator's ground truth.

    python -m bench.identity [--records 100000] [--incoming 1000000] [--existing 1000000]
                             [--skip-quality] [--skip-scale] [--inputs DIR] [--with-db [N]]

1. Quality: ``leadflow.demo.generate`` writes ``--records`` inbound records (typos, nicknames,
   swapped names, e-mail aliases, other addresses, job changes, phone formats, ...) with the true
   person behind each row; they are read through the demo ``web_leads`` source definition
   (``leadflow.ingest.read_mapped``), standardised and resolved. Prints precision and recall on
   duplicate pairs (targets: >= 0.99 / >= 0.95) and the seconds of each stage.
2. Scale (pure functions; the warehouse write is not included): records rendered by the demo
   generator's own modules; the first record of ``--existing`` true people becomes the existing
   people (golden records, with their addresses as known e-mails), and the next ``--incoming``
   records are resolved against them. A fresh child process loads both sets (parquet) and
   times standardising the incoming records and resolving them (including computing the
   existing people's matching keys), with its peak memory (target: <= 2 min and <= 4 GiB), so
   the generator's own memory is not counted. Precision/recall of that run are printed too.
   Timed as one block (clean + resolve) and per part, each with wall and CPU seconds and the
   load average. ``--inputs DIR`` keeps the generated parquet inputs there and reuses them.
3. ``--with-db [N]`` (default N = 100000): ``load_leads`` end to end on a fresh SQLite warehouse,
   80 % of N demo records into an empty warehouse, then 20 % against the people it made; the
   write cost shows next to the pure-function figures. Precision/recall from person_records.
Writes bench/results/identity.json.
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench._util import measure, print_table, write_result
from leadflow.clean import standardise_leads
from leadflow.identity import evidence
from leadflow.identity.resolve import resolve
from leadflow.identity.synth import pair_metrics

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def timed(label: str, out: dict[str, Any]) -> Iterator[None]:
    """bench._util.measure plus CPU seconds (all threads) and the load average at the end:
    on a shared machine wall time alone says little."""
    c0 = time.process_time()
    with measure(label, out):
        yield
    out[label]["cpu_s"] = round(time.process_time() - c0, 2)
    out[label]["loadavg"] = [round(x, 2) for x in os.getloadavg()]


def _source():
    from leadflow import config as cfg
    return cfg.load(ROOT / "leadflow.yaml").source("web_leads")


def quality(n: int, seed: int, out: dict[str, Any]) -> dict[str, Any]:
    from leadflow.demo import generate
    from leadflow.demo.truth import load_truth
    from leadflow.ingest import read_mapped
    with tempfile.TemporaryDirectory() as tmp:
        with measure("demo_generate", out):
            generate(tmp, leads=n, seed=seed, days=7, end_date=date(2026, 11, 26))
        src = _source()
        with measure("read_mapped", out):
            frames = [read_mapped(src, f).assign(file=f.name)
                      for f in sorted((Path(tmp) / "landing" / "web_leads").glob("*.csv"))]
            df = pd.concat(frames, ignore_index=True)
        truth = load_truth(tmp).records[["file", "row_number", "truth_person_id"]]
    df = df.merge(truth, on=["file", "row_number"], how="left", validate="one_to_one")
    with timed("standardise", out):
        st = evidence.add_junk_flags(standardise_leads(df), df)
    with timed("resolve", out):
        assign, reviews = resolve(st)
    pred = np.where(assign["person_id"].isna(), assign["cluster"], -1)
    truth = df["truth_person_id"].to_numpy()
    m = pair_metrics(truth, pred)
    m.update(records=len(df), people_created=int(pd.Series(pred).nunique()), review_pairs=len(reviews))
    m.update(review_stats(reviews, truth, len(df)))
    return m


def review_stats(reviews: pd.DataFrame, truth: np.ndarray, n_records: int) -> dict[str, Any]:
    """Review-queue size (pairs, and as a share of incoming records) and precision: the share of
    queued pairs that are truly one person (nodes index ``truth``)."""
    a, b = reviews["a"].to_numpy(dtype=np.int64), reviews["b"].to_numpy(dtype=np.int64)
    dup = truth[a] == truth[b] if len(a) else np.zeros(0, dtype=bool)
    return {"review_share_of_records": round(len(a) / max(n_records, 1), 5),
            "review_precision": round(float(dup.mean()), 4) if len(a) else None}


def _demo_records(n_leads: int, seed: int) -> pd.DataFrame:
    """Rendered demo records (no files), canonical column names, sorted by creation time."""
    from leadflow.demo import people as PE
    from leadflow.demo import pools as P
    from leadflow.demo import records as R
    from leadflow.demo import spend as SP
    rng = np.random.default_rng(seed)
    pools = P.build_pools(seed)
    n_people, _, _ = R.split_counts(n_leads)
    companies = PE.make_companies(rng, int(np.clip(n_people // 12, 40, 250_000)))
    people = PE.make_people(rng, n_people, companies, pools)
    campaigns = SP.make_campaigns(rng)
    people["campaign_id"] = SP.pick_campaign(rng, campaigns, people["channel"].to_numpy(object))
    rec = R.build(rng, people, campaigns, n_leads, 30, date(2026, 11, 26))
    mapping = _source().mapping
    keep = [c for c in mapping if c in rec.columns]
    df = rec[keep + ["truth_person_id"]].rename(columns=mapping)
    return df.replace({"Select": None, "N/A": None}).reset_index(drop=True)


def _write_inputs(n_in: int, n_ex: int, seed: int, tmp: Path, out: dict[str, Any]) -> None:
    """Render the existing and incoming records into tmp/existing.parquet, tmp/incoming.parquet."""
    with measure("scale_generate", out):
        recs = _demo_records(int((n_ex + n_in) * 1.25), seed)
    first = ~recs["truth_person_id"].duplicated()
    ex_rows = recs.index[first][:n_ex]
    cut = ex_rows[-1] + 1
    recs.loc[ex_rows].astype({"truth_person_id": "int64"}).astype(str).replace({"None": None}) \
        .assign(truth_person_id=recs.loc[ex_rows, "truth_person_id"].to_numpy()) \
        .to_parquet(tmp / "existing.parquet")
    recs.loc[cut:].head(n_in).astype(str).replace({"None": None}) \
        .assign(truth_person_id=recs.loc[cut:].head(n_in)["truth_person_id"].to_numpy()) \
        .to_parquet(tmp / "incoming.parquet")
    (tmp / "inputs.json").write_text(f'{{"incoming": {n_in}, "existing": {n_ex}, "seed": {seed}}}')


def scale(n_in: int, n_ex: int, seed: int, out: dict[str, Any], inputs: str | None = None) -> dict[str, Any]:
    """Generate the inputs here (or reuse ``inputs`` made with the same sizes and seed), resolve
    them in a fresh child process (honest peak memory)."""
    import json
    import subprocess
    import sys
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(inputs) if inputs else Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        want = {"incoming": n_in, "existing": n_ex, "seed": seed}
        meta = tmp / "inputs.json"
        if not (meta.exists() and json.loads(meta.read_text()) == want):
            _write_inputs(n_in, n_ex, seed, tmp, out)
        gc.collect()
        res = subprocess.run([sys.executable, "-m", "bench.identity", "--scale-from", str(tmp)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
    child = json.loads(res.stdout.strip().splitlines()[-1])
    out.update(child.pop("stages"))
    return child


def scale_child(tmp: str) -> dict[str, Any]:
    """Existing people's golden records and incoming records from parquet; clean + resolve; measure.

    The existing people are what the load step reads from the warehouse (golden records and
    known addresses); the incoming records are raw landed rows. Only the truth ids are kept
    aside for scoring, the raw frames are dropped once standardised (the load step does the same).
    """
    import resource
    stages: dict[str, Any] = {}
    existing_rec = pd.read_parquet(Path(tmp) / "existing.parquet")
    truth_ex = existing_rec.pop("truth_person_id").to_numpy()
    ex = standardise_leads(existing_rec)
    raw_email = existing_rec["email"].astype("str").str.strip()
    del existing_rec
    # as the load reads them (store.read_rare_flags): people whose record typed an unreadable address
    people = ex[["email_norm", "first_name", "last_name", "phone_e164", "company_norm",
                 "is_free_mail"]].assign(person_id=np.arange(1, len(ex) + 1),
                                         unreadable_address=(raw_email.notna() & (raw_email != "")
                                                             & ex["email_norm"].isna()).to_numpy(dtype=bool))
    known = people[["email_norm", "person_id"]].dropna()
    del ex
    incoming = pd.read_parquet(Path(tmp) / "incoming.parquet")
    truth_in = incoming.pop("truth_person_id").to_numpy()
    n_in = len(incoming)
    gc.collect()
    with timed("scale_clean_and_resolve", stages):
        with timed("scale_standardise_incoming", stages):
            st = evidence.add_junk_flags(standardise_leads(incoming), incoming)
            del incoming
        with timed("scale_resolve", stages):
            assign, reviews = resolve(st, people, known)
    pid = assign["person_id"].to_numpy(dtype="float64", na_value=np.nan)
    pred_in = np.where(np.isnan(pid), assign["cluster"].to_numpy() + len(people) + 1, pid)
    pred = np.concatenate([people["person_id"].to_numpy(dtype="float64"), pred_in])
    m = pair_metrics(np.concatenate([truth_ex, truth_in]), pred)
    # review nodes: incoming records 0..n_in-1, existing people n_in.. (resolve's numbering)
    m.update(review_stats(reviews, np.concatenate([truth_in, truth_ex]), n_in))
    m.update(existing_people=len(people), incoming_records=n_in,
             matched_existing=int((~np.isnan(pid)).sum()), review_pairs=len(reviews), stages=stages,
             process_peak_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    return m


def _land(eng: Any, df: pd.DataFrame, source: str) -> int:
    """One ingest batch of raw rows in state 'passed' (as ingest + quality leave them)."""
    import uuid
    from datetime import datetime

    from leadflow.canonical import FIELDS
    from leadflow.store import db
    from leadflow.store.schema import ingest_batches, stg_inbound_leads
    at = datetime(2026, 11, 26, 8, 0)
    with eng.begin() as c:
        bid = c.execute(ingest_batches.insert().values(
            source=source, kind="inbound_leads", uri=f"bench-{uuid.uuid4().hex[:8]}.csv",
            content_hash=uuid.uuid4().hex, rows_in=len(df), rows_landed=len(df), status="landed",
            loaded_at=at)).inserted_primary_key[0]
        rows = df[[c_ for c_ in FIELDS["inbound_leads"] if c_ in df.columns]].copy()
        for col, typ in FIELDS["inbound_leads"].items():
            if col in rows and typ == "datetime":
                rows[col] = pd.to_datetime(rows[col], errors="coerce")
            elif col in rows and typ in ("int", "float"):
                rows[col] = pd.to_numeric(rows[col], errors="coerce")
            elif col in rows and typ == "bool":
                rows[col] = rows[col].astype("str").str.lower().isin(["true", "yes", "1", "y"])
        rows = rows.assign(source=source, batch_id=bid, row_number=np.arange(1, len(rows) + 1),
                           loaded_at=at, state="passed")
        db.bulk_insert(c, stg_inbound_leads, rows)
    return int(bid)


def with_db(n: int, seed: int, out: dict[str, Any]) -> dict[str, Any]:
    """load_leads end to end on a fresh SQLite warehouse: the first 80 % of ``n`` demo records
    as one batch into an empty warehouse, then the remaining 20 % against the people it made.
    Times include reading staging, cleaning, resolving and every write (people, person_records,
    accounts, reviews, lifecycle events, staging states); landing is not timed."""
    from leadflow import config as cfg
    from leadflow.context import RunContext, make_run_id
    from leadflow.identity import load_leads
    from leadflow.store import db
    from leadflow.store.schema import person_records
    recs = _demo_records(n, seed).head(n)
    cut = int(len(recs) * 0.8)
    res: dict[str, Any] = {"records": len(recs)}
    with tempfile.TemporaryDirectory() as tmp:
        eng = db.engine(f"sqlite:///{tmp}/warehouse.db")
        db.init(eng)
        ctx = RunContext(cfg.load(ROOT / "leadflow.yaml"), eng, date(2026, 11, 26),
                         make_run_id("bench", date(2026, 11, 26)), "bench")
        batches = []
        for label, part in (("db_load_first", recs.iloc[:cut]), ("db_load_second", recs.iloc[cut:])):
            bid = _land(eng, part, "web_leads")
            batches.append((bid, part["truth_person_id"].to_numpy()))
            with timed(label, out):
                res[label] = load_leads(ctx)
            res[f"{label}_rows_per_s"] = round(len(part) / out[label]["seconds"])
        got = db.read_df(eng, sa.select(person_records.c.batch_id, person_records.c.row_number,
                                        person_records.c.person_id))
        truth = pd.concat([pd.DataFrame({"batch_id": b, "row_number": np.arange(1, len(t) + 1), "truth": t})
                           for b, t in batches])
        j = truth.merge(got, on=["batch_id", "row_number"], how="left", validate="one_to_one")
        res.update(pair_metrics(j["truth"].to_numpy(), j["person_id"].to_numpy()))
        res["warehouse_mib"] = round((Path(tmp) / "warehouse.db").stat().st_size / 2**20, 1)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--incoming", type=int, default=1_000_000)
    ap.add_argument("--existing", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--with-db", type=int, nargs="?", const=100_000, default=0, metavar="N",
                    help="also time load_leads for N (default 100000) demo records into SQLite")
    ap.add_argument("--inputs", help="keep/reuse the generated scale inputs (parquet) in this directory")
    ap.add_argument("--scale-from", help=argparse.SUPPRESS)      # internal: the child process
    a = ap.parse_args(argv)
    if a.scale_from:
        import json
        print(json.dumps(scale_child(a.scale_from), default=str))
        return 0
    stages: dict[str, Any] = {}
    result: dict[str, Any] = {"args": vars(a)}
    if not a.skip_quality:
        q = quality(a.records, a.seed, stages)
        result["quality"] = q
        print(f"quality on {q['records']:,} demo records: precision {q['precision']:.4f} "
              f"recall {q['recall']:.4f} (true pairs {q['true_pairs']:,}, predicted {q['predicted_pairs']:,}); "
              f"review queue {q['review_pairs']:,} pairs = {q['review_share_of_records']:.2%} of records, "
              f"precision {q['review_precision']}  targets >= 0.995 / >= 0.98, queue <= 1%")
    if not a.skip_scale:
        s = scale(a.incoming, a.existing, a.seed, stages, a.inputs)
        result["scale"] = s
        cr, sd, rs = (stages[k] for k in ("scale_clean_and_resolve", "scale_standardise_incoming", "scale_resolve"))
        print(f"scale: {s['incoming_records']:,} incoming vs {s['existing_people']:,} existing people: "
              f"standardise {sd['seconds']:.1f} s + resolve {rs['seconds']:.1f} s = {cr['seconds']:.1f} s wall "
              f"({cr['cpu_s']:.1f} CPU s, load average {cr['loadavg']}); peak {cr['peak_mib'] / 1024:.2f} GiB "
              f"(whole process {s['process_peak_mib'] / 1024:.2f} GiB); matched to existing "
              f"{s['matched_existing']:,}; precision {s['precision']:.4f} recall {s['recall']:.4f}; "
              f"review queue {s['review_pairs']:,} pairs = {s['review_share_of_records']:.2%} of incoming records, "
              f"precision {s['review_precision']}  targets <= 120 s, <= 4 GiB, >= 0.995 / >= 0.98, queue <= 1%")
    if a.with_db:
        d = with_db(a.with_db, a.seed, stages)
        result["with_db"] = d
        for k in ("db_load_first", "db_load_second"):
            st_ = stages[k]
            print(f"with db (SQLite): {k}: {d[k]['rows']:,} rows in {st_['seconds']:.1f} s "
                  f"({st_['cpu_s']:.1f} CPU s, {d[k + '_rows_per_s']:,} rows/s, peak {st_['peak_mib']:.0f} MiB); "
                  f"created {d[k]['created']:,} merged {d[k]['merged']:,} review {d[k]['review']:,}")
        print(f"with db: precision {d['precision']:.4f} recall {d['recall']:.4f} on {d['records']:,} records; "
              f"warehouse file {d['warehouse_mib']} MiB")
    result["stages"] = stages
    print_table(stages, "identity benchmark (seconds, process peak RSS)")
    print(f"results: {write_result('identity', result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
