"""Value maps and coded fields: values as people type them reach their canonical spelling."""

from __future__ import annotations

import pandas as pd

from leadflow.ingest.mapping import apply_value_map, spelled_as_code


def test_a_value_map_matches_whatever_the_case_and_spacing() -> None:
    vm = {"Closed Won": "won", "N/A": None, "Select": None}
    s = pd.Series(["Closed Won", "closed  won ", " CLOSED WON", "n/a", "SELECT", "Closed-Won", None])
    assert apply_value_map(s, vm, vm).tolist() == ["won", "won", "won", None, None, "Closed-Won", None]


def test_keys_that_differ_only_in_case_match_exactly_only() -> None:
    """Two keys one spelling apart map to different values: only an exact match decides."""
    vm = {"US": "us_dollars", "us": "pronoun", "Yes": "true"}
    s = pd.Series(["US", "us", "Us", "YES "])
    assert apply_value_map(s, vm, vm).tolist() == ["us_dollars", "pronoun", "Us", "true"]


def test_keys_that_agree_are_not_ambiguous_and_exact_wins_over_loose() -> None:
    vm = {"N/A": None, "n/a": None, "won": "won", "WON ": "lost"}
    s = pd.Series([" N/a", "WON ", "Won"])
    assert apply_value_map(s, vm, vm).tolist() == [None, "lost", "Won"]


def test_codes_are_spelled_canonically_and_missing_stays_missing() -> None:
    s = pd.Series(["Step Reached", " no  budget ", "Follow-Up", "won", None, "  "])
    assert spelled_as_code(s).tolist() == ["step_reached", "no_budget", "follow_up", "won", None, None]


def test_a_mapped_code_field_is_read_in_the_codes_spelling() -> None:
    """A touch type typed as a person would ("Demo Request") is the code ``demo_request``: the
    quality check and the hand-raiser rule read the same value the feedback step would."""
    import numpy as np

    from leadflow.config import Source
    from leadflow.ingest.mapping import map_frame
    src = Source.model_validate({"name": "web", "owner": "ops", "kind": "touches",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"Id": "source_touch_id", "Email": "email", "Type": "touch_type"}})
    raw = pd.DataFrame({"Id": ["t1", "t2", "t3"], "Email": ["a@x.com"] * 3,
                        "Type": ["Demo Request", " form-fill", "Telepathy"]}, dtype=object)
    assert map_frame(src, raw, np.array([1, 2, 3])).frame["touch_type"].tolist() == [
        "demo_request", "form_fill", "telepathy"]


def test_a_fields_own_map_matches_loosely_and_the_every_column_map_exactly() -> None:
    """``"*"`` keys apply to every column, so they match exactly (cost); a field's or a
    column's own keys also match the value typed in another case or spacing."""
    import numpy as np

    from leadflow.config import Source
    from leadflow.ingest.mapping import map_frame
    src = Source.model_validate({"name": "web", "owner": "ops", "kind": "inbound_leads",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"Email": "email", "Source": "lead_source"},
                                 "value_maps": {"*": {"Select": None}, "lead_source": {"google ads": "Google"},
                                                "Colour": {"Dark Red": "red"}}})
    raw = pd.DataFrame({"Email": ["a@x.com", "b@x.com", "c@x.com"],
                        "Source": [" GOOGLE  Ads", "select", "Select"],
                        "Colour": ["dark red ", "SELECT", "Select"]}, dtype=object)
    m = map_frame(src, raw, np.array([1, 2, 3]))
    assert m.frame["lead_source"].tolist() == ["Google", "select", None]
    assert m.attrs["Colour"].tolist() == ["red", "SELECT", None]


def test_a_source_declares_its_day_month_order_and_an_open_one_is_rejected_by_name() -> None:
    """A daily export whose dates are all the 3rd shows no order: ``day_first`` settles it. A
    delivery mixing both orders rejects only the value that could be either, saying why."""
    import numpy as np

    from leadflow.config import Source
    from leadflow.ingest.mapping import map_frame

    def source(**over: object) -> Source:
        return Source.model_validate({"name": "web", "owner": "ops", "kind": "inbound_leads",
                                      "connector": {"type": "file", "path": "x"},
                                      "mapping": {"Email": "email", "Created": "created_at"}, **over})
    raw = pd.DataFrame({"Email": ["a@x.com", "b@x.com"], "Created": ["03/11/2026", "03/11/2026 10:00"]},
                       dtype=object)
    rows = np.array([1, 2])
    assert map_frame(source(day_first=True), raw, rows).frame["created_at"].dt.month.tolist() == [11, 11]
    assert map_frame(source(), raw, rows).frame["created_at"].dt.month.tolist() == [3, 3]
    mixed = pd.DataFrame({"Email": ["a@x.com", "b@x.com", "c@x.com"],
                          "Created": ["28/11/2026", "11/28/2026", "03/04/2026"]}, dtype=object)
    m = map_frame(source(), mixed, np.array([1, 2, 3]))
    assert m.frame["row_number"].tolist() == [1, 2]
    assert m.rejects["row_number"].tolist() == [3]
    assert "day_first" in " ".join(m.rejects["reasons"].iloc[0])


def test_numbers_with_thousands_grouping_are_read() -> None:
    """'1,000' employees or a '12,500.50' deal, as spreadsheets format them, are numbers; a
    column that writes decimals with a comma ('12,5') keeps its commas unread (quarantined as
    before), because there '1,000' could be one."""
    from leadflow.ingest.coerce import to_float, to_int
    s = pd.Series(["1,000", "12,500", "1,234,567", "-2,000", "1000", None, "1,00,000", ",100", "1,000.5"],
                  dtype=object)
    got, bad = to_int(s)
    assert got.astype(object).where(got.notna(), None).tolist() == [1000, 12500, 1234567, -2000, 1000] + [None] * 4
    assert bad.tolist() == [False] * 6 + [True] * 3
    amount, bad = to_float(pd.Series(["12,500.50", "0.5", "3,000"], dtype=object))
    assert amount.tolist() == [12500.5, 0.5, 3000.0] and not bad.any()
    european = pd.Series(["1,000", "12,5"], dtype=object)
    assert to_float(european)[1].tolist() == [True, True]


def test_a_currency_code_is_read_in_capitals() -> None:
    """'usd' or ' Eur ' is the ISO code USD / EUR (quality checks the code's form and that it is
    the report's); a value that is no code stays as delivered and fails there."""
    import numpy as np

    from leadflow.config import Source
    from leadflow.ingest.mapping import map_frame
    src = Source.model_validate({"name": "ads", "owner": "ops", "kind": "campaign_spend",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"Campaign": "campaign_id", "Cur": "currency"}})
    raw = pd.DataFrame({"Campaign": ["c1", "c2", "c3", "c4"], "Cur": ["usd", " Eur ", "US Dollar", None]},
                       dtype=object)
    assert map_frame(src, raw, np.array([1, 2, 3, 4])).frame["currency"].tolist() == ["USD", "EUR", "US Dollar", None]


def test_a_full_name_column_fills_given_and_family_name() -> None:
    """An export with one 'Name' column maps it to ``full_name``: each row gets its given and
    family name from it, unless the row delivers them apart (those win)."""
    import numpy as np

    from leadflow.config import Source
    from leadflow.ingest.mapping import map_frame
    src = Source.model_validate({"name": "web", "owner": "ops", "kind": "inbound_leads",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"Email": "email", "Name": "full_name", "Last": "last_name"}})
    raw = pd.DataFrame({"Email": ["a@x.com", "b@x.com", "c@x.com"],
                        "Name": ["Dr. Ann Lee", "Lee, Bob", None], "Last": [None, "Leigh", "Cole"]}, dtype=object)
    f = map_frame(src, raw, np.array([1, 2, 3])).frame
    assert f["first_name"].tolist() == ["Ann", "Bob", None]
    assert f["last_name"].tolist() == ["Lee", "Leigh", "Cole"]
    assert "full_name" not in f.columns


def test_a_company_size_band_is_read_as_a_head_count() -> None:
    """Lead-gen forms and CRMs export employees as bands ('51-200', '10,001+'): a closed band is
    its midpoint, an open one its lower bound, so routing's and scoring's size ranges apply; a
    band that is not one ('Self-employed', '200-51') stays unreadable and is quarantined."""
    import numpy as np

    from leadflow.config import Source
    from leadflow.ingest.mapping import map_frame
    src = Source.model_validate({"name": "web", "owner": "ops", "kind": "inbound_leads",
                                 "connector": {"type": "file", "path": "x"},
                                 "mapping": {"Email": "email", "Employees": "company_size"}})
    bands = ["51-200", "1-10", "10,001+", "201 - 500", "1,001–5,000", "11 to 50", "5000", "10000 or more",
             ">1000", "Self-employed", "200-51"]
    raw = pd.DataFrame({"Email": [f"p{i}@x.com" for i in range(len(bands))], "Employees": bands}, dtype=object)
    m = map_frame(src, raw, np.arange(1, len(bands) + 1), keep_bad=True)
    got = m.frame["company_size"].astype(object).where(m.frame["company_size"].notna(), None).tolist()
    assert got == [126, 6, 10001, 351, 3001, 31, 5000, 10000, 1001, None, None]
    assert sorted(m.rejects["row_number"].tolist()) == [10, 11]


def test_a_head_count_with_a_unit_a_k_or_an_upper_bound_is_read() -> None:
    """'250 employees', '10K+', '1k-5k', '2.5k', '10 000', '~100', '<10', 'up to 50': counts as
    people type and forms print them. A closed band is its midpoint, '<N' the band 1..N-1, 'up
    to N' 1..N; a plain decimal ('12.5') is not a count and stays unreadable."""
    from leadflow.vocab.numbers import band_counts
    vals = ["250 employees", "10K+", "1k-5k", "2.5k", "10 000", "10\u00a0000", "~100", "approx. 50",
            "<10", "less than 10", "under 10", "up to 50", "1-10 employees", "11-50 Mitarbeiter",
            "ca. 200", "51 to 200 staff", "12.5", "lots"]
    got = band_counts(pd.Series(vals, dtype=object)).tolist()
    assert got == ["250", "10000", "3000", "2500", "10000", "10000", "100", "50",
                   "5", "5", "5", "26", "6", "31", "200", "126", "12.5", "lots"]
