"""Uploaded datasets: a key's own facilities (and population) on a registered road network.

``POST /datasets`` (multipart) takes a facilities file (GeoJSON or CSV with lon/lat), an
optional population GeoTIFF and the name of a registered ``base`` dataset.  The upload is
a new dataset whose runs use the base's road network, admin areas, groups and settings
with the uploaded files in place of the base's facilities (and population); an upload
never brings a road network, and no client path or file name is ever used.

Checks, in order (each refusal is a :class:`~accessmap.service.admission.Refused`):

- size: each file at most ``max_upload_bytes`` (413; the whole request is limited by the
  app before parsing);
- type, sniffed from the content: archives (zip, gzip, bzip2, xz, 7z, rar, tar) are
  refused outright (415), so there is nothing to unpack (no traversal, symlinks or
  decompression bombs); facilities must be UTF-8 text, population a TIFF (magic bytes);
- GeoJSON parsed strictly: a ``FeatureCollection`` of ``Point`` features with finite
  lon/lat in range, no duplicate keys, no ``NaN``; CSV: lon/lat columns, every row finite
  and in range (400 naming the feature or row);
- population: one band, a CRS, at most ``max_upload_cells`` cells (the decompressed size
  of a compressed TIFF), read with rasterio from the saved file;
- finally :func:`~accessmap.inputs.facilities.load_facilities` and
  :func:`~accessmap.inputs.population.load_population` read the saved files, as a run
  would (their warnings are returned with the upload).

Files live in ``<data_dir>/uploads/<owner>/<id>/`` under names the server makes
(``facilities.geojson`` or ``.csv``, ``population.tif``, ``dataset.json``); ``<owner>`` is
the hash of the API key, so another key cannot see or use an upload (404).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from accessmap.errors import AccessmapError
from accessmap.service.admission import Refused
from accessmap.service.jobs import now_iso
from accessmap.service.settings import UPLOAD_PREFIX, Dataset, ServiceSettings

__all__ = ["Upload", "UploadStore"]

_ID = re.compile(r"^" + re.escape(UPLOAD_PREFIX) + r"[0-9a-f]{16}$")
_ARCHIVES = ((b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"\x1f\x8b", "gzip"),
             (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"7z\xbc\xaf\x27\x1c", "7z"),
             (b"Rar!", "rar"), (b"\x28\xb5\x2f\xfd", "zstd"))
_TIFF = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_LON = ("lon", "longitude", "lng", "x")
_LAT = ("lat", "latitude", "y")
_CHUNK = 1 << 20
_META = "dataset.json"


@dataclass(frozen=True)
class Upload:
    """One uploaded dataset's record (``dataset.json``)."""

    id: str
    title: str
    base: str
    created: str
    facilities: str
    population: str | None
    facility_count: int
    warnings: tuple[str, ...] = ()

    def document(self, base_url: str) -> dict[str, Any]:
        """The upload as the API shows it."""
        files = {"facilities": self.facilities}
        if self.population:
            files["population"] = self.population
        return {"id": self.id, "kind": "upload", "title": self.title, "base": self.base,
                "created": self.created, "files": files, "facilities": self.facility_count,
                "warnings": list(self.warnings),
                "links": [{"href": f"{base_url}/datasets/{self.id}", "rel": "self",
                           "type": "application/json"}]}


class UploadStore:
    """Uploaded datasets under ``<data_dir>/uploads``, one folder per owner and upload.

    Parameters
    ----------
    settings
        The data folder, the registered datasets and the upload limits.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.root = settings.data_dir.resolve() / "uploads"

    def _owner_dir(self, owner: str) -> Path:
        return self.root / (owner or "_")

    def folder(self, owner: str, upload_id: str) -> Path | None:
        """The folder of ``owner``'s upload ``upload_id`` (None when unknown or not theirs)."""
        if not _ID.match(upload_id):
            return None
        folder = self._owner_dir(owner) / upload_id
        return folder if (folder / _META).is_file() else None

    def get(self, owner: str, upload_id: str) -> Upload | None:
        """``owner``'s upload ``upload_id``, or None."""
        folder = self.folder(owner, upload_id)
        if folder is None:
            return None
        data = json.loads((folder / _META).read_text(encoding="utf-8"))
        data["warnings"] = tuple(data.get("warnings", ()))
        return Upload(**data)

    def list_uploads(self, owner: str) -> list[Upload]:
        """``owner``'s uploads, newest first."""
        folder = self._owner_dir(owner)
        found = [self.get(owner, p.name) for p in folder.iterdir()] if folder.is_dir() else []
        return sorted((u for u in found if u is not None), key=lambda u: u.created,
                      reverse=True)

    def dataset(self, owner: str, upload_id: str) -> Dataset | None:
        """The dataset runs of ``owner``'s upload use (None when unknown or not theirs).

        Raises
        ------
        Refused
            The upload's base dataset is no longer registered on the server.
        """
        upload = self.get(owner, upload_id)
        folder = self.folder(owner, upload_id)
        if upload is None or folder is None:
            return None
        base = self.settings.datasets.get(upload.base)
        if base is None:
            raise Refused(400, "base dataset gone", f"dataset {upload.id}: its base dataset "
                          f"{upload.base!r} is no longer registered on this server; upload "
                          "the files again on a registered dataset")
        scenario = base.scenario
        inputs = replace(scenario.inputs, facilities=folder / upload.facilities,
                         facilities_layer=None)
        if upload.population:
            inputs = replace(inputs, population=folder / upload.population,
                             population_column=None)
        return Dataset(upload.id, replace(scenario, title=upload.title, inputs=inputs,
                                          facilities=replace(scenario.facilities, exclude={})))

    def datasets(self, owner: str) -> dict[str, Dataset]:
        """Every usable dataset of ``owner``'s uploads, by id."""
        out: dict[str, Dataset] = {}
        for upload in self.list_uploads(owner):
            try:
                found = self.dataset(owner, upload.id)
            except Refused:
                continue
            if found is not None:
                out[upload.id] = found
        return out

    def delete(self, owner: str, upload_id: str) -> bool:
        """Delete ``owner``'s upload; False when there is none."""
        folder = self.folder(owner, upload_id)
        if folder is None:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True

    # ------------------------------------------------------------------ creation

    def create(self, owner: str, *, facilities: BinaryIO, population: BinaryIO | None,
               base: str, title: str) -> Upload:
        """Check and store an upload; see the module docstring for the checks.

        Raises
        ------
        Refused
            413 too large, 415 wrong type or an archive, 400 invalid content or base,
            429 too many uploads for this key.
        """
        if base not in self.settings.datasets:
            raise Refused(400, "unknown dataset", f"base {str(base)[:64]!r} is not a dataset "
                          "registered on this server; registered: "
                          + ", ".join(sorted(self.settings.datasets)))
        if len(title) > 200:
            raise Refused(400, "invalid title", "title: at most 200 characters")
        if len(self.list_uploads(owner)) >= self.settings.max_uploads_per_key:
            raise Refused(429, "too many uploads", f"you already have "
                          f"{self.settings.max_uploads_per_key} uploaded datasets; delete one "
                          "(DELETE /datasets/ID) first", kind="too-many-uploads",
                          headers={"Retry-After": str(self.settings.retry_after_s)})
        upload_id = UPLOAD_PREFIX + uuid.uuid4().hex[:16]
        staging = self._owner_dir(owner) / f".staging-{upload_id}"
        staging.mkdir(parents=True)
        try:
            upload = self._check(staging, upload_id, facilities, population, base, title)
            (staging / _META).write_text(json.dumps(asdict(upload)),
                                         encoding="utf-8")
            staging.rename(self._owner_dir(owner) / upload_id)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return upload

    def _check(self, folder: Path, upload_id: str, facilities: BinaryIO,
               population: BinaryIO | None, base: str, title: str) -> Upload:
        raw = self._save(facilities, folder / "facilities.upload", "facilities")
        data = raw.read_bytes()
        _refuse_archive(data[:512], "facilities")
        if b"\x00" in data:
            raise Refused(415, "unsupported file type", "facilities: not a text file; upload "
                          "a GeoJSON FeatureCollection of points or a CSV with lon/lat columns",
                          kind="unsupported-media-type")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Refused(415, "unsupported file type", "facilities: the file is not UTF-8 "
                          "text; save it as UTF-8 GeoJSON or CSV",
                          kind="unsupported-media-type") from None
        if text.lstrip().startswith("{"):
            _check_geojson(text)
            name = "facilities.geojson"
        else:
            _check_csv(text)
            name = "facilities.csv"
        raw.rename(folder / name)
        pop_name = None
        if population is not None:
            pop_name = "population.tif"
            saved = self._save(population, folder / pop_name, "population")
            with saved.open("rb") as handle:
                head = handle.read(512)
            _refuse_archive(head, "population")
            if head[:4] not in _TIFF:
                raise Refused(415, "unsupported file type", "population: not a GeoTIFF; upload "
                              "a single-band GeoTIFF of people per cell (e.g. WorldPop)",
                              kind="unsupported-media-type")
            self._check_raster(saved)
        count, notes = _load(folder / name, folder / pop_name if pop_name else None)
        return Upload(upload_id, title or f"uploaded facilities on {base}", base, now_iso(),
                      name, pop_name, count, tuple(notes))

    def _save(self, source: BinaryIO, target: Path, what: str) -> Path:
        limit = self.settings.max_upload_bytes
        size = 0
        with target.open("wb") as out:
            while chunk := source.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise Refused(413, "upload too large", f"{what}: the file is over the "
                                  f"upload limit of {limit:,} bytes", kind="payload-too-large")
                out.write(chunk)
        if size == 0:
            raise Refused(400, "empty file", f"{what}: the file is empty")
        return target

    def _check_raster(self, path: Path) -> None:
        import rasterio
        import rasterio.errors

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with rasterio.open(path) as raster:
                    cells, bands, crs = raster.width * raster.height, raster.count, raster.crs
        except rasterio.errors.RasterioIOError:
            raise Refused(400, "invalid population", "population: the file cannot be read as "
                          "a GeoTIFF") from None
        if cells > self.settings.max_upload_cells:
            raise Refused(413, "raster too large", f"population: {cells:,} cells is over the "
                          f"limit of {self.settings.max_upload_cells:,}; crop the raster to the "
                          "area or aggregate it", kind="payload-too-large")
        if bands != 1 or crs is None:
            raise Refused(400, "invalid population", "population: give one band of people per "
                          "cell with a coordinate reference system")


def _refuse_archive(head: bytes, what: str) -> None:
    kinds = [kind for magic, kind in _ARCHIVES if head.startswith(magic)]
    if len(head) >= 262 and head[257:262] == b"ustar":
        kinds.append("tar")
    if kinds:
        raise Refused(415, "archives not accepted", f"{what}: {kinds[0]} archives are not "
                      "accepted; upload the GeoJSON, CSV or GeoTIFF file itself",
                      kind="unsupported-media-type")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _bad(detail: str) -> Refused:
    return Refused(400, "invalid facilities", f"facilities: {detail}")


def _check_lon_lat(lon: Any, lat: Any, where: str) -> None:
    for value, axis in ((lon, "longitude"), (lat, "latitude")):
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise _bad(f"{where}: {axis} {value!r} is not a finite number")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise _bad(f"{where}: ({lon}, {lat}) is out of range (lon -180..180, lat -90..90); "
                   "are longitude and latitude swapped?")


def _check_geojson(text: str) -> None:
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise _bad(f"not valid JSON ({str(err)[:200]})") from None
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
        raise _bad('GeoJSON must be a FeatureCollection ({"type": "FeatureCollection", '
                   '"features": [...]})')
    features = doc.get("features")
    if not isinstance(features, list) or not features:
        raise _bad("the FeatureCollection has no features")
    for i, feature in enumerate(features, 1):
        where = f"feature {i}"
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise _bad(f"{where} is not a GeoJSON Feature")
        props = feature.get("properties")
        if props is not None and not isinstance(props, Mapping):
            raise _bad(f"{where}: properties must be an object or null")
        geometry = feature.get("geometry")
        if not isinstance(geometry, Mapping) or geometry.get("type") != "Point":
            kind = geometry.get("type") if isinstance(geometry, Mapping) else geometry
            raise _bad(f"{where}: geometry {str(kind)[:40]!r} is not a Point; facilities "
                       "are points (convert areas to points first)")
        coords = geometry.get("coordinates")
        if not isinstance(coords, list) or len(coords) not in (2, 3):
            raise _bad(f"{where}: a Point needs [longitude, latitude] coordinates")
        _check_lon_lat(coords[0], coords[1], where)


def _check_csv(text: str) -> None:
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if not header:
            raise _bad("the CSV file has no header row")
        lower = [h.strip().lower() for h in header]
        lon = next((lower.index(c) for c in _LON if c in lower), None)
        lat = next((lower.index(c) for c in _LAT if c in lower), None)
        if lon is None or lat is None:
            raise _bad(f"no longitude/latitude columns (looked for {'/'.join(_LON)} and "
                       f"{'/'.join(_LAT)}); a GeoJSON file must start with '{{'")
        rows = 0
        for rows, row in enumerate(reader, 1):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise _bad(f"row {rows} has {len(row)} columns, the header {len(header)}")
            try:
                values = float(row[lon]), float(row[lat])
            except ValueError:
                raise _bad(f"row {rows}: longitude {row[lon][:30]!r} or latitude "
                           f"{row[lat][:30]!r} is not a number") from None
            _check_lon_lat(*values, f"row {rows}")
    except csv.Error as err:
        raise _bad(f"not a valid CSV file ({err})") from None
    if rows == 0:
        raise _bad("the CSV file has no facility rows")


def _load(facilities: Path, population: Path | None) -> tuple[int, list[str]]:
    """Read the saved files as a run would; return the facility count and the warnings."""
    from accessmap.inputs.facilities import load_facilities
    from accessmap.inputs.population import load_population

    folder = str(facilities.parent) + "/"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            count = len(load_facilities(facilities))
            if population is not None:
                load_population(population)
    except AccessmapError as err:
        line = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise Refused(400, "invalid upload", line.replace(folder, "")) from None
    notes = [str(w.message).replace(folder, "")[:300] for w in caught
             if issubclass(w.category, UserWarning)]
    return count, notes[:20]
