"""vfi blur-report and upsample --blur-report on generated videos."""

import csv
import json
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from conftest import make_video, moving_frames, read_frames, vfi
from vfi.metrics import grey


@pytest.fixture
def pair(tmp_path):
    frames = list(moving_frames(8, 48, 64))
    sharp = make_video(tmp_path / "sharp.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    blurred = [gaussian_filter(f.astype(float), (1.5, 1.5, 0)).clip(0, 255).astype(np.uint8) for f in frames]
    soft = make_video(tmp_path / "soft.mkv", blurred, Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    return sharp, soft


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_bf_csv_matches_independent_computation(pair, tmp_path):
    sharp, _ = pair
    res = vfi("blur-report", sharp, "--csv", tmp_path / "r.csv", "-q")
    assert res.exit_code == 0, res.output
    got = rows(tmp_path / "r.csv")
    frames = read_frames(sharp, "rgb24")
    assert len(got) == len(frames)
    for r, (_, img) in zip(got, frames):
        g = grey(img)
        lap = (np.roll(g, 1, 0) + np.roll(g, -1, 0) + np.roll(g, 1, 1) + np.roll(g, -1, 1) - 4 * g)[1:-1, 1:-1]
        # interior-only variance differs slightly from the mirrored-border one; the full one:
        p = np.pad(g, 1, mode="reflect")
        full = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * g
        assert float(r["bf"]) == pytest.approx(1 / np.var(full), rel=1e-4)
        assert lap.size  # interior exists


def test_rbf_zero_against_itself_positive_for_blurred(pair, tmp_path):
    sharp, soft = pair
    assert vfi("blur-report", sharp, "--reference", sharp, "--json", tmp_path / "self.json", "-q").exit_code == 0
    data = json.loads((tmp_path / "self.json").read_text())
    assert all(f["rbf"] == 0 for f in data["frames"])
    assert data["summary"]["all"]["psnr"]["infinite"] == len(data["frames"])
    res = vfi("blur-report", soft, "--reference", sharp, "--json", tmp_path / "soft.json")
    assert res.exit_code == 0, res.output
    assert "RBF" in res.output
    data = json.loads((tmp_path / "soft.json").read_text())
    assert all(f["rbf"] > 0.5 for f in data["frames"])
    assert data["summary"]["all"]["ssim"]["mean"] < 1


def test_plot_and_heatmap_are_pngs(pair, tmp_path):
    sharp, soft = pair
    res = vfi("blur-report", soft, "--reference", sharp, "--plot", tmp_path / "p.png", "--local", tmp_path / "h.png",
              "--frames", "1,3", "--tiles", "4x4", "-q")
    assert res.exit_code == 0, res.output
    for name in ("p.png", "h.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200


def test_flat_frames_report_infinity(tmp_path):
    flat = make_video(tmp_path / "flat.mkv", [np.full((32, 32, 3), 90, np.uint8)] * 3, Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    assert vfi("blur-report", flat, "--csv", tmp_path / "f.csv", "-q").exit_code == 0
    assert {r["bf"] for r in rows(tmp_path / "f.csv")} == {"inf"}


def test_mismatched_reference_is_refused(pair, tmp_path):
    sharp, _ = pair
    short = make_video(tmp_path / "short.mkv", list(moving_frames(5, 48, 64)), Fraction(24), codec="ffv1")
    res = vfi("blur-report", sharp, "--reference", short)
    assert res.exit_code == 1 and "do not line up" in res.output and len(res.output.strip().splitlines()) == 1
    other = make_video(tmp_path / "other.mkv", list(moving_frames(8, 32, 64)), Fraction(24), codec="ffv1")
    res = vfi("blur-report", sharp, "--reference", other)
    assert res.exit_code == 1 and "do not line up" in res.output
    slow = make_video(tmp_path / "slow.mkv", list(moving_frames(8, 48, 64)), Fraction(12), codec="ffv1")
    res = vfi("blur-report", sharp, "--reference", slow)
    assert res.exit_code == 1 and "do not line up" in res.output


def test_knows_synthesised_frames_and_inline_report(tmp_path):
    src = make_video(tmp_path / "in.mkv", list(moving_frames(6, 48, 64)), Fraction(24), codec="ffv1")
    out = tmp_path / "out.mkv"
    res = vfi("upsample", src, "-o", out, "--factor", "2", "--method", "blend", "--codec", "ffv1", "--blur-report", tmp_path / "inline.csv", "-q")
    assert res.exit_code == 0, res.output
    inline = rows(tmp_path / "inline.csv")
    assert [int(r["index"]) for r in inline] == [1, 3, 5, 7, 9, 11]
    assert all(float(r["rbf_vs_prev"]) > 0 for r in inline[:-1])  # a blend is blurrier than its sources
    res = vfi("blur-report", out, "--json", tmp_path / "o.json")
    assert res.exit_code == 0 and "synthesised" in res.output
    data = json.loads((tmp_path / "o.json").read_text())
    kinds = [f["kind"] for f in data["frames"]]
    assert kinds[:4] == ["source", "synthesised", "source", "synthesised"]
    assert set(data["summary"]) == {"all", "source", "synthesised", "repeated"}


def test_blur_report_runs_without_pytorch(pair, tmp_path):
    """Every output of vfi blur-report, in a fresh interpreter that never imports torch."""
    import subprocess
    import sys

    sharp, soft = pair
    args = ["blur-report", str(soft), "--reference", str(sharp), "--csv", str(tmp_path / "r.csv"), "--json", str(tmp_path / "r.json"),
            "--plot", str(tmp_path / "p.png"), "--local", str(tmp_path / "h.png")]
    code = ("import sys\nfrom vfi.cli import main\nrc = main(sys.argv[1:], standalone_mode=False)\n"
            "print('torch' in sys.modules, rc or 0)")
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-2:] == ["False", "0"], run.stdout
    assert all((tmp_path / n).stat().st_size > 0 for n in ("r.csv", "r.json", "p.png", "h.png"))
