"""Engagement events (touches) per person, driven by a hidden intent.

Every inbound record yields a ``form_fill`` at its creation time; on top of that each person
gets a Poisson number of further touches whose types lean towards hand-raising (demo request,
contact sales, pricing page) the higher their intent. Touches after the demo window are not
emitted (they have not happened yet).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.demo import mess as M
from leadflow.demo import pools as P
from leadflow.demo.people import object_frame
from leadflow.demo.spend import pick_campaign

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
    keep = (records["variants"] != "resend").to_numpy()
    rec_pid = records["truth_person_id"].to_numpy(np.int64)[keep] - 1
    rec_t = records["created_at"].to_numpy()[keep]
    rec_lead = records["Lead ID"].to_numpy(object)[keep]
    rec_camp = records["campaign_id"].to_numpy(object)[keep]
    uniq, first_at = np.unique(rec_pid, return_index=True)   # records are time-sorted
    first_pos = np.zeros(n_p, dtype=np.int64)
    first_pos[uniq] = first_at
    t0 = rec_t[first_pos]
    lead_id = rec_lead[first_pos]

    lam = np.exp(0.15 + 0.55 * intent).clip(0, 25)
    k = rng.poisson(lam)
    pi = np.repeat(np.arange(n_p), k)
    names = list(TYPES)
    # type probabilities depend on intent; evaluated on a fine intent grid, then looked up
    grid = np.linspace(-5, 5, 201)
    logits = np.array([TYPES[t][0] for t in names])[None, :] + \
        np.array([TYPES[t][1] for t in names])[None, :] * grid[:, None]
    prob = np.exp(logits)
    cum = (prob / prob.sum(axis=1, keepdims=True)).cumsum(axis=1)
    cell = np.clip(np.rint((intent[pi] + 5) / 0.05), 0, 200).astype(np.int64)
    u = rng.random(len(pi))
    ti = np.empty(len(pi), dtype=np.int64)
    order_c = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order_c], np.arange(202))
    for c in np.flatnonzero(np.diff(bounds)):
        idx = order_c[bounds[c]:bounds[c + 1]]
        ti[idx] = np.searchsorted(cum[c], u[idx], side="right")
    ti = ti.clip(0, len(names) - 1)
    off = (rng.exponential(30.0, len(pi)) * 3600).astype("timedelta64[s]")
    when = t0[pi] + off

    # the form fills behind every record (re-sends are the same submission, not a new one)
    pi_all = np.concatenate([pi, rec_pid])
    ti_all = np.concatenate([ti, np.full(len(rec_pid), names.index("form_fill"))])
    when_all = np.concatenate([when, rec_t])
    lead_all = np.concatenate([lead_id[pi], rec_lead])
    rc = np.concatenate([np.full(len(pi), None, dtype=object), rec_camp])
    inside = when_all <= window_end
    pi_all, ti_all, when_all, lead_all, rc = pi_all[inside], ti_all[inside], when_all[inside], \
        lead_all[inside], rc[inside]
    n = len(pi_all)
    et = np.array(names, dtype=object)[ti_all]

    # campaign: e-mail/webinar/event touches come from campaigns of that channel
    ch = np.array([TYPE_CHANNEL.get(t) for t in names], dtype=object)[ti_all]
    own = pd.isna(ch)
    ch[own] = people["channel"].to_numpy(object)[pi_all[own]]
    camp = pick_campaign(rng, campaigns, ch)
    camp = np.where(pd.notna(rc), rc, camp)
    camp[(ch == "organic") & (rng.random(n) < 0.5)] = None

    web = np.isin(ti_all, [names.index(t) for t in WEB])
    # web events carry the lead id (cookie), sometimes the e-mail; mail/event systems only the e-mail
    lid: np.ndarray = np.where(web & (rng.random(n) < 0.85), lead_all, None)
    em = people["email"].to_numpy(object)[pi_all]
    em = np.asarray(np.where(web & pd.notna(lid) & (rng.random(n) < 0.12), None, em))   # some: the lead id only
    em = M.on(em, rng.random(n) < 0.05, lambda s: s.str.upper())
    paths = np.array([TYPES[t][2] for t in names], dtype=object)[ti_all]
    pv = et == "page_view"
    pages = P.LANDING_PAGES + ["/", "/blog", "/customers", "/integrations"]
    paths[pv] = np.array(pages, dtype=object)[rng.integers(0, len(pages), pv.sum())]
    has_url = pd.notna(paths)
    url = np.full(n, None, dtype=object)
    url[has_url] = M.cat(P.VENDOR_SITE, paths[has_url])
    chans = list(P.CHANNELS)
    label = np.array([P.CHANNELS[c]["label"] for c in chans], dtype=object)[
        pd.Categorical(ch, categories=chans).codes]

    # a little junk so quality checks have work: unknown types, missing timestamps
    r = rng.random(n)
    et_out = et.copy()
    et_out[r < 0.001] = "hover"
    ts = np.char.add(np.datetime_as_string(when_all, unit="s"), "Z").astype(object)
    ts[(r >= 0.001) & (r < 0.0015)] = None

    order = np.lexsort((pi_all, when_all))
    out = object_frame({
        "event_id": M.cat("EV-", M.istr(np.arange(n) + 10_000_001)),
        "lead_id": lid[order], "email": em[order], "event_type": et_out[order], "timestamp": ts[order],
        "campaign": camp[order], "channel": label[order], "url": url[order], "when": when_all[order],
        "truth_person_id": pi_all[order] + 1, "truth_type": et[order],
    })
    return out


def counts(touches: pd.DataFrame, n_people: int) -> pd.DataFrame:
    """Realised touches per person and type (what the true propensity sees)."""
    names = list(TYPES)
    code = pd.Categorical(touches["truth_type"], categories=names).codes.astype(np.int64)
    pid = touches["truth_person_id"].to_numpy(np.int64) - 1
    flat = np.bincount(pid * len(names) + code, minlength=n_people * len(names))
    return pd.DataFrame(flat.reshape(n_people, len(names)), columns=names,
                        index=np.arange(1, n_people + 1))
