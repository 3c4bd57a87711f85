"""Reporting: portable SQL marts, attribution and the marketing report (HTML + CSV)."""

from leadflow.report.page import build

__all__ = ["build"]
