"""accessmap as a service: an OGC API - Processes (Part 1, 1.0) app with a job store.

``accessmap serve`` starts it; see ``docs/service.md``.  The service calls only
:func:`accessmap.pipeline.run` and reads settings and run folders; it knows nothing of
the stages.  It needs FastAPI and uvicorn.

Modules: ``settings`` (what the operator chooses), ``admission`` (checks of a request),
``jobs`` (the SQLite job store), ``workers`` (worker processes), ``documents`` (the OGC
documents), ``uploads`` (uploaded facilities and population, checked and stored per key),
``app`` (routes, limits, API keys, the web page).
"""

from __future__ import annotations

from accessmap.service.settings import Dataset, ServiceSettings, load_api_keys

__all__ = ["Dataset", "ServiceSettings", "create_app", "load_api_keys", "serve"]


def create_app(settings: ServiceSettings) -> object:
    """Build the FastAPI app (see :func:`accessmap.service.app.create_app`)."""
    from accessmap.service.app import create_app as build

    return build(settings)


def serve(settings: ServiceSettings, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service with uvicorn (see :func:`accessmap.service.app.serve`)."""
    from accessmap.service.app import serve as run

    run(settings, host=host, port=port)
