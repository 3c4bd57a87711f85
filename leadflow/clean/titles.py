"""Job titles to seniority and function, by ordered keyword rules over unique titles.

Rules are ordered: the first matching rule wins, so 'Vice President' is checked before
'President' and 'Student' before anything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadflow.vocab._unique import SPACE, per_unique

SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    ("student", r"\b(?:student|intern|internship|trainee|apprentice|undergrad\w*|phd candidate)\b"),
    ("vp", r"\b(?:vp|svp|evp|avp|vice[ -]president|vice president)\b"),
    ("c_level", r"\b(?:ceo|cfo|cto|coo|cmo|cio|ciso|cro|cpo|cco|cdo|chief|founder|co-?founder|owner|"
                r"president|managing director|managing partner|general manager|executive director)\b"),
    ("director", r"\b(?:director|head|dir)\b"),
    ("manager", r"\b(?:manager|mgr|lead|leader|supervisor|team lead|principal)\b"),
)

FUNCTION_RULES: tuple[tuple[str, str], ...] = (
    ("student", r"\b(?:student|undergrad\w*|phd candidate)\b"),
    ("marketing", r"\b(?:marketing|marketer|cmo|brand|growth|demand gen\w*|seo|sem|content|"
                  r"communications?|pr|social media|campaigns?|events?)\b"),
    ("sales", r"\b(?:sales|account executive|ae|sdr|bdr|business development|account manager|cro|"
              r"revenue|salesperson|key account)\b"),
    ("finance", r"\b(?:finance|financial|cfo|accountant|accounting|controller|treasurer|audit\w*|"
                r"bookkeep\w*|payroll|tax)\b"),
    ("hr", r"\b(?:hr|human resources|people|talent|recruit\w*|chro)\b"),
    ("it", r"\b(?:it|information technology|cio|ciso|sysadmin|system administrator|systems|"
           r"network|infrastructure|helpdesk|security|database administrator|dba)\b"),
    ("engineering", r"\b(?:engineer\w*|developer|software|cto|devops|architect|programmer|qa|"
                    r"data scientist|machine learning)\b"),
    ("product", r"\b(?:product)\b"),
    ("operations", r"\b(?:operations|ops|coo|logistics|supply chain|procurement|purchasing|facilities)\b"),
    ("customer_success", r"\b(?:customer success|customer service|support|service)\b"),
    ("legal", r"\b(?:legal|counsel|attorney|lawyer|compliance|paralegal)\b"),
    ("education", r"\b(?:teacher|professor|lecturer|educator|tutor)\b"),
    ("executive", r"\b(?:ceo|founder|co-?founder|owner|president|managing director|general manager)\b"),
)


def _classify(uniq: pd.Series, rules: tuple[tuple[str, str], ...], default: str | None) -> np.ndarray:
    conds = [uniq.str.contains(rx, regex=True).fillna(False).to_numpy(bool) for _, rx in rules]
    return np.select(conds, [label for label, _ in rules], default=default or "")


def clean_titles(title: pd.Series) -> pd.Series:
    """Display form of a job title: NFKC, collapsed whitespace; empty -> NA (per distinct value)."""
    def one(u: pd.Series) -> pd.Series:
        t = u.str.normalize("NFKC").str.replace(SPACE + "+", " ", regex=True).str.strip()
        return t.where(t.str.len() > 0)
    return per_unique(title, one)


def classify_titles(title: pd.Series) -> pd.DataFrame:
    """title -> seniority (c_level, vp, director, manager, individual_contributor, student) and
    job_function (marketing, sales, it, finance, operations, hr, engineering, ..., other).
    Classified once per distinct title."""
    return per_unique(title, _classify_unique)


def _classify_unique(title: pd.Series) -> pd.DataFrame:
    key = title.str.normalize("NFKC").str.lower().str.replace(r"[^\w\s-]", " ", regex=True)
    key = key.str.replace(SPACE + "+", " ", regex=True).str.strip()
    key = key.where(key.str.len() > 0)
    sen = pd.Series(_classify(key, SENIORITY_RULES, "individual_contributor"), index=title.index, dtype="str")
    fun = pd.Series(_classify(key, FUNCTION_RULES, "other"), index=title.index, dtype="str")
    return pd.DataFrame({"seniority": sen.where(key.notna()), "job_function": fun.where(key.notna())})
