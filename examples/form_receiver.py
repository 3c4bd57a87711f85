"""A minimal form receiver for the speed-to-lead path (an example, not a production server).

    LEADFLOW_CONFIG=leadflow.yaml python examples/form_receiver.py --port 8088
    curl -X POST localhost:8088/forms/demo_request -H 'Content-Type: application/json' \\
         -d '{"email": "dana@acme.example", "first_name": "Dana", "company": "Acme", "country": "DE"}'

Each POST lands one submission as JSON-lines files in the intraday sources' landing folders
(``speed_to_lead.sources``: a lead record and a hand-raising touch, renamed into place) and
publishes an event (no PII: submission id, time, touch type) on the Redis pub/sub channel
``speed_to_lead.event_channel`` (Redis at $LEADFLOW_REDIS_URL, default 127.0.0.1:6379/0). The
``speed_to_lead`` DAG's AssetWatcher wakes on the event; if Redis is down the submission is
still landed and the DAG's 5-minute sweep takes it. Put it behind your web stack's TLS and auth;
it logs nothing about the prospect.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from leadflow import config as cfg
from leadflow.errors import LeadflowError
from leadflow.intraday import receiver

MAX_BODY = 64 * 1024


def handler(settings: cfg.Settings) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            parts = self.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "forms":
                return self._reply(404, {"error": "POST /forms/<touch_type>"})
            size = int(self.headers.get("Content-Length") or 0)
            if size <= 0 or size > MAX_BODY:
                return self._reply(413, {"error": f"body must be 1..{MAX_BODY} bytes of JSON"})
            try:
                form = json.loads(self.rfile.read(size))
                if not isinstance(form, dict):
                    raise ValueError("not an object")
                event = receiver.accept(settings, form, parts[1])
            except (ValueError, LeadflowError) as e:
                return self._reply(400, {"error": str(e)})
            self._reply(202, event)

        def _reply(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt: str, *args: Any) -> None:   # the default logs client details
            pass

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8088)
    ap.add_argument("--config", default=None)
    a = ap.parse_args()
    settings = cfg.load(a.config)
    ThreadingHTTPServer((a.host, a.port), handler(settings)).serve_forever()


if __name__ == "__main__":
    main()
