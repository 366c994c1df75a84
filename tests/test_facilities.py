"""Facility loading: types, exclusions, CSV coordinates, bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accessmap import InputDataError, InputFileError
from accessmap.errors import DataQualityWarning
from accessmap.inputs.facilities import load_facilities


def write_points(path: Path, rows: list[dict[str, object]]) -> Path:
    features = [{"type": "Feature", "properties": {k: v for k, v in r.items() if k != "xy"},
                 "geometry": {"type": "Point", "coordinates": r["xy"]}} for r in rows]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_type_prefers_meaningful_values(tmp_path: Path) -> None:
    path = write_points(tmp_path / "f.geojson", [
        {"name": "A", "amenity": "clinic", "healthcare": "clinic", "xy": [43.3, -11.7]},
        {"name": "B", "healthcare": "yes", "xy": [43.3, -11.7]},
        {"name": "C", "amenity": "hospital", "healthcare": "yes", "xy": [43.3, -11.7]},
    ])
    frame = load_facilities(path)
    assert frame["type"].tolist() == ["clinic", "health facility", "hospital"]
    assert frame["facility_id"].tolist() == [1, 2, 3]  # 1-based data rows


def test_exclusion_and_missing_column(tmp_path: Path) -> None:
    path = write_points(tmp_path / "f.geojson", [
        {"name": "A", "amenity": "clinic", "xy": [43.3, -11.7]},
        {"name": "P", "amenity": "pharmacy", "xy": [43.3, -11.7]},
    ])
    assert load_facilities(path, exclude={"amenity": ["pharmacy"]})["name"].tolist() == ["A"]
    with pytest.raises(InputDataError, match="no column 'kind'"):
        load_facilities(path, exclude={"kind": ["x"]})
    with pytest.raises(InputDataError, match="no facility with a usable point geometry"):
        load_facilities(path, exclude={"amenity": ["pharmacy", "clinic"]})


def test_csv_with_swapped_columns_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("name,lat,lon\nA,-11.7,43.3\nB,43.3,-11.7\nC,120.5,-11.7\n")
    with pytest.raises(InputDataError, match=r"row 3 \(line 4\): latitude 120.5 is out of range"):
        load_facilities(path)


def test_csv_points_load(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("name,longitude,latitude,capacity\nA,43.3,-11.7,12\n")
    frame = load_facilities(path)
    assert frame.geometry.x.iloc[0] == pytest.approx(43.3)
    assert frame["capacity"].iloc[0] == 12


def test_rows_without_geometry_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "f.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "A"},
         "geometry": {"type": "Point", "coordinates": [43.3, -11.7]}},
        {"type": "Feature", "properties": {"name": "B"}, "geometry": None}]}))
    with pytest.warns(DataQualityWarning, match=r"f.geojson: 1 row\(s\) left out.*row 2: no "
                      "geometry"):
        frame = load_facilities(path)
    assert len(frame) == 1
    assert frame.attrs["dropped"] == [{"row": 2, "reason": "no geometry"}]


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "f.gpkg"
    path.write_bytes(b"not a geopackage")
    with pytest.raises(InputFileError, match="cannot be read"):
        load_facilities(path)


def test_ids_are_data_rows_counted_before_exclusions(tmp_path: Path) -> None:
    path = write_points(tmp_path / "f.geojson", [
        {"name": "A", "amenity": "pharmacy", "xy": [43.3, -11.7]},
        {"name": "B", "amenity": "clinic", "xy": [43.3, -11.7]},
        {"name": "C", "amenity": "pharmacy", "xy": [43.3, -11.7]},
        {"name": "D", "amenity": "hospital", "xy": [43.3, -11.7]},
    ])
    all_rows = load_facilities(path)
    kept = load_facilities(path, exclude={"amenity": ["pharmacy"]})
    assert all_rows["facility_id"].tolist() == [1, 2, 3, 4]
    assert dict(zip(kept["name"], kept["facility_id"], strict=True)) == {"B": 2, "D": 4}


@pytest.mark.parametrize(("column", "values", "expected"), [
    ("id", ["HF-3", " HF-1 ", "HF-2"], ["HF-3", "HF-1", "HF-2"]),
    ("osm_id", [901.0, 17.0, 5.0], [901, 17, 5]),
    ("facility_id", [7, 8, 9], [7, 8, 9]),
])
def test_an_id_column_gives_the_ids(tmp_path: Path, column: str, values: list[object],
                                    expected: list[object]) -> None:
    path = write_points(tmp_path / "f.geojson", [
        {"name": n, column: v, "xy": [43.3, -11.7]} for n, v in zip("ABC", values, strict=True)])
    assert load_facilities(path)["facility_id"].tolist() == expected


def test_facility_id_column_is_preferred_to_id(tmp_path: Path) -> None:
    path = write_points(tmp_path / "f.geojson", [
        {"id": "x", "facility_id": 10, "xy": [43.3, -11.7]},
        {"id": "y", "facility_id": 11, "xy": [43.3, -11.7]}])
    assert load_facilities(path)["facility_id"].tolist() == [10, 11]


@pytest.mark.parametrize(("ids", "message"), [
    ([1, "1"], r"f\.geojson: id '1' is repeated \(rows 1 and 2\); facility ids must be unique"),
    (["A", None], r"f\.geojson: 1 row\(s\) have no id \(first: row 2\)"),
    (["A", " "], r"1 row\(s\) have no id"),
])
def test_ids_must_be_given_and_unique(tmp_path: Path, ids: list[object], message: str) -> None:
    path = write_points(tmp_path / "f.geojson", [{"id": v, "xy": [43.3, -11.7]} for v in ids])
    with pytest.raises(InputDataError, match=message):
        load_facilities(path)
