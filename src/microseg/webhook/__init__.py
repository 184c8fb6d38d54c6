"""The admission webhook: an adapter, like the CLI, over `analyses.guardrails.review`.

It reads AdmissionReviews with `microseg.ingest.admission`, asks `review`, and answers with
`microseg.render.admission`; it keeps the cluster snapshot between requests (state.py).
HTTPS only (server.py), FastAPI routes in app.py. Imported only by `microseg webhook serve`
and the tests: FastAPI, uvicorn and prometheus_client never load for other commands.
"""

from microseg.webhook.app import create_app
from microseg.webhook.server import ServerOptions, TLSError, check_tls, server
from microseg.webhook.state import WebhookState

__all__ = ["ServerOptions", "TLSError", "WebhookState", "check_tls", "create_app", "server"]
