"""Why resolution misses true pairs of the messy export (a diagnostic, not a test module).

    PYTHONPATH=. python -m tests.identity_messy_misses 11 2 3 4 5 6 [-v]

For every person the resolution splits, each record outside the person's largest fragment is
classed by the evidence it shares with the rest of its person once junk is set aside
(``evidence.clean_keys``: formulas, placeholders and shared fake phones count as missing; a
missing name is read from a ``given.family@`` or ``givenfamily@`` address), and judged:

- *knowable*: its person is the only one in the whole export with a record that agrees with it
  on a name-bearing set of fields (full name; given or family name plus organisation; phone;
  address) and contradicts it on nothing known on both sides, *and* a record of the rest of
  its person that it agrees with fits only that person too (judged from both sides: a CRM row
  "Olga" at Wayne that two Olgas there fit cannot be tied to Olga Petrov's mailbox, however
  well the mailbox fits it);
- *ambiguous*: another person fits as well (a namesake elsewhere, a colleague with the same
  given name), or nothing name-bearing is left (a CRM row with a given name and junk).

``ceiling`` = (pairs found + pairs lost by knowable records) / true pairs bounds the recall of a
resolver that does not guess, and that knows the whole export at once (term frequencies).
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pandas as pd

from leadflow.clean import standardise_leads
from leadflow.identity import evidence
from leadflow.identity.resolve import match_keys, resolve
from leadflow.identity.synth import pair_metrics
from tests.identity_messy import messy_export

FIELDS = ("first_k", "last_k", "org", "phone_k")


def evidence_frame(seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """(export, clean match keys + org + truth + cluster per record, pair metrics)."""
    df = messy_export(300, seed=seed)
    raw = df.drop(columns=["truth"])
    st = evidence.add_junk_flags(standardise_leads(raw), raw)
    assign, _ = resolve(st)
    k = evidence.clean_keys(match_keys(st), st).reset_index(drop=True)
    full = k.dropna(subset=["first_raw", "last_k"])
    spelled = pd.concat([
        pd.DataFrame({"s": full["first_raw"] + full["last_k"], "f": full["first_k"], "l": full["last_k"]}),
        pd.DataFrame({"s": full["last_k"] + full["first_raw"], "f": full["first_k"], "l": full["last_k"]}),
    ]).drop_duplicates("s").set_index("s")
    local = k["local_nd"].where(k["first_k"].isna() | k["last_k"].isna())
    k["first_k"] = k["first_k"].fillna(local.map(spelled["f"]))
    k["last_k"] = k["last_k"].fillna(local.map(spelled["l"]))
    co_dom = k.dropna(subset=["co_k", "mdom_k"]).groupby("co_k")["mdom_k"].agg(lambda s: s.mode().iloc[0])
    k["org"] = k["mdom_k"].fillna(k["co_k"].map(co_dom)).fillna(k["co_k"])
    k["truth"] = df["truth"].to_numpy()
    k["cl"] = assign["cluster"].to_numpy()
    return df, k, pair_metrics(df["truth"].to_numpy(), assign["cluster"].to_numpy())


def _eq(k: pd.DataFrame, r: pd.Series, c: str) -> np.ndarray:
    return (k[c] == r[c]).fillna(False).to_numpy(dtype=bool) if pd.notna(r[c]) else np.zeros(len(k), bool)


def fitting_people(r: pd.Series, k: pd.DataFrame) -> set[int]:
    """Truth ids with a record that agrees with r on name-bearing evidence and contradicts nothing."""
    ok = np.ones(len(k), dtype=bool)
    for c in FIELDS:
        if pd.notna(r[c]):
            ok &= (k[c].isna() | (k[c] == r[c])).to_numpy(dtype=bool)
    f, la, o = _eq(k, r, "first_k"), _eq(k, r, "last_k"), _eq(k, r, "org")
    pos = (f & la) | ((f | la) & o) | _eq(k, r, "phone_k") | _eq(k, r, "email_key")
    return {int(t) for t in k.loc[ok & pos, "truth"]}


def _fits_back(r: pd.Series, rest: pd.DataFrame, k: pd.DataFrame, t: int) -> bool:
    """Some record of ``rest`` that r agrees with fits only person t itself (the other side of
    the lost pair is no more ambiguous than r)."""
    for j, s in rest.iterrows():
        if fitting_people(r, rest.loc[[j]]) and \
                fitting_people(s, k.drop(index=k.index[k["cl"] == s["cl"]])) == {t}:
            return True
    return False


def shared_class(r: pd.Series, rest: pd.DataFrame) -> str:
    """The strongest evidence record r shares with the other records of its person."""
    def has(c: str) -> np.ndarray:
        return _eq(rest, r, c)
    if has("email_key").any():
        return "same address (case/+tag variant)"
    if has("phone_k").any():
        return "same phone"
    if (has("first_k") & has("last_k")).any():
        return "full name only (no shared phone/org/address)"
    if ((has("first_k") | has("last_k")) & has("org")).any():
        return "given or family name + organisation (other name junk/missing)"
    if has("first_k").any() or has("last_k").any():
        return "given or family name alone"
    return "nothing in common"


def diagnose(seed: int, verbose: bool = False) -> dict[str, object]:
    df, k, m = evidence_frame(seed)
    classes: Counter[str] = Counter()
    knowable = ambiguous = 0
    for t, g in k.groupby("truth"):
        if g["cl"].nunique() < 2:
            continue
        order = g["cl"].value_counts().index.tolist()      # largest fragment first
        rank = g["cl"].map({c: j for j, c in enumerate(order)})
        for i in g.index[rank > 0]:
            r = k.loc[i]
            rest = g[rank < rank[i]]       # pairs with earlier fragments: each lost pair once
            fits = fitting_people(r, k.drop(index=g.index[g["cl"] == r["cl"]]))
            verdict = "knowable" if fits == {int(t)} and _fits_back(r, rest, k, int(t)) else "ambiguous"
            knowable += len(rest) if verdict == "knowable" else 0
            ambiguous += len(rest) if verdict == "ambiguous" else 0
            classes[f"{verdict}: {shared_class(r, rest)}"] += len(rest)
            if verbose:
                row = df.loc[i, ["first_name", "last_name", "company", "email", "phone", "source_record_id"]]
                print(f"  {verdict:9s} person {t} (also fits {sorted(fits - {int(t)})}): {row.tolist()}")
    found, true = m["correct_pairs"], m["true_pairs"]
    return {"seed": seed, "precision": m["precision"], "recall": m["recall"], "true_pairs": true,
            "missed": true - found, "knowable": knowable, "ambiguous": ambiguous,
            "ceiling": (found + knowable) / true, "classes": classes}


def main(argv: list[str]) -> None:
    verbose = "-v" in argv
    for seed in (int(a) for a in argv if a != "-v"):
        d = diagnose(seed, verbose)
        print(f"seed {d['seed']}: precision {d['precision']:.4f} recall {d['recall']:.4f} "
              f"({d['missed']} of {d['true_pairs']} pairs missed: {d['knowable']} knowable, "
              f"{d['ambiguous']} ambiguous); ceiling without guessing {d['ceiling']:.4f}")
        for c, n in d["classes"].most_common():  # type: ignore[attr-defined]
            print(f"  {n:3d}  {c}")


if __name__ == "__main__":
    main(sys.argv[1:])
