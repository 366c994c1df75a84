"""The OGC API - Processes (Part 1, 1.0) documents the service returns.

Landing page, conformance declaration, process list and description, statusInfo and
results, built from the settings and the job store; the app only routes to them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from accessmap._version import __version__
from accessmap.record import FILES
from accessmap.service.admission import request_schema
from accessmap.service.jobs import Job, JobStore
from accessmap.service.settings import Dataset, ServiceSettings

__all__ = ["CONFORMANCE", "MEDIA_TYPES", "PROCESS_ID", "conformance", "landing_page",
           "media_type", "output_key", "process_description", "process_summary", "results_document",
           "status_info"]

PROCESS_ID = "run"
_SPEC = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
CONFORMANCE = [_SPEC + c for c in ("core", "ogc-process-description", "json", "oas30",
                                   "job-list", "dismiss")]
_REL = "http://www.opengis.net/def/rel/ogc/1.0/"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8", ".json": "application/json",
    ".gpkg": "application/geopackage+sqlite3",
    ".tif": "image/tiff; application=geotiff; profile=cloud-optimized",
    ".png": "image/png", ".svg": "image/svg+xml",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".qml": "text/xml", ".sld": "application/vnd.ogc.sld+xml",
}
_OUTPUT_TITLES = {
    "summary": "summary of the run (JSON, inline)", "map": "interactive map (offline HTML)",
    "report_html": "report (HTML)", "report_md": "report (Markdown)",
    "report_xlsx": "report tables (Excel)", "layers": "layers (GeoPackage)",
    "travel_time": "travel time to the nearest facility (Cloud-Optimized GeoTIFF, minutes)",
    "population": "people per analysis cell (Cloud-Optimized GeoTIFF)",
}


def output_key(name: str) -> str:
    """The output id of a run-folder file: ``summary`` or the name with ``_`` for ``.``."""
    return "summary" if name == FILES.summary else name.replace(".", "_")


def media_type(name: str) -> str:
    """The media type of a result file, by its suffix."""
    return MEDIA_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def _link(href: str, rel: str, kind: str = "application/json", title: str = "") -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": kind}
    if title:
        out["title"] = title
    return out


def landing_page(base: str) -> dict[str, Any]:
    """The landing page (``/``) as JSON."""
    return {
        "title": "accessmap",
        "description": "Travel times to care, coverage and site selection as an OGC API - "
                       "Processes service.",
        "links": [
            _link(f"{base}/", "self"),
            _link(f"{base}/api", "service-desc", "application/vnd.oai.openapi+json;version=3.0",
                  "the API definition"),
            _link(f"{base}/conformance", "http://www.opengis.net/def/rel/ogc/1.0/conformance",
                  title="conformance classes"),
            _link(f"{base}/processes", _REL + "processes", title="processes"),
            _link(f"{base}/jobs", _REL + "job-list", title="jobs"),
            _link(f"{base}/app", "alternate", "text/html", "the planner's web page"),
        ],
    }


def conformance() -> dict[str, Any]:
    """The conformance declaration."""
    return {"conformsTo": list(CONFORMANCE)}


def process_summary(base: str) -> dict[str, Any]:
    """The process in the list of ``/processes``."""
    return {
        "id": PROCESS_ID, "version": __version__, "title": "accessmap run",
        "description": "Travel times to the nearest facility, population coverage by "
                       "threshold, underserved zones and recommended new sites, with an "
                       "offline map, a report and a GeoPackage.",
        "jobControlOptions": ["async-execute", "sync-execute", "dismiss"],
        "outputTransmission": ["value", "reference"],
        "links": [_link(f"{base}/processes/{PROCESS_ID}", "self", title="process description"),
                  _link(f"{base}/processes/{PROCESS_ID}/execution", _REL + "execute",
                        title="execute")],
    }


def _dataset_settings(tables: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in tables.items() if k not in ("inputs", "output")}
    return out


def process_description(base: str, settings: ServiceSettings, *,
                        uploads: Mapping[str, Dataset] | None = None) -> dict[str, Any]:
    """``/processes/run``: every input and output with its schema, and the datasets
    (the registered ones, then the requesting key's ``uploads``)."""
    every = {**settings.datasets, **(uploads or {})}
    names = sorted(settings.datasets) + sorted(uploads or {})
    outputs = {}
    for key, name in dataclasses.asdict(FILES).items():
        if name.startswith("figure_"):
            continue
        outputs[output_key(name)] = {
            "title": _OUTPUT_TITLES.get(key, f"{name} (table)"),
            "schema": ({"type": "object", "contentMediaType": "application/json"}
                       if name.endswith(".json") else
                       {"type": "string", "contentMediaType": media_type(name),
                        "contentEncoding": "binary"}),
        }
    return {
        **process_summary(base),
        "inputs": {
            "dataset": {
                "title": "dataset", "minOccurs": 1, "maxOccurs": 1,
                "description": "The name of a dataset registered on this server (road "
                               "network, population, facilities; 'demo' is synthetic) or "
                               "the id of one of your uploads (POST /datasets).",
                "schema": {"type": "string", "enum": names, "default": "demo"},
            },
            "scenario": {
                "title": "scenario", "minOccurs": 0, "maxOccurs": 1,
                "description": "Changes to the dataset's settings, with the tables and keys "
                               "of a scenario file (no file paths).",
                "schema": request_schema(),
            },
        },
        "outputs": outputs,
        "x-datasets": {
            name: {"title": every[name].scenario.title,
                   "settings": _dataset_settings(every[name].scenario.to_dict())}
            for name in names
        },
    }


def status_info(job: Job, base: str) -> dict[str, Any]:
    """A job's statusInfo."""
    links = [_link(f"{base}/jobs/{job.id}", "self", title="status")]
    if job.status == "successful":
        links.append(_link(f"{base}/jobs/{job.id}/results", _REL + "results", title="results"))
        links.append(_link(f"{base}/jobs/{job.id}/results/{FILES.map}", "alternate",
                           "text/html", "map"))
        links.append(_link(f"{base}/jobs/{job.id}/results/{FILES.report_html}", "alternate",
                           "text/html", "report"))
    info: dict[str, Any] = {
        "processID": PROCESS_ID, "type": "process", "jobID": job.id, "status": job.status,
        "message": job.message, "progress": job.progress, "created": job.created,
        "started": job.started, "finished": job.finished, "updated": job.updated,
        "dataset": job.dataset, "title": job.title, "cached": job.cached_from is not None,
        "links": links,
    }
    if job.cached_from is not None:
        info["cachedFrom"] = job.cached_from
    if job.disk_bytes is not None:
        info["diskBytes"] = job.disk_bytes
    if job.error is not None:
        info["exception"] = job.error
    return {k: v for k, v in info.items() if v is not None}


def results_document(job: Job, store: JobStore, base: str) -> dict[str, Any]:
    """A successful job's results: ``summary`` inline, a link to every other file."""
    folder = store.run_dir(job.id)
    out: dict[str, Any] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file():
            continue
        if path.name == FILES.summary:
            out["summary"] = json.loads(path.read_text(encoding="utf-8"))
            continue
        out[output_key(path.name)] = {"href": f"{base}/jobs/{job.id}/results/{path.name}",
                    "type": media_type(path.name), "title": path.name}
    return out
