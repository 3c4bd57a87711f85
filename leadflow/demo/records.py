"""Inbound lead records rendered from true people, with the mess real web-form feeds have.

Every rendered row keeps its ``truth_person_id`` and the list of variants applied, so the
identity resolver can be scored on exactly the duplicates generated here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from leadflow.demo import mess as M
from leadflow.demo import pools as P
from leadflow.demo import spend as SP
from leadflow.demo.people import object_frame

COLUMNS = ["Lead ID", "Email Address", "First Name", "Last Name", "Phone", "Company", "Website",
           "Job Title", "Employees", "Industry", "Country", "City", "Lead Source", "Campaign ID",
           "Channel", "Landing Page", "Created At", "Email Opt Out", "Do Not Call"]

DUP_SHARE = 0.17       # records that are another record of an already-seen person
RESEND_SHARE = 0.004   # byte-identical re-sends of a row (same Lead ID) in the same file
LEGAL_RE = (r"\s+(Inc\.?|LLC|Corp|Ltd|Limited|PLC|GmbH|AG|SAS|S\.A\.|B\.V\.|N\.V\.|S\.L\.|DAC|AB|"
            r"S\.p\.A\.|S\.r\.l\.|Pty Ltd|Pvt Ltd|Private Limited|Pte Ltd|Ltda|S\.A\. de C\.V\.)$")


def split_counts(leads: int) -> tuple[int, int, int]:
    """(people, duplicate records, exact re-sends) for a requested number of records."""
    resend = int(round(leads * RESEND_SHARE))
    people = max(1, int(round(leads * (1 - DUP_SHARE))))
    return people, max(0, leads - people - resend), resend


def _times(rng: np.random.Generator, n: int, start: datetime, days: int) -> np.ndarray:
    """Creation times: weekdays busier than weekends, business hours busier than nights."""
    dw = np.array([(0.35 if (start + timedelta(days=i)).weekday() >= 5 else 1.0) for i in range(days)])
    d = rng.choice(days, size=n, p=dw / dw.sum())
    hour = np.clip(np.where(rng.random(n) < 0.8, rng.normal(13.5, 3.0, n), rng.uniform(0, 24, n)), 0, 23.999)
    secs = (d * 86400 + hour * 3600).astype(np.int64)
    return np.datetime64(start, "s") + secs.astype("timedelta64[s]")


def build(rng: np.random.Generator, people: pd.DataFrame, campaigns: pd.DataFrame,
          leads: int, days: int, end_date: date) -> pd.DataFrame:
    """All inbound records (rendered text columns + truth columns), sorted by creation time."""
    n_p = len(people)
    _, n_d, n_r = split_counts(leads)
    start = datetime.combine(end_date - timedelta(days=days - 1), datetime.min.time())
    end = np.datetime64(datetime.combine(end_date, datetime.max.time()).replace(microsecond=0), "s")

    # ---- which person each record belongs to; engaged people fill in more forms
    w = np.exp(0.4 * people["intent"].to_numpy())
    dup_of = rng.choice(n_p, size=n_d, p=w / w.sum())
    pidx = np.concatenate([np.arange(n_p), dup_of])
    is_dup = np.concatenate([np.zeros(n_p, bool), np.ones(n_d, bool)])
    n = len(pidx)

    def col(name: str) -> np.ndarray:
        return people[name].to_numpy()[pidx]

    base_t = _times(rng, n_p, start, days)
    t = base_t[pidx].copy()
    off_h = np.where(rng.random(n_d) < 0.35, rng.exponential(3.0, n_d), rng.exponential(60.0, n_d))
    td = t[n_p:] + (off_h * 3600).astype("timedelta64[s]")
    late = td > end
    span = (end - t[n_p:]).astype(np.int64)
    td[late] = t[n_p:][late] + (rng.random(late.sum()) * span[late]).astype("timedelta64[s]")
    t[n_p:] = td

    # ---- variants on duplicates (at most one identity-hard change: names OR e-mail)
    def u() -> np.ndarray:
        return rng.random(n)
    dup = is_dup
    hard_email = dup & (u() < 0.12)                           # another address of the same person
    alias = dup & ~hard_email & (u() < 0.22)                  # same mailbox, written differently
    can_name = dup & ~hard_email
    v_case, v_space = dup & (u() < 0.3), dup & (u() < 0.2)
    v_typo = can_name & (u() < 0.16)
    v_nick = can_name & (u() < 0.2)
    v_swap = can_name & ~v_typo & (u() < 0.04)
    v_job = dup & (u() < 0.12)
    v_missing = dup & (u() < 0.15)
    v_company = dup & (u() < 0.2)

    first, last = col("first_name"), col("last_name")
    first, v_nick = M.nickname(rng, first, v_nick)
    tl = rng.random(n) < 0.5
    first = M.typo(rng, first, v_typo & tl)
    last = M.typo(rng, last, v_typo & ~tl)
    first, last = np.where(v_swap, last, first), np.where(v_swap, first, last)

    # ---- e-mail
    local, dom = col("email_local"), col("email_domain")
    is_gmail = dom == "gmail.com"
    kind = rng.integers(0, 2, n)
    dots = alias & is_gmail & (kind == 0)
    plus = alias & ~dots
    local = M.insert_dot(rng, local, dots)
    tags = np.array(["news", "demo", "webinar", "work", "2026", "leads"], dtype=object)[rng.integers(0, 6, n)]
    local = np.where(plus, M.cat(local, "+", tags), local)
    email = M.cat(local, "@", dom)
    # hard: a personal address for a business contact, or another company alias (j.smith vs jsmith)
    fs, ls = col("first_slug"), col("last_slug")
    hard = np.flatnonzero(hard_email)
    f0 = M.umap(fs[hard], lambda s_: s_.str[0])
    personal = M.cat(fs[hard], ls[hard], M.istr(rng.integers(10, 99, len(hard))), "@gmail.com")
    other_alias = M.cat(f0, ".", ls[hard], "@", col("company_domain")[hard])
    use_personal = col("is_free_mail")[hard].astype(bool) | (rng.random(len(hard)) < 0.5)
    alt = np.where(use_personal, personal, other_alias)
    # the other address must be nobody else's mailbox (not another person's, not another alias)
    alt_key = alt                     # personal addresses are built without dots already
    pid_h = col("truth_person_id")[hard]
    taken = pd.Series(alt_key).isin(people["email_key"].to_numpy(object)).to_numpy() | \
        (pd.DataFrame({"k": alt_key, "p": pid_h}).groupby("k")["p"].transform("nunique") > 1).to_numpy()
    at = M.O(pd.Series(alt[taken]).str.split("@", n=1).str[0])
    alt[taken] = M.cat(at, "x", M.istr(hard[taken]), "@", M.O(pd.Series(alt[taken]).str.split("@", n=1).str[1]))
    email[hard] = alt
    email = M.case_noise(rng, email, 0.02, 0.0)
    email = M.on(email, rng.random(n) < 0.04, lambda s_: s_.str.capitalize())
    email = M.space_noise(rng, email, 0.02)
    bad = rng.random(n) < 0.015
    email[bad] = M.invalid_email(rng, email[bad])
    email[rng.random(n) < 0.006] = None

    # ---- names
    first = M.case_noise(rng, first, 0.03, 0.03)
    last = M.case_noise(rng, last, 0.03, 0.03)
    first = M.on(first, v_case & (rng.random(n) < 0.5), lambda s_: s_.str.upper())
    last = M.on(last, v_case & (rng.random(n) < 0.5), lambda s_: s_.str.lower())
    first = M.space_noise(rng, first, 0.02)
    last = M.space_noise(rng, last, 0.02)
    first = M.on(first, v_space, lambda s_: " " + s_ + " ")
    first[rng.random(n) < 0.01] = None
    last[rng.random(n) < 0.005] = None

    # ---- phone
    iso = col("country")
    phone = M.phone_render(rng, col("calling_code"), col("phone_prefix"), col("phone_sub").astype(np.int64), iso)
    r = u()
    phone[(r < 0.015) & pd.notna(phone)] = "N/A"
    phone[(r > 0.995)] = "123"
    phone[v_missing & (u() < 0.5)] = None

    # ---- company and website (transforms run once per distinct company)
    comp = col("company")
    r = u()
    no_legal = (r < 0.2) | (v_company & (u() < 0.6))
    comp = M.on(comp, no_legal, lambda s_: s_.str.replace(LEGAL_RE, "", regex=True))
    comp = M.on(comp, (r > 0.95) | (v_company & (u() < 0.3)), lambda s_: s_.str.upper())
    r = u()
    comp[r < 0.015] = "N/A"
    comp[(r >= 0.015) & (r < 0.03)] = None
    comp[v_missing & (u() < 0.3)] = None
    comp = M.space_noise(rng, comp, 0.02)
    k = rng.integers(0, 4, n)
    k[u() < 0.45] = -1                               # no website given
    d = col("company_domain")
    web = np.full(n, None, dtype=object)
    for i, parts in enumerate([("https://www.", d), ("www.", d), (d,), ("http://", d, "/")]):
        m = k == i
        web[m] = M.cat(*[x if isinstance(x, str) else x[m] for x in parts])

    # ---- job
    tw = np.array([x[3] for x in P.TITLES])
    new_title = np.array([x[0] for x in P.TITLES], dtype=object)[rng.choice(len(P.TITLES), n, p=tw / tw.sum())]
    title = np.where(v_job, new_title, col("job_title"))
    title = M.case_noise(rng, title, 0.02, 0.04)
    r = u()
    title[r < 0.02] = "Select"
    title[(r >= 0.02) & (r < 0.035)] = "N/A"
    title[(r >= 0.035) & (r < 0.09)] = None
    title[v_missing & (u() < 0.3)] = None

    size = col("company_size").astype(np.int64)
    jitter = np.where(v_company, np.round(size * rng.uniform(0.85, 1.15, n)), size).astype(np.int64)
    emp = M.istr(jitter)
    r = u()
    emp[r < 0.1] = None
    emp[(r >= 0.1) & (r < 0.13)] = "Select"
    emp[(r >= 0.13) & (r < 0.132)] = "500+"      # unreadable as a number: the quarantine's job

    ind = col("industry").copy()
    r = u()
    ind[r < 0.05] = "Select"
    ind[(r >= 0.05) & (r < 0.15)] = None
    ind = M.on(ind, (r >= 0.15) & (r < 0.2), lambda s_: s_.str.lower())

    # ---- country (as code or name, in mixed case) and city
    ci = col("country_idx").astype(int)
    names = np.array([c["name"] for c in P.COUNTRIES], dtype=object)
    aliases = np.array([(c["aliases"] or [c["name"]])[0] for c in P.COUNTRIES], dtype=object)
    isos = np.array([c["iso"] for c in P.COUNTRIES], dtype=object)
    r = u()
    country = np.select([r < 0.45, r < 0.5, r < 0.8, r < 0.83, r < 0.86, r < 0.93],
                        [isos[ci], np.char.lower(isos.astype(str)).astype(object)[ci], names[ci],
                         np.char.upper(names.astype(str)).astype(object)[ci],
                         np.char.lower(names.astype(str)).astype(object)[ci], aliases[ci]], default=None)
    country[r >= 0.985] = "Select"
    city = col("city").copy()
    city[u() < 0.2] = None

    # ---- campaign, channel, landing page
    chans = list(P.CHANNELS)
    share = np.array([P.CHANNELS[c]["share"] for c in chans])
    chi = pd.Categorical(col("channel"), categories=chans).codes.astype(int)
    switch = dup & (u() < 0.4)
    chi[switch] = rng.choice(len(share), switch.sum(), p=share / share.sum())
    ch = np.array(chans, dtype=object)[chi]
    camp = SP.pick_campaign(rng, campaigns, ch)
    labels = np.array([P.CHANNELS[c]["label"] for c in chans], dtype=object)[chi]
    src = np.array([P.CHANNELS[c]["src"] for c in chans], dtype=object)[chi]
    med = np.array([P.CHANNELS[c]["med"] for c in chans], dtype=object)[chi]
    lead_source = np.empty(n, dtype=object)
    for i, c in enumerate(chans):
        arr = np.array(P.CHANNELS[c]["lead_source"], dtype=object)
        m = chi == i
        lead_source[m] = arr[rng.integers(0, len(arr), m.sum())]
    page = np.array(P.LANDING_PAGES, dtype=object)[rng.integers(0, len(P.LANDING_PAGES), n)]
    # landing URL: built once per distinct (page, campaign, channel), then a click id for search ads
    key = (pd.Categorical(page).codes.astype(np.int64) * 1000
           + pd.Categorical(camp).codes.astype(np.int64) + 1) * 100 + chi
    _, rep, combo = np.unique(key, return_index=True, return_inverse=True)
    camp_low = M.umap(camp[rep], lambda s_: s_.str.lower())
    utm = M.cat("?utm_source=", src[rep], "&utm_medium=", med[rep], "&utm_campaign=", camp_low)
    landing = M.cat(P.VENDOR_SITE, page[rep], np.where(ch[rep] == "organic", "", utm))[combo]
    ps = ch == "paid_search"
    landing[ps] = M.cat(landing[ps], "&gclid=", M.istr(rng.integers(10**8, 10**9, ps.sum())))
    landing[u() < 0.08] = None
    no_camp = (np.isin(ch, ["organic", "referral"]) & (u() < 0.4)) | (u() < 0.04)
    camp = np.where(no_camp, None, camp)
    labels = labels.copy()
    r = u()
    labels[r < 0.1] = None
    labels[(r >= 0.1) & (r < 0.13)] = "N/A"
    r = u()
    lead_source[r < 0.05] = "Select"
    lead_source[(r >= 0.05) & (r < 0.1)] = None

    # ---- consent flags (person-level truth; rendered in mixed styles)
    opt = col("opt_out").astype(bool)
    dnc = col("do_not_call").astype(bool)
    style = rng.integers(0, 3, n)
    yes = np.array(["Yes", "true", "Y"], dtype=object)[style]
    no = np.array(["No", "false", None], dtype=object)[style]
    opt_s = np.where(opt, yes, no)
    dnc_s = np.where(dnc, yes, no)

    flags = {"case": v_case, "whitespace": v_space, "typo": v_typo, "nickname": v_nick, "swap": v_swap,
             "email_alias": alias, "other_email": hard_email, "job_change": v_job, "missing": v_missing,
             "company_variant": v_company}
    bits = np.zeros(n, dtype=np.int64)
    for i, m in enumerate(flags.values()):
        bits |= m.astype(np.int64) << i
    ub, inv = np.unique(bits, return_inverse=True)
    names_ = list(flags)
    vtxt = np.array([",".join(nm for i, nm in enumerate(names_) if b >> i & 1) for b in ub], dtype=object)[inv]
    cols = {
        "Email Address": email, "First Name": first, "Last Name": last, "Phone": phone,
        "Company": comp, "Website": web, "Job Title": title, "Employees": emp, "Industry": ind,
        "Country": country, "City": city, "Lead Source": lead_source, "Campaign ID": camp,
        "Channel": labels, "Landing Page": landing, "Email Opt Out": opt_s, "Do Not Call": dnc_s,
        "variants": vtxt, "campaign_id": camp, "channel": ch,
    }
    # ---- exact re-sends: the same row delivered twice (same Lead ID) a little later the same day
    order = np.argsort(t, kind="stable")
    lead_id = np.empty(n, dtype=object)
    lead_id[order] = M.cat("WL-", M.istr(np.arange(n) + 1_000_001))
    truth_pid = col("truth_person_id").astype(np.int64)
    if n_r:
        src_rows = rng.choice(n, size=n_r, replace=False)
        bump = t[src_rows] + rng.integers(1, 600, n_r).astype("timedelta64[s]")
        same_day = bump.astype("datetime64[D]") == t[src_rows].astype("datetime64[D]")
        rt = np.where(same_day, bump, t[src_rows])
        take = np.concatenate([np.arange(n), src_rows])
        cols = {k_: v[take] for k_, v in cols.items()}
        cols["variants"][n:] = "resend"
        t = np.concatenate([t, rt])
        dup = np.concatenate([dup, np.ones(n_r, bool)])
        lead_id, truth_pid = lead_id[take], truth_pid[take]
    order = np.argsort(t, kind="stable")
    t = t[order]
    created = np.char.replace(np.datetime_as_string(t, unit="s"), "T", " ").astype(object)
    df = object_frame({"Lead ID": lead_id[order], **{k_: v[order] for k_, v in cols.items()},
                       "Created At": created, "created_at": t, "truth_person_id": truth_pid[order],
                       "is_duplicate": dup[order]})
    df["day"] = ((t - np.datetime64(start, "s")) // np.timedelta64(1, "D")).astype(int)
    return df
