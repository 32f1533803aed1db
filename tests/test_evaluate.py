"""vfi eval: the drop-frame protocol on generated clips."""

import json
from fractions import Fraction

import numpy as np
from click.testing import CliRunner
from PIL import Image

from conftest import make_video, moving_frames
from vfi.cli import main
from vfi.evaluate import evaluate_clip, make_contenders, report
from vfi.models import MODELS, save_weights


def test_drop_frame_counts_skips_and_metrics(tmp_path):
    frames = list(moving_frames(14, 40, 56, speed=2, cut_at=7))
    frames[3] = frames[2]  # a frame hold
    src = make_video(tmp_path / "c.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    res = evaluate_clip(str(src), make_contenders(["dup", "blend"], []))
    # 12 triplets: 2 straddle the cut (mid 6, 7), 2 hold the repeated frame (mid 2, 3)
    assert res.skipped == {"scene cut": 2, "frame hold": 2}
    assert res.triplets == 8
    rep = report([res])
    o = rep["overall"]
    assert o["blend"]["psnr"] > o["dup"]["psnr"]  # on smooth motion a blend beats a repeat
    assert o["blend"]["rbf"] > 0  # ... and is blurrier than the truth
    assert abs(o["dup"]["rbf"]) < 0.05  # a repeated real frame is as sharp as the truth


def test_eval_cli_outputs(tmp_path):
    src = make_video(tmp_path / "c.mkv", list(moving_frames(10, 40, 56)), Fraction(24), codec="ffv1")
    w = save_weights(tmp_path / "cnn.safetensors", MODELS["sparse-cnn"], MODELS["sparse-cnn"].create().init_as_blend())
    res = CliRunner().invoke(main, ["eval", str(src), "--methods", "dup,blend,mci", "--model", "sparse-cnn", "--weights", str(w),
                                    "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"),
                                    "--sheet", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r.json").read_text())
    labels = set(data["overall"])
    assert labels == {"dup", "blend", "mci", "sparse-cnn (cnn)"}
    # the blend warm start predicts exactly the blend
    assert abs(data["overall"]["sparse-cnn (cnn)"]["psnr"] - data["overall"]["blend"]["psnr"]) < 0.05
    assert all(c["methods"]["blend"]["ms_per_frame"] >= 0 for c in data["clips"])
    assert "| overall |" in (tmp_path / "r.md").read_text()
    with Image.open(tmp_path / "s.png") as im:
        assert im.format == "PNG"


def test_eval_needs_something(tmp_path):
    res = CliRunner().invoke(main, ["eval"])
    assert res.exit_code == 2


def test_same_named_weights_get_distinct_labels(tmp_path):
    spec = MODELS["sparse-cnn"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wa = save_weights(tmp_path / "a" / "sparse-cnn.safetensors", spec, spec.create().init_as_blend())
    wb = save_weights(tmp_path / "b" / "sparse-cnn.safetensors", spec, spec.create().init_as_blend())
    labels = [c.label for c in make_contenders(["blend"], [("sparse-cnn", str(wa)), ("sparse-cnn", str(wb)), ("sparse-cnn", str(wb))])]
    assert len(set(labels)) == 4


def test_the_shipped_weights_are_labelled_by_the_model_name_alone():
    from vfi.evaluate import make_contenders
    from vfi.models import shipped_weights

    path = shipped_weights("flow-fusion")
    labels = [c.label for c in make_contenders([], [("flow-fusion", str(path)), ("flow-fusion", None)])]
    assert labels[0] == "flow-fusion" and len(set(labels)) == 2


def test_bias_is_the_mean_error_of_the_channel_furthest_off(tmp_path):
    """A texture that brightens by 6 levels a frame (red by 12): repeating the later frame
    is 6 levels too bright in green and blue and 12 in red; the blend of the frames
    either side is right on average."""
    from conftest import texture

    base = texture(48, 64, seed=2).astype(np.int16) // 2 + 40  # 40..167: no clipping below
    step = np.array([12, 6, 6], dtype=np.int16)
    frames = [(base + k * step).astype(np.uint8) for k in range(8)]
    src = make_video(tmp_path / "ramp.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="bgr0")
    rep = report([evaluate_clip(str(src), make_contenders(["dup", "blend"], []))])
    dup, blend = rep["overall"]["dup"], rep["overall"]["blend"]
    assert abs(dup["error_r"] - 12) < 0.6 and abs(dup["error_g"] - 6) < 0.6 and abs(dup["error_b"] - 6) < 0.6
    assert dup["bias"] == dup["error_r"]
    assert abs(blend["bias"]) < 0.6
