"""Engagement events (touches) per person, driven by a hidden intent.

Every inbound record yields a ``form_fill`` at its creation time; on top of that each person
gets a Poisson number of further touches whose types lean towards hand-raising (demo request,
contact sales, pricing page) the higher their intent. Touches after the demo window are not
emitted (they have not happened yet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.demo import pools as P
from leadflow.demo.mess import S

# touch type -> (base logit, intent sensitivity, url path or None)
TYPES: dict[str, tuple[float, float, str | None]] = {
    "demo_request": (-2.9, 1.1, "/demo"),
    "contact_sales": (-3.5, 1.0, "/contact"),
    "pricing_page": (-1.9, 0.7, "/pricing"),
    "webinar": (-2.1, 0.3, None),
    "download": (-1.4, 0.2, "/resources/whitepaper"),
    "email_click": (-0.8, 0.3, None),
    "email_open": (0.2, 0.0, None),
    "page_view": (0.5, 0.0, ""),
    "event_visit": (-3.0, 0.3, None),
    "form_fill": (-2.6, 0.2, "/ebook/funnel-metrics"),
    "unsubscribe": (-3.2, -0.8, None),
}
# touch type -> channel its campaign comes from (None: the person's own campaign)
TYPE_CHANNEL = {"webinar": "webinar", "event_visit": "trade_show", "email_click": "email",
                "email_open": "email", "unsubscribe": "email"}
WEB = {"demo_request", "contact_sales", "pricing_page", "download", "page_view", "form_fill"}


def build(rng: np.random.Generator, people: pd.DataFrame, records: pd.DataFrame,
          campaigns: pd.DataFrame, window_end: np.datetime64) -> pd.DataFrame:
    """All touches (truth_person_id kept) within the window, sorted by time."""
    n_p = len(people)
    intent = people["intent"].to_numpy()
    first_rec = records[records["variants"] != "resend"].drop_duplicates("truth_person_id")
    first_rec = first_rec.set_index("truth_person_id").reindex(people["truth_person_id"])
    t0 = first_rec["created_at"].to_numpy()
    lead_id = first_rec["Lead ID"].to_numpy(object)

    lam = np.exp(0.15 + 0.55 * intent).clip(0, 25)
    k = rng.poisson(lam)
    pi = np.repeat(np.arange(n_p), k)
    names = list(TYPES)
    logits = np.array([TYPES[t][0] for t in names])[None, :] + \
        np.array([TYPES[t][1] for t in names])[None, :] * intent[pi][:, None]
    prob = np.exp(logits)
    prob /= prob.sum(axis=1, keepdims=True)
    cum = prob.cumsum(axis=1)
    u = rng.random(len(pi))
    ti = (cum < u[:, None]).sum(axis=1).clip(0, len(names) - 1)
    ttype = np.array(names, dtype=object)[ti]
    off = (rng.exponential(30.0, len(pi)) * 3600).astype("timedelta64[s]")
    when = t0[pi] + off

    # the form fills behind every record (re-sends are the same submission, not a new one)
    recs = records[records["variants"] != "resend"]
    f_pi = recs["truth_person_id"].to_numpy() - 1
    ev = pd.DataFrame({
        "pi": np.concatenate([pi, f_pi]),
        "event_type": np.concatenate([ttype, np.full(len(f_pi), "form_fill", dtype=object)]),
        "when": np.concatenate([when, recs["created_at"].to_numpy()]),
        "lead_id": np.concatenate([lead_id[pi], recs["Lead ID"].to_numpy(object)]),
        "rec_campaign": np.concatenate([np.full(len(pi), None, dtype=object), recs["campaign_id"].to_numpy(object)]),
    })
    ev = ev[ev["when"] <= window_end].reset_index(drop=True)
    n = len(ev)
    pp = people.iloc[ev["pi"].to_numpy()]
    et = ev["event_type"].to_numpy(object)

    # campaign: e-mail/webinar/event touches come from campaigns of that channel
    ch = pd.Series(et).map(TYPE_CHANNEL).to_numpy(object)
    own = pd.isna(ch)
    ch[own] = pp["channel"].to_numpy(object)[own]
    from leadflow.demo.spend import pick_campaign
    camp = pick_campaign(rng, campaigns, ch)
    rc = ev["rec_campaign"].to_numpy(object)
    camp = np.where(pd.notna(rc), rc, camp)
    camp[(ch == "organic") & (rng.random(n) < 0.5)] = None

    web = np.isin(et, list(WEB))
    # web events carry the lead id (cookie), sometimes the e-mail; mail/event systems only the e-mail
    lid = np.where(web & (rng.random(n) < 0.85), ev["lead_id"].to_numpy(object), None)
    em = pp["email"].to_numpy(object).copy()
    em = np.where(web & pd.notna(lid) & (rng.random(n) < 0.5), None, em)
    up = rng.random(n) < 0.05
    em[up & pd.notna(em)] = S(em[up & pd.notna(em)]).str.upper().to_numpy(object)
    paths = pd.Series(et).map({t: v[2] for t, v in TYPES.items()}).to_numpy(object)
    pv = et == "page_view"
    paths[pv] = np.array(P.LANDING_PAGES + ["/", "/blog", "/customers", "/integrations"],
                         dtype=object)[rng.integers(0, len(P.LANDING_PAGES) + 4, pv.sum())]
    url = np.where(pd.notna(paths), (P.VENDOR_SITE + S(paths)).to_numpy(object), None)
    label = pd.Series(ch).map({k_: v["label"] for k_, v in P.CHANNELS.items()}).to_numpy(object)

    # a little junk so quality checks have work: unknown types, missing timestamps
    r = rng.random(n)
    et = et.copy()
    et[r < 0.001] = "hover"
    ts = pd.Series(ev["when"].to_numpy()).dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(object)
    ts[(r >= 0.001) & (r < 0.0015)] = None

    out = pd.DataFrame({
        "lead_id": lid, "email": em, "event_type": et, "timestamp": ts, "campaign": camp,
        "channel": label, "url": url, "when": ev["when"].to_numpy(),
        "truth_person_id": pp["truth_person_id"].to_numpy(), "truth_type": ev["event_type"].to_numpy(object),
    })
    out = out.sort_values(["when", "truth_person_id"], kind="stable").reset_index(drop=True)
    out.insert(0, "event_id", ("EV-" + pd.Series(np.arange(len(out)) + 10_000_001).astype(str)).to_numpy(object))
    return out


def counts(touches: pd.DataFrame, n_people: int) -> pd.DataFrame:
    """Realised touches per person and type (what the true propensity sees)."""
    c = pd.crosstab(touches["truth_person_id"], touches["truth_type"])
    return c.reindex(index=np.arange(1, n_people + 1), columns=list(TYPES), fill_value=0)
