"""Every registered model through its adapter: `vfi eval --dataset` on a dataset made by
`vfi prep`, and a training step, with nothing chosen by the model's name."""

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from conftest import make_video, moving_frames, vfi
from vfi.augment import crop_origin, draw_flips, mirror, window
from vfi.data import TripletDataset
from vfi.errors import UsageError
from vfi.models import MODELS, check_dataset_fits, save_weights

ALL = sorted(MODELS)
PRESETS = sorted({spec.adapter.preset for spec in MODELS.values()})


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """preset -> a small dataset of that preset, made with `vfi prep`."""
    d = tmp_path_factory.mktemp("adapters")
    src = make_video(d / "clip.mkv", moving_frames(14, 64, 80, speed=2), Fraction(24), codec="ffv1")
    out = {}
    for preset in PRESETS:
        r = vfi("prep", src, "-o", d / preset, "--preset", preset, "--val", "0.3", "-q")
        assert r.exit_code == 0, r.output
        out[preset] = d / preset
    return out


@pytest.fixture(scope="module")
def untrained_weights(tmp_path_factory):
    """model name -> a weights file of its untrained network."""
    d = tmp_path_factory.mktemp("weights")
    out = {}
    for name, spec in MODELS.items():
        torch.manual_seed(0)
        out[name] = save_weights(d / f"{name}.safetensors", spec, spec.create())
    return out


@pytest.mark.parametrize("name", ALL)
def test_eval_dataset_runs_every_model_on_its_own_preset(name, datasets, untrained_weights, tmp_path):
    spec = MODELS[name]
    report = tmp_path / "eval.json"
    r = vfi("eval", "--dataset", datasets[spec.adapter.preset], "--model", name, "--weights", untrained_weights[name],
            "--json", report, "--device", "cpu")
    assert r.exit_code == 0, r.output
    row = json.loads(report.read_text())[name]
    assert row["model"] == name and row["triplets"] > 0
    assert 5 < row["psnr"] < 100 and math.isfinite(row["bf"]["bf"])


@pytest.mark.parametrize("name", ALL)
def test_eval_dataset_of_another_preset_is_a_usage_error(name, datasets, untrained_weights):
    spec = MODELS[name]
    other = next(p for p in PRESETS if p != spec.adapter.preset)
    r = vfi("eval", "--dataset", datasets[other], "--model", name, "--weights", untrained_weights[name], "--device", "cpu")
    assert r.exit_code == 2 and r.output.startswith("Error:") and f"--preset {spec.adapter.preset}" in r.output
    with pytest.raises(UsageError):
        check_dataset_fits(spec, TripletDataset(datasets[other]))


@pytest.mark.parametrize("name", ALL)
def test_one_training_step_gives_a_finite_loss(name, datasets, tmp_path):
    from vfi.train import TrainConfig, train

    spec = MODELS[name]
    crop = 32 if spec.recipe.get("crop") else None  # the autoencoders see whole 200x100 frames
    cfg = TrainConfig(model=name, data=str(datasets[spec.adapter.preset]), out=str(tmp_path / "run"), epochs=1, batch_size=2,
                      max_train=2, max_val=2, crop=crop, context=8 if crop else None, device="cpu", amp=False)
    summary = train(cfg, log=lambda m: None)
    assert summary["steps"] == 1 and summary["samples_seen"] == 2
    assert math.isfinite(summary["history"][-1]["train_loss"]) and math.isfinite(summary["history"][-1]["val_loss"])
    assert (tmp_path / "run" / f"{name}.safetensors").is_file()


@pytest.mark.parametrize("name", ALL)
def test_a_training_item_has_the_models_input_channels(name, datasets):
    from vfi.train import TripletTorchDataset

    spec = MODELS[name]
    data = TripletDataset(datasets[spec.adapter.preset])
    crop = 32 if spec.recipe.get("crop") else None
    ds = TripletTorchDataset(data, data.train, spec, crop, seed=0, train=True, augment=True, context=4 if crop else 0)
    x, y = ds[0]
    assert x.shape[0] == spec.adapter.input_channels
    assert 0 <= float(y.min()) and float(y.max()) <= spec.adapter.levels
    k = (x.shape[-1] - y.shape[-1]) // 2  # the context around a crop
    with torch.no_grad():
        pred = spec.create()(x.unsqueeze(0))[0]
    assert pred[:, k: pred.shape[1] - k, k: pred.shape[2] - k].shape == y.shape


def test_crops_are_inside_the_frame_for_training_and_centred_for_validation():
    rng = np.random.default_rng(0)
    for _ in range(50):
        y0, x0 = crop_origin(rng, 40, 60, 16, 24, train=True)
        assert 0 <= y0 <= 24 and 0 <= x0 <= 36
    assert crop_origin(rng, 40, 60, 16, 24, train=False) == (12, 18)
    assert crop_origin(rng, 10, 12, 16, 24, train=False) == (0, 0)


def test_a_window_past_the_frame_is_zero_there():
    frame = np.arange(1, 13, dtype=np.uint8).reshape(3, 4, 1)
    w = window(frame, -1, 2, 3, 4)
    assert w.shape == (3, 4, 1)
    assert w[0].sum() == 0 and w[:, 2:].sum() == 0 and np.array_equal(w[1:, :2, 0], frame[:2, 2:, 0])


def test_mirror_flips_every_image_alike():
    a = np.arange(12).reshape(3, 4)
    b = a + 100
    ma, mb = mirror((a, b), True, True)
    assert np.array_equal(ma, a[::-1, ::-1]) and np.array_equal(mb - 100, ma)
    draws = {draw_flips(np.random.default_rng(s)) for s in range(40)}
    assert len(draws) == 8  # every combination turns up
