"""A messy lead export with its own ground truth (not a test module).

People work at a handful of companies, so colleagues share a company, a mail domain and often a
surname; some share a full name with someone at another company (namesakes), and two namesakes
work at one company (their mail admin numbered the second mailbox). Each person yields one to
four records, with the mess of real exports: case, whitespace and Unicode (decomposed accents)
variants, address case/+tags, legal-form variants of the company, phone formats, records with a
personal address or with no address at all (those carry a CRM id), and junk typed into name and
company fields (formulas, DDE commands, SQL, emoji, placeholders) and shared fake phones.

``messy_export`` checks its own truth before returning: no address, alias-folded address or
real phone belongs to two people; every record carries an address or a source id; junk never
sits in every evidence field of a record at once.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

FIRST = ["Anna", "Peter", "José", "Zoë", "Łukasz", "Sofia", "Mehmet", "Chloé", "Björn", "Aiko",
         "Fatima", "Oliver", "Marta", "Dmitri", "Grace", "Henrik", "Inès", "Jonas", "Kateřina",
         "Liam", "Mariana", "Noah", "Olga", "Pedro", "Ruth", "Søren", "Tomás", "Ursula", "Vera",
         "Wei", "Yusuf", "Amélie", "Bruno", "Carmen", "Diego", "Elif", "Frida", "Gustav"]
LAST = ["Müller", "Schmidt", "García", "Novák", "Kowalski", "O'Brien", "Nguyen", "Johansson",
        "Rossi", "Dubois", "Yılmaz", "Tanaka", "Silva", "Jensen", "Fischer", "Moreau", "Petrov",
        "Andersen", "Costa", "Lindqvist", "Horvat", "Martínez", "Weber", "Kim", "Okafor", "Brandt"]
COMPANIES = [("Acme", "acme.io"), ("Globex", "globex.com"), ("Initech", "initech.com"),
             ("Umbrella", "umbrella-corp.de"), ("Stark Industries", "stark.com"),
             ("Wayne Enterprises", "wayne.co.uk"), ("Soylent", "soylent.fr"),
             ("Hooli", "hooli.com"), ("Vandelay", "vandelay.es"), ("Tyrell", "tyrell.jp"),
             ("Cyberdyne", "cyberdyne.se"), ("Nakatomi", "nakatomi.nl")]
LEGAL = ["", " GmbH", " Inc.", ", Inc", " Ltd", " LLC", " S.A.", " AG"]
FREE = ["gmail.com", "yahoo.com", "outlook.com", "web.de"]
JUNK_TEXT = ['=HYPERLINK("http://evil.example","Click")', "+cmd|' /C calc'!A0", "@SUM(1+1)",
             "'; DROP TABLE leads;--", "1' OR '1'='1", "😀😀😀", "???", "Select", "N/A", "test",
             "asdf", "-", "n/a", "TEST", "xxx", "null"]
JUNK_PHONES = ["0000000000", "1234567890", "=1+1", "+1 555 555 5555"]


def _ascii(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower().replace("'", "")


def _people(rng: np.random.Generator, n: int) -> pd.DataFrame:
    rows = []
    seen_names: set[tuple[str, str, int]] = set()
    for i in range(n):
        co = int(rng.integers(len(COMPANIES)))
        while True:
            f, la = str(rng.choice(FIRST)), str(rng.choice(LAST))
            if (f, la, co) not in seen_names:
                break
        seen_names.add((f, la, co))
        rows.append({"pid": i, "first": f, "last": la, "co": co})
    p = pd.DataFrame(rows)
    # namesakes: a few people share a full name with someone at another company ...
    # (at a company where nobody bears the name yet: a namesake at the *same* company is the
    # one deliberate pair below, whose mailbox the admin numbers; an accidental second such pair
    # with unrelated mailbox styles would be two people no evidence in the export can tell apart)
    for j in range(0, min(n, 40), 8):
        k = j + 4
        f, la = p.loc[j, "first"], p.loc[j, "last"]
        used = {int(c) for c in p.loc[(p["first"] == f) & (p["last"] == la) & (p.index != k), "co"]}
        co = int(p.loc[k, "co"])
        while co in used:
            co = (co + 1) % len(COMPANIES)
        p.loc[k, ["first", "last", "co"]] = [f, la, co]
    # ... and one pair at the same company (the admin numbers the second mailbox)
    p.loc[n - 1, ["first", "last", "co"]] = p.loc[n - 2, ["first", "last", "co"]].to_numpy()
    mailbox = []
    numbers = rng.choice(np.arange(1_000_000, 9_999_999), size=n, replace=False)
    phones = [f"+4930{x}" if rng.random() < 0.7 else None for x in numbers]
    taken: set[str] = set()
    styles = rng.integers(3, size=n)
    styles[n - 1] = styles[n - 2]          # one admin, one address scheme: the second is numbered
    for r, style in zip(p.itertuples(), styles):
        dom = COMPANIES[r.co][1]
        local = {0: f"{_ascii(r.first)}.{_ascii(r.last)}", 1: f"{_ascii(r.first)[0]}.{_ascii(r.last)}",
                 2: f"{_ascii(r.first)}{_ascii(r.last)}"}[style]
        addr, k = f"{local}@{dom}", 2
        while addr in taken:
            addr, k = f"{local}{k}@{dom}", k + 1
        taken.add(addr)
        mailbox.append(addr)
    p["mailbox"] = mailbox
    personal = []
    for f, la in zip(p["first"], p["last"]):
        addr = f"{_ascii(f)}.{_ascii(la)}{int(rng.integers(10, 99))}@{rng.choice(FREE)}"
        while addr in taken:            # two namesakes picked the same number: pick again
            addr = f"{_ascii(f)}.{_ascii(la)}{int(rng.integers(10, 99))}@{rng.choice(FREE)}"
        taken.add(addr)
        personal.append(addr)
    p["personal"] = personal
    p["phone"] = phones
    return p


def _case(rng: np.random.Generator, s: str) -> str:
    r = rng.random()
    if r < 0.15:
        return s.upper()
    if r < 0.3:
        return s.lower()
    if r < 0.4:
        return f"  {s} "
    if r < 0.5:
        return unicodedata.normalize("NFD", s)        # decomposed accents
    return s


def _phone_format(rng: np.random.Generator, e164: str) -> str:
    national = "0" + e164[3:]
    return [e164, f"+49 {e164[3:5]} {e164[5:]}", f"0049 {e164[3:]}", f"{national[:3]}/{national[3:]}",
            f"({national[:3]}) {national[3:6]}-{national[6:]}"][int(rng.integers(5))]


def messy_export(n_people: int = 300, seed: int = 11) -> pd.DataFrame:
    """Rows (canonical lead fields + ``truth``), in random order."""
    rng = np.random.default_rng(seed)
    p = _people(rng, n_people)
    out = []
    crm = 0
    for r in p.itertuples():
        for _ in range(int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))):
            kind = rng.random()
            rec = {"truth": r.pid, "first_name": _case(rng, r.first), "last_name": _case(rng, r.last),
                   "company": _case(rng, COMPANIES[r.co][0] + str(rng.choice(LEGAL))) if rng.random() < 0.9 else None,
                   "country": "Germany", "source_record_id": None}
            if kind < 0.7:
                local, dom = r.mailbox.split("@")
                tag = "+news" if rng.random() < 0.15 else ""
                rec["email"] = _case(rng, f"{local}{tag}@{dom}") if rng.random() < 0.3 else f"{local}{tag}@{dom}"
            elif kind < 0.85:
                rec["email"] = r.personal
            else:
                crm += 1
                rec["email"], rec["source_record_id"] = None, f"C{crm:05d}"
            rec["phone"] = _phone_format(rng, r.phone) if isinstance(r.phone, str) and rng.random() < 0.7 else None
            j = rng.random()              # junk in at most one free-text field per record
            if j < 0.08:
                rec["first_name"] = str(rng.choice(JUNK_TEXT))
            elif j < 0.16:
                rec["last_name"] = str(rng.choice(JUNK_TEXT))
            elif j < 0.26:
                rec["company"] = str(rng.choice(JUNK_TEXT))
            elif j < 0.30 and rec["phone"] is None:
                rec["phone"] = str(rng.choice(JUNK_PHONES))
            out.append(rec)
    df = pd.DataFrame(out).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    _check_truth(p, df)
    return df


def _check_truth(p: pd.DataFrame, df: pd.DataFrame) -> None:
    """The generator's own promises (the test's truth must be right before it judges anything)."""
    from leadflow.vocab.mailboxes import normalise_emails
    em = normalise_emails(df["email"])
    per_key = pd.DataFrame({"k": em["email_key"], "t": df["truth"]}).dropna().groupby("k")["t"].nunique()
    assert (per_key == 1).all(), "an address belongs to two people"
    assert p["mailbox"].is_unique and p["personal"].is_unique
    assert p["phone"].dropna().is_unique, "a real phone belongs to two people"
    assert (df["email"].notna() | df["source_record_id"].notna()).all(), "a record without identity"
    assert df["source_record_id"].dropna().is_unique
    junk = df["first_name"].isin(JUNK_TEXT) & df["last_name"].isin(JUNK_TEXT)
    assert not junk.any()
    names = p.groupby(["first", "last"])["co"].nunique()
    assert (names > 1).any(), "no namesakes at different companies"
    same_co = p[p.duplicated(["first", "last", "co"], keep=False)]
    assert len(same_co) == 2, "exactly one pair of namesakes at one company"
    assert same_co["mailbox"].str.replace(r"\d", "", regex=True).nunique() == 1, "its second mailbox numbered"
    assert (p.groupby(["co", "last"]).size() > 1).any(), "no colleagues sharing a surname"
    assert df["first_name"].isin(JUNK_TEXT).sum() > 5 and df["company"].isin(JUNK_TEXT).sum() > 5
