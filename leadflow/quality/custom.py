"""leadflow's own expectations, as custom Great Expectations (usable from any suite's JSON).

GX has no "deliverable e-mail syntax" and no "not after the run's logical date" rule, so they
are GX ``ColumnMapExpectation`` subclasses with a pandas metric; defining the classes registers
them with GX (``expect_column_values_to_be_deliverable_email``,
``expect_column_values_to_not_be_in_the_future``). Like every column-map expectation they skip
missing values, honour ``mostly`` and ``row_condition``, report unexpected rows in COMPLETE
results and render in Data Docs. ``leadflow.quality.engine`` imports this module before any
suite is read, so a suite can name them like any built-in type.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import pandas as pd
from great_expectations.compatibility import pydantic
from great_expectations.core.suite_parameters import SuiteParameterDict
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)
from great_expectations.render import LegacyRendererType, RenderedStringTemplateContent
from great_expectations.render.renderer.renderer import renderer

from leadflow.vocab.emails import normalise_address


def _render(template: str, configuration: Any, keys: tuple[str, ...]) -> list[RenderedStringTemplateContent]:
    """One Data Docs line; tolerant of a missing configuration (GX calls it several ways)."""
    kwargs = dict(getattr(configuration, "kwargs", None) or {})
    params = {k: kwargs.get(k) for k in ("column", *keys)}
    mostly = kwargs.get("mostly")
    if isinstance(mostly, (int, float)) and mostly < 1:
        params["mostly_pct"] = f"{mostly * 100:g}"
        template += ", at least $mostly_pct % of the time"
    return [RenderedStringTemplateContent(
        content_block_type="string_template",
        string_template={"template": "$column " + template + ".", "params": params,
                         "styling": {"default": {"classes": ["badge", "badge-secondary"]}}})]


# ----------------------------------------------------------------------------- deliverable email
class ColumnValuesDeliverableEmail(ColumnMapMetricProvider):
    """True where a value is an address identity can read (``vocab.emails.normalise_address``:
    deliverable syntax, an internationalised domain, "Name <address>"): quality passes exactly
    the addresses people are keyed on."""

    condition_metric_name = "column_values.deliverable_email"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return normalise_address(column).notna()


class ExpectColumnValuesToBeDeliverableEmail(ColumnMapExpectation):
    """Expect column values to be e-mail addresses in deliverable syntax (local@domain.tld)."""

    map_metric: ClassVar[str] = "column_values.deliverable_email"
    success_keys: ClassVar[tuple[str, ...]] = ("mostly",)
    args_keys: ClassVar[tuple[str, ...]] = ("column",)
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["leadflow"],
                                                   "contributors": ["leadflow"]}

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration: Any | None = None, result: Any | None = None,
                               runtime_configuration: dict | None = None, **kwargs: Any) -> list:
        return _render("values must be e-mail addresses in deliverable syntax", configuration, ())


# ----------------------------------------------------------------------------- not in the future
class ColumnValuesNotInTheFuture(ColumnMapMetricProvider):
    """True where a timestamp is at or before ``run_date`` (the run's logical time)."""

    condition_metric_name = "column_values.not_in_the_future"
    condition_value_keys = ("run_date",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, run_date: Any, **kwargs: Any) -> pd.Series:
        limit = pd.Timestamp(run_date)
        if not pd.api.types.is_datetime64_any_dtype(column.dtype):
            column = pd.to_datetime(column, errors="coerce", utc=limit.tzinfo is not None)
        elif getattr(column.dt, "tz", None) is not None and limit.tzinfo is None:
            limit = limit.tz_localize("UTC")
        elif getattr(column.dt, "tz", None) is None and limit.tzinfo is not None:
            limit = limit.tz_convert("UTC").tz_localize(None)
        return column <= limit


class ExpectColumnValuesToNotBeInTheFuture(ColumnMapExpectation):
    """Expect timestamps not after the run date (pass ``{"$PARAMETER": "as_of"}`` from a suite):
    a lead "created" tomorrow is a clock or mapping error, and re-running an old day must judge
    it against that day, not the wall clock."""

    run_date: datetime | str | SuiteParameterDict = pydantic.Field(
        description="The run's logical time; later values are unexpected.")
    map_metric: ClassVar[str] = "column_values.not_in_the_future"
    success_keys: ClassVar[tuple[str, ...]] = ("run_date", "mostly")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "run_date")
    library_metadata: ClassVar[dict[str, Any]] = {"maturity": "production", "tags": ["leadflow"],
                                                   "contributors": ["leadflow"]}

    @classmethod
    @renderer(renderer_type=LegacyRendererType.PRESCRIPTIVE)
    def _prescriptive_renderer(cls, configuration: Any | None = None, result: Any | None = None,
                               runtime_configuration: dict | None = None, **kwargs: Any) -> list:
        return _render("values must not be after the run date $run_date", configuration, ("run_date",))


#: Custom expectation types leadflow registers with GX (for docs and tests).
CUSTOM_TYPES = ("expect_column_values_to_be_deliverable_email", "expect_column_values_to_not_be_in_the_future")
