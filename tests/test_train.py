"""vfi train: a real (small) training run, exact resume, Ctrl-C, and torchrun DDP on CPU."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction

import pytest
import torch
from click.testing import CliRunner

from conftest import make_video, moving_frames
from vfi.cli import main
from vfi.data import PrepOptions, prep
from vfi.errors import UsageError
from vfi.models import MODELS, load_model
from vfi.train import TrainConfig, train


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    src = make_video(d / "clip.mkv", moving_frames(40, 40, 56, speed=2), Fraction(24), codec="ffv1")
    path, _ = prep([str(src)], d / "ds", PrepOptions(seed=0))
    return path


def cfg(dataset, out, **kw):
    base = dict(model="sparse-cnn", data=str(dataset), out=str(out), epochs=2, batch_size=4, crop=24, lr=2e-4, seed=0, max_val=8, val_crop=32)
    base.update(kw)
    return TrainConfig(**base)


def test_two_epochs_lower_validation_loss_and_write_pictures(dataset, tmp_path):
    # From the Keras initialisation (far from any good interpolator), so that two tiny
    # epochs must lower the loss; the blend warm start begins near a local optimum.
    summary = train(cfg(dataset, tmp_path / "run", init="keras", lr=1e-3, loss="mse"), log=lambda m: None)
    h = summary["history"]
    assert [e["epoch"] for e in h] == [0, 1, 2]
    assert h[-1]["val_loss"] < h[0]["val_loss"], h
    for name in ("loss_curve.png", "epoch_001.png", "epoch_002.png", "predictions.png", "checkpoint.pt", "sparse-cnn.safetensors"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    spec, model, meta = load_model(tmp_path / "run" / "sparse-cnn.safetensors")
    assert meta["epochs"] == 2 and meta["recipe"]["loss"] == "mse" and meta["history"][-1]["val_loss"] == h[-1]["val_loss"]


def test_validation_on_another_dataset_keeps_the_best_epoch(dataset, tmp_path):
    src = make_video(tmp_path / "other.mkv", moving_frames(12, 36, 44, speed=3), Fraction(24), codec="ffv1")
    other, _ = prep([str(src)], tmp_path / "other", PrepOptions())
    s = train(cfg(dataset, tmp_path / "run", val_data=str(other), max_val=None, epochs=2, init="keras", lr=1e-3), log=lambda m: None)
    h = s["history"]
    best = min(range(len(h)), key=lambda i: h[i]["val_loss"])  # the untrained model (epoch 0) too
    _, _, meta = load_model(tmp_path / "run" / "sparse-cnn.best.safetensors")
    assert meta["epochs"] == best and meta["validation_data"]["dataset"] == "other"
    assert meta["training_data"]["val_triplets"] == 10  # every triplet of the other clip, whole frames


def test_augmentation_only_flips_and_reverses(dataset):
    from vfi.data import TripletDataset
    from vfi.models import get_spec
    from vfi.train import TripletTorchDataset

    data, spec = TripletDataset(dataset), get_spec("sparse-cnn")
    plain = TripletTorchDataset(data, data.train, spec, None, 0, train=True, augment=False)
    aug = TripletTorchDataset(data, data.train, spec, None, 0, train=True, augment=True)
    x0, y0 = plain[0]
    variants = set()
    for epoch in range(12):
        aug.epoch = epoch
        x, y = aug[0]
        for k, (fh, fv, rev) in enumerate([(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]):
            xe, ye = x0, y0
            if rev:
                xe = torch.cat([xe[3:], xe[:3]])
            dims = [d for d, f in ((2, fh), (1, fv)) if f]
            if dims:
                xe, ye = xe.flip(dims), ye.flip(dims)
            if torch.equal(x, xe) and torch.equal(y, ye):
                variants.add(k)
                break
        else:
            raise AssertionError(f"epoch {epoch}: not a flip or reversal of the triplet")
    assert len(variants) >= 4


def test_biases_train_at_the_0_255_scale():
    from vfi.models import get_spec
    from vfi.train import param_groups

    model = get_spec("sparse-cnn").create()
    weights, biases = param_groups(model, 1e-4, None)
    assert weights["lr"] == 1e-4 and biases["lr"] == pytest.approx(1e-4 * 255)
    assert all(p.ndim == 1 for p in biases["params"]) and all(p.ndim == 4 for p in weights["params"])


def test_autoencoder_training_lowers_loss(tmp_path):
    src = make_video(tmp_path / "clip.mkv", moving_frames(30, 60, 120, speed=2), Fraction(24), codec="ffv1")
    ds, _ = prep([str(src)], tmp_path / "ds", PrepOptions(preset="paper002"))
    s = train(TrainConfig(model="conv-ae", data=str(ds), out=str(tmp_path / "ae"), epochs=2, batch_size=4, loss="cosine"), log=lambda m: None)
    assert s["history"][-1]["val_loss"] < s["history"][0]["val_loss"]
    with pytest.raises(Exception, match="paper000"):
        train(TrainConfig(model="sparse-cnn", data=str(ds), out=str(tmp_path / "x"), epochs=1), log=lambda m: None)


def test_resume_continues_exactly(dataset, tmp_path):
    full = train(cfg(dataset, tmp_path / "full"), log=lambda m: None)
    train(cfg(dataset, tmp_path / "part", epochs=1), log=lambda m: None)
    resumed = train(cfg(dataset, tmp_path / "part", epochs=2), resume=True, log=lambda m: None)
    assert resumed["steps"] == full["steps"]
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=False)["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    # A folder holding a run is not started again unasked (it can be hours of work).
    weights = (tmp_path / "part" / "sparse-cnn.safetensors").read_bytes()
    with pytest.raises(UsageError, match="--resume continues it"):
        train(cfg(dataset, tmp_path / "part", epochs=1), log=lambda m: None)
    assert (tmp_path / "part" / "sparse-cnn.safetensors").read_bytes() == weights
    again = train(cfg(dataset, tmp_path / "part", epochs=1), overwrite=True, log=lambda m: None)
    assert [h["epoch"] for h in again["history"]] == [0, 1]  # a fresh run of one epoch


def test_cli_train_and_weights_load_in_upsample(dataset, tmp_path):
    res = CliRunner().invoke(main, ["train", "--data", str(dataset), "-o", str(tmp_path / "run"), "--epochs", "1",
                                    "--batch-size", "4", "--crop", "24", "--max-train", "8", "-q"])
    assert res.exit_code == 0, res.output
    src = make_video(tmp_path / "in.mkv", moving_frames(4, 24, 32), Fraction(24), codec="ffv1")
    res = CliRunner().invoke(main, ["upsample", str(src), "-o", str(tmp_path / "o.mkv"), "--factor", "2",
                                    "--weights", str(tmp_path / "run" / "sparse-cnn.safetensors"), "-q"])
    assert res.exit_code == 0, res.output


def test_ctrl_c_saves_a_checkpoint(dataset, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "vfi.cli", "train", "--data", str(dataset), "-o", str(out), "--epochs", "50",
                             "--batch-size", "2", "--crop", "40"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "epoch_001.png").exists():
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    text = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "checkpoint saved" in text and "no output was left behind" not in text  # one true thing
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["epoch"] >= 1 and ckpt["step"] > 0


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not installed")
def test_torchrun_two_processes_on_cpu_agree_with_one(dataset, tmp_path):
    n_train = 20  # an even number: the DistributedSampler then splits it exactly in two
    args = ["train", "--data", str(dataset), "--epochs", "1", "--batch-size", "4", "--crop", "24", "--device", "cpu",
            "--max-train", str(n_train), "-q"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    single = subprocess.run([sys.executable, "-m", "vfi.cli", *args, "-o", str(tmp_path / "one")], env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(["torchrun", "--standalone", "--nproc_per_node", "2", "-m", "vfi.cli", *args, "-o", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["samples_seen"] == one["samples_seen"] == n_train
    assert (tmp_path / "two" / "sparse-cnn.safetensors").exists()


def test_fine_tune_starts_from_given_weights(dataset, tmp_path):
    first = train(cfg(dataset, tmp_path / "a", epochs=1), log=lambda m: None)
    tuned = train(cfg(dataset, tmp_path / "b", epochs=1, from_weights=str(tmp_path / "a" / "sparse-cnn.safetensors")), log=lambda m: None)
    assert tuned["history"][0]["val_loss"] == pytest.approx(first["history"][-1]["val_loss"], rel=1e-6)


def test_ctrl_c_during_epoch_files_waits_for_them():
    from vfi.train import _interrupts_deferred

    finished = []
    with pytest.raises(KeyboardInterrupt):
        with _interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            finished.append(True)  # the block runs to its end before the interrupt
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_context_widens_the_inputs_around_the_scored_crop(dataset):
    from vfi.data import TripletDataset
    from vfi.models import get_spec
    from vfi.train import TripletTorchDataset

    data, spec = TripletDataset(dataset), get_spec("sparse-cnn")
    crop, k = 16, 5
    ds = TripletTorchDataset(data, data.train, spec, crop, 0, train=True, augment=False, context=k)
    seen_edge = False
    for i in range(len(ds)):
        x, y = ds[i]
        assert x.shape == (6, crop + 2 * k, crop + 2 * k) and y.shape == (3, crop, crop)
        a, m, b = (torch.from_numpy(f.copy()).permute(2, 0, 1).float() for f in data.frames(int(data.train[i])))
        # Where the target sits in the frame, and the inputs k pixels further out,
        # zeros past the frame's edge.
        pos = [(y0, x0) for y0 in range(m.shape[1] - crop + 1) for x0 in range(m.shape[2] - crop + 1)
               if torch.equal(m[:, y0:y0 + crop, x0:x0 + crop], y)]
        assert pos
        y0, x0 = pos[0]
        padded = torch.nn.functional.pad(torch.cat([a, b]), (k, k, k, k))
        assert torch.equal(x, padded[:, y0:y0 + crop + 2 * k, x0:x0 + crop + 2 * k])
        seen_edge |= min(y0, x0) < k
    assert seen_edge  # some crops touch the frame's edge (the 40x56 frames are small)


def test_patience_stops_when_validation_stops_improving():
    from vfi.train import _stalled

    h = [{"val_loss": v} for v in (9.0, 5.0, 4.0, 4.5, 4.2)]
    assert _stalled(h, 2) and not _stalled(h, 3) and not _stalled(h[:3], 2)


def test_residual_init_trains_only_the_correction_to_the_blend(dataset, tmp_path):
    # --init residual: the blend pass-through (six channels per hidden layer, the output
    # layer's taps on them, its bias) must come out of training exactly as it went in,
    # while the rest moves and the loss falls below the blend's.
    s = train(cfg(dataset, tmp_path / "run", init="residual", lr=1e-3), log=lambda m: None)
    _, model, meta = load_model(tmp_path / "run" / "sparse-cnn.safetensors")
    assert meta["recipe"]["init"] == "residual"
    torch.manual_seed(0)  # the run's seed: the same start as build_model's
    blend = MODELS["sparse-cnn"].create().init_as_blend()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    ref = [m for m in blend.modules() if isinstance(m, torch.nn.Conv2d)]
    moved = 0.0
    for conv, r, (wm, bm) in zip(convs, ref, blend.blend_path_masks()):
        assert torch.equal(conv.weight[wm == 0], r.weight[wm == 0])
        assert torch.equal(conv.bias[bm == 0], r.bias[bm == 0])
        moved = max(moved, float((conv.weight - r.weight).detach().abs().max()))
    assert moved > 0
    h = s["history"]
    assert min(e["val_loss"] for e in h[1:]) < h[0]["val_loss"], h
