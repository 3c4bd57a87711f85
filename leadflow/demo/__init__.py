"""Deterministic demo data: messy inbound leads, touches, campaign spend, and the hidden truth.

``generate(out_dir, leads, seed, days, end_date)`` writes landing folders the demo
``leadflow.yaml`` points at, plus ``truth/`` (who is really who, and who would buy) that the
pipeline never reads: tests and benchmarks score identity resolution and models against it.
``leadflow.demo.crm.simulate_outcomes`` plays the sales team, drawing outcomes from the truth.
"""

from __future__ import annotations

from leadflow.demo.generator import generate

__all__ = ["generate"]
