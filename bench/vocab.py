"""The shared value readers on a million values each: addresses, phones, timestamps.

    python -m bench.vocab [--values 1000000] [--repeat 3]

Every lead passes through these readers (ingest, quality and identity read addresses, phones
and timestamps the same way), so a slow one is paid per stage. Values are synthetic but shaped
like exports: addresses of many people at a handful of domains, international phone numbers of
five countries (Italy's with the 0 that belongs to the number), and US-style timestamps
('11/26/2026 10:15 AM', read by formats guessed from the column) beside ISO 8601 ones. Prints the
median seconds of ``--repeat`` runs and the machine's load average; writes
bench/results/vocab_<values>.json.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bench._util import write_result


def _addresses(rng: np.random.Generator, n: int) -> pd.Series:
    first = np.array(["ann", "bob", "chen", "dana", "eli", "fay", "gus", "hal"])[rng.integers(0, 8, n)]
    dom = np.array(["acme.com", "gmail.com", "globex.io", "initech.de", "yahoo.com"])[rng.integers(0, 5, n)]
    num = rng.integers(0, 200_000, n).astype(str)
    return pd.Series(pd.Series(first).str.cat(pd.Series(num), sep=".") + "@" + dom, dtype=object)


def _phones(rng: np.random.Generator, n: int) -> tuple[pd.Series, pd.Series]:
    cc = np.array(["44", "49", "1", "33", "39"])[rng.integers(0, 5, n)]
    area = pd.Series(cc).map({"44": "20", "49": "30", "1": "415", "33": "1", "39": "06"})
    iso = pd.Series(cc).map({"44": "GB", "49": "DE", "1": "US", "33": "FR", "39": "IT"})
    sub = rng.integers(1_000_000, 9_999_999, n).astype(str)
    return ("+" + pd.Series(cc) + " " + area + " " + pd.Series(sub)).astype(object), iso


def _us_times(rng: np.random.Generator, n: int) -> pd.Series:
    m, d, h = rng.integers(1, 13, n), rng.integers(1, 29, n), rng.integers(1, 13, n)
    return pd.Series([f"{a}/{b}/2026 {c}:15 AM" for a, b, c in zip(m, d, h)], dtype=object)


def _iso_times(rng: np.random.Generator, n: int) -> pd.Series:
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 330 * 86400, n), unit="s")
    return pd.Series(t.strftime("%Y-%m-%dT%H:%M:%SZ"), dtype=object)


def _median(fn: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return sorted(runs)[len(runs) // 2], runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from leadflow.vocab.datetimes import parse_datetimes
    from leadflow.vocab.mailboxes import normalise_emails
    from leadflow.vocab.phones import to_e164
    rng = np.random.default_rng(0)
    emails = _addresses(rng, a.values)
    phones, iso = _phones(rng, a.values)
    us, isot = _us_times(rng, a.values), _iso_times(rng, a.values)
    print(f"{a.values:,} values each, median of {a.repeat}; load average at start {os.getloadavg()[0]:.2f}")
    out: dict[str, dict[str, object]] = {}
    for label, fn in (("normalise_emails", lambda: normalise_emails(emails)),
                      ("to_e164", lambda: to_e164(phones, iso)),
                      ("parse_datetimes ISO 8601", lambda: parse_datetimes(isot)),
                      ("parse_datetimes US style", lambda: parse_datetimes(us))):
        med, runs = _median(fn, a.repeat)
        out[label] = {"median_s": round(med, 3), "runs_s": [round(r, 3) for r in runs]}
        print(f"  {label:28s} {med:7.2f} s   (runs {', '.join(f'{r:.2f}' for r in runs)})")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    print(f"wrote {write_result(f'vocab_{a.values}', {'values': a.values, 'results': out})}")


if __name__ == "__main__":
    main()
