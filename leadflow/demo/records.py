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
from leadflow.demo.mess import S

COLUMNS = ["Lead ID", "Email Address", "First Name", "Last Name", "Phone", "Company", "Website",
           "Job Title", "Employees", "Industry", "Country", "City", "Lead Source", "Campaign ID",
           "Channel", "Landing Page", "Created At", "Email Opt Out", "Do Not Call"]

DUP_SHARE = 0.17       # records that are another record of an already-seen person
RESEND_SHARE = 0.004   # byte-identical re-sends of a row (same Lead ID) in the same file


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
    p = people.iloc[pidx].reset_index(drop=True)

    base_t = _times(rng, n_p, start, days)
    t = base_t[pidx].copy()
    off_h = np.where(rng.random(n_d) < 0.35, rng.exponential(3.0, n_d), rng.exponential(60.0, n_d))
    td = t[n_p:] + (off_h * 3600).astype("timedelta64[s]")
    late = td > end
    span = (end - t[n_p:]).astype(np.int64)
    td[late] = t[n_p:][late] + (rng.random(late.sum()) * span[late]).astype("timedelta64[s]")
    t[n_p:] = td

    # ---- variants on duplicates (at most one identity-hard change: names OR e-mail)
    u = lambda: rng.random(n)                                 # noqa: E731
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

    first = p["first_name"].to_numpy(object).copy()
    last = p["last_name"].to_numpy(object).copy()
    first, v_nick = M.nickname(rng, first, v_nick)
    tl = rng.random(n) < 0.5
    first = M.typo(rng, first, v_typo & tl)
    last = M.typo(rng, last, v_typo & ~tl)
    first, last = np.where(v_swap, last, first), np.where(v_swap, first, last)

    # ---- e-mail
    email = p["email"].to_numpy(object).copy()
    es = S(email)
    local, dom = es.str.split("@", n=1).str[0].to_numpy(object), es.str.split("@", n=1).str[1].to_numpy(object)
    is_gmail = dom == "gmail.com"
    kind = rng.integers(0, 2, n)
    dots = alias & is_gmail & (kind == 0)
    plus = alias & ~dots
    local = M.insert_dot(rng, local, dots)
    tags = np.array(["news", "demo", "webinar", "work", "2026", "leads"], dtype=object)[rng.integers(0, 6, n)]
    local = np.where(plus, (S(local) + "+" + S(tags)).to_numpy(object), local)
    email = (S(local) + "@" + S(dom)).to_numpy(object)
    # hard: personal address for a business contact, or another company alias (j.smith vs jsmith)
    fs = M.S(p["first_name"]).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii") \
        .str.lower().str.replace(r"[^a-z]", "", regex=True)
    ls = M.S(p["last_name"]).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii") \
        .str.lower().str.replace(r"[^a-z]", "", regex=True)
    digits = pd.Series(rng.integers(10, 99, n)).astype(str)
    personal = (fs + ls + digits + "@gmail.com").to_numpy(object)
    other_alias = (fs.str[0] + "." + ls + "@" + M.S(p["company_domain"])).to_numpy(object)
    email = np.where(hard_email, np.where(p["is_free_mail"].to_numpy() | (rng.random(n) < 0.5),
                                          personal, other_alias), email)
    email = M.case_noise(rng, email, 0.02, 0.0)
    cap = (rng.random(n) < 0.04) & pd.notna(email)
    email[cap] = S(email[cap]).str.capitalize().to_numpy(object)
    email = M.space_noise(rng, email, 0.02)
    bad = rng.random(n) < 0.015
    email[bad] = M.invalid_email(rng, email[bad])
    email[rng.random(n) < 0.006] = None

    # ---- names
    first = M.case_noise(rng, first, 0.03, 0.03)
    last = M.case_noise(rng, last, 0.03, 0.03)
    first = np.where(v_case & (rng.random(n) < 0.5), S(first).str.upper().to_numpy(object), first)
    last = np.where(v_case & (rng.random(n) < 0.5), S(last).str.lower().to_numpy(object), last)
    first = M.space_noise(rng, first, 0.02)
    last = M.space_noise(rng, last, 0.02)
    first = np.where(v_space, (" " + S(first) + " ").to_numpy(object), first)
    first[rng.random(n) < 0.01] = None
    last[rng.random(n) < 0.005] = None

    # ---- phone
    phone = M.phone_render(rng, p["calling_code"].to_numpy(object), p["phone_nsn"].to_numpy(object),
                           p["country"].to_numpy(object))
    r = rng.random(n)
    phone[(r < 0.015) & pd.notna(phone)] = "N/A"
    phone[(r > 0.995)] = "123"
    phone[v_missing & (rng.random(n) < 0.5)] = None

    # ---- company and website
    comp = p["company"].to_numpy(object).copy()
    r = rng.random(n)
    base = p["company_domain"].to_numpy(object)
    no_legal = S(comp).str.replace(r"\s+(Inc\.?|LLC|Corp|Ltd|Limited|PLC|GmbH|AG|SAS|S\.A\.|B\.V\.|N\.V\.|"
                                   r"S\.L\.|DAC|AB|S\.p\.A\.|S\.r\.l\.|Pty Ltd|Pvt Ltd|Private Limited|"
                                   r"Pte Ltd|Ltda|S\.A\. de C\.V\.)$", "", regex=True).to_numpy(object)
    comp = np.where((r < 0.2) | (v_company & (rng.random(n) < 0.6)), no_legal, comp)
    comp = np.where((r > 0.95) | (v_company & (rng.random(n) < 0.3)), S(comp).str.upper().to_numpy(object), comp)
    r = rng.random(n)
    comp[r < 0.015] = "N/A"
    comp[(r >= 0.015) & (r < 0.03)] = None
    comp[v_missing & (rng.random(n) < 0.3)] = None
    comp = M.space_noise(rng, comp, 0.02)
    k = rng.integers(0, 4, n)
    d = S(base)
    web = np.select([k == 0, k == 1, k == 2], [("https://www." + d).to_numpy(object), ("www." + d).to_numpy(object),
                                               d.to_numpy(object)], default=("http://" + d + "/").to_numpy(object))
    web[rng.random(n) < 0.45] = None

    # ---- job
    tw = np.array([x[3] for x in P.TITLES])
    new_title = np.array([x[0] for x in P.TITLES], dtype=object)[rng.choice(len(P.TITLES), n, p=tw / tw.sum())]
    title = np.where(v_job, new_title, p["job_title"].to_numpy(object))
    title = M.case_noise(rng, title, 0.02, 0.04)
    r = rng.random(n)
    title[r < 0.02] = "Select"
    title[(r >= 0.02) & (r < 0.035)] = "N/A"
    title[(r >= 0.035) & (r < 0.09)] = None
    title[v_missing & (rng.random(n) < 0.3)] = None

    size = p["company_size"].to_numpy()
    jitter = np.where(v_company, np.round(size * rng.uniform(0.85, 1.15, n)), size).astype(np.int64)
    emp = pd.Series(jitter).astype(str).to_numpy(object)
    r = rng.random(n)
    emp[r < 0.1] = None
    emp[(r >= 0.1) & (r < 0.13)] = "Select"
    emp[(r >= 0.13) & (r < 0.132)] = "500+"      # unreadable as a number: the quarantine's job

    ind = p["industry"].to_numpy(object).copy()
    r = rng.random(n)
    ind[r < 0.05] = "Select"
    ind[(r >= 0.05) & (r < 0.15)] = None
    low = (r >= 0.15) & (r < 0.2)
    ind[low] = S(ind[low]).str.lower().to_numpy(object)

    # ---- country and city
    iso = p["country"].to_numpy(object)
    info = {c["iso"]: c for c in P.COUNTRIES}
    name = pd.Series(iso).map({k_: v["name"] for k_, v in info.items()}).to_numpy(object)
    alias_name = pd.Series(iso).map({k_: (v["aliases"] or [v["name"]])[0] for k_, v in info.items()}).to_numpy(object)
    r = rng.random(n)
    country = np.select([r < 0.45, r < 0.5, r < 0.8, r < 0.83, r < 0.86, r < 0.93],
                        [iso, S(iso).str.lower().to_numpy(object), name, S(name).str.upper().to_numpy(object),
                         S(name).str.lower().to_numpy(object), alias_name], default=None)
    country[r >= 0.985] = "Select"
    city = p["city"].to_numpy(object).copy()
    city[rng.random(n) < 0.2] = None

    # ---- campaign, channel, landing page
    ch = p["channel"].to_numpy(object).copy()
    switch = dup & (rng.random(n) < 0.4)
    share = np.array([P.CHANNELS[c]["share"] for c in P.CHANNELS])
    ch[switch] = np.array(list(P.CHANNELS), dtype=object)[rng.choice(len(share), switch.sum(), p=share / share.sum())]
    from leadflow.demo.spend import pick_campaign
    camp = pick_campaign(rng, campaigns, ch)
    labels = pd.Series(ch).map({k_: v["label"] for k_, v in P.CHANNELS.items()}).to_numpy(object)
    src = pd.Series(ch).map({k_: v["src"] for k_, v in P.CHANNELS.items()}).to_numpy(object)
    med = pd.Series(ch).map({k_: v["med"] for k_, v in P.CHANNELS.items()}).to_numpy(object)
    ls_opts = {k_: np.array(v["lead_source"], dtype=object) for k_, v in P.CHANNELS.items()}
    lead_source = np.empty(n, dtype=object)
    for k_, arr in ls_opts.items():
        m = ch == k_
        lead_source[m] = arr[rng.integers(0, len(arr), m.sum())]
    page = np.array(P.LANDING_PAGES, dtype=object)[rng.integers(0, len(P.LANDING_PAGES), n)]
    utm = ("?utm_source=" + S(src) + "&utm_medium=" + S(med) + "&utm_campaign=" + S(camp).str.lower())
    gclid = np.where(ch == "paid_search", ("&gclid=" + pd.Series(rng.integers(10**8, 10**9, n)).astype(str))
                     .to_numpy(object), "")
    landing = (P.VENDOR_SITE + S(page) + np.where(np.isin(ch, ["organic"]), "", utm.to_numpy(object)) + gclid) \
        .to_numpy(object)
    landing[rng.random(n) < 0.08] = None
    no_camp = (np.isin(ch, ["organic", "referral"]) & (rng.random(n) < 0.4)) | (rng.random(n) < 0.04)
    camp = np.where(no_camp, None, camp)
    r = rng.random(n)
    labels[r < 0.1] = None
    labels[(r >= 0.1) & (r < 0.13)] = "N/A"
    r = rng.random(n)
    lead_source[r < 0.05] = "Select"
    lead_source[(r >= 0.05) & (r < 0.1)] = None

    # ---- consent flags (person-level truth; rendered in mixed styles)
    opt = p["opt_out"].to_numpy(bool)
    dnc = p["do_not_call"].to_numpy(bool)
    style = rng.integers(0, 3, n)
    yes = np.select([style == 0, style == 1], ["Yes", "true"], default="Y")
    no = np.select([style == 0, style == 1], ["No", "false"], default="")
    opt_s = np.where(opt, yes, no).astype(object)
    dnc_s = np.where(dnc, yes, no).astype(object)
    opt_s[opt_s == ""] = None
    dnc_s[dnc_s == ""] = None

    variants = pd.DataFrame({"case": v_case, "whitespace": v_space, "typo": v_typo, "nickname": v_nick,
                             "swap": v_swap, "email_alias": alias, "other_email": hard_email,
                             "job_change": v_job, "missing": v_missing, "company_variant": v_company})
    vnames = np.array(variants.columns, dtype=object)
    vmat = variants.to_numpy()
    vtxt = pd.Series([""] * n, dtype=object)
    for j, nm in enumerate(vnames):
        vtxt = vtxt.where(~vmat[:, j], vtxt + (nm + ","))
    df = pd.DataFrame({
        "Email Address": email, "First Name": first, "Last Name": last, "Phone": phone,
        "Company": comp, "Website": web, "Job Title": title, "Employees": emp, "Industry": ind,
        "Country": country, "City": city, "Lead Source": lead_source, "Campaign ID": camp,
        "Channel": labels, "Landing Page": landing, "created_at": t, "Email Opt Out": opt_s,
        "Do Not Call": dnc_s,
        "truth_person_id": p["truth_person_id"].to_numpy(), "is_duplicate": dup,
        "variants": vtxt.str.rstrip(",").to_numpy(object), "campaign_id": camp, "channel": ch,
    })
    # ---- exact re-sends: the same row delivered twice (same Lead ID) a little later the same day
    df = df.sort_values("created_at", kind="stable").reset_index(drop=True)
    df.insert(0, "Lead ID", ("WL-" + pd.Series(np.arange(len(df)) + 1_000_001).astype(str)).to_numpy(object))
    if n_r:
        src_rows = rng.choice(len(df), size=n_r, replace=False)
        rs = df.iloc[src_rows].copy()
        rs["is_duplicate"] = True
        rs["variants"] = "resend"
        bump = rs["created_at"] + (rng.integers(1, 600, n_r)).astype("timedelta64[s]")
        same_day = bump.dt.normalize() == rs["created_at"].dt.normalize()
        rs["created_at"] = bump.where(same_day, rs["created_at"])
        df = pd.concat([df, rs], ignore_index=True).sort_values("created_at", kind="stable") \
            .reset_index(drop=True)
    df["Created At"] = df["created_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    df["day"] = ((df["created_at"] - np.datetime64(start, "s")) // np.timedelta64(1, "D")).astype(int)
    return df
