"""Standardisation: emails, phones, names, companies, countries, titles, UTM, timestamps."""

from __future__ import annotations

import pandas as pd
import pytest

from leadflow.clean import (
    classify_titles,
    company_norm,
    country_iso2,
    normalise_emails,
    parse_utm,
    standardise_leads,
    to_e164,
    to_utc,
)
from leadflow.clean.names import clean_person_name


def test_emails_normalised_validated_and_flagged() -> None:
    s = pd.Series([" John.Doe+promo@GMail.com ", "info@acme.io", "bad@@acme.io", None, "a@b",
                   "x@mailinator.com", "<mailto:Q@Zeta.co>", "jürgen@bücher.de", "a..b@acme.io"])
    out = normalise_emails(s)
    assert out["email_norm"].iloc[0] == "john.doe+promo@gmail.com"
    assert out["email_key"].iloc[0] == "johndoe@gmail.com"          # alias folded for matching
    assert out["email_valid"].tolist() == [True, True, False, False, False, True, True, True, False]
    assert out["email_norm"].iloc[6] == "q@zeta.co"
    assert out["is_free_mail"].tolist()[:2] == [True, False]
    assert bool(out["is_role_address"].iloc[1]) and not out["is_role_address"].iloc[0]
    assert bool(out["is_disposable"].iloc[5])
    assert out["email_domain"].iloc[7] == "bücher.de"


def test_a_placeholder_address_is_no_address_for_identity() -> None:
    """What people type to get past a required field (noemail@, none@none.com, test@test.com)
    is shared by strangers: identity reads it as no address. A role mailbox (info@) is a real,
    deliverable address and stays one; so do names that merely start like a placeholder word."""
    junk = ["noemail@gmail.com", "NoEmail@Gmail.com", "no.email@acme.com", "no_email+1@acme.com",
            "none@none.com", "test@test.com", "asdf@asdf.com", "na@na.com", "unknown@acme.com",
            "ann.lee@test.com", "xxx@acme.com", "donotemail@acme.com", "noemail123@yahoo.com",
            "fake@fake.com", "dummy@company.com"]
    real = ["ann.lee@acme.com", "info@acme.com", "12345678@qq.com", "nonna.rossi@acme.it",
            "testa@acme.com", "tester.jones@acme.com", "na.kim@acme.co.kr", "bob@example.com",
            "ana.held@acme.test"]          # a reserved test domain: undeliverable, but not shared
    out = normalise_emails(pd.Series(junk + real))
    flag = out["is_placeholder_address"].tolist()
    assert flag == [True] * len(junk) + [False] * len(real), [v for v, f in zip(junk + real, flag)]
    assert out["email_norm"].iloc[:len(junk)].isna().all()
    assert out["email_key"].iloc[:len(junk)].isna().all()
    assert out["email_norm"].iloc[len(junk):].tolist() == real
    assert not out["email_valid"].iloc[:len(junk)].any()


def test_phones_to_e164_using_the_country() -> None:
    p = pd.Series(["(030) 123-4567", "+49 30 1234567", "0049 30 1234567", "415.555.2671 x123",
                   "(415) 555-2671", "N/A", None, "123", "020 7946 0958"])
    c = pd.Series(["DE", "US", None, "US", "US", "US", "US", "US", "GB"])
    out = to_e164(p, c)
    assert out.iloc[:5].tolist() == ["+49301234567"] * 3 + ["+14155552671"] * 2
    assert out.iloc[5:8].isna().all()
    assert out.iloc[8] == "+442079460958"


def test_phones_as_people_write_them_in_international_form() -> None:
    """'+44 020 ...': the trunk 0 typed after the country code (as phonenumbers reads it; Italy
    keeps its 0); a tel-URI extension; a field listing two numbers reads as its first."""
    p = pd.Series(["+44 020 7946 0958", "+49 030 1234567", "+33 01 23 45 67 89", "+39 06 1234 5678",
                   "+1-415-555-2671;ext=3", "020 7946 0958 / 07700 900123", "+44 20 7946 0958; +44 7700 900123",
                   "+61 0412 345 678"])
    c = pd.Series(["GB", "DE", "FR", "IT", "US", "GB", "GB", "AU"])
    assert to_e164(p, c).tolist() == ["+442079460958", "+49301234567", "+33123456789", "+390612345678",
                                      "+14155552671", "+442079460958", "+442079460958", "+61412345678"]


def test_names_casing_whitespace_unicode() -> None:
    s = pd.Series(["  JOHN ", "mcDonald", " van der  Berg", "ｊｏｈｎ", None, "123", "o'neil", "Zoë"])
    out = clean_person_name(s)
    assert out.iloc[[0, 1, 2, 3, 6, 7]].tolist() == ["John", "mcDonald", "van der Berg", "John", "O'Neil", "Zoë"]
    assert out.iloc[[4, 5]].isna().all()


@pytest.mark.parametrize("raw,norm", [
    ("ACME, Inc.", "acme"), ("Acme Incorporated", "acme"), ("The Acme Company", "acme"),
    ("Müller GmbH & Co. KG", "muller"), ("Banco Exemplo S.A.", "banco exemplo"),
    ("Smith & Sons Ltd", "smith and sons"), ("Philips N.V.", "philips"), ("Siemens AG", "siemens"),
    ("Tesco PLC", "tesco"), ("Heineken B.V.", "heineken"), ("Inc", "inc"),
])
def test_company_legal_suffixes_set_aside(raw: str, norm: str) -> None:
    assert company_norm(pd.Series([raw])).iloc[0] == norm


def test_countries_to_iso_alpha2() -> None:
    s = pd.Series(["Germany", "DEU", "de", "U.K.", "United States", "the Netherlands", "Narnia", None,
                   "Korea, Republic of", "Viet Nam", "  FRANCE "])
    out = country_iso2(s)
    assert out.iloc[[0, 1, 2, 3, 4, 5, 8, 9, 10]].tolist() == ["DE", "DE", "DE", "GB", "US", "NL", "KR", "VN", "FR"]
    assert out.iloc[[6, 7]].isna().all()


def test_titles_to_seniority_and_function() -> None:
    t = pd.Series(["VP of Marketing", "Vice President, Sales", "CEO & Founder", "Head of IT",
                   "Marketing Manager", "Software Engineer", "MBA Student", "Chief Financial Officer",
                   "HR Business Partner", "Accountant", None])
    out = classify_titles(t)
    assert out["seniority"].iloc[:10].tolist() == ["vp", "vp", "c_level", "director", "manager",
                                                   "individual_contributor", "student", "c_level",
                                                   "individual_contributor", "individual_contributor"]
    assert out["job_function"].iloc[:10].tolist() == ["marketing", "sales", "executive", "it", "marketing",
                                                      "engineering", "student", "finance", "hr", "finance"]
    assert out.iloc[10].isna().all()


def test_utm_and_utc() -> None:
    u = parse_utm(pd.Series(["https://x.io/p?utm_source=Google&utm_medium=cpc&utm_campaign=Spring%20Sale#top",
                             "https://x.io/?a=1", None]))
    assert u.iloc[0][["utm_source", "utm_medium", "utm_campaign"]].tolist() == ["google", "cpc", "spring sale"]
    assert u.iloc[1:].isna().all().all()
    ts = to_utc(pd.Series(["2026-01-01T10:00:00+02:00", "2026-01-02 00:00", "not a date"]))
    assert ts.iloc[0] == pd.Timestamp("2026-01-01 08:00") and ts.iloc[1] == pd.Timestamp("2026-01-02")
    assert pd.isna(ts.iloc[2])
    aware = pd.Series(pd.to_datetime(["2026-06-01 12:00"]).tz_localize("America/New_York"))
    assert to_utc(aware).iloc[0] == pd.Timestamp("2026-06-01 16:00")


def test_standardise_leads_adds_every_column_and_keeps_rows() -> None:
    df = pd.DataFrame({"email": [" A.B@Acme.COM", "x@gmail.com", None],
                       "first_name": ["ANNA", "bob", None], "phone": ["030 1234567", None, "x"],
                       "country": ["Germany", "usa", None], "company": ["Acme GmbH", None, ""],
                       "job_title": ["VP Sales", "", None], "opt_out": [True, None, False],
                       "landing_url": ["https://a.io/?utm_source=li", None, None],
                       "created_at": ["2026-01-01T10:00:00+02:00", "2026-01-02", None]})
    out = standardise_leads(df)
    assert len(out) == 3
    for c in ("email_norm", "email_domain", "is_free_mail", "is_role_address", "is_disposable", "phone_e164",
              "first_name", "last_name", "company_norm", "country", "seniority", "job_function",
              "utm_source", "utm_medium", "utm_campaign", "created_at"):
        assert c in out.columns, c
    r = out.iloc[0]
    assert (r["email_norm"], r["phone_e164"], r["country"], r["company_norm"], r["seniority"],
            r["utm_source"], r["first_name"]) == ("a.b@acme.com", "+49301234567", "DE", "acme", "vp", "li", "Anna")
    assert out["opt_out"].tolist() == [True, False, False]
    assert out["created_at"].iloc[0] == pd.Timestamp("2026-01-01 08:00")
    assert pd.isna(out["company_norm"].iloc[2]) and bool(out["is_free_mail"].iloc[1])


def test_all_missing_emails_normalise_without_error() -> None:
    """A delivery whose email column is entirely empty (ids only) still normalises."""
    import pandas as pd

    from leadflow.clean import normalise_emails

    out = normalise_emails(pd.Series([None, None], dtype=object))
    assert out["email_norm"].isna().all() and not out["email_valid"].any()


def test_phone_fast_path_equals_phonenumbers_on_random_numbers() -> None:
    """National numbers are parsed once per group of identical parse decisions; the result must
    be what phonenumbers gives for every number (random digits, many regions, odd prefixes)."""
    import numpy as np
    import phonenumbers

    from leadflow.vocab.phones import _parse

    rng = np.random.default_rng(5)
    regions = ["US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK",
               "FI", "IE", "PL", "PT", "AU", "NZ", "IN", "SG", "JP", "BR", "MX", "AR", "ZA", "IL",
               "RU", "CN", "HK", "KR", "AE", "TR", "GR", "CZ", "HU", "RO", "CO", "CL", "BY", "KZ", "LT"]
    n = 12_000
    length = rng.integers(6, 15, n)
    body = rng.integers(0, 10, (n, 14)).astype(str)
    digits = ["".join(row[:k]) for row, k in zip(body, length)]
    # '8' / '183': trunk prefixes that some numbers keep (RU, BY, KZ, LT, AU), others drop
    lead = rng.choice(["", "", "0", "1", "011", "0011", "8", "8", "183", "9", "44", "49", "55", "90"], n)
    nums = pd.Series([a + b for a, b in zip(lead, digits)], dtype="str")
    nums = nums[~nums.str.startswith("00")].reset_index(drop=True)   # 00 = + (documented rule)
    n = len(nums)
    region = pd.Series(rng.choice(regions, n), dtype="str")
    region[::50] = None                          # no country: only +numbers can be placed
    got = to_e164(nums, region)
    want = pd.Series([_parse(x, r if isinstance(r, str) else None) for x, r in zip(nums, region)], dtype="str")
    same = (got == want).fillna(False) | (got.isna() & want.isna())
    assert same.all(), pd.DataFrame({"n": nums, "r": region, "got": got, "want": want})[~same].head()
    assert want.notna().sum() > n // 3          # the sample exercises real numbers
    assert phonenumbers.is_possible_number(phonenumbers.parse(got.dropna().iloc[0]))


def test_company_domain_is_read_from_what_people_type_in_a_website_field() -> None:
    """A website field holds URLs with ports, e-mail addresses and a trailing dot as often as
    bare domains; each names the company's domain. Junk stays missing."""
    from leadflow.clean import _domain
    typed = ["https://www.Acme.com/about", "WWW.ACME.COM", "http://acme.co.uk:8080/x", "acme.com:443",
             "@acme.com", "ann@acme.com", "mailto:ann@acme.com", "//acme.com", "acme.com.", "www2.acme.com",
             "acme", "=HYPERLINK(\"x\")", "N/A", "http://", None]
    want = ["acme.com", "acme.com", "acme.co.uk", "acme.com", "acme.com", "acme.com", "acme.com", "acme.com",
            "acme.com", "acme.com", None, None, None, None, None]
    got = _domain(pd.Series(typed, dtype=object))
    assert [None if pd.isna(v) else v for v in got] == want
