"""The HTTP app (FastAPI): OGC API - Processes routes, limits, API keys and the web page.

:func:`create_app` builds the app from :class:`ServiceSettings`; its lifespan opens the job
store, marks jobs interrupted by a previous stop as failed, and starts the worker pool.
:func:`serve` runs it with uvicorn (``accessmap serve``).
"""


import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

try:
    import python_multipart  # noqa: F401  (uploads: FastAPI parses forms with it)
    from fastapi import Body, Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse, Response
    from starlette.exceptions import HTTPException as StarletteHTTPException
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError("accessmap serve needs FastAPI, uvicorn and python-multipart: pip "
                      "install fastapi uvicorn python-multipart") from _err

import accessmap.service.documents as documents
from accessmap._version import __version__
from accessmap.service.admission import Admission, Refused, admit
from accessmap.service.jobs import FINISHED, Job, JobStore
from accessmap.service.settings import Dataset, ServiceSettings
from accessmap.service.uploads import Upload, UploadStore
from accessmap.service.workers import WorkerPool, exception_document

__all__ = ["create_app", "serve"]

logger = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
_STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css"}
_EXECUTE_EXAMPLE = {"inputs": {"dataset": "demo", "scenario": {
    "analysis": {"mode": "walk", "thresholds_min": [30, 60, 120]}, "siting": {"new_sites": 3}}}}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _problem(status: int, title: str, detail: str, *, kind: str = "",
             headers: dict[str, str] | None = None) -> JSONResponse:
    kind = kind or {400: "invalid-parameter-value", 401: "unauthorized", 404: "not-found",
                    405: "method-not-allowed", 413: "payload-too-large",
                    429: "too-many-requests"}.get(status, "server-error")
    return JSONResponse(exception_document(title, detail, status=status, kind=kind),
                        status_code=status, headers=headers)


class _BodyLimit:
    """ASGI middleware: bodies larger than ``limit`` bytes (``upload_limit`` for
    ``POST /datasets``) get 413 before any parsing."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.app, self.default_limit, self.upload_limit = app, limit, upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("method") == "POST" and scope.get("path") == "/datasets"
        # an upload's multipart framing and form fields come on top of its files
        limit = self.upload_limit + 64 * 1024 if upload else self.default_limit
        too_large = _problem(413, "request too large",
                             f"the request body is over the limit of {limit:,} bytes")
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = bool(message.get("more_body"))
            if size > limit:
                await too_large(scope, receive, send)
                return
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(settings: ServiceSettings) -> FastAPI:
    """Build the service app; the store and workers start with the app's lifespan."""
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store = JobStore(settings.data_dir)
        interrupted = store.recover()
        if interrupted:
            logger.warning("marked %d job(s) interrupted by the last stop as failed",
                           len(interrupted))
        store.expire(settings.retention_days)
        pool = WorkerPool(store, settings)
        pool.start()
        state.update(store=store, pool=pool)
        try:
            yield
        finally:
            pool.stop()
            store.close()

    app = FastAPI(title="accessmap", version=__version__,
                  description="OGC API - Processes: travel times to care, coverage and site "
                              "selection.",
                  openapi_url="/api", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes,
                       upload_limit=settings.max_upload_bytes)
    uploads = UploadStore(settings)
    app.state.service = state

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                       ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return _problem(err.status_code, "error", str(err.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _problem(400, "invalid request", f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Refused)
    async def _refused(_: Request, err: Refused) -> JSONResponse:
        return _problem(err.status, err.title, err.detail, kind=err.kind, headers=err.headers)

    def store() -> JobStore:
        found: JobStore = state["store"]
        return found

    def pool() -> WorkerPool:
        found: WorkerPool = state["pool"]
        return found

    def owner(x_api_key: Annotated[str | None, Header()] = None,
              authorization: Annotated[str | None, Header()] = None) -> str:
        if not settings.api_keys:
            return ""
        key = x_api_key
        if key is None and authorization and authorization.lower().startswith("bearer "):
            key = authorization[7:].strip()
        if not key or key not in settings.api_keys:
            raise Refused(401, "API key needed", "this server needs an API key: send it in "
                          "the X-API-Key header (or Authorization: Bearer KEY)",
                          kind="unauthorized", headers={"WWW-Authenticate": "Bearer"})
        return settings.owner(key)

    Owner = Annotated[str, Depends(owner)]

    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def find(job_id: str, who: str) -> Job:
        job = store().get(job_id, owner=who if settings.api_keys else None)
        if job is None:
            raise Refused(404, "no such job", f"there is no job {job_id[:64]!r}",
                          kind="no-such-job")
        return job

    # ------------------------------------------------------------------ pages

    def page() -> FileResponse:
        return FileResponse(STATIC / "app.html", media_type="text/html; charset=utf-8",
                            headers={"Content-Security-Policy": _PAGE_CSP,
                                     "Cache-Control": "no-cache"})

    @app.get("/", summary="landing page (JSON; HTML web page for browsers)", response_model=None)
    def landing(request: Request, f: Annotated[str | None, Query(max_length=8)] = None
                ) -> dict[str, Any] | FileResponse:
        wants_html = f == "html" or (f is None and "text/html" in
                                     request.headers.get("accept", ""))
        return page() if wants_html else documents.landing_page(base(request))

    @app.get("/app", summary="the planner's web page", response_class=FileResponse)
    def app_page() -> FileResponse:
        return page()

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> FileResponse:
        if name not in _STATIC_FILES:
            raise Refused(404, "not found", "no such file", kind="not-found")
        return FileResponse(STATIC / name, media_type=_STATIC_FILES[name])

    @app.get("/conformance", summary="conformance classes")
    def conformance(who: Owner) -> dict[str, Any]:
        return documents.conformance()

    # ------------------------------------------------------------------ processes

    @app.get("/processes", summary="the processes offered")
    def processes(request: Request, who: Owner) -> dict[str, Any]:
        return {"processes": [documents.process_summary(base(request))],
                "links": [{"href": f"{base(request)}/processes", "rel": "self",
                           "type": "application/json"}]}

    @app.get("/processes/{process_id}", summary="a process's inputs and outputs")
    def process(process_id: str, request: Request, who: Owner) -> dict[str, Any]:
        if process_id != documents.PROCESS_ID:
            raise Refused(404, "no such process", f"there is no process {process_id[:64]!r}; "
                          "the only process is 'run'", kind="no-such-process")
        return documents.process_description(base(request), settings,
                                             uploads=uploads.datasets(who))

    @app.post("/processes/{process_id}/execution", summary="run the process", status_code=201,
              response_model=None)
    def execute(process_id: str, request: Request, who: Owner,
                body: Annotated[dict[str, Any], Body(examples=[_EXECUTE_EXAMPLE])],
                prefer: Annotated[str | None, Header()] = None) -> Response:
        if process_id != documents.PROCESS_ID:
            raise Refused(404, "no such process", f"there is no process {process_id[:64]!r}",
                          kind="no-such-process")
        admission = admit(body, settings, uploads=lambda name: uploads.dataset(who, name))
        job = _submit(admission, who)
        want_async = prefer is not None and "respond-async" in prefer.lower()
        headers = {"Location": f"{base(request)}/jobs/{job.id}"}
        if want_async or admission.estimate > settings.sync_max_units:
            headers["Preference-Applied"] = "respond-async" if want_async else ""
            if not want_async:
                headers.pop("Preference-Applied")
            return JSONResponse(documents.status_info(job, base(request)), status_code=201,
                                headers=headers)
        deadline = time.monotonic() + settings.sync_timeout_s
        while job.status not in FINISHED and time.monotonic() < deadline:
            time.sleep(0.1)
            job = store().get(job.id) or job
        if job.status == "successful":
            return JSONResponse(documents.results_document(job, store(), base(request)),
                                headers=headers)
        if job.status == "failed" and job.error:
            return JSONResponse(job.error, status_code=int(job.error.get("status", 400)),
                                headers=headers)
        return JSONResponse(documents.status_info(job, base(request)), status_code=201,
                            headers=headers)

    def _submit(admission: Admission, who: str) -> Job:
        title = admission.scenario.title[:200]
        if settings.cache:
            earlier = store().find_cached(admission.request_hash, who)
            if earlier is not None and store().run_dir(earlier.id).is_dir():
                job = store().create(owner=who, dataset=admission.dataset,
                                     request=admission.stored_request(),
                                     request_hash=admission.request_hash, title=title,
                                     estimate=admission.estimate, running=True)
                _copy_run(store().run_dir(earlier.id), store().run_dir(job.id))
                store().update(job.id, cached_from=earlier.id)
                store().finish(job.id, "successful", progress=100,
                               message=f"cached: identical to job {earlier.id}")
                return store().get(job.id) or job
        if store().count_active(who) >= settings.max_queued_per_key:
            raise Refused(429, "too many jobs", f"you already have "
                          f"{settings.max_queued_per_key} queued or running jobs; wait for "
                          "one to finish or dismiss one", kind="too-many-jobs",
                          headers={"Retry-After": str(settings.retry_after_s)})
        job = store().create(owner=who, dataset=admission.dataset,
                             request=admission.stored_request(),
                             request_hash=admission.request_hash, title=title,
                             estimate=admission.estimate)
        pool().wake()
        return job

    # ------------------------------------------------------------------ datasets

    def registered(name: str, dataset: Dataset, request: Request) -> dict[str, Any]:
        return {"id": name, "kind": "registered", "title": dataset.scenario.title,
                "links": [{"href": f"{base(request)}/processes/run", "rel": "up",
                           "type": "application/json"}]}

    @app.get("/datasets", summary="registered datasets and your uploaded ones")
    def list_datasets(request: Request, who: Owner) -> dict[str, Any]:
        return {"datasets": [registered(n, d, request)
                             for n, d in sorted(settings.datasets.items())]
                + [u.document(base(request)) for u in uploads.list_uploads(who)],
                "links": [{"href": f"{base(request)}/datasets", "rel": "self",
                           "type": "application/json"}]}

    @app.post("/datasets", summary="upload facilities (and population) on a registered "
              "dataset's road network", status_code=201, response_model=None)
    def upload_dataset(
            request: Request, who: Owner,
            facilities: Annotated[UploadFile, File(description=(
                "GeoJSON FeatureCollection of Points, or CSV with lon/lat columns"))],
            population: Annotated[UploadFile | None, File(description=(
                "single-band GeoTIFF of people per cell"))] = None,
            base_dataset: Annotated[str, Form(alias="base", max_length=64, description=(
                "registered dataset whose road network the upload uses"))] = "demo",
            title: Annotated[str, Form(max_length=200)] = "") -> JSONResponse:
        upload = uploads.create(who, facilities=facilities.file,
                                population=population.file if population else None,
                                base=base_dataset, title=title)
        return JSONResponse(upload.document(base(request)), status_code=201,
                            headers={"Location": f"{base(request)}/datasets/{upload.id}"})

    def find_upload(dataset_id: str, who: str) -> Upload:
        found = uploads.get(who, dataset_id)
        if found is None:
            raise Refused(404, "no such dataset", f"there is no uploaded dataset "
                          f"{dataset_id[:64]!r}", kind="no-such-dataset")
        return found

    @app.get("/datasets/{dataset_id}", summary="a dataset")
    def get_dataset(dataset_id: str, request: Request, who: Owner) -> dict[str, Any]:
        if dataset_id in settings.datasets:
            return registered(dataset_id, settings.datasets[dataset_id], request)
        document: dict[str, Any] = find_upload(dataset_id, who).document(base(request))
        return document

    @app.delete("/datasets/{dataset_id}", summary="delete one of your uploaded datasets",
                status_code=204, response_class=Response)
    def delete_dataset(dataset_id: str, who: Owner) -> Response:
        find_upload(dataset_id, who)
        uploads.delete(who, dataset_id)
        return Response(status_code=204)

    # ------------------------------------------------------------------ jobs

    @app.get("/jobs", summary="jobs, newest first")
    def jobs(request: Request, who: Owner,
             limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        found = store().list_jobs(owner=who if settings.api_keys else None, limit=limit)
        return {"jobs": [documents.status_info(j, base(request)) for j in found],
                "links": [{"href": f"{base(request)}/jobs", "rel": "self",
                           "type": "application/json"}]}

    @app.get("/jobs/{job_id}", summary="a job's status")
    def job_status(job_id: str, request: Request, who: Owner) -> dict[str, Any]:
        return documents.status_info(find(job_id, who), base(request))

    @app.delete("/jobs/{job_id}", summary="cancel a job and delete its results")
    def dismiss(job_id: str, request: Request, who: Owner) -> dict[str, Any]:
        job = find(job_id, who)
        if job.status != "dismissed":
            pool().cancel(job.id)
            store().finish(job.id, "dismissed", message="dismissed")
            if job.status in FINISHED:
                store().remove_folder(job.id)
                store().update(job.id, status="dismissed", message="dismissed", disk_bytes=0)
        return documents.status_info(find(job_id, who), base(request))

    @app.get("/jobs/{job_id}/results", summary="a successful job's results")
    def results(job_id: str, request: Request, who: Owner) -> dict[str, Any]:
        job = _finished(find(job_id, who))
        return documents.results_document(job, store(), base(request))

    @app.get("/jobs/{job_id}/results/{name}", summary="one result file",
             response_class=FileResponse)
    def result_file(job_id: str, name: str, who: Owner) -> FileResponse:
        job = _finished(find(job_id, who))
        path = store().run_dir(job.id) / name
        if not _FILE_NAME.match(name) or not path.is_file() or path.is_symlink():
            raise Refused(404, "no such result", f"job {job.id} has no result {name[:64]!r}",
                          kind="no-such-output")
        headers = {"Content-Security-Policy": "sandbox allow-scripts allow-popups "
                   "allow-downloads"} if name.endswith((".html", ".svg")) else {}
        return FileResponse(path, media_type=documents.media_type(name), headers=headers)

    def _finished(job: Job) -> Job:
        if job.status == "failed" and job.error:
            raise Refused(int(job.error.get("status", 400)), str(job.error.get("title")),
                          str(job.error.get("detail")), kind="job-failed")
        if job.status != "successful":
            raise Refused(404, "result not ready", f"job {job.id} is {job.status}",
                          kind="result-not-ready")
        if not store().run_dir(job.id).is_dir():
            raise Refused(404, "results deleted", f"job {job.id}: {job.message}",
                          kind="no-such-job")
        return job

    return app


def _copy_run(source: Path, target: Path) -> None:
    """Copy a run folder by hard links (a copy where links are impossible)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".copying")
    shutil.rmtree(staging, ignore_errors=True)

    def link(src: str, dst: str) -> object:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(source, staging, copy_function=link)
    staging.rename(target)


def serve(settings: ServiceSettings, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                server_header=False, proxy_headers=False)
