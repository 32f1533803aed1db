"""vfi prep: local files and real yt-dlp downloads from a local HTTP server."""

import http.server
import json
import threading
from fractions import Fraction
from functools import partial

import numpy as np
import pytest

from conftest import make_video, moving_frames, vfi
from vfi.data import PrepOptions, TripletDataset, grey_200x100, prep
from vfi.errors import UsageError


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VFI_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving tmp_path/www; counts GET requests."""
    root = tmp_path / "www"
    root.mkdir()
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


def test_triplet_count_and_random_split(tmp_path):
    src = make_video(tmp_path / "a.mkv", moving_frames(20, 32, 48), Fraction(24), codec="ffv1")
    ds, reports = prep([str(src)], tmp_path / "ds", PrepOptions(seed=1))
    d = TripletDataset(ds)
    assert len(d.triplets) == 18 and len(d.val) == 5 and len(d.train) == 13
    assert sorted(np.concatenate([d.train, d.val]).tolist()) == list(range(18))
    a, m, b = d.frames(int(d.train[0]))
    assert a.shape == (32, 48, 3) and a.dtype == np.uint8
    ds2, _ = prep([str(src)], tmp_path / "ds2", PrepOptions(seed=1, stride=2))
    assert len(TripletDataset(ds2).triplets) == 16
    m = json.loads((ds / "manifest.json").read_text())
    assert m["sources"][0]["sha256"] and m["sources"][0]["frames"] == 20


def test_scales_store_each_source_downscaled(tmp_path):
    src = make_video(tmp_path / "a.mkv", moving_frames(12, 32, 48), Fraction(24), codec="ffv1")
    ds, reports = prep([str(src)], tmp_path / "ds", PrepOptions(scales=(1.0, 0.5)))
    d = TripletDataset(ds)
    assert [a.shape for a in d.arrays] == [(12, 32, 48, 3), (12, 16, 24, 3)]
    assert len(d.triplets) == 20 and reports[0].triplets == 20 and "2 scales" in reports[0].message
    assert [s["scale"] for s in d.manifest["sources"]] == [1.0, 0.5]
    assert "(scale 0.5)" in d.describe()
    with pytest.raises(UsageError):
        prep([str(src)], tmp_path / "bad", PrepOptions(scales=(1.5,)))


def test_cuts_duplicates_and_segment_split(tmp_path):
    frames = list(moving_frames(30, 32, 48, cut_at=15))
    frames[5] = frames[4]  # a repeated frame
    src = make_video(tmp_path / "a.mkv", frames, Fraction(24), codec="ffv1")
    ds, _ = prep([str(src)], tmp_path / "ds", PrepOptions(split="segments", segment=5, seed=0))
    d = TripletDataset(ds)
    mids = set(d.triplets[:, 2].tolist())
    assert 14 not in mids and 15 not in mids  # straddle the cut
    assert 4 not in mids and 5 not in mids  # hold a duplicate
    assert len(d.triplets) == 28 - 4
    # segments: validation triplets come in contiguous runs
    val_mids = sorted(d.triplets[d.val][:, 2].tolist())
    assert len(val_mids) > 0 and set(val_mids).isdisjoint(d.triplets[d.train][:, 2].tolist())


def test_paper002_preset(tmp_path):
    src = make_video(tmp_path / "a.mkv", moving_frames(10, 90, 240), Fraction(24), codec="ffv1")
    ds, _ = prep([str(src)], tmp_path / "ds", PrepOptions(preset="paper002"))
    d = TripletDataset(ds)
    assert d.arrays[0].shape == (10, 100, 200, 1)
    g = grey_200x100(np.zeros((50, 400, 3), np.uint8))
    assert g.shape == (100, 200)
    assert vfi("prep", "--info", ds).exit_code == 0


def test_download_from_local_server_is_cached(server, tmp_path):
    root, base, hits = server
    make_video(root / "clip.mp4", moving_frames(12, 32, 48), Fraction(24))
    res = vfi("prep", f"{base}/clip.mp4", "-o", tmp_path / "ds")
    assert res.exit_code == 0, res.output
    assert len(TripletDataset(tmp_path / "ds").triplets) == 10
    n = len(hits)
    assert n >= 1
    res = vfi("prep", f"{base}/clip.mp4", "-o", tmp_path / "ds2")
    assert res.exit_code == 0, res.output
    assert len(hits) == n, "second prep downloaded again"


def test_bad_sources_are_reported_and_others_go_through(server, tmp_path):
    root, base, _ = server
    make_video(root / "clip.mp4", moving_frames(12, 32, 48), Fraction(24))
    (root / "page.html").write_text("<html><body>no video here</body></html>")
    (root / "notvideo.mp4").write_text("plain text")
    local_bad = tmp_path / "missing.mp4"
    res = vfi("prep", f"{base}/clip.mp4", f"{base}/nothing.mp4", f"{base}/page.html", f"{base}/notvideo.mp4",
              "http://127.0.0.1:9/closed.mp4", local_bad, "-o", tmp_path / "ds")
    assert res.exit_code == 1
    out = res.output
    assert "404" in out
    assert "unsupported" in out.lower() or "page.html" in out
    assert "notvideo.mp4" in out and "closed.mp4" in out and "missing.mp4" in out
    assert "5 of 6 source(s) failed" in out
    assert "Traceback" not in out
    d = TripletDataset(tmp_path / "ds")
    assert len(d.triplets) == 10 and len(d.manifest["failed"]) == 5


def test_max_frames_reads_the_start_of_a_longer_video(tmp_path):
    """Stopping at --max-frames is not a truncated file."""
    src = make_video(tmp_path / "long.mp4", moving_frames(30, 32, 48), Fraction(24))
    for preset in ("paper000", "flow"):
        path, reports = prep([str(src)], tmp_path / preset, PrepOptions(preset=preset, max_frames=12))
        assert reports[0].ok, reports[0].message
        assert reports[0].frames == 12 and len(TripletDataset(path).arrays[0]) == 12
