"""The true world behind the demo: companies, people and their hidden propensity to buy.

Everything here is drawn with numpy from small pools; no per-person Python loop. The canonical
(clean) values live here; ``records`` then renders them into messy inbound rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.demo import pools as P

SIZE_BINS = [(1, 10, 0.14), (11, 50, 0.20), (51, 200, 0.22), (201, 1000, 0.20),
             (1001, 5000, 0.14), (5001, 100_000, 0.10)]

# True effects on the log-odds of buying (the "hidden propensity"); the rules in leadflow.yaml
# only approximate these, so a model trained on outcomes has something to learn.
SENIORITY_EFFECT = {"c_level": 0.7, "vp": 0.9, "director": 0.8, "manager": 0.45,
                    "individual_contributor": -0.3, "student": -2.5}
FUNCTION_EFFECT = {"marketing": 0.6, "sales": 0.35, "it": 0.2, "executive": 0.4, "engineering": -0.1,
                   "finance": -0.2, "operations": 0.0, "hr": -0.4, "other": -0.5}
INDUSTRY_EFFECT = {"Software": 0.6, "IT Services": 0.45, "Financial Services": 0.35, "Healthcare": 0.1,
                   "Manufacturing": 0.0, "Retail": 0.05, "Education": -0.5, "Government": -0.7,
                   "Telecommunications": 0.2, "Media": 0.0, "Logistics": -0.05, "Energy": -0.1,
                   "Professional Services": 0.15, "Non-profit": -0.8}
CHANNEL_EFFECT = {"paid_search": 0.2, "paid_social": -0.3, "email": -0.1, "webinar": 0.35,
                  "trade_show": 0.3, "content_syndication": -0.45, "organic": 0.15, "referral": 0.8}
# Per realised touch of the type (capped at 3 each) — engagement in the true model.
TOUCH_EFFECT = {"form_fill": 0.1, "demo_request": 1.3, "contact_sales": 1.3, "webinar": 0.35,
                "download": 0.15, "email_click": 0.12, "email_open": 0.02, "page_view": 0.04,
                "pricing_page": 0.45, "event_visit": 0.4, "unsubscribe": -1.2}
BASE_LOGIT = -5.4
SIGNAL = 1.4          # sharpens the signal so outcomes are learnable from a few thousand handoffs


def size_effect(size: np.ndarray) -> np.ndarray:
    """Mid-market and enterprise buy most; micro companies rarely."""
    return np.select([size <= 10, size <= 50, size <= 200, size <= 1000, size <= 5000],
                     [-1.0, -0.3, 0.3, 0.6, 0.5], default=0.3)


def make_companies(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Companies with name, domain, country, industry and size; some share a name across domains."""
    cw = np.array([c["weight"] for c in P.COUNTRIES])
    country = rng.choice(len(P.COUNTRIES), size=n, p=cw / cw.sum())
    industry = rng.choice(len(P.INDUSTRIES), size=n, p=np.array(P.INDUSTRY_WEIGHTS) / sum(P.INDUSTRY_WEIGHTS))
    bins = rng.choice(len(SIZE_BINS), size=n, p=[b[2] for b in SIZE_BINS])
    lo = np.log(np.array([b[0] for b in SIZE_BINS])[bins])
    hi = np.log(np.array([b[1] for b in SIZE_BINS])[bins] + 1)
    size = np.floor(np.exp(lo + rng.random(n) * (hi - lo))).astype(np.int64)

    brand_a = np.array(P.BRAND_WORDS, dtype=object)[rng.integers(0, len(P.BRAND_WORDS), n)]
    # a second brand word or a surname-like token widens the name space for big runs
    brand_b = np.array(P.BRAND_WORDS, dtype=object)[rng.integers(0, len(P.BRAND_WORDS), n)]
    two = rng.random(n) < 0.55
    ind_words = [np.array(P.INDUSTRY_WORDS[i], dtype=object) for i in P.INDUSTRIES]
    word = np.empty(n, dtype=object)
    for k, arr in enumerate(ind_words):
        m = industry == k
        word[m] = arr[rng.integers(0, len(arr), m.sum())]
    base = pd.Series(brand_a) + np.where(two, pd.Series(brand_b).str.lower().to_numpy(dtype=object), "") \
        + " " + pd.Series(word)
    legal = np.empty(n, dtype=object)
    for k, c in enumerate(P.COUNTRIES):
        m = country == k
        arr = np.array(P.LEGAL[c["iso"]], dtype=object)
        legal[m] = arr[rng.integers(0, len(arr), m.sum())]
    name = (base + " " + pd.Series(legal)).to_numpy(dtype=object)

    slug = base.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower() \
        .str.replace(r"[^a-z0-9]+", "", regex=True)
    tld = np.array([c["tld"] for c in P.COUNTRIES], dtype=object)[country]
    # most companies use .com whatever their country
    tld = np.where(rng.random(n) < 0.55, "com", tld)
    domain = slug + "." + pd.Series(tld)
    # unique domains: later holders of a taken domain get a hyphenated or numbered variant
    k = domain.groupby(domain).cumcount()
    hyph = base.str.lower().str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii") \
        .str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    domain = domain.where(k == 0, np.where(k == 1, hyph + "." + pd.Series(tld),
                                           slug + k.astype(str) + "." + pd.Series(tld)))
    domain = domain.where(~domain.duplicated(), slug + "-" + pd.Series(np.arange(n)).astype(str) + ".com")
    df = pd.DataFrame({"company_id": np.arange(n), "company": name, "company_base": base.to_numpy(object),
                       "domain": domain.to_numpy(object), "country_idx": country,
                       "industry": np.array(P.INDUSTRIES, dtype=object)[industry], "company_size": size,
                       "email_pattern": rng.choice(4, size=n, p=[0.55, 0.25, 0.12, 0.08]),
                       "is_competitor": False})
    comp = pd.DataFrame({"company_id": np.arange(n, n + len(P.COMPETITORS)),
                         "company": [f"{a} Inc" for a, _ in P.COMPETITORS],
                         "company_base": [a for a, _ in P.COMPETITORS],
                         "domain": [d for _, d in P.COMPETITORS], "country_idx": 0,
                         "industry": "Software", "company_size": [250, 900, 120],
                         "email_pattern": 0, "is_competitor": True})
    return pd.concat([df, comp], ignore_index=True)


def _pick(rng: np.random.Generator, pools: list[np.ndarray], country: np.ndarray) -> np.ndarray:
    out = np.empty(len(country), dtype=object)
    for k, arr in enumerate(pools):
        m = country == k
        out[m] = arr[rng.integers(0, len(arr), m.sum())]
    return out


def _slug(s: pd.Series) -> pd.Series:
    return s.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower() \
        .str.replace(r"[^a-z]+", "", regex=True)


def make_people(rng: np.random.Generator, n: int, companies: pd.DataFrame,
                pools: P.Pools) -> pd.DataFrame:
    """The true persons: names, job, company, country, canonical email and phone, channel."""
    real = companies[~companies["is_competitor"]]
    w = real["company_size"].to_numpy(dtype=float) ** 0.35
    comp = rng.choice(real["company_id"].to_numpy(), size=n, p=w / w.sum())
    competitor = rng.random(n) < 0.003
    comp[competitor] = rng.choice(companies.loc[companies["is_competitor"], "company_id"].to_numpy(),
                                  size=competitor.sum())
    co = companies.set_index("company_id").loc[comp]
    country = co["country_idx"].to_numpy().copy()
    moved = rng.random(n) < 0.12          # people abroad / remote
    cw = np.array([c["weight"] for c in P.COUNTRIES])
    country[moved] = rng.choice(len(P.COUNTRIES), size=moved.sum(), p=cw / cw.sum())

    first = _pick(rng, pools.first, country)
    last = _pick(rng, pools.last, country)
    city = _pick(rng, pools.city, country)
    tw = np.array([t[3] for t in P.TITLES])
    title_idx = rng.choice(len(P.TITLES), size=n, p=tw / tw.sum())

    fs, ls = _slug(pd.Series(first)), _slug(pd.Series(last))
    domain = pd.Series(co["domain"].to_numpy(object))
    pattern = co["email_pattern"].to_numpy()
    local = pd.Series(np.select(
        [pattern == 0, pattern == 1, pattern == 2],
        [(fs + "." + ls).to_numpy(object), (fs.str[0] + ls).to_numpy(object), fs.to_numpy(object)],
        default=(fs + "_" + ls).to_numpy(object)), dtype="str")
    free = (rng.random(n) < 0.13) & ~competitor
    iso = np.array([c["iso"] for c in P.COUNTRIES], dtype=object)[country]
    free_dom = np.empty(n, dtype=object)
    for key, doms in P.FREE_MAIL_DOMAINS.items():
        m = (iso == key) if key != "default" else ~np.isin(iso, list(P.FREE_MAIL_DOMAINS))
        free_dom[m] = np.array(doms, dtype=object)[rng.integers(0, len(doms), m.sum())]
    digits = pd.Series(rng.integers(1, 999, n)).astype(str)
    free_local = np.where(rng.random(n) < 0.5, (fs + "." + ls + digits).to_numpy(object),
                          (fs + ls + digits).to_numpy(object))
    role = (rng.random(n) < 0.02) & ~free & ~competitor
    role_local = np.array(P.ROLE_LOCALS, dtype=object)[rng.integers(0, len(P.ROLE_LOCALS), n)]
    local = np.where(free, free_local, np.where(role, role_local, local.to_numpy(object)))
    dom = np.where(free, free_dom, domain.to_numpy(object))
    email = pd.Series(local, dtype="str") + "@" + pd.Series(dom, dtype="str")
    # a role mailbox belongs to one person; a second claimant uses a personal address instead
    dup_role = role & email.duplicated().to_numpy()
    email = email.where(~dup_role, pd.Series((fs + "." + ls).to_numpy(object), dtype="str") + "@" + domain)
    role &= ~dup_role
    # same local part at the same domain: companies number the second holder (jsmith2@)
    k = email.groupby(email).cumcount()
    at = email.str.split("@", n=1)
    email = email.where(k == 0, at.str[0] + (k + 1).astype(str) + "@" + at.str[1])
    email = email.where(~email.duplicated(), pd.Series(np.arange(n)).astype(str).radd("x") + "." + email)

    # phones: national significant numbers unique per person
    has_phone = rng.random(n) < 0.72
    cc = np.array([c["cc"] for c in P.COUNTRIES], dtype=object)[country]
    pre = np.empty(n, dtype=object)
    for k2, c in enumerate(P.COUNTRIES):
        m = country == k2
        pre[m] = np.array(c["prefixes"], dtype=object)[rng.integers(0, len(c["prefixes"]), m.sum())]
    nsn_len = np.array([P.NSN_LEN[c] for c in cc])
    rest_len = nsn_len - pd.Series(pre).str.len().to_numpy()
    lo = 2 * 10 ** (rest_len - 1).astype(np.int64)
    hi = 10 ** rest_len.astype(np.int64)
    nsn = pd.Series(pre, dtype="str") + pd.Series(rng.integers(lo, hi)).astype(str)
    for _ in range(20):                   # redraw the rare clashes so every number is one person's
        clash = nsn.duplicated().to_numpy()
        if not clash.any():
            break
        nsn[clash] = pd.Series(pre[clash], dtype="str").to_numpy() \
            + pd.Series(rng.integers(lo[clash], hi[clash])).astype(str).to_numpy()

    share = np.array([P.CHANNELS[c]["share"] for c in P.CHANNELS])
    channel = np.array(list(P.CHANNELS), dtype=object)[rng.choice(len(share), size=n, p=share / share.sum())]

    t = np.array(P.TITLES, dtype=object)
    df = pd.DataFrame({
        "truth_person_id": np.arange(1, n + 1),
        "first_name": first, "last_name": last,
        "email": email.to_numpy(object), "is_free_mail": free, "is_role_address": role,
        "is_competitor": co["is_competitor"].to_numpy(bool),
        "company_id": comp, "company": co["company"].to_numpy(object),
        "company_domain": co["domain"].to_numpy(object),
        "industry": co["industry"].to_numpy(object), "company_size": co["company_size"].to_numpy(),
        "country": iso, "country_idx": country, "city": city,
        "calling_code": cc, "phone_nsn": nsn.where(has_phone, None).to_numpy(object),
        "job_title": t[title_idx, 0], "seniority": t[title_idx, 1], "job_function": t[title_idx, 2],
        "channel": channel,
        "opt_out": rng.random(n) < 0.04, "do_not_call": rng.random(n) < 0.06,
        "intent": rng.normal(0.0, 1.0, n),
    })
    return df


def fit_logit(people: pd.DataFrame) -> np.ndarray:
    """The true fit part of the log-odds (known at capture)."""
    return (people["seniority"].map(SENIORITY_EFFECT).to_numpy(float)
            + people["job_function"].map(FUNCTION_EFFECT).to_numpy(float)
            + people["industry"].map(INDUSTRY_EFFECT).to_numpy(float)
            + size_effect(people["company_size"].to_numpy())
            - 0.6 * people["is_free_mail"].to_numpy(float)
            - 4.0 * people["is_competitor"].to_numpy(float))


def propensity(people: pd.DataFrame, touch_counts: pd.DataFrame) -> np.ndarray:
    """Hidden probability to buy: logistic of fit + realised engagement + channel."""
    eng = np.zeros(len(people))
    for t, eff in TOUCH_EFFECT.items():
        if t in touch_counts:
            eng += eff * np.minimum(touch_counts[t].to_numpy(float), 3)
    z = BASE_LOGIT + SIGNAL * (fit_logit(people) + eng
                               + people["channel"].map(CHANNEL_EFFECT).to_numpy(float))
    return 1.0 / (1.0 + np.exp(-z))
