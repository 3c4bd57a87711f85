"""User-facing errors: one line, names the cause, never carries PII."""

from __future__ import annotations


class LeadflowError(Exception):
    """An expected failure the CLI prints as one line and exits non-zero."""

    exit_code = 2


class ConfigError(LeadflowError):
    """Invalid or missing configuration; the message names the file and field."""


class StoreError(LeadflowError):
    """The warehouse cannot be reached or is not initialised."""


class InfrastructureError(StoreError):
    """Disk full, a database backend that died, a path that cannot exist: the message names the
    warehouse or the file. Expected (one line, exit 2), and worth a retry (Airflow retries it)."""


class InputError(LeadflowError):
    """An input file or record is unusable; message names source, file, row, field."""


class QualityGateError(LeadflowError):
    """A quality threshold was exceeded; message names source, expectation and count."""
