"""Glue between Airflow and the leadflow pipeline.

DAG files in ``dags/`` stay thin: their tasks call into this package, which builds a RunContext
for the run's data interval, runs a ``leadflow.pipeline`` step through ``leadflow.monitor``,
logs the counts and turns a ``LeadflowError`` into a one-line task failure.

Modules (all import cheaply; heavy imports happen inside functions, at task run time):

- ``dates``   : the run date of an Airflow run (never ``now()``).
- ``runner``  : ``run_task(step, context)`` and the orchestration-only steps (per-source ingest,
  model retraining).
- ``alerts``  : failure callbacks and deadline alerts by email (SMTP) and Slack, PII-scrubbed.
- ``summary`` : the HTML run summary written to ``reports/runs/``.
- ``dagkit``  : shared DAG settings (default args, schedules, assets, deadlines).
"""
