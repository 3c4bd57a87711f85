"""The true world behind the demo: companies, people and their hidden propensity to buy.

Everything here is drawn with numpy from small pools; no per-person Python loop. The canonical
(clean) values live here; ``records`` then renders them into messy inbound rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.demo import mess as M
from leadflow.demo import pools as P

SIZE_BINS = [(1, 10, 0.14), (11, 50, 0.20), (51, 200, 0.22), (201, 1000, 0.20),
             (1001, 5000, 0.14), (5001, 50_000, 0.10)]

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
    # namesakes: ~2% of companies share another company's name (different country, domain, size)
    twin = np.flatnonzero(rng.random(n) < 0.02)
    base.iloc[twin] = base.iloc[rng.integers(0, n, len(twin))].to_numpy()
    name = (base + " " + pd.Series(legal)).to_numpy(dtype=object)

    slg = base.str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii").str.lower() \
        .str.replace(r"[^a-z0-9]+", "", regex=True)
    tld = np.array([c["tld"] for c in P.COUNTRIES], dtype=object)[country]
    # most companies use .com whatever their country
    tld = np.where((rng.random(n) < 0.55) & ~np.isin(np.arange(n), twin), "com", tld)
    domain = slg + "." + pd.Series(tld)
    # unique domains: later holders of a taken domain get a hyphenated or numbered variant
    k = domain.groupby(domain).cumcount()
    hyph = base.str.lower().str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii") \
        .str.replace(r"[^a-z0-9]+", "-", regex=True).str.strip("-")
    domain = domain.where(k == 0, np.where(k == 1, hyph + "." + pd.Series(tld),
                                           slg + k.astype(str) + "." + pd.Series(tld)))
    domain = domain.where(~domain.duplicated(), slg + "-" + pd.Series(np.arange(n)).astype(str) + ".com")
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


def _pick(rng: np.random.Generator, pools: list,
          country: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Per-country draw from (values, weights) pools or plain lists.

    Returns the values and their codes into the concatenation of all pools, so per-value work
    (slugs, initials) runs once per pool entry.
    """
    codes = np.empty(len(country), dtype=np.int64)
    offset = 0
    for k, pool in enumerate(pools):
        m = country == k
        if isinstance(pool, tuple):
            vals, w = pool
            codes[m] = offset + rng.choice(len(vals), size=m.sum(), p=w)
        else:
            vals = pool
            codes[m] = offset + rng.integers(0, len(vals), m.sum())
        offset += len(vals)
    allv = np.concatenate([p[0] if isinstance(p, tuple) else p for p in pools])
    return allv[codes], (allv, codes)


def slug(values: np.ndarray) -> np.ndarray:
    """ASCII lower-case letters only, computed once per distinct value."""
    return M.umap(values, lambda s: s.str.normalize("NFKD").str.encode("ascii", "ignore")
                  .str.decode("ascii").str.lower().str.replace(r"[^a-z]+", "", regex=True))


def object_frame(cols: dict[str, object]) -> pd.DataFrame:
    """A DataFrame keeping object arrays as object (no per-column str inference and back)."""
    return pd.DataFrame({k: pd.Series(v, dtype=object) if isinstance(v, np.ndarray) and v.dtype == object
                         else v for k, v in cols.items()})


def make_people(rng: np.random.Generator, n: int, companies: pd.DataFrame,
                pools: P.Pools) -> pd.DataFrame:
    """The true persons: names, job, company, country, canonical email and phone, channel."""
    real = companies[~companies["is_competitor"]]
    w = real["company_size"].to_numpy(dtype=float) ** 0.15
    comp = rng.choice(real["company_id"].to_numpy(), size=n, p=w / w.sum())
    competitor = rng.random(n) < 0.003
    comp[competitor] = rng.choice(companies.loc[companies["is_competitor"], "company_id"].to_numpy(),
                                  size=competitor.sum())
    co_idx = comp                                   # company_id is the row position
    co_country = companies["country_idx"].to_numpy()[co_idx]
    co_name = M.O(companies["company"])[co_idx]
    co_domain = M.O(companies["domain"])[co_idx]
    co_industry = M.O(companies["industry"])[co_idx]
    co_size = companies["company_size"].to_numpy()[co_idx]
    co_pattern = companies["email_pattern"].to_numpy()[co_idx]
    co_comp = companies["is_competitor"].to_numpy(bool)[co_idx]
    country = co_country.copy()
    moved = rng.random(n) < 0.12          # people abroad / remote
    cw = np.array([c["weight"] for c in P.COUNTRIES])
    country[moved] = rng.choice(len(P.COUNTRIES), size=moved.sum(), p=cw / cw.sum())

    first, (fpool, fcode) = _pick(rng, pools.first, country)
    last, (lpool, lcode) = _pick(rng, pools.last, country)
    city, _ = _pick(rng, pools.city, country)
    tw = np.array([t[3] for t in P.TITLES])
    title_idx = rng.choice(len(P.TITLES), size=n, p=tw / tw.sum())

    fslug, lslug = slug(fpool), slug(lpool)
    fs, ls = fslug[fcode], lslug[lcode]
    f0 = M.umap(fslug, lambda s: s.str[0])[fcode]
    local = np.empty(n, dtype=object)
    for k, parts in enumerate([(fs, ".", ls), (f0, ls), (fs,), (fs, "_", ls)]):
        m = co_pattern == k
        local[m] = M.cat(*[x if isinstance(x, str) else x[m] for x in parts])
    free = (rng.random(n) < 0.13) & ~competitor
    iso = np.array([c["iso"] for c in P.COUNTRIES], dtype=object)[country]
    free_dom = np.empty(n, dtype=object)
    for key, doms in P.FREE_MAIL_DOMAINS.items():
        m = (iso == key) if key != "default" else ~np.isin(iso, list(P.FREE_MAIL_DOMAINS))
        free_dom[m] = np.array(doms, dtype=object)[rng.integers(0, len(doms), m.sum())]
    digits = M.istr(rng.integers(1, 999, free.sum()))
    dotted = rng.random(free.sum()) < 0.5
    local[free] = np.where(dotted, M.cat(fs[free], ".", ls[free], digits), M.cat(fs[free], ls[free], digits))
    role = (rng.random(n) < 0.02) & ~free & ~competitor
    role_local = np.array(P.ROLE_LOCALS, dtype=object)[rng.integers(0, len(P.ROLE_LOCALS), n)]
    local[role] = role_local[role]
    dom = np.where(free, free_dom, co_domain)
    # one mailbox, one person: Gmail ignores dots, so uniqueness is checked on the mailbox key
    gmail = np.isin(dom, ["gmail.com", "googlemail.com"])

    def mailbox() -> pd.DataFrame:
        return pd.DataFrame({"l": M.on(local, gmail, lambda s: s.str.replace(".", "", regex=False)), "d": dom})
    # a role mailbox belongs to one person; a second claimant uses a personal address instead
    dup_role = role & mailbox().duplicated().to_numpy()
    local[dup_role] = M.cat(fs[dup_role], ".", ls[dup_role])
    role &= ~dup_role
    # same local part at the same domain: companies number the second holder (jsmith2@)
    k = mailbox().groupby(["l", "d"], sort=False).cumcount().to_numpy()
    local[k > 0] = M.cat(local[k > 0], M.istr(k[k > 0] + 1))
    clash = mailbox().duplicated().to_numpy()
    local[clash] = M.cat(local[clash], "x", M.istr(np.flatnonzero(clash)))
    box = mailbox()
    email_key = M.cat(M.O(box["l"]), "@", dom)
    email = M.cat(local, "@", dom)

    # phones: prefix + subscriber number, unique per person
    has_phone = rng.random(n) < 0.72
    cc = np.array([c["cc"] for c in P.COUNTRIES], dtype=object)[country]
    pre = np.empty(n, dtype=object)
    for k2, c in enumerate(P.COUNTRIES):
        m = country == k2
        pre[m] = np.array(c["prefixes"], dtype=object)[rng.integers(0, len(c["prefixes"]), m.sum())]
    nsn_len = pd.Series(cc).map(P.NSN_LEN).to_numpy(int)
    rest_len = nsn_len - M.umap(pre, lambda s: s.str.len()).astype(int)
    lo = 2 * 10 ** (rest_len - 1).astype(np.int64)
    hi = 10 ** rest_len.astype(np.int64)
    sub = rng.integers(lo, hi)
    pre_code = pd.factorize(pre)[0]
    for _ in range(20):                   # redraw the rare clashes so every number is one person's
        clash = pd.DataFrame({"c": country, "p": pre_code, "s": sub}).duplicated().to_numpy()
        if not clash.any():
            break
        sub[clash] = rng.integers(lo[clash], hi[clash])
    sub = np.where(has_phone, sub, -1)

    share = np.array([P.CHANNELS[c]["share"] for c in P.CHANNELS])
    channel = np.array(list(P.CHANNELS), dtype=object)[rng.choice(len(share), size=n, p=share / share.sum())]

    t = np.array(P.TITLES, dtype=object)
    nsn = np.full(n, None, dtype=object)
    nsn[has_phone] = M.cat(pre[has_phone], M.istr(sub[has_phone]))
    return object_frame({
        "truth_person_id": np.arange(1, n + 1),
        "first_name": first, "last_name": last, "first_slug": fs, "last_slug": ls,
        "email": email, "email_local": local, "email_domain": dom, "email_key": email_key,
        "is_free_mail": free, "is_role_address": role, "is_competitor": co_comp,
        "company_id": comp, "company": co_name, "company_domain": co_domain,
        "industry": co_industry, "company_size": co_size,
        "country": iso, "country_idx": country, "city": city,
        "calling_code": cc, "phone_prefix": pre, "phone_sub": sub, "phone_nsn": nsn,
        "job_title": t[title_idx, 0], "seniority": t[title_idx, 1], "job_function": t[title_idx, 2],
        "channel": channel,
        "opt_out": rng.random(n) < 0.04, "do_not_call": rng.random(n) < 0.06,
        "intent": rng.normal(0.0, 1.0, n),
    })


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
