"""Shared parsing vocabulary, below every stage in the layer order.

One reader per kind of value, so ingest coercion, quality checks and cleaning can never
disagree about what a delivered value means:

- ``booleans``: yes/no words, and the contact rule (an unreadable opt-out or consent value
  means "do not contact");
- ``datetimes``: timestamps of any delivered form to naive UTC;
- ``emails``: the normalised address and its SHA-256 (what opt-out and erasure lists keep);
- ``connections``: reading an Airflow connection with a one-line error.

Imports nothing from ``leadflow`` except ``errors``.
"""
