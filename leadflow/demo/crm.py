"""A simulated sales team: CRM outcomes for handed-off leads, drawn from the hidden propensity.

For each handoff the simulator decides, from the true person behind its e-mail, whether sales
accept or reject it (with a reason), how far along the selling steps it gets, whether an
opportunity is opened (with an amount) and whether it is won or lost, with dates after the
handoff. Every draw is a hash of (seed, handoff id, purpose), so a handoff's story is the same
whichever other handoffs are simulated with it and however often; ``as_of`` only reveals the
part of the story that has happened by then. A small share of junk (outcomes for unknown
handoffs, negative amounts, a win after a loss) gives the feedback quarantine real work.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from leadflow.canonical import SELLING_STEPS
from leadflow.demo.truth import Truth, email_keys, load_truth, person_of_email

COLUMNS = ["Outcome ID", "Handoff ID", "Email", "Status", "Reason", "Stage Reached", "Amount", "Date"]
STATUS_LABEL = {"accepted": "Accepted", "rejected": "Rejected", "step_reached": "Stage Update",
                "opportunity": "Opportunity Created", "won": "Closed Won", "lost": "Closed Lost"}
REASON_LABEL = {"bad_timing": "Bad timing", "no_budget": "No budget", "wrong_person": "Wrong person",
                "duplicate": "Duplicate", "not_reachable": "Not reachable", "competitor": "Competitor",
                "not_interested": "Not interested", "other": "Other"}
STEP_LABEL = {"prospecting": "Prospecting", "pre_approach": "Pre-approach", "approach": "Approach",
              "presentation": "Presentation", "meeting_objections": "Meeting objections",
              "closing": "Closing", "follow_up": "Follow-up"}
REJECT_REASONS = ["bad_timing", "no_budget", "wrong_person", "duplicate", "not_reachable"]
REJECT_P = np.array([0.30, 0.25, 0.17, 0.08, 0.20])
OPP_STEP = SELLING_STEPS.index("presentation")     # an opportunity opens at the presentation
CLOSING = SELLING_STEPS.index("closing")


def _u(seed: int, hid: np.ndarray, salt: str) -> np.ndarray:
    """Uniform [0, 1) per handoff id and purpose: stable, order-independent, vectorised."""
    key = (f"leadflow{seed:08d}")[-16:]
    keys = pd.Series(hid).astype(str) + "|" + salt
    h = pd.util.hash_array(keys.to_numpy(dtype=object), hash_key=key, categorize=False)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _exp(u: np.ndarray, mean_hours: float) -> np.ndarray:
    return pd.to_timedelta(-np.log1p(-u) * mean_hours * 3600, unit="s").to_numpy()


def simulate_outcomes(handoffs: pd.DataFrame, truth_dir: Path | str | Truth, as_of: datetime | None,
                      seed: int = 42) -> pd.DataFrame:
    """CRM outcome rows (CRM column names, see COLUMNS) for ``handoffs`` up to ``as_of``.

    ``handoffs`` needs ``handoff_id``, ``email`` and ``handed_off_at``. ``as_of=None`` returns
    every event of every story, however far in the future (useful for training-set tests).
    """
    if handoffs.empty:
        return pd.DataFrame(columns=COLUMNS)
    t = truth_dir if isinstance(truth_dir, Truth) else load_truth(truth_dir)
    h = handoffs.drop_duplicates("handoff_id").sort_values("handoff_id").reset_index(drop=True)
    hid = h["handoff_id"].astype(np.int64).to_numpy()
    n = len(h)
    lookup = person_of_email(t)
    email = h["email"].astype("str").str.strip().str.lower()
    pid = email.map(lookup).fillna(email_keys(h["email"]).map(lookup))
    ppl = t.people.set_index("truth_person_id")
    known = pid.notna().to_numpy()
    pidx = pid.fillna(-1).astype(np.int64).to_numpy()
    prop = np.where(known, ppl["propensity"].reindex(pidx).to_numpy(float), 0.03)
    conv_truth = ppl["converted"].reindex(pidx).fillna(False).to_numpy(bool)
    converted = np.where(known, conv_truth, _u(seed, hid, "conv") < prop)
    size = np.where(known, ppl["company_size"].reindex(pidx).to_numpy(float), 100.0)
    senior = ppl["seniority"].reindex(pidx).to_numpy(object)
    competitor = ppl["is_competitor"].reindex(pidx).fillna(False).to_numpy(bool)

    # ---- accept or reject (never reject a future buyer); students and competitors are wrong fits
    u_rej = _u(seed, hid, "reject")
    bad_fit = (senior == "student") | competitor
    # a person handed off twice (identity missed the match): sales reject the later one as a duplicate
    twice = known & pd.Series(pidx).duplicated().to_numpy()
    converted &= ~twice
    rejected = twice | (~converted & (bad_fit | (u_rej < 0.2 + 0.3 * (1 - np.clip(prop * 4, 0, 1)))))
    r_idx = np.searchsorted(np.cumsum(REJECT_P), _u(seed, hid, "reason") * REJECT_P.sum(), side="right")
    reason = np.array(REJECT_REASONS, dtype=object)[np.clip(r_idx, 0, len(REJECT_REASONS) - 1)]
    reason = np.where(competitor, "competitor", np.where(senior == "student", "wrong_person", reason))
    reason = np.where(twice, "duplicate", reason)

    # ---- how far the selling steps go: buyers to closing; others stall earlier (often before an opp)
    u_far = _u(seed, hid, "far")
    stall = np.minimum((u_far ** 1.6 * (CLOSING + 1)).astype(int), CLOSING)
    last_step = np.where(converted, CLOSING, np.where(rejected, np.where(u_far < 0.5, 0, 2), stall))
    opp = ~rejected & (last_step >= OPP_STEP)
    amount = np.round(8000.0 * np.maximum(size, 5) ** 0.35 * np.exp(0.4 * (_u(seed, hid, "amt") - 0.5) * 2), -2)
    won_amount = np.round(amount * (0.85 + 0.25 * _u(seed, hid, "disc")), -2)

    # ---- timeline: first action within hours, then a step every day or two
    t0 = pd.to_datetime(h["handed_off_at"]).astype("datetime64[s]").to_numpy()
    first = t0 + np.timedelta64(30, "m") + _exp(_u(seed, hid, "t_first"), 10.0)
    n_steps = np.where(rejected, 0, last_step)              # steps after prospecting
    rep = np.repeat(np.arange(n), n_steps)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_steps) - n_steps, n_steps) + 1   # 1..n_steps
    gaps = _exp(_u(seed, hid[rep] * 16 + k, "gap"), 16.0)
    step_t = first[rep] + pd.Series(gaps).groupby(rep).cumsum().to_numpy()
    end_t = np.where(n_steps > 0, pd.Series(step_t).groupby(rep).max().reindex(np.arange(n)).to_numpy(), first)
    close_t = end_t + _exp(_u(seed, hid, "t_close"), 24.0)
    opp_t = np.where(opp, pd.Series(np.where(k == OPP_STEP, step_t, np.datetime64("NaT")))
                     .groupby(rep).min().reindex(np.arange(n)).to_numpy(), np.datetime64("NaT"))

    ev = [
        pd.DataFrame({"i": np.arange(n), "seq": 0, "status": np.where(rejected, "rejected", "accepted"),
                      "reason": np.where(rejected, reason, None), "step": np.where(
                          rejected & (last_step == 2), "approach", "prospecting"),
                      "amount": np.nan, "at": first}),
        pd.DataFrame({"i": rep, "seq": k, "status": "step_reached", "reason": None,
                      "step": np.array(SELLING_STEPS, dtype=object)[k], "amount": np.nan, "at": step_t}),
        pd.DataFrame({"i": np.flatnonzero(opp), "seq": 20, "status": "opportunity", "reason": None,
                      "step": "presentation", "amount": amount[opp], "at": opp_t[opp]}),
    ]
    closed = opp                                   # only opportunities are won or lost
    ev.append(pd.DataFrame({"i": np.flatnonzero(closed), "seq": 30,
                            "status": np.where(converted[closed], "won", "lost"),
                            "reason": np.where(converted[closed], None, np.where(
                                _u(seed, hid[closed], "lost") < 0.5, "not_interested", "competitor")),
                            "step": np.where(converted[closed], "closing",
                                             np.array(SELLING_STEPS, dtype=object)[last_step[closed]]),
                            "amount": np.where(converted[closed], won_amount[closed], amount[closed]),
                            "at": close_t[closed]}))
    won = converted
    ev.append(pd.DataFrame({"i": np.flatnonzero(won), "seq": 31, "status": "step_reached", "reason": None,
                            "step": "follow_up", "amount": np.nan,
                            "at": close_t[won] + np.timedelta64(1, "D")}))
    # ---- junk: a win after a loss, a negative amount, an outcome for a handoff that does not exist
    u_j = _u(seed, hid, "junk")
    contra = closed & ~converted & (u_j < 0.01)
    ev.append(pd.DataFrame({"i": np.flatnonzero(contra), "seq": 40, "status": "won", "reason": None,
                            "step": "closing", "amount": amount[contra],
                            "at": close_t[contra] + np.timedelta64(2, "D")}))
    neg = opp & (u_j >= 0.01) & (u_j < 0.025)
    ev.append(pd.DataFrame({"i": np.flatnonzero(neg), "seq": 41, "status": "opportunity", "reason": None,
                            "step": "presentation", "amount": -amount[neg],
                            "at": opp_t[neg] + np.timedelta64(1, "h")}))
    e = pd.concat(ev, ignore_index=True)
    e = e[pd.notna(e["at"])]
    ghost = u_j >= 0.995
    g = pd.DataFrame({"i": np.flatnonzero(ghost), "seq": 50, "status": "accepted", "reason": None,
                      "step": "prospecting", "amount": np.nan, "at": first[ghost]})

    def render(df: pd.DataFrame, ghost_rows: bool) -> pd.DataFrame:
        i = df["i"].to_numpy()
        hid_i = hid[i] + (10_000_000 if ghost_rows else 0)
        em = ("unknown." + pd.Series(hid[i]).astype(str) + "@former-crm.example").to_numpy(object) \
            if ghost_rows else h["email"].to_numpy(object)[i]
        u_e = _u(seed, hid[i] * 64 + df["seq"].to_numpy(), "cols")
        hid_s = pd.Series(hid_i).astype(str).to_numpy(object)
        hid_s = np.where(~ghost_rows & (u_e < 0.06), None, hid_s)       # some rows only carry an e-mail
        em = np.where(~ghost_rows & (u_e > 0.9), None, em)               # some only the handoff id
        return pd.DataFrame({
            "Outcome ID": ("CRM-" + pd.Series(hid_i).astype(str) + "-" + df["seq"].astype(str).to_numpy())
            .to_numpy(object),
            "Handoff ID": hid_s, "Email": em,
            "Status": pd.Series(df["status"].to_numpy(object)).map(STATUS_LABEL).to_numpy(object),
            "Reason": pd.Series(df["reason"].to_numpy(object)).map(REASON_LABEL).to_numpy(object),
            "Stage Reached": pd.Series(df["step"].to_numpy(object)).map(STEP_LABEL).to_numpy(object),
            "Amount": df["amount"].to_numpy(float),
            "Date": pd.Series(df["at"].to_numpy()).astype("datetime64[s]").to_numpy(),
        })

    out = pd.concat([render(e, False), render(g, True)], ignore_index=True)
    if as_of is not None:
        out = out[out["Date"] <= np.datetime64(pd.Timestamp(as_of).tz_localize(None), "s")]
    out = out.sort_values(["Date", "Outcome ID"], kind="stable").reset_index(drop=True)
    out["Date"] = out["Date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out


def write_outcomes(outcomes: pd.DataFrame, out_dir: Path | str, day: date | None = None) -> Path:
    """Write ``<out>/landing/crm/outcomes_<day>.csv``: with ``day``, only that day's rows."""
    d = Path(out_dir) / "landing" / "crm"
    d.mkdir(parents=True, exist_ok=True)
    df = outcomes
    if day is not None:
        df = df[df["Date"].str[:10] == day.isoformat()]
    name = (day or (pd.to_datetime(df["Date"]).max().date() if len(df) else date.today())).isoformat()
    path = d / f"outcomes_{name}.csv"
    tmp = path.with_name("." + path.name + ".tmp")
    df.to_csv(tmp, index=False, float_format="%.2f")
    tmp.replace(path)
    return path


def handoffs_frame(engine: sa.Engine) -> pd.DataFrame:
    """Handoffs from the warehouse with the person's normalised e-mail (the simulator's input)."""
    import sqlalchemy as sa

    from leadflow.store import db
    from leadflow.store import schema as S
    q = sa.select(S.handoffs.c.handoff_id, S.handoffs.c.person_id, S.handoffs.c.handed_off_at,
                  S.people.c.email_norm.label("email")) \
        .select_from(S.handoffs.join(S.people, S.people.c.person_id == S.handoffs.c.person_id))
    with engine.connect() as conn:
        return db.read_frame(conn, q)
