"""Reference tables and Faker-built pools the demo generator samples from.

Faker is called only to fill small pools (a few thousand names and cities per locale); every
lead is then drawn from these pools with numpy, so a million leads cost array operations only.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
from faker import Faker

# ISO2, name, alias names, weight, faker locale, calling code, trunk prefix, region, TLD,
# mobile national-number prefixes (first digits kept; the rest random).
COUNTRIES: list[dict] = [
    dict(iso="US", name="United States", aliases=["USA", "United States of America", "U.S."],
         weight=0.34, locale="en_US", cc="1", trunk="", region="NA", tld="com",
         prefixes=["212", "415", "312", "617", "206", "512", "303", "404", "646", "213", "305", "470"]),
    dict(iso="CA", name="Canada", aliases=[], weight=0.05, locale="en_CA", cc="1", trunk="",
         region="NA", tld="ca", prefixes=["416", "604", "514", "403", "613"]),
    dict(iso="GB", name="United Kingdom", aliases=["UK", "Great Britain", "England"], weight=0.12,
         locale="en_GB", cc="44", trunk="0", region="EMEA", tld="co.uk",
         prefixes=["20", "161", "121", "131", "113", "74", "75", "77", "78", "79"]),
    dict(iso="DE", name="Germany", aliases=["Deutschland"], weight=0.08, locale="de_DE", cc="49",
         trunk="0", region="EMEA", tld="de", prefixes=["30", "89", "40", "69", "151", "160", "170", "176"]),
    dict(iso="FR", name="France", aliases=[], weight=0.06, locale="fr_FR", cc="33", trunk="0",
         region="EMEA", tld="fr", prefixes=["1", "4", "6", "7"]),
    dict(iso="NL", name="Netherlands", aliases=["The Netherlands", "Holland"], weight=0.04,
         locale="nl_NL", cc="31", trunk="0", region="EMEA", tld="nl", prefixes=["20", "10", "30", "6"]),
    dict(iso="ES", name="Spain", aliases=["España"], weight=0.03, locale="es_ES", cc="34", trunk="",
         region="EMEA", tld="es", prefixes=["91", "93", "6"]),
    dict(iso="IE", name="Ireland", aliases=[], weight=0.02, locale="en_IE", cc="353", trunk="0",
         region="EMEA", tld="ie", prefixes=["1", "85", "86", "87"]),
    dict(iso="SE", name="Sweden", aliases=[], weight=0.02, locale="sv_SE", cc="46", trunk="0",
         region="EMEA", tld="se", prefixes=["8", "70", "72", "73"]),
    dict(iso="IT", name="Italy", aliases=["Italia"], weight=0.03, locale="it_IT", cc="39", trunk="",
         region="EMEA", tld="it", prefixes=["02", "06", "33", "34"]),
    dict(iso="AU", name="Australia", aliases=[], weight=0.05, locale="en_AU", cc="61", trunk="0",
         region="APAC", tld="com.au", prefixes=["2", "3", "4"]),
    dict(iso="IN", name="India", aliases=[], weight=0.07, locale="en_IN", cc="91", trunk="0",
         region="APAC", tld="in", prefixes=["98", "99", "97", "22", "80"]),
    dict(iso="SG", name="Singapore", aliases=[], weight=0.02, locale="en_US", cc="65", trunk="",
         region="APAC", tld="sg", prefixes=["6", "8", "9"]),
    dict(iso="BR", name="Brazil", aliases=["Brasil"], weight=0.04, locale="pt_BR", cc="55", trunk="0",
         region="NA", tld="com.br", prefixes=["11", "21", "31"]),
    dict(iso="MX", name="Mexico", aliases=[], weight=0.02, locale="es_MX", cc="52", trunk="",
         region="NA", tld="mx", prefixes=["55", "33", "81"]),
    dict(iso="CH", name="Switzerland", aliases=["Schweiz"], weight=0.02, locale="de_CH", cc="41",
         trunk="0", region="EMEA", tld="ch", prefixes=["44", "22", "79", "78"]),
]
# National significant number length per calling code (approximate but plausible).
NSN_LEN = {"1": 10, "44": 10, "49": 11, "33": 9, "31": 9, "34": 9, "353": 9, "46": 9, "39": 10,
           "61": 9, "91": 10, "65": 8, "55": 11, "52": 10, "41": 9}

# Real cities (Faker's en_* cities are invented, which reads oddly in a demo list).
CITIES = {
    "US": ["New York", "San Francisco", "Chicago", "Boston", "Seattle", "Austin", "Denver", "Atlanta",
           "Los Angeles", "Miami", "Dallas", "San Diego", "Portland", "Raleigh"],
    "CA": ["Toronto", "Vancouver", "Montreal", "Calgary", "Ottawa"],
    "GB": ["London", "Manchester", "Birmingham", "Edinburgh", "Leeds", "Bristol", "Glasgow", "Cambridge"],
    "DE": ["Berlin", "München", "Hamburg", "Frankfurt am Main", "Köln", "Stuttgart", "Düsseldorf"],
    "FR": ["Paris", "Lyon", "Marseille", "Toulouse", "Lille", "Nantes"],
    "NL": ["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven", "Den Haag"],
    "ES": ["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao"],
    "IE": ["Dublin", "Cork", "Galway", "Limerick"],
    "SE": ["Stockholm", "Göteborg", "Malmö", "Uppsala"],
    "IT": ["Milano", "Roma", "Torino", "Bologna", "Firenze"],
    "AU": ["Sydney", "Melbourne", "Brisbane", "Perth", "Adelaide"],
    "IN": ["Bengaluru", "Mumbai", "Delhi", "Hyderabad", "Pune", "Chennai"],
    "SG": ["Singapore"],
    "BR": ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba"],
    "MX": ["Ciudad de México", "Guadalajara", "Monterrey"],
    "CH": ["Zürich", "Genève", "Basel", "Bern", "Lausanne"],
}

LEGAL = {"US": ["Inc", "Inc.", "LLC", "Corp"], "CA": ["Inc", "Ltd"], "GB": ["Ltd", "Limited", "PLC"],
         "DE": ["GmbH", "AG"], "FR": ["SAS", "S.A."], "NL": ["B.V.", "N.V."], "ES": ["S.L.", "S.A."],
         "IE": ["Ltd", "DAC"], "SE": ["AB"], "IT": ["S.p.A.", "S.r.l."], "AU": ["Pty Ltd"],
         "IN": ["Pvt Ltd", "Private Limited"], "SG": ["Pte Ltd"], "BR": ["Ltda", "S.A."],
         "MX": ["S.A. de C.V."], "CH": ["AG", "GmbH"]}

INDUSTRIES = ["Software", "IT Services", "Financial Services", "Healthcare", "Manufacturing",
              "Retail", "Education", "Government", "Telecommunications", "Media", "Logistics",
              "Energy", "Professional Services", "Non-profit"]
INDUSTRY_WEIGHTS = [0.16, 0.10, 0.10, 0.09, 0.11, 0.08, 0.06, 0.04, 0.05, 0.05, 0.05, 0.04, 0.05, 0.02]
# Words that make company names read like the industry.
INDUSTRY_WORDS = {
    "Software": ["Software", "Labs", "Cloud", "Systems", "Technologies", "Data", "Analytics"],
    "IT Services": ["IT Solutions", "Consulting", "Networks", "Digital", "Tech Services"],
    "Financial Services": ["Capital", "Financial", "Bank", "Insurance", "Partners", "Wealth"],
    "Healthcare": ["Health", "Medical", "Care", "Clinics", "Pharma", "Biotech"],
    "Manufacturing": ["Industries", "Manufacturing", "Engineering", "Components", "Works"],
    "Retail": ["Retail", "Stores", "Brands", "Outfitters", "Market"],
    "Education": ["Academy", "Learning", "University", "Education", "School"],
    "Government": ["County", "City Council", "Agency", "Authority", "Department"],
    "Telecommunications": ["Telecom", "Communications", "Mobile", "Wireless"],
    "Media": ["Media", "Studios", "Publishing", "Entertainment"],
    "Logistics": ["Logistics", "Freight", "Transport", "Shipping"],
    "Energy": ["Energy", "Power", "Solar", "Utilities"],
    "Professional Services": ["Advisory", "Associates", "Group", "Consultants", "Law"],
    "Non-profit": ["Foundation", "Trust", "Alliance", "Society"],
}
BRAND_WORDS = ["Apex", "Summit", "Nova", "Vertex", "Pioneer", "Blue", "Red", "Green", "North",
               "Northwind", "Silver", "Golden", "Bright", "Clear", "Quantum", "Atlas", "Orion",
               "Harbor", "River", "Stone", "Cedar", "Oak", "Pine", "Falcon", "Eagle", "Lion",
               "Zenith", "Horizon", "Pacific", "Atlantic", "Alpine", "Polar", "Solar", "Lunar",
               "Vector", "Matrix", "Nimbus", "Crescent", "Sterling", "Beacon", "Keystone",
               "Meridian", "Evergreen", "Redwood", "Ironwood", "Granite", "Cobalt", "Indigo",
               "Crimson", "Amber", "Jade", "Onyx", "Sapphire", "Emerald", "Titan", "Vanguard",
               "Frontier", "Legacy", "Liberty", "Unity", "Fusion", "Synergy", "Catalyst", "Kinetic",
               "Dynamo", "Spark", "Bolt", "Swift", "Rapid", "Agile", "Smart", "Prime", "First",
               "Global", "United", "Allied", "Central", "Metro", "Urban", "Coastal", "Highland"]

# title, seniority, function, weight
TITLES: list[tuple[str, str, str, float]] = [
    ("Chief Executive Officer", "c_level", "executive", 1.0), ("CEO", "c_level", "executive", 1.0),
    ("Founder", "c_level", "executive", 0.8), ("Chief Marketing Officer", "c_level", "marketing", 0.7),
    ("CMO", "c_level", "marketing", 0.5), ("Chief Technology Officer", "c_level", "it", 0.6),
    ("CTO", "c_level", "it", 0.5), ("Chief Financial Officer", "c_level", "finance", 0.5),
    ("CIO", "c_level", "it", 0.4), ("Chief Revenue Officer", "c_level", "sales", 0.4),
    ("VP of Marketing", "vp", "marketing", 1.2), ("VP Marketing", "vp", "marketing", 0.8),
    ("Vice President, Sales", "vp", "sales", 1.0), ("VP Sales", "vp", "sales", 0.8),
    ("VP of Engineering", "vp", "engineering", 0.8), ("VP Finance", "vp", "finance", 0.4),
    ("VP Operations", "vp", "operations", 0.5), ("SVP Demand Generation", "vp", "marketing", 0.3),
    ("Director of Marketing", "director", "marketing", 2.2), ("Marketing Director", "director", "marketing", 1.5),
    ("Director of Demand Generation", "director", "marketing", 1.0),
    ("Sales Director", "director", "sales", 1.5), ("Director of IT", "director", "it", 1.3),
    ("IT Director", "director", "it", 0.9), ("Director of Engineering", "director", "engineering", 1.0),
    ("Finance Director", "director", "finance", 0.8), ("Director of Operations", "director", "operations", 1.0),
    ("HR Director", "director", "hr", 0.6), ("Head of Growth", "director", "marketing", 0.8),
    ("Marketing Manager", "manager", "marketing", 3.5), ("Digital Marketing Manager", "manager", "marketing", 2.0),
    ("Marketing Operations Manager", "manager", "marketing", 1.5),
    ("Product Marketing Manager", "manager", "marketing", 1.2),
    ("Sales Manager", "manager", "sales", 2.5), ("Account Manager", "manager", "sales", 1.5),
    ("IT Manager", "manager", "it", 2.0), ("Engineering Manager", "manager", "engineering", 1.2),
    ("Operations Manager", "manager", "operations", 1.8), ("Finance Manager", "manager", "finance", 1.0),
    ("HR Manager", "manager", "hr", 1.0), ("Project Manager", "manager", "operations", 1.5),
    ("Marketing Specialist", "individual_contributor", "marketing", 3.0),
    ("Marketing Coordinator", "individual_contributor", "marketing", 2.0),
    ("Content Marketer", "individual_contributor", "marketing", 1.2),
    ("SEO Specialist", "individual_contributor", "marketing", 1.0),
    ("Sales Representative", "individual_contributor", "sales", 2.5),
    ("Business Development Representative", "individual_contributor", "sales", 1.8),
    ("Software Engineer", "individual_contributor", "engineering", 3.0),
    ("Data Analyst", "individual_contributor", "it", 2.0),
    ("Systems Administrator", "individual_contributor", "it", 1.5),
    ("Accountant", "individual_contributor", "finance", 1.5),
    ("Financial Analyst", "individual_contributor", "finance", 1.2),
    ("Operations Analyst", "individual_contributor", "operations", 1.2),
    ("HR Generalist", "individual_contributor", "hr", 1.0),
    ("Consultant", "individual_contributor", "other", 1.5), ("Teacher", "individual_contributor", "other", 0.6),
    ("Student", "student", "other", 2.5), ("MBA Candidate", "student", "other", 0.6),
    ("Intern", "student", "other", 1.0),
]

# Formal name -> informal variants (for nickname duplicates).
NICKNAMES = {
    "Robert": ["Bob", "Rob", "Bobby"], "William": ["Bill", "Will", "Billy"], "Richard": ["Rick", "Dick", "Rich"],
    "James": ["Jim", "Jimmy", "Jamie"], "Michael": ["Mike", "Mick"], "Elizabeth": ["Liz", "Beth", "Lizzie"],
    "Katherine": ["Kate", "Kathy", "Katie"], "Catherine": ["Cathy", "Kate"], "Jennifer": ["Jen", "Jenny"],
    "Margaret": ["Maggie", "Peggy", "Meg"], "Thomas": ["Tom", "Tommy"], "Christopher": ["Chris"],
    "Daniel": ["Dan", "Danny"], "Joseph": ["Joe", "Joey"], "Anthony": ["Tony"], "Patricia": ["Pat", "Patty"],
    "Susan": ["Sue", "Suzy"], "Rebecca": ["Becky", "Becca"], "Alexander": ["Alex", "Sasha"],
    "Nicholas": ["Nick"], "Jonathan": ["Jon"], "Andrew": ["Andy", "Drew"], "Matthew": ["Matt"],
    "Samuel": ["Sam"], "Benjamin": ["Ben"], "Edward": ["Ed", "Eddie", "Ted"], "Victoria": ["Vicky", "Tori"],
    "Deborah": ["Debbie", "Deb"], "Timothy": ["Tim"], "Steven": ["Steve"], "Stephen": ["Steve"],
    "Jessica": ["Jess"], "Charles": ["Charlie", "Chuck"], "David": ["Dave"], "Gregory": ["Greg"],
    "Kenneth": ["Ken"], "Ronald": ["Ron"], "Donald": ["Don"], "Lawrence": ["Larry"], "Peter": ["Pete"],
    "Jacqueline": ["Jackie"], "Christine": ["Chris", "Tina"], "Kimberly": ["Kim"], "Pamela": ["Pam"],
    "Johannes": ["Hans"], "Wolfgang": ["Wolf"], "Francesco": ["Franco"], "Giuseppe": ["Beppe"],
    "Alejandro": ["Alex"], "Francisco": ["Paco", "Fran"], "Guillaume": ["Will"],
}

FREE_MAIL_DOMAINS = {"default": ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "aol.com"],
                     "GB": ["gmail.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com", "outlook.com"],
                     "DE": ["gmail.com", "gmx.de", "web.de", "t-online.de"],
                     "FR": ["gmail.com", "orange.fr", "free.fr", "hotmail.fr"],
                     "IT": ["gmail.com", "libero.it", "virgilio.it"],
                     "IN": ["gmail.com", "yahoo.co.in", "rediffmail.com"],
                     "BR": ["gmail.com", "uol.com.br", "hotmail.com"]}
ROLE_LOCALS = ["info", "sales", "marketing", "contact", "hello", "office"]
COMPETITORS = [("LeadSpark", "leadspark.io"), ("FunnelForge", "funnelforge.com"),
               ("PipelinePro", "pipelinepro.com")]

# channel -> (label in lead files, lead share, cost per lead in USD, campaigns, utm source, utm medium)
CHANNELS: dict[str, dict] = {
    "paid_search": dict(label="Paid Search", share=0.24, cpl=120.0, n=6, src="google", med="cpc",
                        lead_source=["Google Ads", "Bing Ads"]),
    "paid_social": dict(label="Paid Social", share=0.17, cpl=85.0, n=5, src="linkedin", med="paid_social",
                        lead_source=["LinkedIn", "Facebook"]),
    "email": dict(label="Email", share=0.10, cpl=18.0, n=5, src="newsletter", med="email",
                  lead_source=["Newsletter", "Email Campaign"]),
    "webinar": dict(label="Webinar", share=0.10, cpl=150.0, n=4, src="webinar", med="event",
                    lead_source=["Webinar"]),
    "trade_show": dict(label="Trade Show", share=0.06, cpl=420.0, n=3, src="event", med="event",
                       lead_source=["Trade Show", "Event"]),
    "content_syndication": dict(label="Content Syndication", share=0.09, cpl=65.0, n=3, src="syndication",
                                med="content", lead_source=["Content Syndication"]),
    "organic": dict(label="Organic", share=0.16, cpl=0.0, n=2, src="google", med="organic",
                    lead_source=["Organic Search", "Website"]),
    "referral": dict(label="Referral", share=0.08, cpl=0.0, n=2, src="partner", med="referral",
                     lead_source=["Referral", "Partner"]),
}
CAMPAIGN_THEMES = {
    "paid_search": ["Brand Search", "Competitor Search", "Generic Search", "Retargeting Search",
                    "Lead Scoring Keywords", "Sales Handoff Keywords"],
    "paid_social": ["LinkedIn ABM", "LinkedIn Lead Gen Forms", "Facebook Lookalike", "LinkedIn Retargeting",
                    "Twitter Awareness"],
    "email": ["Monthly Newsletter", "Nurture Track A", "Nurture Track B", "Product Launch Email",
              "Re-engagement"],
    "webinar": ["Webinar: Lead Scoring 101", "Webinar: Sales & Marketing Alignment",
                "Webinar: Attribution That Works", "Webinar: Customer Story"],
    "trade_show": ["SaaStr Booth", "Dreamforce Booth", "Web Summit Booth"],
    "content_syndication": ["Syndicated eBook: Funnel Metrics", "Syndicated Report: State of B2B",
                            "Syndicated Whitepaper: Lead Routing"],
    "organic": ["SEO Blog", "Website Direct"],
    "referral": ["Partner Referral Program", "Customer Referral"],
}
LANDING_PAGES = ["/demo", "/pricing", "/contact", "/ebook/funnel-metrics", "/webinar/register",
                 "/free-trial", "/resources/whitepaper", "/blog/lead-scoring", "/product"]
VENDOR_SITE = "https://www.brightpath-crm.com"


def ascii_slug(s: str) -> str:
    """Lower-case ASCII letters only (for e-mail local parts and domains)."""
    t = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in t if ch.isalnum())


@dataclass
class Pools:
    """Per-country name pools (values and sampling weights) and city lists, by COUNTRIES position."""

    first: list[tuple[np.ndarray, np.ndarray]]
    last: list[tuple[np.ndarray, np.ndarray]]
    city: list[np.ndarray]


def _weighted(names: Any, extra: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Faker's name list (a tuple, or an OrderedDict of name -> frequency) as arrays; single
    ASCII-sluggable tokens only, so the demo's name variants stay interpretable."""
    if isinstance(names, dict):
        items = [(k, float(v)) for k, v in names.items()]
    else:
        items = [(k, 1.0) for k in names]
    if extra:   # nickname-bearing formal names: common enough that nickname duplicates occur
        mean = sum(w for _, w in items) / max(len(items), 1)
        items += [(k, 3 * mean) for k in extra]
    agg: dict[str, float] = {}
    for k, w in items:
        if " " not in k and ascii_slug(k):
            agg[k] = agg.get(k, 0.0) + w
    vals = np.array(sorted(agg), dtype=object)
    weights = np.array([agg[k] for k in vals], dtype=float)
    return vals, weights / weights.sum()


def build_pools(seed: int) -> Pools:
    """Names come from Faker's per-locale providers (read once, not called per lead)."""
    first, last, city = [], [], []
    formal = sorted(NICKNAMES)
    for c in COUNTRIES:
        fk = Faker(c["locale"])
        fk.seed_instance(seed)
        prov = next(p for p in fk.get_providers() if p.__provider__.endswith("person"))
        fn = getattr(prov, "first_names", None) or \
            tuple(getattr(prov, "first_names_male", ())) + tuple(getattr(prov, "first_names_female", ()))
        first.append(_weighted(fn, formal if c["locale"].startswith("en") else None))
        last.append(_weighted(prov.last_names))
        city.append(np.array(CITIES[c["iso"]], dtype=object))
    return Pools(first, last, city)
