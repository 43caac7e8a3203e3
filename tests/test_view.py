"""`cim view` without a browser: the server's confinement, its read-only API, refusals, and the review's 3-D view."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading

import pytest
from typer.testing import CliRunner

from cim.cli import app
from cim.view.data import CityData
from cim.view.frontend import cesium_dir
from cim.view.server import ViewServer, safe_file
from cim.view.view3d import read_scene, three_files
from tests.conftest import SAMPLES

runner = CliRunner()
needs_front_end = pytest.mark.skipif(not (cesium_dir() / "Cesium.js").is_file(),
                                     reason="viewer/node_modules is not installed (make install)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path, city_store):
    """A ViewServer over a folder with one page and a secret beside it, with the element API of a small store."""
    from cim.view.app import routes

    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<p>page</p>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    (tmp_path / "site" / "escape").symlink_to(tmp_path)
    server = ViewServer(_free_port())
    server.mount("/", tmp_path / "site")
    server.api = routes(CityData(city_store), None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _get(server, path: str, method: str = "GET", host: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
    if host is not None:
        conn.putheader("Host", host)
    conn.endheaders()
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


TRAVERSALS = ["/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt",
              "/%252e%252e%252fsecret.txt", "/..%5csecret.txt", "/%2e%2e%5csecret.txt", "/escape/secret.txt",
              "//etc/passwd", "/%2fetc%2fpasswd", "/..%00/secret.txt", "/./../secret.txt", "/site/../../secret.txt"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_request_path_reads_a_file_outside_the_served_folders(served, path):
    status, body = _get(served, path)
    assert status == 404 and b"secret" not in body and b"root:" not in body


def test_the_served_folder_itself_is_served_and_only_get_and_head_are_answered(served):
    assert _get(served, "/") == (200, b"<p>page</p>")
    assert _get(served, "/index.html")[0] == 200
    assert _get(served, "/index.html", "HEAD") == (200, b"")
    assert _get(served, "/index.html", "DELETE")[0] == 405
    assert _get(served, "/index.html", host="evil.example:80")[0] == 403


def test_safe_file_refuses_parent_segments_backslashes_and_nul(tmp_path):
    (tmp_path / "a.txt").write_text("a", encoding="utf-8")
    assert safe_file(tmp_path, "a.txt") == (tmp_path / "a.txt").resolve()
    for bad in ("../a.txt", "x/../../a.txt", "..\\a.txt", "a.txt\x00", "/../a.txt"):
        assert safe_file(tmp_path / "sub", bad) is None


def test_the_element_endpoint_answers_one_element_and_binds_its_parameters(served, city_store):
    row = city_store.read_current("elements").to_pylist()[0]
    status, body = _get(served, f"/api/element?model_id={row['model_id']}&global_id={row['global_id']}")
    assert status == 200
    assert json.loads(body)["global_id"] == row["global_id"]
    injected = "/api/element?model_id=north&global_id=%27%20OR%201%3D1%20--"
    assert _get(served, injected)[0] == 404
    assert _get(served, "/api/element?model_id=north")[0] == 400
    assert _get(served, "/api/nothing")[0] == 404


def test_the_api_connection_cannot_write_or_read_files(city_store, tmp_path):
    data = CityData(city_store)
    import duckdb

    target = tmp_path / "x.csv"
    with pytest.raises(duckdb.Error):
        data._rows(f"COPY (SELECT 1) TO '{target}'")
    with pytest.raises(duckdb.Error):
        data._rows("SELECT * FROM read_csv('/etc/passwd')")
    assert not target.exists()


def test_a_port_in_use_is_one_line_with_the_fix_and_exit_2(city_store):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["view", "--store", str(city_store.root), "--port", str(port)])
    if not (cesium_dir() / "Cesium.js").is_file():
        pytest.skip("viewer/node_modules is not installed: the front-end refusal comes first")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "already in use" in lines[0] and "--port" in lines[0]


def test_a_missing_front_end_install_is_one_line_with_the_fix_and_exit_2(city_store, tmp_path, monkeypatch):
    monkeypatch.setenv("CIM_VIEWER_DIR", str(tmp_path / "viewer"))
    result = runner.invoke(app, ["view", "--store", str(city_store.root), "--port", str(_free_port())])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "not installed" in lines[0] and "make install" in lines[0]


@needs_front_end
def test_an_empty_store_is_one_line_with_the_fix_and_exit_2(tmp_path):
    import geopandas as gpd
    import shapely

    from cim.config import default_config
    from cim.ingest.run import ingest_file
    from cim.store import Store

    store = Store(tmp_path / "store", "EPSG:4549")
    layer = gpd.GeoDataFrame({"parcel_id": ["P"]}, geometry=[shapely.box(464_890, 2_865_790, 464_920, 2_865_820)],
                             crs="EPSG:4549")
    layer.to_file(tmp_path / "city.gpkg", layer="parcels")
    ingest_file(store, default_config("EPSG:4549"), tmp_path / "city.gpkg")
    for folder in (store.root, tmp_path / "nothing"):
        result = runner.invoke(app, ["view", "--store", str(folder), "--port", str(_free_port())])
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1 and "make run" in result.output
    assert not (store.root / "exports").exists()


@pytest.mark.skipif(three_files() is None, reason="viewer/node_modules/three is not installed (make install)")
def test_the_review_writes_a_self_contained_3d_view_linked_from_its_report(violating_review):
    code, out = violating_review
    assert code == 1
    page = (out / "view3d.html").read_text(encoding="utf-8")
    assert 'href="view3d.html"' in (out / "report.html").read_text(encoding="utf-8")
    assert "http://" not in page.split("<script", 1)[0] and 'src="' not in page  # nothing fetched
    scene = read_scene(out / "view3d.html")
    submission = [m for m in scene["meshes"] if m["role"] == "submission"]
    failing = {m["global_id"] for m in submission if m["fails"]}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    tunnel = next(c for c in report["checks"] if c["check_id"] == "tunnel_protection")
    assert {d["global_id"] for d in tunnel["details"]} <= failing
    assert any(m["role"] == "context" and m["model_id"] == "tunnel-binhai" for m in scene["meshes"])


def test_without_three_js_the_review_still_writes_its_report_with_one_note(sample_city, tmp_path, monkeypatch):
    monkeypatch.setenv("CIM_VIEWER_DIR", str(tmp_path / "no-viewer"))
    store, config, _ = sample_city
    out = tmp_path / "out"
    result = runner.invoke(app, ["review", str(SAMPLES / "submissions" / "compliant.ifc"), "--store",
                                 str(store.root), "--config", str(config.path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["clashes.bcfzip", "report.html", "report.json"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "view3d.html" not in html and html.count('id="view3d-note"') == 1 and "make install" in html


@pytest.mark.skipif(three_files() is None, reason="viewer/node_modules/three is not installed (make install)")
def test_view_review_places_the_submission_s_own_meshes_near_the_city(violating_review, sample_city):
    import numpy as np

    from cim.view.geo import to_ecef
    from cim.view.review import review_payload
    from cim.view.scene import unb64

    store, config, _ = sample_city
    payload = review_payload(violating_review[1] / "report.json", store.crs, config.ground_elevation_m)
    assert payload["model_id"] == "submission-violating" and payload["note"] is None
    assert {c["check_id"] for c in payload["failed"]} >= {"height", "tunnel_protection"}
    ecef = np.vstack([unb64(m["positions"], np.float64).reshape(-1, 3) for m in payload["meshes"]])
    parcel = to_ecef(store.crs, np.array([[464_630.0, 2_865_795.0, 5.0]]))
    assert np.linalg.norm(ecef - parcel, axis=1).max() < 300  # on parcel BH-02, not at the origin


def test_a_report_of_another_city_or_no_report_is_refused_in_one_line(tmp_path, city_store):
    missing = runner.invoke(app, ["view", "--store", str(city_store.root), "--review", str(tmp_path / "r.json"),
                                  "--port", str(_free_port())])
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema_version": "1.0", "checks": [], "verdict": "fail", "model_id": "m",
                                 "crs": "EPSG:32650"}), encoding="utf-8")
    wrong = runner.invoke(app, ["view", "--store", str(city_store.root), "--review", str(other),
                                "--port", str(_free_port())])
    if not (cesium_dir() / "Cesium.js").is_file():
        pytest.skip("viewer/node_modules is not installed: the front-end refusal comes first")
    assert missing.exit_code == 2 and "no such review report" in missing.output
    assert wrong.exit_code == 2 and "EPSG:32650" in wrong.output and len(wrong.output.strip().splitlines()) == 1


def test_the_viewer_listens_again_on_its_port_right_after_it_served_and_stopped():
    import urllib.request

    served = ViewServer(0)
    port = served.server_address[1]
    threading.Thread(target=served.serve_forever, daemon=True).start()
    for _ in range(3):  # answered and closed by the server first: its side lingers in TIME_WAIT
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
    served.shutdown()
    served.server_close()
    ViewServer(port).server_close()  # not "already in use" for the next minute
