"""Worker identity for Airflow's ``[core] hostname_callable``.

Several Celery workers on one machine (``make airflow-celery``) would all report the same
hostname in the task instances; ``LEADFLOW_WORKER_NAME`` names each worker so the UI (and the
Celery test) show which worker ran what. Elsewhere it is the machine's FQDN, as Airflow's default.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return os.environ.get("LEADFLOW_WORKER_NAME") or socket.getfqdn()
