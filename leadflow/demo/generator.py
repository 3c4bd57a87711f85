"""Write the demo landing folders (leads, touches, spend) and the hidden truth beside them."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadflow.demo import people as PE
from leadflow.demo import pools as P
from leadflow.demo import records as R
from leadflow.demo import spend as SP
from leadflow.demo import touches as T

TOUCH_COLUMNS = ["event_id", "lead_id", "email", "event_type", "timestamp", "campaign", "channel", "url"]
SPEND_COLUMNS = ["Date", "Campaign ID", "Campaign Name", "Channel", "Cost", "Currency"]


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """CSV via pyarrow (fast); missing values as empty fields, quotes only where needed."""
    tbl = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(tbl, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _write_jsonl(df: pd.DataFrame, path: Path) -> None:
    """JSON lines built column-wise in Arrow (C loops), written straight from its data buffer.

    Values are generated (ids, e-mails built from ASCII slugs, fixed vocabularies, URLs), so none
    holds a quote, backslash or control character and plain quoting is valid JSON.
    """
    if df.empty:
        path.write_bytes(b"")
        return
    pieces: list[object] = []
    for i, c in enumerate(df.columns):
        arr = pa.array(df[c].to_numpy(object), type=pa.string(), from_pandas=True)
        quoted = pc.fill_null(pc.binary_join_element_wise('"', arr, '"', ""), "null")
        pieces += [("{" if i == 0 else ",") + f'"{c}":', quoted]
    pieces.append("}\n")
    lines = pc.binary_join_element_wise(*pieces, "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset:lines.offset + len(lines) + 1]
    data = memoryview(lines.buffers()[2])[offsets[0]:offsets[-1]]
    path.write_bytes(data)


def _atomic(path: Path, writer: Any, df: pd.DataFrame) -> None:
    """Write to a temporary name then rename, so an ingest never sees half a file."""
    tmp = path.with_name("." + path.name + ".tmp")
    writer(df, tmp)
    tmp.replace(path)


def generate(out_dir: Path | str, leads: int, seed: int = 42, days: int = 7,
             end_date: date = date(2026, 11, 26)) -> dict[str, Any]:
    """Generate ``leads`` inbound records over ``days`` days ending ``end_date``; same seed, same bytes.

    Layout: ``<out>/landing/{web_leads,events,spend}/..._<date>.*`` for the pipeline and
    ``<out>/truth/`` (people, records, touches, manifest) that the pipeline never reads.
    """
    if leads < 1 or days < 1:
        raise ValueError("leads and days must be at least 1")
    out = Path(out_dir)
    phases: dict[str, float] = {}
    clock = [time.process_time()]

    def lap(name: str) -> None:
        now = time.process_time()
        phases[name] = round(now - clock[0], 2)
        clock[0] = now

    rng = np.random.default_rng(seed)
    pools = P.build_pools(seed)
    n_people, _, _ = R.split_counts(leads)
    n_comp = int(np.clip(n_people // 12, 40, 250_000))
    companies = PE.make_companies(rng, n_comp)
    people = PE.make_people(rng, n_people, companies, pools)
    lap("people")
    campaigns = SP.make_campaigns(rng)
    people["campaign_id"] = SP.pick_campaign(rng, campaigns, people["channel"].to_numpy(object))
    records = R.build(rng, people, campaigns, leads, days, end_date)
    lap("records")

    start = end_date - timedelta(days=days - 1)
    window_end = np.datetime64(datetime.combine(end_date, datetime.max.time()).replace(microsecond=0), "s")
    touches = T.build(rng, people, records, campaigns, window_end)
    tc = T.counts(touches, n_people)
    people["propensity"] = PE.propensity(people, tc)
    people["converted"] = rng.random(n_people) < people["propensity"].to_numpy()
    for t in T.TYPES:
        people[f"n_{t}"] = tc[t].to_numpy()
    spend = SP.daily_spend(rng, campaigns, records, start, days)
    lap("touches_spend")

    dirs = {k: out / "landing" / k for k in ("web_leads", "events", "spend")}
    truth_dir = out / "truth"
    for d in [*dirs.values(), truth_dir]:
        d.mkdir(parents=True, exist_ok=True)

    files: dict[str, list[str]] = {"web_leads": [], "events": [], "spend": []}
    rec_file = np.empty(len(records), dtype=object)
    rec_row = np.zeros(len(records), dtype=np.int64)
    tday = ((touches["when"].to_numpy() - np.datetime64(start, "s")) // np.timedelta64(1, "D"))
    rb = np.searchsorted(records["day"].to_numpy(), np.arange(days + 1))   # rows are time-sorted
    tb = np.searchsorted(tday, np.arange(days + 1))
    rec_cols, tch = records[["Lead ID", *R.COLUMNS[1:]]], touches[TOUCH_COLUMNS]
    for i in range(days):
        ds = (start + timedelta(days=i)).isoformat()
        f = dirs["web_leads"] / f"leads_{ds}.csv"
        _atomic(f, _write_csv, rec_cols.iloc[rb[i]:rb[i + 1]])
        rec_file[rb[i]:rb[i + 1]] = f.name
        rec_row[rb[i]:rb[i + 1]] = np.arange(1, rb[i + 1] - rb[i] + 1)
        files["web_leads"].append(str(f.relative_to(out)))
        f = dirs["events"] / f"touches_{ds}.jsonl"
        _atomic(f, _write_jsonl, tch.iloc[tb[i]:tb[i + 1]])
        files["events"].append(str(f.relative_to(out)))
        f = dirs["spend"] / f"spend_{ds}.csv"
        _atomic(f, _write_csv, spend.loc[spend["day"] == i, SPEND_COLUMNS])
        files["spend"].append(str(f.relative_to(out)))

    lap("write_landing")
    # ---- truth (never read by the pipeline)
    truth_records = pd.DataFrame({
        "file": rec_file, "row_number": rec_row, "lead_id": records["Lead ID"].to_numpy(object),
        "truth_person_id": records["truth_person_id"].to_numpy(), "is_duplicate": records["is_duplicate"].to_numpy(),
        "variants": records["variants"].to_numpy(object), "email": records["Email Address"].to_numpy(object),
        "created_at": records["created_at"].to_numpy(), "campaign_id": records["campaign_id"].to_numpy(object),
        "channel": records["channel"].to_numpy(object),
    })
    truth_people = people.drop(columns=["country_idx", "company_id", "calling_code", "first_slug",
                                        "last_slug", "email_local", "email_domain", "email_key", "phone_prefix",
                                        "phone_sub"])
    for name, frame in (("people", truth_people), ("records", truth_records),
                        ("touches", touches[["event_id", "truth_person_id", "truth_type", "when"]])):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), truth_dir / f"{name}.parquet",
                       use_dictionary=False, compression="zstd")
    campaigns.drop(columns=["weight"]).to_csv(truth_dir / "campaigns.csv", index=False)

    counts = {
        "records": int(len(records)), "people": int(n_people), "companies": int(n_comp),
        "duplicate_records": int(records["is_duplicate"].sum()),
        "resends": int((records["variants"] == "resend").sum()),
        "touches": int(len(touches)), "campaigns": int(len(campaigns)), "spend_rows": int(len(spend)),
        "converted": int(people["converted"].sum()),
        "hand_raisers": int(((people["n_demo_request"] + people["n_contact_sales"]) > 0).sum()),
    }
    manifest = {"seed": seed, "leads": leads, "days": days, "start_date": start.isoformat(),
                "end_date": end_date.isoformat(), "counts": counts, "files": files,
                "truth": ["truth/people.parquet", "truth/records.parquet", "truth/touches.parquet",
                          "truth/campaigns.csv"]}
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    lap("write_truth")
    return {**counts, "cpu_seconds_by_phase": phases, "out_dir": str(out), "landing_dir": str(out / "landing"),
            "truth_dir": str(truth_dir),
            "files": files, "start_date": start.isoformat(), "end_date": end_date.isoformat()}
