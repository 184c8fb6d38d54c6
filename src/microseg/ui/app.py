"""The FastAPI application: the JSON API over a UiState, the page, and the guards.

Guards (why): the API hands out a cluster's whole segmentation and can write the intent
file, so
- bound to loopback (the default), requests must name a loopback Host (a page elsewhere
  cannot reach the server through DNS rebinding) and cross-origin writes are refused;
- bound to any other address, every API request needs the token printed at start-up, as
  `?token=` or the `X-Microseg-Token` header (compared in constant time);
- nothing is fetched from the network at run time: FastAPI's /docs and /redoc pages load
  their scripts from a CDN, so they are off; the OpenAPI document is at /openapi.json.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from microseg.engine import UnknownEndpointError
from microseg.model.intent import parse_intent_port
from microseg.model.selectors import LabelSelector
from microseg.model.sets import ConnSet
from microseg.render.verify import endpoint_label, origin_label
from microseg.ui import details
from microseg.ui.graph import Filters, build_graph
from microseg.ui.intents import UI_DOCUMENT, DraftError
from microseg.ui.models import (
    BlastOut,
    EdgeDetail,
    ErrorOut,
    Explanation,
    FindingOut,
    GraphOut,
    IntentDrafts,
    IntentsOut,
    Origin,
    RecommendOut,
    SearchOut,
    Summary,
    WorkloadOut,
)
from microseg.ui.recommend import RecommendSource, recommend_for
from microseg.ui.selector import parse_selector
from microseg.ui.state import UiState

__all__ = ["STATIC", "create_app"]

STATIC = Path(__file__).parent / "static"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A parameter that does not parse."},
    404: {"model": ErrorOut, "description": "A workload, namespace or endpoint not in the input."},
    422: {
        "model": ErrorOut,
        "description": "A request the API does not take, or intents that cannot be written "
        "or read back (located diagnostics).",
    },
}


class BadRequest(Exception):
    pass


def _port(text: str | None, allow_named: bool = False) -> ConnSet | None:
    if text is None or not text.strip():
        return None
    try:
        p = parse_intent_port(text)
    except ValueError as exc:
        raise BadRequest(f"port: {exc}") from None
    if p.name and not allow_named:
        raise BadRequest(f"port {text!r}: a named port is resolved per destination; give a number")
    return p.numeric() if not p.name else None


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def create_app(
    state: UiState,
    token: str | None = None,
    loopback: bool = True,
    recommend: RecommendSource | None = None,
) -> FastAPI:
    app = FastAPI(
        title="microseg ui",
        version="v1alpha1",
        description="The segmentation graph of microseg: connectivity, explanations, blast "
        "radius, diff, intents and observed flows.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        host = _host_name(request.headers.get("host", ""))
        if loopback and host not in LOOPBACK_HOSTS:
            return JSONResponse(
                ErrorOut(
                    message=f"Host {host!r} refused: this server answers loopback names only"
                ).model_dump(),
                status_code=403,
            )
        path = request.url.path
        if token is not None and (path.startswith("/api/") or path == "/openapi.json"):
            given = (
                request.headers.get("x-microseg-token") or request.query_params.get("token") or ""
            )
            if not secrets.compare_digest(given.encode(), token.encode()):
                return JSONResponse(
                    ErrorOut(
                        message="missing or wrong token (see the URL microseg ui printed)"
                    ).model_dump(),
                    status_code=401,
                )
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin is not None:
            wanted = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
            if origin not in wanted:
                return JSONResponse(
                    ErrorOut(message=f"cross-origin request from {origin} refused").model_dump(),
                    status_code=403,
                )
        return await call_next(request)

    @app.exception_handler(UnknownEndpointError)
    async def _unknown(_: Request, exc: UnknownEndpointError) -> JSONResponse:
        return JSONResponse(ErrorOut(message=str(exc)).model_dump(), status_code=404)

    @app.exception_handler(BadRequest)
    async def _bad(_: Request, exc: BadRequest) -> JSONResponse:
        return JSONResponse(ErrorOut(message=str(exc)).model_dump(), status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # One error shape for every refusal (ErrorOut), FastAPI's own validation included.
        lines = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        body = ErrorOut(message="the request does not match the API", diagnostics=lines)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(DraftError)
    async def _draft(_: Request, exc: DraftError) -> JSONResponse:
        body = ErrorOut(message=str(exc), diagnostics=exc.diagnostics)
        return JSONResponse(body.model_dump(), status_code=422)

    # -- the page ------------------------------------------------------------------
    @app.get("/", include_in_schema=False, response_model=None)
    def index() -> Response:
        page = STATIC / "index.html"
        if not page.is_file():
            return HTMLResponse(
                "<h1>microseg ui: the page is not built</h1><p>Run <code>make ui</code>.</p>",
                status_code=503,
            )
        return FileResponse(page, headers={"Cache-Control": "no-store"})

    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # -- the API -------------------------------------------------------------------
    @app.get("/api/summary", response_model=Summary, responses=_ERRORS)
    def summary() -> Summary:
        report = state.report
        bad = len(report.violations) if report is not None else 0
        total = len(report.findings) if report is not None else 0
        return Summary(
            inputs=state.paths,
            diffInputs=state.other.paths if state.other is not None else None,
            flows=state.flows_path,
            intents=state.book.path,
            layer=state.conn.layer.value,
            workloads=len(state.graph.nodes),
            namespaces=len(state.space.namespaces),
            pods=len(state.conn.cluster.pods),
            edges=len(state.graph.src),
            notes=state.notes,
            intentsHold=total - bad,
            intentsViolated=bad,
            observedKeys=state.flows.keys if state.flows is not None else None,
            recommend=recommend is not None,
            recommendNote=""
            if recommend is not None
            else "start microseg ui with --flows DB to learn a policy from observed traffic",
        )

    @app.get("/api/graph", response_model=GraphOut, responses=_ERRORS)
    def graph(
        expand: Annotated[
            list[str] | None, Query(description="Namespaces to show workload by workload.")
        ] = None,
        all: Annotated[bool, Query(description="Expand every namespace.")] = False,
        namespace: Annotated[
            list[str] | None, Query(description="Only these namespaces (and their peers).")
        ] = None,
        label: Annotated[
            str | None, Query(description="Only workloads whose labels match, as kubectl -l.")
        ] = None,
        port: Annotated[
            str | None, Query(description="Only edges open on this port, e.g. TCP/5432.")
        ] = None,
        diff: Annotated[bool, Query(description="The difference with the --diff input.")] = False,
    ) -> GraphOut:
        if diff and state.other is None:
            raise UnknownEndpointError("no second input: start microseg ui with --diff PATH")
        selector: LabelSelector | None = None
        if label is not None and label.strip():
            try:
                selector = parse_selector(label)
            except ValueError as exc:
                raise BadRequest(f"label: {exc}") from None
        filters = Filters(tuple(namespace or ()), selector, _port(port))
        return build_graph(state, None if all else set(expand or ()), filters, diff)

    @app.get("/api/edge", response_model=EdgeDetail, responses=_ERRORS)
    def edge(
        source: Annotated[
            str, Query(description="A graph element: w:ns/name[Kind], ns:NAME or p:NAME.")
        ],
        target: Annotated[str, Query()],
        layer: Annotated[str, Query()] = "allowed",
        diff: bool = False,
    ) -> EdgeDetail:
        return details.edge_detail(state, source, target, layer, diff)

    @app.get("/api/explain", response_model=Explanation, responses=_ERRORS)
    def explain(
        src: Annotated[
            str, Query(description="ns/name[Kind], an address, or {ingress-controller}.")
        ],
        dst: Annotated[str, Query()],
        port: Annotated[
            str | None, Query(description="TCP/5432, UDP/53, TCP/http (named).")
        ] = None,
    ) -> Explanation:
        conns = None
        if port is not None and port.strip():
            try:
                p = parse_intent_port(port)
            except ValueError as exc:
                raise BadRequest(f"port: {exc}") from None
            target = state.conn.resolve(dst)
            conns = state.conn.port_conns(target, p.protocol, p.start, p.end, p.name)
        return details.explain(state, src, dst, conns)

    @app.get("/api/workload", response_model=WorkloadOut, responses=_ERRORS)
    def workload(name: Annotated[str, Query(description="ns/name[Kind]")]) -> WorkloadOut:
        return details.workload(state, name)

    @app.get("/api/recommend", response_model=RecommendOut, responses=_ERRORS)
    def recommended(
        workload: Annotated[str, Query(description="ns/name or ns/name[Kind]")],
    ) -> RecommendOut:
        if recommend is None:
            raise UnknownEndpointError("no flows: start microseg ui with --flows DB")
        with state.lock:
            return recommend_for(state, recommend, workload)

    @app.get("/api/blast", response_model=BlastOut, responses=_ERRORS)
    def blast(
        src: Annotated[str, Query(alias="from", description="ns/name, ns/name[Kind] or ns/*")],
        hops: Annotated[int | None, Query(ge=0, le=64)] = None,
        port: str | None = None,
    ) -> BlastOut:
        return details.blast(state, src, hops, _port(port))

    @app.get("/api/search", response_model=SearchOut, responses=_ERRORS)
    def search(
        q: Annotated[str, Query(max_length=200)] = "",
        limit: Annotated[int, Query(ge=1, le=200)] = 20,
    ) -> SearchOut:
        needle = q.strip().lower()
        hits = [n for n in state.graph.nodes if needle in n.lower()]
        spaces = [ns for ns in state.space.namespaces if needle in ns.lower()]
        return SearchOut(workloads=hits[:limit], namespaces=spaces[:limit], total=len(hits))

    @app.get("/api/intents", response_model=IntentsOut, responses=_ERRORS)
    def intents() -> IntentsOut:
        book = state.book
        return _intents_out(state, book.text or book.base, book.drafts, state.report, saved=False)

    @app.post("/api/intents/check", response_model=IntentsOut, responses=_ERRORS)
    def check(drafts: Annotated[IntentDrafts, Body()]) -> IntentsOut:
        with state.lock:
            text, _, report = state.book.check(drafts.intents, state.conn, state.graph)
            state.set_report(report)
        return _intents_out(state, text, drafts.intents, report, saved=False)

    @app.post("/api/intents/save", response_model=IntentsOut, responses=_ERRORS)
    def save(drafts: Annotated[IntentDrafts, Body()]) -> IntentsOut:
        with state.lock:
            text = state.book.save(drafts.intents, state.conn)
            from microseg.ui.intents import IntentBook

            state.book = IntentBook.open(state.book.path)
            report = state.book.report(state.conn, state.graph)
            state.set_report(report)
        return _intents_out(state, text, state.book.drafts, report, saved=True)

    return app


def _intents_out(
    state: UiState, text: str, drafts: list[Any], report: Any, saved: bool
) -> IntentsOut:
    findings: list[FindingOut] = []
    for f in report.findings if report is not None else ():
        from microseg.render.reach import decision_text

        findings.append(
            FindingOut(
                id=f.id,
                kind=f.kind,
                description=f.description,
                status="holds" if f.holds else "violated",
                origin=Origin(file=f.origin.file, line=f.origin.line),
                drawn=f.id.startswith(UI_DOCUMENT + "/"),
                message=f.message,
                total=f.total,
                flows=[
                    {
                        "src": endpoint_label(r.src),
                        "dst": endpoint_label(r.dst),
                        "conn": format_conns_safe(r.conns),
                    }
                    for r in f.rows[:50]
                ],
                explanation=decision_text(f.decision) if f.decision is not None else "",
                related=[f"{origin_label(o)} ({o.location()})" for o in f.related],
            )
        )
    bad = sum(1 for f in findings if f.status == "violated")
    return IntentsOut(
        path=state.book.path,
        saved=saved,
        yaml=text,
        drafts=drafts,
        findings=findings,
        holds=len(findings) - bad,
        violated=bad,
        notes=list(report.notes) if report is not None else [],
    )


def format_conns_safe(conns: ConnSet) -> str:
    from microseg.render.conns import format_conns as fmt

    return fmt(conns) if conns else ""
