"""Configuration in one place: ``leadflow.yaml`` validated by pydantic.

Marketing ops edit this file (sources, mappings, scoring and routing rules). An invalid file
gets a one-line error naming the file and the field, never a traceback.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadflow.canonical import CODE_SEPARATORS, FIELDS, KINDS, SPLIT_FIELDS, TOUCH_TYPES
from leadflow.errors import ConfigError

DEFAULT_CONFIG = "leadflow.yaml"


class Strict(BaseModel):
    """Base: unknown keys are errors, so a typo in the YAML never passes silently."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- sources
class FileConnector(Strict):
    type: Literal["file"] = "file"
    path: str                                  # landing folder (relative to the config file)
    pattern: str = "*"                         # glob of files to pick up
    format: Literal["csv", "jsonl", "parquet", "xlsx", "auto"] = "auto"
    delimiter: str | None = None               # None: sniffed
    encoding: str | None = None                # None: utf-8 (with or without BOM), else latin-1
    quotechar: str = '"'
    sheet: str | int | None = None
    min_age_seconds: float = 2.0               # a file younger than this may still be written
    archive: bool = True                       # move processed files to archive/, failed to failed/
    chunk_rows: int = 200_000
    dated_names: bool = True                   # a file named with a later date than the run waits


class SqlConnector(Strict):
    type: Literal["sql"] = "sql"
    url_env: str                               # env var holding the SQLAlchemy URL (no secrets in YAML)
    query: str                                 # may use :watermark
    watermark_column: str | None = None
    initial_watermark: str | int | float | None = None  # :watermark on the first run
    chunk_rows: int = 100_000


class HttpConnector(Strict):
    type: Literal["http"] = "http"
    url: str
    records_path: str = "data"                 # where the list of records sits in each page
    next_path: str | None = "next"             # where the next page URL sits (None: no paging)
    page_param: str | None = None              # alternative: ?page=N paging
    token_env: str | None = None               # bearer token from this env var
    airflow_conn_id: str | None = None         # or from an Airflow connection's password
    timeout_seconds: float = 10.0
    max_retries: int = 4
    backoff_seconds: float = 0.5
    max_pages: int = 10_000
    # A next link to another scheme/host/port: refused (the token never leaves the API's origin)
    # or followed without the token.
    cross_origin_next: Literal["refuse", "follow_without_token"] = "refuse"


Connector = FileConnector | SqlConnector | HttpConnector


class QualityThresholds(Strict):
    warn_share: float = Field(default=0.05, ge=0, le=1)   # warn above this share of failing rows
    fail_share: float = Field(default=0.5, ge=0, le=1)    # fail the run above this share


class IngestLimits(Strict):
    """Caps on one delivered file, so a hostile or broken export cannot exhaust memory or time.

    A file over a cap is refused as a whole with a one-line reason; a row with an oversized cell
    is quarantined alone. Peak memory per file is about ``chunk_rows`` x ``max_row_bytes`` at worst.
    """

    max_columns: int = Field(default=1000, ge=1)               # header fields (CSV, XLSX, Parquet, JSON keys)
    max_cell_bytes: int = Field(default=65_536, ge=1)           # longer values quarantine their row
    max_row_bytes: int = Field(default=4 << 20, ge=1024)        # one physical line / record (also the parser block)
    max_rows: int = Field(default=10_000_000, ge=1)             # data rows per file
    max_decompressed_bytes: int = Field(default=2 << 30, ge=1)  # XLSX (zip) and Parquet, uncompressed


class Source(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    owner: str
    kind: Literal["inbound_leads", "touches", "campaign_spend", "crm_outcomes"]
    connector: Connector = Field(discriminator="type")
    mapping: dict[str, str] = Field(default_factory=dict)       # source column -> canonical field
    value_maps: dict[str, dict[str, Any]] = Field(default_factory=dict)  # field ("*": all) -> {from: to}
    constants: dict[str, Any] = Field(default_factory=dict)     # canonical field -> value
    attributes: dict[str, str] = Field(default_factory=dict)    # extra column -> known_at
    priority: int = 100                                          # survivorship: lower wins
    record_source: str | None = None    # touches/outcomes: the lead source whose record ids they cite
    # How to derive the record id (source_record_id / source_touch_id / source_outcome_id)
    # when the source has no id column: "row_number" (<file>:<row>) or "hash" (of the row).
    record_id: Literal["row_number", "hash"] | None = None
    # Numeric dates (03/11/2026): true = day first, false = month first, null = the order each
    # delivery's column shows (a day above 12 tells; with nothing to tell, month first)
    day_first: bool | None = None
    schedule: str | None = "@daily"
    quality: QualityThresholds = Field(default_factory=QualityThresholds)
    enabled: bool = True
    limits: IngestLimits = Field(default_factory=IngestLimits)  # keys set here override ingest_limits
    # --- CRM history (issue 18): how outcomes find their lead, and when no win means lost
    # crm_outcomes: the keys tried, in order (default: every key the mapping or constants fill)
    match_on: list[Literal["handoff_id", "crm_id", "source_record_id", "email"]] | None = None
    # lead sources: a handoff with no win this many days after it became an MQL counts as lost
    # (inferred) for training and reporting; None: feedback.aging_days
    aging_days: int | None = Field(default=None, ge=1)

    @field_validator("mapping")
    @classmethod
    def _targets_are_canonical(cls, v: dict[str, str], info: Any) -> dict[str, str]:
        kind = info.data.get("kind")
        if kind:
            bad = sorted(t for t in v.values() if t not in FIELDS[kind] and not (
                t in SPLIT_FIELDS and set(SPLIT_FIELDS[t]) <= set(FIELDS[kind])))
            if bad:
                raise ValueError(f"unknown canonical field(s) for {kind}: {', '.join(bad)}")
        return v

    @field_validator("attributes")
    @classmethod
    def _known_at(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(k for k, when in v.items() if when not in ("capture", "after_contact"))
        if bad:
            raise ValueError(f"known_at must be 'capture' or 'after_contact' for: {', '.join(bad)}")
        return v


# --------------------------------------------------------------------------- scoring
class FitRule(Strict):
    field: str                                 # a people column, e.g. seniority, industry
    equals: Any = None
    is_in: list[Any] | None = Field(default=None, alias="in")
    min: float | None = None
    max: float | None = None
    contains: str | None = None                # case-insensitive substring (e.g. job_title)
    is_null: bool | None = None                # true: matches a missing value
    points: float                              # negative for students, competitors, free-mail
    reason: str                                # words a rep reads, may use {value}


class EngagementRule(Strict):
    points: float
    cap_per_day: int = 3                       # at most this many touches of the type count a day
    reason: str = ""


class DecayStep(Strict):
    max_age_days: float = Field(gt=0)          # touches up to this age ...
    factor: float = Field(ge=0, le=1)          # ... count this share of their points


class Scoring(Strict):
    fit_rules: list[FitRule] = Field(default_factory=list)
    grades: dict[Literal["A", "B", "C"], float] = Field(
        default={"A": 60.0, "B": 40.0, "C": 20.0})    # min fit points; else D
    engagement: dict[str, EngagementRule] = Field(default_factory=dict)
    half_life_days: float = Field(default=14.0, gt=0)
    decay: Literal["half_life", "step"] = "half_life"
    decay_steps: list[DecayStep] = Field(default_factory=lambda: [
        DecayStep(max_age_days=7, factor=1.0), DecayStep(max_age_days=30, factor=0.5),
        DecayStep(max_age_days=90, factor=0.25)])         # older than the last step: 0
    score_from: Literal["fit_plus_engagement", "engagement"] = "fit_plus_engagement"
    max_score: float = 100.0
    # people within this much of qualification.min_probability are rescored daily even without
    # new input (the model's probability drifts with lead age and recency; leadflow/score/due.py)
    rescore_probability_margin: float = Field(default=0.05, ge=0, le=1)

    @field_validator("engagement")
    @classmethod
    def _touch_types(cls, v: dict[str, EngagementRule]) -> dict[str, EngagementRule]:
        bad = sorted(k for k in v if k not in TOUCH_TYPES)
        if bad:
            raise ValueError(f"unknown touch type(s): {', '.join(bad)}")
        return v


class Model(Strict):
    min_conversions: int = 100                 # below this, rules only (and we say so)
    min_negatives: int = Field(default=30, ge=1)  # handoffs not converted (reported or aged): same
    artifacts_dir: str = "models"
    algorithms: list[str] = Field(default_factory=lambda: ["logistic", "gradient_boosting"])
    holdout_share: float = Field(default=0.2, gt=0, lt=0.5)          # latest handoffs, judged on
    calibration_share: float = Field(default=0.2, gt=0, lt=0.5)      # slice before it, calibrates
    min_gain: float = 0.0                                     # ROC AUC a candidate must add
    leakage: LeakageLimits = Field(default_factory=lambda: LeakageLimits())
    monitoring: MonitoringLimits = Field(default_factory=lambda: MonitoringLimits())


class LeakageLimits(Strict):
    """When a trained model is flagged as probably leaky (leadflow.score.leakage)."""
    max_auc: float = Field(default=0.95, gt=0.5, le=1.0)              # holdout ROC AUC above: implausible
    plausible_auc: float = Field(default=0.92, gt=0.5, le=1.0)         # peel suspects until AUC is below
    max_missing_auc: float = Field(default=0.75, gt=0.5, le=1.0)      # "has a value" predicting the label
    max_after_capture_share: float = Field(default=0.05, ge=0, le=1)  # timestamps later than capture


class MonitoringLimits(Strict):
    """Weekly checks of the live model on realised outcomes (leadflow.score.monitor)."""
    psi_limit: float = Field(default=0.2, gt=0)           # population stability index of scores/features
    calibration_limit: float = Field(default=0.1, gt=0)   # expected calibration error on the closed cohort
    min_closed: int = Field(default=30, ge=1)             # fewer closed outcomes: AUC/calibration not judged
    top_features: int = Field(default=5, ge=0)


# --------------------------------------------------------------------------- qualify & route
class Qualification(Strict):
    min_grade: Literal["A", "B", "C", "D"] = "B"
    min_score: float = 70.0
    min_probability: float | None = None       # when a model is live, this may qualify too
    hand_raiser_touches: list[str] = Field(default_factory=lambda: ["demo_request", "contact_sales"])
    recycle_after_days: int = 90
    competitor_domains: list[str] = Field(default_factory=list)


class OutOfOffice(Strict):
    start: date
    end: date


class Rep(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    name: str
    email: str | None = None
    weight: float = Field(default=1.0, gt=0)
    capacity_per_day: int = Field(default=50, ge=0)
    timezone: str = "UTC"
    out_of_office: list[OutOfOffice] = Field(default_factory=list)


class Territory(Strict):
    name: str
    countries: list[str] = Field(default_factory=list)     # ISO alpha-2; empty: any
    min_company_size: int | None = None
    max_company_size: int | None = None
    reps: list[str]


class Sla(Strict):
    hand_raiser_hours: float = 4.0
    default_hours: float = 24.0
    business_start_hour: int = Field(default=9, ge=0, le=23)
    business_end_hour: int = Field(default=17, ge=1, le=24)


class Routing(Strict):
    reps: list[Rep] = Field(default_factory=list)
    territories: list[Territory] = Field(default_factory=list)
    fallback_queue: str = "unassigned"
    sla: Sla = Field(default_factory=Sla)
    account_owners: dict[str, str] = Field(default_factory=dict)   # named accounts: domain -> rep id

    @model_validator(mode="after")
    def _territory_reps_exist(self) -> Routing:
        known = {r.id for r in self.reps}
        for t in self.territories:
            missing = [r for r in t.reps if r not in known]
            if missing:
                raise ValueError(f"territory {t.name!r} names unknown rep(s): {', '.join(missing)}")
        return self


class Smtp(Strict):
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username_env: str | None = None
    password_env: str | None = None
    airflow_conn_id: str | None = None
    sender: str = "leadflow@localhost"
    timeout_seconds: float = 30.0


class Delivery(Strict):
    email_enabled: bool = False
    smtp: Smtp = Field(default_factory=Smtp)
    formats: list[Literal["csv", "xlsx", "html"]] = Field(default=["csv", "xlsx", "html"])
    recent_touches: int = Field(default=5, ge=0)       # touches shown per lead in the pre-approach brief
    top_reasons: int = Field(default=3, ge=0)          # score reasons shown per lead


# --------------------------------------------------------------------------- speed to lead (intraday)
class WorkingHours(Strict):
    """When a rep is told at once (in the rep's own time zone). Outside them the message is held
    until the rep's next opening (``outside: queue``) or goes now to ``on_call_rep`` (``on_call``)."""
    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=17, ge=1, le=24)
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])   # Monday = 0
    outside: Literal["queue", "on_call"] = "queue"
    on_call_rep: str | None = None                 # a routing.reps id; required for on_call

    @model_validator(mode="after")
    def _on_call_named(self) -> WorkingHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour")
        if self.outside == "on_call" and not self.on_call_rep:
            raise ValueError("outside: on_call needs on_call_rep")
        return self


class SpeedToLead(Strict):
    """The intraday path (leadflow.intraday): hand-raisers routed and their rep told within a
    minute, woken by an event (Redis pub/sub) and a frequent sweep (docs/operations.md)."""
    enabled: bool = False
    sources: list[str] = Field(default_factory=list)       # the sources that feed the intraday path
    touch_types: list[str] = Field(default_factory=lambda: ["demo_request", "contact_sales", "pricing_chat"])
    channels: list[Literal["email", "slack"]] = Field(default=["email"])
    slack_webhook_env: str | None = None           # env var holding the incoming-webhook URL
    event_channel: str = "leadflow:speed_to_lead"  # Redis pub/sub channel the form receiver publishes on
    redis_conn_id: str = "redis_default"           # the Airflow connection the triggerer listens with
    watch_poll_seconds: float = Field(default=1.0, gt=0)   # longest the watcher blocks per poll
    sweep_cron: str = "*/5 * * * *"                # picks up anything an event missed
    claim_lease_seconds: float = Field(default=300.0, ge=0)   # a send killed mid-way is retried after
    working_hours: WorkingHours = Field(default_factory=WorkingHours)

    @field_validator("touch_types")
    @classmethod
    def _known_touch_types(cls, v: list[str]) -> list[str]:
        bad = sorted(t for t in v if t not in TOUCH_TYPES)
        if bad:
            raise ValueError(f"unknown touch type(s): {', '.join(bad)}")
        return v


# --------------------------------------------------------------------------- CRM push (reverse ETL)
class CrmBase(Strict):
    """One CRM destination: where handoffs are upserted, how fields and owners map."""
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    enabled: bool = True
    base_url: str                              # API origin, e.g. https://api.hubapi.com
    token_env: str | None = None               # bearer token from this env var (never logged)
    airflow_conn_id: str | None = None         # or an Airflow connection: password = token, host = base_url
    batch_size: int = 100                      # records per request (each vendor caps it below)
    owners: dict[str, str] = Field(default_factory=dict)   # leadflow rep id -> CRM user id
    default_owner_id: str | None = None        # for reps not in `owners` (None: leave unassigned)
    fields: dict[str, str] = Field(default_factory=dict)   # CRM field -> leadflow column (see docs/crm.md)
    withdraw_fields: dict[str, Any] = Field(default_factory=dict)  # set on withdrawal (plus owner cleared)
    max_concurrency: int = Field(2, ge=1, le=16)   # batches in flight at once
    timeout_seconds: float = Field(30.0, gt=0)
    max_retries: int = Field(6, ge=0)              # per batch, on 429 / 5xx / connection errors
    backoff_seconds: float = Field(1.0, ge=0)      # first wait without Retry-After, doubles each time
    retry_budget_seconds: float = Field(300.0, gt=0)  # total waiting per batch before giving up (failed)
    claim_lease_seconds: float = Field(900.0, ge=0)   # a row claimed by a killed run is re-pushed after this


# Columns a CRM field mapping or a task template may name (leadflow.crm.pusher.payload builds them).
CRM_COLUMNS = ("first_name", "last_name", "name", "email", "phone", "job_title", "company", "country",
               "score", "grade", "probability", "priority", "qualified_by", "top_reasons", "sla_due_at",
               "handoff_id", "person_id", "leadflow_id", "owner_rep", "campaign", "channel", "run_date")


class OwnerTask(Strict):
    """HubSpot only, opt-in: one task for the contact's owner per handoff (docs/crm.md)."""
    enabled: bool = False
    subject: str = "Follow up: {company} (grade {grade}, score {score})"   # str.format over CRM_COLUMNS
    due_hours: float | None = Field(default=None, ge=0)   # None: the handoff's SLA due time; else hours after the push
    priority: Literal["LOW", "MEDIUM", "HIGH"] = "HIGH"
    task_type: Literal["TODO", "CALL", "EMAIL"] = "TODO"

    @field_validator("subject")
    @classmethod
    def _known_placeholders(cls, v: str) -> str:
        import string
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(v) if f is not None}
        except ValueError as e:
            raise ValueError(f"not a valid template: {e}") from None
        bad = sorted(n for n in names if n not in CRM_COLUMNS)
        if bad:
            raise ValueError(f"unknown placeholder(s) {', '.join('{' + n + '}' for n in bad)}; "
                             f"known: {', '.join(CRM_COLUMNS)}")
        return v


class HubSpotDestination(CrmBase):
    type: Literal["hubspot"] = "hubspot"
    id_property: str = "email"                 # the upsert key: email or a custom unique property
    id_from: Literal["email", "person_id"] = "email"   # its value: the address, or "lf-<person id>"
    batch_size: int = Field(100, ge=1, le=100)
    owner_task: OwnerTask = Field(default_factory=OwnerTask)


class SalesforceDestination(CrmBase):
    type: Literal["salesforce"] = "salesforce"
    api_version: str = Field("62.0", pattern=r"^\d+\.\d$")
    external_id_field: str = "Leadflow_Id__c"  # Lead's External ID field holding "lf-<person id>"
    batch_size: int = Field(200, ge=1, le=200)


CrmDestination = HubSpotDestination | SalesforceDestination


class Crm(Strict):
    destinations: list[Annotated[CrmDestination, Field(discriminator="type")]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Crm:
        names = [d.name for d in self.destinations]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate CRM destination name(s): {', '.join(dupes)}")
        return self


def _code(text: str) -> str:
    """A code's spelling (as ``ingest.mapping.spelled_as_code`` writes it)."""
    return re.sub(CODE_SEPARATORS, "_", text.strip().lower())


class Feedback(Strict):
    recycle_reasons: list[str] = Field(default_factory=lambda: ["bad_timing", "no_budget", "not_reachable"])
    disqualify_reasons: list[str] = Field(default_factory=lambda: ["wrong_person", "competitor", "duplicate"])
    # Wins-only CRMs: no win within this many days of the MQL = lost (inferred); None: never
    aging_days: int | None = Field(default=None, ge=1)

    @field_validator("recycle_reasons", "disqualify_reasons")
    @classmethod
    def _spelled_as_codes(cls, v: list[str]) -> list[str]:
        """Outcomes' reasons are read as codes (ingest spells them so): a reason written
        otherwise here could never match one."""
        bad = [r for r in v if r != _code(r)]
        if bad:
            raise ValueError("write reasons as codes (lower case, underscores): "
                             + ", ".join(f"{r!r} -> {_code(r)!r}" for r in bad))
        return v


class Alerts(Strict):
    email_to: list[str] = Field(default_factory=list)
    slack_webhook_env: str | None = None


class Privacy(Strict):
    # env var holding the key of the erasure tombstone hashes (keyed SHA-256); unset: a demo key
    hash_key_env: str = "LEADFLOW_HASH_KEY"


class Report(Strict):
    # ISO 4217 code of campaign spend and deal amounts, shown beside every money figure
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    top_n: int = Field(default=25, ge=1, le=1000)    # rows of the campaign / landing-page tables
    rank_by: Literal["leads", "customers"] = "leads"


class Paths(Strict):
    data_dir: str = "data"
    reports_dir: str = "reports"
    lists_dir: str = "reports/lead_lists"


# --------------------------------------------------------------------------- shared storage
class Storage(Strict):
    """Where the files live that more than one task reads (landing folders and their archives,
    lead lists, reports, Data Docs, model artifacts), so tasks on different workers see the same
    files. ``url`` is an fsspec URL: ``file:///mnt/leadflow`` (a shared mount), ``s3://bucket/lf``,
    ``gs://bucket/lf`` (install s3fs / gcsfs); relative paths in ``paths``, ``model.artifacts_dir``
    and file connectors resolve under it. Unset: the config file's folder (one machine).
    ``options`` go to the fsspec filesystem (endpoint, region); credentials come from the
    environment as the filesystem library reads them, never from this file."""

    url: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _known_protocol(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import fsspec

        proto = v.split("://", 1)[0] if "://" in v else ""
        if proto not in fsspec.available_protocols():
            raise ValueError(f"{v!r} is not a storage URL with a known protocol "
                             "(e.g. file:///mnt/leadflow, s3://bucket/leadflow, gs://bucket/leadflow)")
        return v.rstrip("/") or v


class Partitions(Strict):
    """How many mapped tasks the daily DAG splits the heavy steps into, so they spread over
    workers: scoring by a hash of the person id, delivery by a hash of the owner rep. One by
    default: on a single machine a split only adds task processes; raise it with workers."""

    score: int = Field(default=1, ge=1, le=64)
    deliver: int = Field(default=1, ge=1, le=64)


def is_local(p: object) -> bool:
    """A path on this machine's filesystem (a plain ``pathlib`` path), not an fsspec ``UPath``."""
    return isinstance(p, Path) and type(p).__module__.split(".")[0] == "pathlib"


def shared_path(url: str, options: dict[str, Any]) -> Any:
    """A local ``Path`` for ``file://`` URLs (every safety check of the local code applies),
    else a ``UPath`` on the fsspec filesystem of the URL."""
    proto, _, rest = url.partition("://")
    if proto in ("file", "local"):
        return Path(rest if rest.startswith("/") else "/" + rest)
    from upath import UPath

    return UPath(url, **options)


class Settings(Strict):
    paths: Paths = Field(default_factory=Paths)
    storage: Storage = Field(default_factory=Storage)
    partitions: Partitions = Field(default_factory=Partitions)
    sources: list[Source] = Field(default_factory=list)
    scoring: Scoring = Field(default_factory=Scoring)
    model: Model = Field(default_factory=Model)
    qualification: Qualification = Field(default_factory=Qualification)
    routing: Routing = Field(default_factory=Routing)
    delivery: Delivery = Field(default_factory=Delivery)
    feedback: Feedback = Field(default_factory=Feedback)
    crm: Crm = Field(default_factory=Crm)
    alerts: Alerts = Field(default_factory=Alerts)
    ingest_limits: IngestLimits = Field(default_factory=IngestLimits)   # every source's default caps
    privacy: Privacy = Field(default_factory=Privacy)
    report: Report = Field(default_factory=Report)
    speed_to_lead: SpeedToLead = Field(default_factory=SpeedToLead)   # intraday path

    # Set by load(); not part of the YAML.
    config_path: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_sources(self) -> Settings:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate source name(s): {', '.join(dupes)}")
        bad = sorted(f"{s.name} -> {s.record_source}" for s in self.sources
                     if s.record_source and s.record_source not in names)
        if bad:
            raise ValueError(f"record_source names an unknown source: {', '.join(bad)}")
        for s in self.sources:   # a source's own limits win key by key over the global ones
            own = {k: getattr(s.limits, k) for k in s.limits.model_fields_set}
            s.limits = self.ingest_limits.model_copy(update=own)
        return self

    # ---- resolved locations
    @property
    def base_dir(self) -> Path:
        return self.config_path.parent if self.config_path else Path.cwd()

    def resolve(self, p: str | Path) -> Path:
        p = Path(os.path.expandvars(str(p)))
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.paths.data_dir)

    @property
    def storage_root(self) -> Path:
        """The shared root (``storage.url``), else the config file's folder. A ``Path`` for
        local storage, else a ``UPath`` (typed as Path: the same API)."""
        url = self.storage.url
        if not url:
            return self.base_dir
        return shared_path(os.path.expandvars(url), self.storage.options)

    def shared(self, p: str | Path) -> Path:
        """A location every worker sees: a URL as it is, a relative path under ``storage_root``."""
        s = os.path.expandvars(str(p))
        if "://" in s:
            return shared_path(s, self.storage.options)
        q = Path(s).expanduser()
        if q.is_absolute():
            return q
        root = self.storage_root
        return (root / s).resolve() if is_local(root) else root / s

    @property
    def reports_dir(self) -> Path:
        return self.shared(self.paths.reports_dir)

    @property
    def lists_dir(self) -> Path:
        return self.shared(self.paths.lists_dir)

    @property
    def artifacts_dir(self) -> Path:
        return self.shared(self.model.artifacts_dir)

    @property
    def database_url(self) -> str:
        url = os.environ.get("LEADFLOW_DATABASE_URL")
        return url or f"sqlite:///{self.data_dir / 'warehouse.db'}"

    def crm_destination(self, name: str) -> CrmDestination:
        for d in self.crm.destinations:
            if d.name == name:
                return d
        raise ConfigError(f"{self.config_path}: no CRM destination named {name!r} "
                          f"(known: {', '.join(d.name for d in self.crm.destinations) or 'none'})")

    def source(self, name: str) -> Source:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"{self.config_path}: no source named {name!r} "
                          f"(known: {', '.join(s.name for s in self.sources) or 'none'})")


def config_path(path: str | Path | None = None) -> Path:
    """The config file to use: explicit path, else $LEADFLOW_CONFIG, else ./leadflow.yaml."""
    return Path(path or os.environ.get("LEADFLOW_CONFIG") or DEFAULT_CONFIG).resolve()


def _field_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic location into 'sources[2].connector.type', naming sources by name."""
    out: list[str] = []
    node: Any = raw
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            item = node[part] if isinstance(node, list) and part < len(node) else None
            key = next((k for k in ("id", "name") if isinstance(item, dict) and k in item), None)
            if key and isinstance(item, dict):
                label = f"[{part}:{item[key]}]"
            out.append(label)
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            if part in ("file", "sql", "http", "hubspot", "salesforce", "function-after") \
                    and not isinstance(node, dict):
                continue
            if isinstance(node, dict) and part not in node and part in ("file", "sql", "http", "hubspot",
                                                                        "salesforce"):
                continue
            out.append(("." if out else "") + str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(out) or "(top level)"


def parse(raw: Any, origin: str = "<config>") -> Settings:
    """Validate a parsed YAML document; errors name the origin and the field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ConfigError(f"{origin}: {_field_path(first['loc'], raw)}: {first['msg']}{more}") from None


def load(path: str | Path | None = None) -> Settings:
    """Load and validate the config file; one-line ConfigError on any problem."""
    p = config_path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found (set --config or LEADFLOW_CONFIG)")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}:{where} not valid YAML: {getattr(e, 'problem', e)}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config: {e.__class__.__name__}") from None
    settings = parse(raw, str(p))
    settings.config_path = p
    return settings


__all__ = ["Settings", "Source", "load", "parse", "config_path", "KINDS"]
