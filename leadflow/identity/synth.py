"""A small, self-contained generator of lead records with known duplicates (ground truth).

Used by tests and as the fallback of bench/identity.py when leadflow.demo is not available.
Each true person yields one record, and a share of people yield extra records with the mess
real feeds have: typos, nicknames, swapped given/family names, email aliases (+tags, Gmail
dots, a personal address), a job change (new company and email, same phone), phone formats,
case and whitespace noise. Vectorised with numpy; Faker only fills the name pools.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

_NICKS = {"Robert": "Bob", "William": "Bill", "Richard": "Rick", "James": "Jim", "Michael": "Mike",
          "Elizabeth": "Liz", "Katherine": "Kate", "Jennifer": "Jen", "Margaret": "Maggie",
          "Thomas": "Tom", "Christopher": "Chris", "Daniel": "Dan", "Joseph": "Joe",
          "Anthony": "Tony", "Patricia": "Pat", "Susan": "Sue", "Andrew": "Andy", "Matthew": "Matt",
          "Benjamin": "Ben", "Edward": "Ted", "David": "Dave", "Steven": "Steve", "Johannes": "Hans"}


@lru_cache(maxsize=4)
def _pools(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from faker import Faker
    first, last, comp = [], [], []
    for i, loc in enumerate(("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT")):
        fk = Faker(loc)
        fk.seed_instance(seed * 100 + i)
        first += [fk.first_name() for _ in range(600)]
        last += [fk.last_name() for _ in range(900)]
        comp += [fk.company() for _ in range(800)]
    first += list(_NICKS) * 4
    clean = lambda xs: np.array(sorted({x for x in xs if " " not in x and x.isalpha()}), dtype=object)  # noqa: E731
    return clean(first), clean(last), np.array(sorted(set(comp)), dtype=object)


def _slug(s: pd.Series) -> pd.Series:
    return (s.astype("str").str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
            .str.lower().str.replace(r"[^a-z]", "", regex=True))


def _typo(rng: np.random.Generator, s: pd.Series) -> pd.Series:
    """Drop or swap one inner letter (words of 4+ letters)."""
    n = s.str.len().fillna(0).to_numpy().astype(int)
    pos = 1 + (rng.random(len(s)) * np.maximum(n - 2, 1)).astype(int)
    out = s.copy()
    for p in np.unique(pos):
        m = (pos == p) & (n >= 4)
        x = s[m]
        out[m] = np.where(rng.random(m.sum()) < 0.5, x.str[:p] + x.str[p + 1:],
                          x.str[:p] + x.str[p + 1:p + 2] + x.str[p] + x.str[p + 2:])
    return out


def generate(n_people: int, seed: int = 7, dup_share: float = 0.35) -> pd.DataFrame:
    """Records with canonical inbound-lead fields plus ``truth_person_id``."""
    rng = np.random.default_rng(seed)
    first_pool, last_pool, comp_pool = _pools(seed)
    n_co = max(20, n_people // 8)
    co_idx = rng.integers(0, len(comp_pool), n_co)
    co_name = comp_pool[co_idx]
    co_dom = (_slug(pd.Series(co_name)).str[:18] + pd.Series(np.arange(n_co)).astype(str) + ".com").to_numpy(object)
    who = rng.integers(0, n_co, n_people)
    first = first_pool[rng.integers(0, len(first_pool), n_people)]
    last = last_pool[rng.integers(0, len(last_pool), n_people)]
    countries = np.array(["US", "GB", "DE", "FR", "ES", "IT"], dtype=object)
    country = countries[rng.integers(0, len(countries), n_people)]
    free = rng.random(n_people) < 0.15
    local = _slug(pd.Series(first)) + "." + _slug(pd.Series(last))
    num = pd.Series(np.arange(n_people)).astype(str)
    email = np.where(free, (local + num + "@gmail.com").to_numpy(object),
                     (local + num.str[-3:] + "@" + pd.Series(co_dom[who])).to_numpy(object))
    phone_digits = pd.Series(rng.integers(2_000_000_000, 9_999_999_999, n_people)).astype(str)
    has_phone = rng.random(n_people) < 0.7
    base = pd.DataFrame({
        "truth_person_id": np.arange(1, n_people + 1), "first_name": first, "last_name": last,
        "email": email, "company": co_name[who], "company_domain": co_dom[who],
        "country": country, "phone": ("+1 " + phone_digits).where(has_phone).to_numpy(object),
        "job_title": np.array(["Marketing Manager", "VP Sales", "CEO", "Engineer", "Analyst"],
                              dtype=object)[rng.integers(0, 5, n_people)],
    })
    n_dup = rng.poisson(dup_share, n_people).clip(0, 3)
    dup = base.loc[base.index.repeat(n_dup)].reset_index(drop=True)
    k = len(dup)
    kind = rng.choice(7, size=k)
    s = lambda c: dup[c].astype("str")  # noqa: E731
    # 0 typo in a name, 1 nickname, 2 swapped names, 3 email alias, 4 job change, 5 phone format, 6 case
    t_first = (kind == 0) & (rng.random(k) < 0.5)
    t_last = (kind == 0) & ~t_first
    dup.loc[t_first, "first_name"] = _typo(rng, s("first_name")[t_first])
    dup.loc[t_last, "last_name"] = _typo(rng, s("last_name")[t_last])
    nick = (kind == 1) & dup["first_name"].isin(list(_NICKS)).to_numpy()
    dup.loc[nick, "first_name"] = dup.loc[nick, "first_name"].map(_NICKS)
    sw = kind == 2
    dup.loc[sw, ["first_name", "last_name"]] = dup.loc[sw, ["last_name", "first_name"]].to_numpy()
    al = kind == 3
    at = s("email").str.split("@", n=1)
    plus = at.str[0] + "+news@" + at.str[1]
    personal = at.str[0].str.replace(r"\d+$", "", regex=True) + "@yahoo.com"
    dup.loc[al, "email"] = np.where(rng.random(al.sum()) < 0.6, plus[al], personal[al])
    jc = kind == 4
    new_co = rng.integers(0, n_co, jc.sum())
    dup.loc[jc, "company"] = co_name[new_co]
    dup.loc[jc, "company_domain"] = co_dom[new_co]
    dup.loc[jc, "email"] = (at.str[0][jc] + "@" + pd.Series(co_dom[new_co], index=dup.index[jc])).to_numpy()
    dup.loc[jc, "job_title"] = "Director of Operations"
    ph = kind == 5
    d = s("phone").str.replace(r"\D", "", regex=True).str[1:]
    dup.loc[ph, "phone"] = (("(" + d.str[:3] + ") " + d.str[3:6] + "-" + d.str[6:])[ph]
                            .where(dup.loc[ph, "phone"].notna()))
    cs = kind == 6
    dup.loc[cs, "first_name"] = "  " + s("first_name")[cs].str.upper()
    dup.loc[cs, "email"] = s("email")[cs].str.upper() + " "
    names = np.array(["typo", "nickname", "swapped", "email_alias", "job_change", "phone_format", "case"], dtype=object)
    dup["dup_kind"] = names[kind]
    base["dup_kind"] = "original"
    out = pd.concat([base, dup], ignore_index=True)
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    out["source_record_id"] = "r" + pd.Series(np.arange(len(out))).astype(str)
    out["created_at"] = pd.Timestamp("2026-11-01") + pd.to_timedelta(rng.integers(0, 86400 * 20, len(out)), unit="s")
    return out


def pair_metrics(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision and recall on duplicate pairs (records of one person), from cluster labels."""
    def pairs(counts: pd.Series) -> int:
        c = counts.to_numpy(dtype=np.int64)
        return int((c * (c - 1) // 2).sum())
    df = pd.DataFrame({"t": truth, "p": predicted})
    tp = pairs(df.groupby(["t", "p"]).size())
    pred = pairs(df.groupby("p").size())
    true = pairs(df.groupby("t").size())
    return {"true_pairs": true, "predicted_pairs": pred, "correct_pairs": tp,
            "precision": tp / pred if pred else 1.0, "recall": tp / true if true else 1.0}
