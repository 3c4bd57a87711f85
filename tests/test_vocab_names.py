"""A full name delivered in one column, split into given and family name."""

from __future__ import annotations

import pandas as pd
import pytest

from leadflow.vocab.names import split_full_name


@pytest.mark.parametrize("full, first, last", [
    ("Ann Lee", "Ann", "Lee"),
    ("  ann   lee ", "ann", "lee"),
    ("Mary Ann Smith", "Mary Ann", "Smith"),
    ("Lee, Ann", "Ann", "Lee"),
    ("Smith, John A.", "John A.", "Smith"),
    ("Dr. Ann Lee", "Ann", "Lee"),
    ("Mrs Ann Lee", "Ann", "Lee"),
    ("John Smith Jr.", "John", "Smith"),
    ("John Smith, Jr.", "John", "Smith"),
    ("Ann Lee PhD", "Ann", "Lee"),
    ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
    ("Juan de la Cruz", "Juan", "de la Cruz"),
    ("Madonna", "Madonna", None),
    ("Dr.", None, None),
    ("", None, None),
    (None, None, None),
])
def test_a_full_name_splits_into_given_and_family_name(full, first, last) -> None:
    got = split_full_name(pd.Series([full], dtype=object))
    assert got.columns.tolist() == ["first_name", "last_name"]
    row = [None if pd.isna(v) else v for v in got.iloc[0]]
    assert row == [first, last]
