"""Evaluation: splink (Fellegi-Sunter, m/u estimated by EM on DuckDB) against leadflow's hand-set
evidence points, on the demo truth and on the messy held-out style export.

    python -m bench.splink_eval [--records 20000]

Both sides get the *same* cleaned matching keys (standardised leads, junk removed, names read
from addresses where typed ones are junk: ``leadflow.identity.evidence.clean_keys``), and
splink blocks on the same keys as leadflow, so the comparison is about the weights, not the
cleaning. splink is trained unsupervised (no truth): probability of a match from exact-address
pairs, u by random sampling, m by EM over two blocking passes. For each data set the script
prints leadflow's pair precision/recall, and splink's at the match threshold that reaches the
same recall (precision at equal recall), plus splink at its default 0.94 threshold.

Needs ``splink`` and ``duckdb`` (not project dependencies): skips with a message when absent.
Writes bench/results/splink_eval.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from bench._util import write_result
from leadflow.clean import standardise_leads
from leadflow.identity import evidence
from leadflow.identity.resolve import match_keys, resolve
from leadflow.identity.synth import pair_metrics


def _have_splink() -> bool:
    try:
        import duckdb  # noqa: F401
        import splink  # noqa: F401
    except ImportError:
        return False
    return True


def _keys(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    st = evidence.add_junk_flags(standardise_leads(raw), raw).reset_index(drop=True)
    k = evidence.clean_keys(match_keys(st), st)
    cols = ["first_k", "last_k", "co_k", "dom_k", "email_key", "phone_k", "local_k"]
    df = pd.DataFrame({c: k[c].astype(object).where(k[c].notna(), None) for c in cols})
    df.insert(0, "unique_id", np.arange(len(df)))
    return st, df


def _splink_scores(df: pd.DataFrame) -> pd.DataFrame:
    """Pairwise match probabilities from an unsupervised splink model."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch("email_key"),
            cl.ExactMatch("phone_k"),
            cl.JaroWinklerAtThresholds("first_k", [0.92, 0.85]),
            cl.JaroWinklerAtThresholds("last_k", [0.92, 0.85]),
            cl.ExactMatch("dom_k"),
            cl.JaroWinklerAtThresholds("co_k", [0.9]),
            cl.JaroWinklerAtThresholds("local_k", [0.9]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email_key"), block_on("phone_k"), block_on("local_k"),
            block_on("last_k", "dom_k"), block_on("last_k", "co_k"),
            block_on("first_k", "dom_k"), block_on("first_k", "co_k"),
            block_on("first_k", "last_k"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    api = DuckDBAPI()
    linker = Linker(api.register(df, dataset_display_name="leads"), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match([block_on("email_key")], recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_k", "last_k"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email_key"))
    pred = linker.inference.predict(threshold_match_probability=0.01).as_pandas_dataframe()
    return pred[["unique_id_l", "unique_id_r", "match_probability"]]


def _clusters(n: int, pairs: pd.DataFrame, threshold: float) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    p = pairs[pairs["match_probability"] >= threshold]
    g = coo_matrix((np.ones(len(p)), (p["unique_id_l"].to_numpy(), p["unique_id_r"].to_numpy())), shape=(n, n))
    return connected_components(g, directed=False)[1]


def evaluate(name: str, raw: pd.DataFrame, truth: np.ndarray) -> dict[str, Any]:
    t = time.perf_counter()
    st, keys = _keys(raw)
    assign, _ = resolve(st)
    ours = pair_metrics(truth, assign["cluster"].to_numpy())
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    pairs = _splink_scores(keys)
    t_splink = time.perf_counter() - t
    curve = []
    for th in (0.5, 0.8, 0.9, 0.94, 0.97, 0.99, 0.995, 0.999, 0.9999):
        m = pair_metrics(truth, _clusters(len(keys), pairs, th))
        curve.append({"threshold": th, "precision": round(m["precision"], 4), "recall": round(m["recall"], 4)})
    reach = [c for c in curve if c["recall"] >= ours["recall"]]
    at_equal = max(reach, key=lambda c: c["threshold"]) if reach else None
    out = {"records": len(raw), "true_pairs": ours["true_pairs"],
           "leadflow": {"precision": round(ours["precision"], 4), "recall": round(ours["recall"], 4),
                        "seconds": round(t_ours, 1)},
           "splink_curve": curve, "splink_at_equal_recall": at_equal, "splink_seconds": round(t_splink, 1)}
    eq = (f"precision {at_equal['precision']:.4f} (recall {at_equal['recall']:.4f}, threshold "
          f"{at_equal['threshold']})") if at_equal else "never reaches that recall"
    print(f"{name}: {len(raw):,} records, {ours['true_pairs']:,} true pairs | leadflow precision "
          f"{ours['precision']:.4f} recall {ours['recall']:.4f} | splink at equal recall: {eq}")
    print("   splink curve: " + "; ".join(f"{c['threshold']}: P {c['precision']:.4f} R {c['recall']:.4f}"
                                         for c in curve))
    return out


def _demo(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    from bench.identity import _demo_records
    df = _demo_records(n, seed).head(n)
    truth = df.pop("truth_person_id").to_numpy()
    return df.astype(object).where(df.notna(), None), truth


def _messy(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    from tests.identity_messy import messy_export  # the messy held-out style export
    df = messy_export(600, seed=seed)
    return df.drop(columns=["truth"]), df["truth"].to_numpy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args(argv)
    if not _have_splink():
        print("splink/duckdb not installed: skipping the evaluation "
              "(pip install splink==5.0.0 duckdb to run it)", file=sys.stderr)
        return 0
    res = {"demo": evaluate("demo", *_demo(a.records, a.seed)),
           "messy": evaluate("messy", *_messy(7))}
    print(f"results: {write_result('splink_eval', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
