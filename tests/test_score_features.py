"""Feature typing and encoding on values as exports write them: placeholders in number
columns, and one category written in several cases and spacings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.score.features import FramePrep, infer_kind, single_feature_auc, specs_for_frame


def test_a_number_column_with_placeholders_is_a_number():
    vals = [str(v) for v in range(1, 61)] + ["?", "n/a", "-", "Unknown", " NULL ", "#N/A"] * 3
    s = pd.Series(vals, dtype=object)
    assert infer_kind(s) == "numeric"
    prep = FramePrep([{"name": "visits", "kind": "numeric"}]).fit(pd.DataFrame({"visits": s}))
    got = prep.arrays(pd.DataFrame({"visits": pd.Series(["7", "?", "n/a"], dtype=object)}))["visits"]
    assert got[0] == 7 and np.isnan(got[1:]).all()


def test_words_that_are_not_placeholders_keep_a_column_categorical():
    s = pd.Series([str(v) for v in range(60)] + ["lots", "few", "many"] * 3, dtype=object)
    assert infer_kind(s) == "categorical"
    assert infer_kind(pd.Series(["?", "n/a", "-"] * 20, dtype=object)) == "categorical"


def test_one_category_in_several_cases_and_spacings_is_one_level():
    X = pd.DataFrame({"industry": ["SaaS"] * 40 + ["saas "] * 30 + ["SAAS"] * 20 + ["Retail"] * 50
                      + [" retail"] * 30 + ["Software  Services"] * 20 + ["software services"] * 10})
    prep = FramePrep([{"name": "industry", "kind": "categorical"}]).fit(X)
    assert len(prep.levels_["industry"]) == 3 + 2          # + "(missing)" and "(other)"
    codes = prep.arrays(pd.DataFrame({"industry": ["SAAS", "saas", "RETAIL", "Software Services"]}))
    assert codes["industry"][0] == codes["industry"][1] != codes["industry"][2]
    assert prep.levels_["industry"][codes["industry"][3]] != "(other)"


def test_a_model_saved_before_case_folding_reads_levels_as_it_learned_them():
    X = pd.DataFrame({"industry": ["SaaS"] * 40 + ["Retail"] * 40})
    prep = FramePrep([{"name": "industry", "kind": "categorical"}]).fit(X)
    old = FramePrep([{"name": "industry", "kind": "categorical"}])
    old.__dict__.pop("fold_case", None)                       # a bundle pickled before the option
    old.levels_ = {"industry": ["(missing)", "(other)", "Retail", "SaaS"]}
    assert "fold_case" not in old.__dict__
    got = old.arrays(pd.DataFrame({"industry": ["SaaS", "Retail"]}))["industry"]
    assert [old.levels_["industry"][c] for c in got] == ["SaaS", "Retail"]
    new = prep.arrays(pd.DataFrame({"industry": ["SaaS", "retail"]}))["industry"]
    assert prep.levels_["industry"][new[0]] != prep.levels_["industry"][new[1]] != "(other)"


def test_single_feature_auc_reads_case_variants_as_one_level():
    rng = np.random.default_rng(0)
    n = 2000
    seg = rng.choice(["Software", "Retail"], n)
    y = (seg == "Software") & (rng.random(n) < 0.8) | (rng.random(n) < 0.05)
    test_seg = np.where(seg == "Software", "SOFTWARE ", "retail")       # the holdout's spelling
    specs = specs_for_frame(pd.DataFrame({"seg": seg}), {"seg": "capture"})
    aucs = single_feature_auc(pd.DataFrame({"seg": seg}), y, pd.DataFrame({"seg": test_seg}), y, specs)
    assert aucs["seg"] > 0.85


def test_yes_no_words_in_any_spelling_are_one_level():
    s = pd.Series(["Yes", "TRUE", "y", "No", "false", "N", "", None, "Maybe"] * 20, dtype=object)
    prep = FramePrep([{"name": "webinar", "kind": infer_kind(s)}]).fit(pd.DataFrame({"webinar": s}))
    assert sorted(prep.levels_["webinar"]) == ["(missing)", "(other)", "maybe", "no", "yes"]
    got = prep.arrays(pd.DataFrame({"webinar": ["YES", "f", "t", " maybe"]}))["webinar"]
    assert [prep.levels_["webinar"][c] for c in got] == ["yes", "no", "yes", "maybe"]


def test_amounts_written_with_currency_percent_or_grouping_are_numbers():
    vals = ["$1,200", "€950", "£ 12,500.50", "12%", "1,000", "7", "n/a", "-3.5"] * 10
    s = pd.Series(vals, dtype=object)
    assert infer_kind(s) == "numeric"
    prep = FramePrep([{"name": "deal", "kind": "numeric"}]).fit(pd.DataFrame({"deal": s}))
    got = prep.arrays(pd.DataFrame({"deal": s[:8]}))["deal"]
    np.testing.assert_allclose(got, [1200, 950, 12500.5, 12, 1000, 7, np.nan, -3.5])
    assert prep.bounds_["deal"][1] >= 12500          # fitted on the numbers, not on NaN
    rng = np.random.default_rng(0)
    y = rng.random(80) < 0.5
    aucs = single_feature_auc(pd.DataFrame({"deal": s}), y, pd.DataFrame({"deal": s}), y,
                              specs_for_frame(pd.DataFrame({"deal": s}), {"deal": "capture"}))
    assert "deal" in aucs and aucs["deal"] != 0.5    # read as numbers, not all missing
