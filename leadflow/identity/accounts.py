"""Lead-to-account matching as a pure function.

Order: the business email domain (free-mail and disposable domains never create or match an
account), else the record's company website domain, else the normalised company name against
existing accounts. A name that belongs to exactly one account matches ('name'); a name shared by
several accounts (same name, different domains = different companies) is flagged 'ambiguous' and
left unassigned rather than guessed; no domain and no known name gives 'none'. Only domains
create accounts: a bare company name is too weak to found one.
"""

from __future__ import annotations

import pandas as pd

from leadflow.vocab.lists import DISPOSABLE, FREE_MAIL


def business_domain(golden: pd.DataFrame) -> pd.Series:
    """The company domain a person's data supports, or NA."""
    email_dom = golden["email_domain"].where(~golden["is_free_mail"].astype(bool)
                                             & ~golden["is_disposable"].astype(bool))
    site = golden["company_domain"] if "company_domain" in golden else pd.Series(pd.NA, index=golden.index)
    site = site.where(~site.isin(FREE_MAIL | DISPOSABLE))
    return email_dom.fillna(site).astype("str")


def new_accounts(golden: pd.DataFrame, existing: pd.DataFrame) -> pd.DataFrame:
    """Accounts to create: one per business domain not yet known, named from its people."""
    dom = business_domain(golden)
    g = golden.assign(domain=dom).dropna(subset=["domain"])
    g = g[~g["domain"].isin(existing["domain"].dropna())]
    if g.empty:
        return pd.DataFrame(columns=["domain", "name", "name_norm", "industry", "company_size", "country"])
    agg = g.sort_values("domain").groupby("domain", sort=True)
    return pd.DataFrame({
        "name": agg["company"].first(),
        "name_norm": agg["company_norm"].first(),
        "industry": agg["industry"].first(),
        "company_size": agg["company_size"].max(),
        "country": agg["country"].first(),
    }).reset_index()


def match_accounts(golden: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """account_id (Int64, NA when none) and account_match (domain|name|ambiguous|none) per row."""
    dom = business_domain(golden)
    by_dom = dict(zip(accounts["domain"].dropna(), accounts.loc[accounts["domain"].notna(), "account_id"]))
    acc = dom.map(by_dom)
    names = accounts.dropna(subset=["name_norm"]).groupby("name_norm")["account_id"].agg(["nunique", "first"])
    name = golden["company_norm"]
    n_hits = name.map(names["nunique"]).fillna(0)
    by_name = name.map(names["first"])
    use_name = acc.isna() & (n_hits == 1)
    ambiguous = acc.isna() & (n_hits > 1)
    out = pd.DataFrame(index=golden.index)
    out["account_id"] = acc.where(acc.notna(), by_name.where(use_name)).astype("Int64")
    out["account_match"] = "none"
    out.loc[acc.notna(), "account_match"] = "domain"
    out.loc[use_name, "account_match"] = "name"
    out.loc[ambiguous, "account_match"] = "ambiguous"
    return out
