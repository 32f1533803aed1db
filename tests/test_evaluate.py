"""vfi eval: the drop-frame protocol on generated clips."""

import json
from fractions import Fraction

import numpy as np
import pytest
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


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_eval_runs_the_models_at_the_precision_asked(precision):
    """--precision reaches the learned models (what upsample runs on this machine, or a
    precision to compare it with), not the classical methods."""
    blend, model = make_contenders(["blend"], [("sparse-cnn", None)], "cpu", precision)
    assert blend.label == "blend" and model.method.model.precision == precision


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


def _jerky_clip(tmp_path, n=14, jump_at=6):
    """A pan at 1 px a frame that leaps 6 px once, between frames ``jump_at`` - 1 and
    ``jump_at``: the triplets around the leap are far harder than the rest."""
    from conftest import texture

    big = texture(40, 56 + 2 * n + 40, seed=4)
    xs = [i + (6 if i >= jump_at else 0) for i in range(n)]
    frames = [np.ascontiguousarray(big[:, x: x + 56]) for x in xs]
    return make_video(tmp_path / "jerky.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="yuv444p")


def test_worst_triplet_and_5th_percentile_in_json_markdown_and_table(tmp_path):
    src = _jerky_clip(tmp_path)
    res = vfi_eval(tmp_path, src, "--methods", "dup,blend", "--json", tmp_path / "r.json", "--markdown", tmp_path / "r.md")
    data = json.loads((tmp_path / "r.json").read_text())
    for lab in ("dup", "blend"):
        per_clip = data["clips"][0]["methods"][lab]
        overall = data["overall"][lab]
        assert overall["psnr_worst"] <= overall["psnr_p5"] < overall["psnr"] - 1  # one bad pair drags the low end down
        assert per_clip["psnr_worst"] == overall["psnr_worst"]
        assert overall["worst_frame"] in ("jerky.mkv#5", "jerky.mkv#6")  # the frames either side of the leap
    vals = evaluate_clip(str(src), make_contenders(["blend"], [])).values["blend"]["psnr"]
    assert abs(data["overall"]["blend"]["psnr_worst"] - min(vals)) < 1e-9
    assert abs(data["overall"]["blend"]["psnr_p5"] - np.percentile(vals, 5)) < 1e-9
    md = (tmp_path / "r.md").read_text()
    assert "| worst dB | p5 dB |" in md and f"{data['overall']['blend']['psnr_worst']:.2f}" in md
    assert "worst" in res.output and f"{data['overall']['dup']['psnr_p5']:.2f}" in res.output


def vfi_eval(tmp_path, *args):
    from conftest import vfi

    res = vfi("eval", *args)
    assert res.exit_code == 0, res.output
    return res


def test_sheet_crops_each_methods_worst_triplet_where_it_errs_most(tmp_path):
    from vfi.evaluate import sheet
    from vfi.metrics import error_region, psnr

    src = _jerky_clip(tmp_path)
    res = evaluate_clip(str(src), make_contenders(["dup", "blend"], []), keep_worst=True)
    for lab in ("dup", "blend"):
        w = res.worst[lab]
        assert w["psnr"] == min(res.values[lab]["psnr"]) and w["index"] in (5, 6)
        assert abs(psnr(w["pred"], w["truth"]) - w["psnr"]) < 1e-9
        y, x, h, wd = error_region(w["pred"], w["truth"], 16)
        whole = np.mean((w["pred"].astype(float) - w["truth"]) ** 2)
        assert np.mean((w["pred"][y:y + h, x:x + wd].astype(float) - w["truth"][y:y + h, x:x + wd]) ** 2) >= whole
    sheet([res], str(tmp_path / "s.png"))
    with Image.open(tmp_path / "s.png") as im:
        assert im.format == "PNG" and im.height > im.width / 5 * 2 * 0.8  # two rows of five panels


class _Recorder:
    """A method that takes the frames around the pair and records them (and predicts
    the blend)."""

    neighbours = True

    def __init__(self):
        self.seen = []

    def setup(self, conv):
        self.conv = conv

    def interpolate(self, a, b, ts, before=None, after=None):
        self.seen.append((a, b, before, after))
        return [((a.rgb(self.conv).astype(np.uint16) + b.rgb(self.conv)) // 2).astype(np.uint8) for _ in ts]


def _neighbours_seen(tmp_path, kind, n=60):
    from vfi.evaluate import Contender

    src = make_video(tmp_path / f"pan{n}.mkv", list(moving_frames(n, 32, 48, speed=1)), Fraction(24), codec="ffv1")
    rec = _Recorder()
    res = evaluate_clip(str(src), [Contender("rec", rec)], neighbours=kind)
    assert res.triplets == n - 2
    return rec.seen


def test_true_neighbours_are_the_frames_t_minus_3_and_t_plus_3(tmp_path):
    for a, b, before, after in _neighbours_seen(tmp_path, "true"):
        assert (before.index if before else None) == (a.index - 2 if a.index >= 2 else None)
        assert (after.index if after else None) == (b.index + 2 if b.index <= 57 else None)
        if before:
            assert before.time < a.time


def test_jumped_neighbours_come_from_elsewhere_in_the_clip_at_the_true_ones_times(tmp_path):
    seen = _neighbours_seen(tmp_path, "jumped")
    for a, b, before, after in seen:
        assert before is not None and after is not None
        for x in (before, after):
            assert min(abs(x.index - a.index), abs(x.index - b.index)) >= 16
        assert abs(before.index - after.index) >= 16
        assert before.time == 2 * a.time - b.time and after.time == 2 * b.time - a.time
    assert any(before.index > b.index for a, b, before, _ in seen)  # near the start: from later in the clip


def test_no_neighbours(tmp_path):
    assert all(before is None and after is None for _, _, before, after in _neighbours_seen(tmp_path, "none", n=12))


def test_neighbours_option_reaches_flow_fusion(tmp_path):
    """A pan that speeds up: flow-fusion's paths bend with the true frames around the
    pair, not without them; a bad choice is a usage error."""
    src = make_video(tmp_path / "acc.mkv", list(moving_frames(12, 48, 64, speed=1, accel=1)), Fraction(24), codec="ffv1")
    got = {}
    for kind in ("true", "none"):
        vfi_eval(tmp_path, src, "--methods", "", "--model", "flow-fusion", "--neighbours", kind, "--json", tmp_path / f"{kind}.json")
        got[kind] = json.loads((tmp_path / f"{kind}.json").read_text())["overall"]["flow-fusion"]["psnr"]
    assert got["true"] != got["none"]
    from conftest import vfi

    assert vfi("eval", src, "--neighbours", "sideways").exit_code == 2


def test_models_and_weights_pair_up_by_position():
    import pytest

    from vfi.errors import UsageError
    from vfi.evaluate import model_weight_pairs

    assert model_weight_pairs(["a", "b"], ["w"]) == [("a", "w"), ("b", None)]
    with pytest.raises(UsageError, match="needs a --model"):
        model_weight_pairs(["a"], ["w", "v"])
    with pytest.raises(UsageError, match="weights files"):
        model_weight_pairs(["a", "b"], ["w"], dataset=True)
    r = vfi_eval_cli("--dataset", ".", "--model", "sparse-cnn")
    assert r.exit_code == 2 and r.output.startswith("Error: --dataset evaluates weights files")


def test_clips_without_triplets_are_left_out_with_a_warning():
    import pytest

    from vfi.errors import InputError
    from vfi.evaluate import ClipResult, usable_results

    good, empty = ClipResult("good.mp4", 8, 8, triplets=3), ClipResult("short.mp4", 8, 8)
    kept, warnings = usable_results([good, empty])
    assert kept == [good] and warnings == ["short.mp4: no usable triplets (too short, or only cuts and holds); left out"]
    with pytest.raises(InputError, match="no usable triplets in short.mp4"):
        usable_results([empty])


def vfi_eval_cli(*args):
    return CliRunner().invoke(main, ["eval", *args])
