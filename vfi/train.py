"""Training: a plain PyTorch loop over a prepared dataset (``vfi prep``).

* Adam; the papers' batch sizes and epochs as each model's defaults (registry recipe).
* Every epoch: validation loss, a checkpoint (one self-describing dict: model,
  optimizer, config, epoch, step, history), the loss curve and a fixed validation
  triplet's prediction as PNGs.  ``--resume`` continues exactly where it stopped:
  the sample order and crops of every batch derive from (seed, epoch, batch), so a
  resumed run sees the same batches as an uninterrupted one.  Ctrl-C saves first.
* Distributed: under ``torchrun`` (WORLD_SIZE > 1 in the environment) it runs DDP,
  gloo on CPU and NCCL on GPU, with a DistributedSampler; rank 0 logs and saves.
* bf16 autocast on CUDA, and on CPUs with bf16 in hardware (AMX, AVX-512 BF16),
  where oneDNN runs bf16 convolutions two to several times faster than fp32; fp32 master
  weights and an fp32 loss either way.  Tensors in channels-last.
* Augmentation (on by default): horizontal/vertical flips and time reversal of the
  triplet, drawn from the same (seed, epoch, index) as the crop.
* ``--val-data``: validate on another dataset, e.g. clips kept out of training, and
  keep the weights of the best validation epoch beside the final ones.
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from . import __version__
from .data import TripletDataset
from .errors import InputError, Interrupted, UsageError, VfiError
from .losses import get_loss
from .models import ModelSpec, check_dataset_fits, count_parameters, fast_bf16, get_spec, resolve_device, save_weights


@dataclass
class TrainConfig:
    model: str = "sparse-cnn"
    data: str = ""
    out: str = "runs/train"
    loss: str | None = None  # None: the model's recipe
    blur_weight: float | None = None  # None: the recipe's, else 0.1
    epochs: int | None = None  # None: the model's recipe
    batch_size: int | None = None
    lr: float | None = None
    crop: int | None = None  # sparse CNN: random crops of this size (None: recipe)
    context: int | None = None  # pixels of real input around each crop, outside the loss (None: recipe)
    val_crop: int = 128
    max_train: int | None = None  # cap on training triplets per epoch
    max_val: int | None = 96
    patience: int | None = None  # stop once validation has not improved for this many epochs
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    amp: bool = True  # bf16 autocast where it is fast (CUDA, CPUs with AMX or AVX-512 BF16)
    augment: bool = True  # flips and time reversal of training triplets
    val_data: str | None = None  # validate on this dataset (all its triplets) instead of DATA's split
    init: str | None = None  # "keras", "blend" or "residual" (sparse CNN warm starts); None: the recipe's
    schedule: str | None = None  # "constant" or "cosine" (linear warm-up, then cosine decay to 0); None: the recipe's
    bias_lr_scale: float | None = None  # None: the model's (255 for the 0..255 sparse CNN, see param_groups)
    from_weights: str | None = None  # start (fine-tune) from a weights file of the same model
    model_config: dict = field(default_factory=dict)

    def resolved(self, spec: ModelSpec) -> "TrainConfig":
        r = spec.recipe
        c = TrainConfig(**asdict(self))
        c.epochs = self.epochs if self.epochs is not None else r.get("epochs", 10)
        c.batch_size = self.batch_size if self.batch_size is not None else r.get("batch_size", 16)
        c.lr = self.lr if self.lr is not None else r.get("lr", 1e-3)
        c.crop = self.crop if self.crop is not None else r.get("crop")
        c.context = self.context if self.context is not None else (r.get("context", 0) if c.crop else 0)
        c.init = self.init if self.init is not None else r.get("init", "keras")
        c.loss = self.loss if self.loss is not None else r.get("loss", "mse")
        c.schedule = self.schedule if self.schedule is not None else r.get("schedule", "constant")
        c.blur_weight = self.blur_weight if self.blur_weight is not None else r.get("blur_weight", 0.1)
        c.check()
        return c

    def check(self) -> None:
        """Option values that cannot train (UsageError, exit 2)."""
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"--lr must be a positive number, not {self.lr}")
        if not (math.isfinite(self.blur_weight) and self.blur_weight >= 0):
            raise UsageError(f"--blur-weight must be zero or positive, not {self.blur_weight}")
        if self.bias_lr_scale is not None and not (math.isfinite(self.bias_lr_scale) and self.bias_lr_scale > 0):
            raise UsageError(f"bias learning-rate scale must be positive, not {self.bias_lr_scale}")


class TripletTorchDataset(Dataset):
    """(input, target) tensors as the model's adapter cuts them
    (:meth:`vfi.models.adapters.FrameAdapter.training_item`).  Training crops are random
    but fixed by (seed, epoch, index) so that resumed runs repeat them exactly."""

    def __init__(self, data: TripletDataset, indices: np.ndarray, spec: ModelSpec, crop: int | None, seed: int, train: bool,
                 augment: bool = False, context: int = 0, motion: str = "quadratic"):
        self.data, self.indices, self.spec = data, indices, spec
        self.motion = motion  # flow-fusion: how its inputs follow the motion (vfi.flow.MOTIONS)
        self.crop, self.seed, self.train = crop, seed, train
        self.context = context if crop else 0
        self.augment = augment and train
        self.epoch = 0

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, i):
        index = int(self.indices[i])
        rng = np.random.default_rng((self.seed, self.epoch, index))
        return self.spec.adapter.training_item(self.data, index, rng, self.crop, self.context, self.train, self.augment, self.motion)


def ddp_env() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world


def train(cfg: TrainConfig, resume: bool = False, log=print, progress=None, overwrite: bool = False) -> dict:
    """Trains and returns a summary; writes checkpoint.pt, weights, PNGs under cfg.out.
    A folder that already holds a run is continued (``resume``) or started again
    (``overwrite``), never replaced unasked: a run can be hours of work."""
    spec = get_spec(cfg.model)
    cfg = cfg.resolved(spec)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder; give -o a run folder")
    if not (resume or overwrite) and (out / "checkpoint.pt").exists():
        raise UsageError(f"{out}: holds a training run already (checkpoint.pt); --resume continues it, "
                         "--overwrite starts again, or give another -o")
    device, rank, world = start_distributed(cfg)
    sets = TrainingSets.load(cfg, spec, log if rank == 0 else (lambda m: None))
    run = _Run(cfg, spec, sets, device, rank, world, out, log, progress)
    if resume:
        run.resume()
    run.distribute()
    run.validate_untrained()
    run.fit()
    return run.finish()


def start_distributed(cfg: TrainConfig) -> tuple[torch.device, int, int]:
    """(device, rank, world size): DDP when torchrun's environment says so (gloo on CPU,
    NCCL on GPU), else this process alone on ``cfg.device``."""
    rank, local_rank, world = ddp_env()
    if world <= 1:
        return resolve_device(cfg.device), rank, world
    backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
    dist.init_process_group(backend)
    device = torch.device(f"cuda:{local_rank}") if backend == "nccl" else torch.device("cpu")
    if backend == "nccl":
        torch.cuda.set_device(device)
    return device, rank, world


@dataclass
class TrainingSets:
    """The training and validation triplets of a run, and their torch datasets."""

    data: TripletDataset
    val_data: TripletDataset
    train_idx: np.ndarray
    val_idx: np.ndarray
    train_ds: "TripletTorchDataset"
    val_ds: "TripletTorchDataset"

    @classmethod
    def load(cls, cfg: TrainConfig, spec: ModelSpec, log) -> "TrainingSets":
        data = TripletDataset(cfg.data)
        check_dataset_fits(spec, data)
        train_idx = _fitting_crops(cfg, spec, data, log)
        train_idx = train_idx[: cfg.max_train] if cfg.max_train else train_idx
        val_data = data
        if cfg.val_data:
            # Every triplet of the validation dataset, spread evenly when capped.
            val_data = TripletDataset(cfg.val_data)
            check_dataset_fits(spec, val_data)
            m = len(val_data.triplets)
            n = min(m, cfg.max_val or m)
            val_idx = np.unique(np.linspace(0, m - 1, n).round().astype(np.int64))
        else:
            val_idx = data.val[: cfg.max_val] if cfg.max_val else data.val
        if len(train_idx) == 0 or len(val_idx) == 0:
            raise UsageError(f"{cfg.data}: needs both training and validation triplets")
        motion = cfg.model_config.get("motion", "quadratic")
        train_ds = TripletTorchDataset(data, train_idx, spec, cfg.crop, cfg.seed, train=True, augment=cfg.augment,
                                       context=cfg.context, motion=motion)
        val_crop = cfg.val_crop if spec.adapter.crops_validation and not cfg.val_data else None  # held-out clips: whole frames
        val_ds = TripletTorchDataset(val_data, val_idx, spec, val_crop, cfg.seed, train=False, motion=motion)
        return cls(data, val_data, train_idx, val_idx, train_ds, val_ds)


def _fitting_crops(cfg: TrainConfig, spec: ModelSpec, data: TripletDataset, log) -> np.ndarray:
    """The training triplets whose frames hold a crop: batches stack equal crops, so
    smaller frames cannot take part (nor, for flow-fusion, whose crops lie inside the
    frame, frames smaller than crop and context)."""
    train_idx = data.train
    if not cfg.crop:
        return train_idx
    need = spec.adapter.frame_needed(cfg.crop, cfg.context)
    small = {k for k, a in enumerate(data.arrays) if a.ndim == 4 and min(a.shape[1:3]) < need}
    if not small:
        return train_idx
    keep = np.array([data.triplets[t][0] not in small for t in train_idx], dtype=bool)
    if (~keep).any():
        log(f"{int((~keep).sum())} training triplets from frames smaller than the {need}px crop left out")
    return train_idx[keep]


def build_model(cfg: TrainConfig, spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    """The model as training starts it: given weights, the blend (sparse CNN; "residual"
    also holds the blend's pass-through fixed, see SparseCNN.pin_blend_path), or the
    model's own initialisation ("keras"; flow-fusion's "fusion": a zero last layer, so
    training starts from the time-weighted average of the two warps)."""
    torch.manual_seed(cfg.seed)
    model = spec.create(cfg.model_config).to(device)
    if cfg.from_weights:
        from .models import load_model

        model.load_state_dict(load_model(cfg.from_weights, expected=spec.name)[1].state_dict())
    elif cfg.init in ("blend", "residual"):
        if not hasattr(model, "init_as_blend"):
            raise UsageError(f"--init {cfg.init} is for the sparse CNN, not {spec.name}")
        model.init_as_blend()
    if cfg.init == "residual":
        if not hasattr(model, "pin_blend_path"):
            raise UsageError(f"--init residual is for the sparse CNN, not {spec.name}")
        model.pin_blend_path()  # also on fine-tuning and resuming: the hooks are not in the weights
    return model


class _Run:
    """One training run's state: model, optimizer, history and where it is; its steps
    are the methods, in the order :func:`train` calls them."""

    def __init__(self, cfg: TrainConfig, spec: ModelSpec, sets: TrainingSets, device, rank: int, world: int, out: Path,
                 log, progress):
        self.cfg, self.spec, self.sets, self.device = cfg, spec, sets, device
        self.world, self.distributed, self.master = world, world > 1, rank == 0
        self.out, self.ckpt_path, self.progress = out, out / "checkpoint.pt", progress
        self.log = log if self.master else (lambda m: None)
        if self.master:
            out.mkdir(parents=True, exist_ok=True)  # only once the data is known to be usable
        model = build_model(cfg, spec, device)
        self.optimizer = torch.optim.Adam(param_groups(model, cfg.lr, cfg.bias_lr_scale), lr=cfg.lr)
        if cfg.schedule not in ("constant", "cosine"):
            raise UsageError(f"unknown schedule {cfg.schedule!r} (constant or cosine)")
        self.loss_fn = get_loss(cfg.loss, cfg.blur_weight)
        if getattr(self.loss_fn, "takes_blend", False) and not spec.adapter.blends_inputs:
            raise UsageError(f"--loss {cfg.loss} is for the sparse CNN (it compares with the blend of the two frames), not {spec.name}")
        self.raw_model = self.model = model.to(memory_format=torch.channels_last)
        self.sampler = DistributedSampler(sets.train_ds, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed,
                                          drop_last=False)
        self.use_amp = cfg.amp and fast_bf16(device)
        if self.use_amp:
            self.log(f"bf16 autocast on {device.type} (fp32 weights and loss)")
        self.fixed = int(sets.val_idx[len(sets.val_idx) // 2])  # the validation triplet drawn every epoch
        self.history: list[dict] = []
        self.start_epoch = self.batches_done = self.step = self.samples_seen = 0
        self.started = time.time()  # training time counts across resumes
        self.resume_at = (0, 0)  # where a Ctrl-C checkpoint continues from

    def resume(self) -> None:
        if not self.ckpt_path.exists():
            raise UsageError(f"--resume: no checkpoint at {self.ckpt_path}")
        ckpt = load_checkpoint(self.ckpt_path, self.device)
        if ckpt["config"]["model"] != self.cfg.model:
            raise UsageError(f"--resume: checkpoint is for {ckpt['config']['model']}, not {self.cfg.model}")
        self.raw_model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.start_epoch, self.batches_done, self.step, self.history = ckpt["epoch"], ckpt["batches_done"], ckpt["step"], ckpt["history"]
        self.started = time.time() - (self.history[-1]["seconds"] if self.history else 0.0)
        self.resume_at = (self.start_epoch, self.batches_done)

    def distribute(self) -> None:
        """Under torchrun, the model the batches go through is DDP's wrapper."""
        if self.distributed:
            # A 1x1 kernel's gradient comes back in either layout (channels-last or not,
            # the same memory for a 1x1 kernel, strides differing only on its size-1
            # dimensions), and DDP says so once per process: a hundred numbers copied
            # per step, not worth the warning in every log.
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
            self.model = DDP(self.raw_model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def save_checkpoint(self, epoch: int, done: int) -> None:
        if not self.master:
            return
        ckpt = {"model": self.raw_model.state_dict(), "optimizer": self.optimizer.state_dict(), "config": asdict(self.cfg),
                "epoch": epoch, "batches_done": done, "step": self.step, "history": self.history, "vfi_version": __version__}
        tmp = self.ckpt_path.with_name(self.ckpt_path.name + ".part")
        torch.save(ckpt, tmp)
        os.replace(tmp, self.ckpt_path)

    def save_weights(self, name: str, seconds: float) -> None:
        s = self.sets
        save_weights(self.out / name, self.spec, self.raw_model,
                     _weights_meta(self.cfg, s.data, s.val_data, s.train_idx, s.val_idx, self.history, self.device, self.world, seconds))

    def validate(self) -> float:
        return evaluate_loss(self.raw_model, self.sets.val_ds, self.loss_fn, self.device, self.use_amp)

    def validate_untrained(self) -> None:
        """Epoch 0: the untrained model, so the curve shows what training changed.  It is
        a candidate for the best weights too (flow-fusion's is its time-weighted fusion,
        the sparse CNN's a blend): training has to beat it to replace it."""
        if self.history:
            return  # resumed
        v0 = self.validate()
        self.history.append({"epoch": 0, "train_loss": None, "val_loss": v0, "step": 0, "seconds": 0.0})
        self.log(f"epoch 0 (untrained): val {self.cfg.loss} {v0:.5g}")
        if self.master:
            self.save_weights(f"{self.spec.name}.best.safetensors", 0.0)

    def fit(self) -> None:
        """Every epoch, each ended by validation and its files; Ctrl-C, SIGTERM and SIGHUP
        save a checkpoint first."""
        cfg = self.cfg
        try:
            for epoch in range(self.start_epoch, cfg.epochs):
                if cfg.patience and _stalled(self.history, cfg.patience):
                    self.log(f"validation has not improved for {cfg.patience} epochs: stopping after epoch {epoch} (the best is kept)")
                    break
                train_loss, rate = self.train_epoch(epoch)
                self.end_epoch(epoch, train_loss, rate)
        except KeyboardInterrupt as e:
            self.save_checkpoint(*self.resume_at)
            if self.distributed:
                dist.destroy_process_group()
            raise Interrupted(getattr(e, "signum", 2), f"checkpoint saved in {self.ckpt_path} at epoch {self.resume_at[0] + 1}, "
                                                        f"batch {self.resume_at[1]}; continue with --resume") from None

    def train_epoch(self, epoch: int) -> tuple[float, float]:
        """One pass over the training set (from where a resumed run stopped); returns the
        mean training loss and the samples per second."""
        cfg, ds = self.cfg, self.sets.train_ds
        self.sampler.set_epoch(epoch)
        ds.epoch = epoch
        loader = DataLoader(ds, batch_size=cfg.batch_size, sampler=self.sampler, num_workers=cfg.workers)
        total_steps = len(loader) * cfg.epochs
        skip = self.batches_done if epoch == self.start_epoch else 0
        self.model.train()
        running, count, t0 = 0.0, 0, time.time()
        show = self.progress if self.master else None
        if show:
            show.begin(f"epoch {epoch + 1}/{cfg.epochs}", len(self.sampler), min(len(self.sampler), skip * cfg.batch_size))
        for bi, (x, y) in enumerate(loader):
            if bi < skip:
                continue
            loss = self.train_step(x, y, total_steps, epoch, bi)
            running += loss * len(x)
            count += len(x)
            self.resume_at = (epoch, bi + 1)
            if show:
                show.update(loss, count / max(1e-9, time.time() - t0), len(x))
        self.batches_done = 0
        return _reduce_mean(running, count, self.device, self.distributed), count / max(1e-9, time.time() - t0)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, total_steps: int, epoch: int, bi: int) -> float:
        cfg = self.cfg
        if cfg.schedule == "cosine":
            for group in self.optimizer.param_groups:
                group["lr"] = cosine_lr(cfg.lr, self.step, total_steps) * group.get("lr_scale", 1.0)
        x = x.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        y = y.to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.use_amp):
            pred = self.model(x)
        if cfg.context and cfg.crop:
            k = cfg.context
            pred = pred[..., k:-k, k:-k]
            x = x[..., k:-k, k:-k]
        loss = compute_loss(self.loss_fn, pred.float(), y, x, self.spec.adapter)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"training stopped: the {cfg.loss} loss became {loss.item()} at epoch {epoch + 1}, "
                                   f"batch {bi + 1}; {_last_good(self.ckpt_path)} (try a lower --lr)")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        self.samples_seen += len(x)
        return loss.item()

    def end_epoch(self, epoch: int, train_loss: float, rate: float) -> None:
        """Validation, the history, and the epoch's files: checkpoint, loss curve, the
        fixed triplet's picture and, when it beats every epoch before, the best weights."""
        val_loss = self.validate()
        self.history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "step": self.step,
                             "seconds": round(time.time() - self.started, 2)})
        self.resume_at = (epoch + 1, 0)  # the epoch is done and in the history
        if not self.master:
            return
        with _interrupts_deferred():  # an epoch's files are written whole or not at all
            from .figures import loss_curve, triplet_figure

            cfg, name = self.cfg, self.spec.name
            self.log(f"epoch {epoch + 1}/{cfg.epochs}: train {cfg.loss} {train_loss:.5g}, val {val_loss:.5g} ({rate:.1f} samples/s)")
            self.save_checkpoint(epoch + 1, 0)
            loss_curve(self.history, self.out / "loss_curve.png", cfg.loss, name)
            triplet_figure(self.raw_model, self.spec, self.sets.val_data, self.fixed, self.device,
                           self.out / f"epoch_{epoch + 1:03d}.png", title=f"{name} epoch {epoch + 1}")
            if val_loss < min(h["val_loss"] for h in self.history[:-1]):
                self.save_weights(f"{name}.best.safetensors", time.time() - self.started)

    def finish(self) -> dict:
        """The final weights, the prediction sheet and the summary."""
        seconds = round(time.time() - self.started, 1)
        summary = {"model": self.spec.name, "loss": self.cfg.loss, "epochs": self.cfg.epochs, "steps": self.step,
                   "history": self.history, "samples_seen": _reduce_sum(self.samples_seen, self.device, self.distributed),
                   "world_size": self.world, "parameters": count_parameters(self.raw_model), "device": str(self.device),
                   "seconds": seconds}
        if self.master:
            from .figures import prediction_sheet

            prediction_sheet(self.raw_model, self.spec, self.sets.val_data, self.sets.val_idx, self.device, self.out / "predictions.png")
            self.save_weights(f"{self.spec.name}.safetensors", seconds)
            (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        if self.distributed:
            dist.barrier()
            dist.destroy_process_group()
        return summary


class TrainingDiverged(VfiError):
    """The loss became NaN or infinite: nothing more is saved."""


def _stalled(history: list[dict], patience: int) -> bool:
    """Whether the last ``patience`` epochs all failed to beat the best before them."""
    trained = [h["val_loss"] for h in history[1:]]
    if len(trained) <= patience:
        return False
    return min(trained[-patience:]) >= min(trained[:-patience])


def _last_good(ckpt_path: Path) -> str:
    return f"the last good checkpoint is {ckpt_path}" if ckpt_path.exists() else "no checkpoint was saved"


CHECKPOINT_KEYS = ("model", "optimizer", "config", "epoch", "batches_done", "step", "history")


def load_checkpoint(path: Path, device) -> dict:
    """A training checkpoint, read without unpickling code (``weights_only``: tensors,
    numbers, strings, lists and dicts only): a run folder from someone else cannot run
    anything here."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as e:  # noqa: BLE001 - pickle refuses unsafe or corrupt files with several types
        reason = "it holds objects other than tensors and plain data" if "weights_only" in str(e) or "Unsupported global" in str(e) \
            else f"corrupt or not a checkpoint ({type(e).__name__})"
        raise InputError(f"{path}: not a usable vfi checkpoint: {reason}") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in CHECKPOINT_KEYS) or not isinstance(ckpt.get("config"), dict) \
            or "model" not in ckpt["config"]:
        raise InputError(f"{path}: not a vfi checkpoint (missing model, optimizer or config)")
    return ckpt


def _weights_meta(cfg, data, val_data, train_idx, val_idx, history, device, world, seconds) -> dict:
    meta = {
        "training_data": {"dataset": str(Path(cfg.data).resolve().name),
                          "sources": [s["source"] for s in data.manifest["sources"]],
                          "train_triplets": int(len(train_idx)), "val_triplets": int(len(val_idx))},
        "recipe": {k: v for k, v in asdict(cfg).items() if k not in ("data", "out", "device", "workers")},
        "epochs": history[-1]["epoch"],
        "history": history,
        "hardware": _hardware(device, world),
        "train_seconds": round(seconds, 1),
    }
    if cfg.val_data:
        meta["validation_data"] = {"dataset": str(Path(cfg.val_data).resolve().name),
                                   "sources": [s["source"] for s in val_data.manifest["sources"]]}
    return meta


def param_groups(model: torch.nn.Module, lr: float, bias_lr_scale: float | None) -> list[dict]:
    """Weights at the base learning rate; biases at ``bias_lr_scale`` times it.

    Why: the sparse CNN works on 0..255 pixels, and LeakyReLU is positively
    homogeneous, so it is exactly the same function as a network on 0..1 pixels whose
    biases are all 255 times smaller.  Adam's steps are the same size for every
    parameter whatever its scale, so on the 0..255 scale the biases barely move at a
    learning rate that suits the weights.  Scaling the bias rate by 255 trains it as
    the 0..1 network would, without changing the model or the stored weights."""
    scale = bias_lr_scale if bias_lr_scale is not None else float(getattr(model, "input_scale", 1.0))
    biases = [p for n, p in model.named_parameters() if n.endswith("bias")]
    others = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    groups = [{"params": others, "lr": lr, "lr_scale": 1.0}]
    if biases:
        groups.append({"params": biases, "lr": lr * scale, "lr_scale": scale})
    return groups


@contextmanager
def _interrupts_deferred():
    """Holds a Ctrl-C until the block is done, then raises it: an interrupt inside
    matplotlib or torch.save can surface as another exception, or leave half a file."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *a: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def cosine_lr(peak: float, step: int, total: int, warmup: int = 100) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def compute_loss(loss_fn, pred: torch.Tensor, target: torch.Tensor, x: torch.Tensor, adapter) -> torch.Tensor:
    """The loss of a batch; a loss that measures itself against the linear blend
    (``takes_blend``) gets the blend of the two RGB frames in the input ``x``, from the
    model's adapter."""
    if getattr(loss_fn, "takes_blend", False):
        return loss_fn(pred, target, adapter.input_blend(x))
    return loss_fn(pred, target)


@torch.no_grad()
def evaluate_loss(model, ds, loss_fn, device, use_amp) -> float:
    model.eval()
    total, n = 0.0, 0
    for x, y in DataLoader(ds, batch_size=1):  # frames of different sizes: one at a time
        x, y = x.to(device).contiguous(memory_format=torch.channels_last), y.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            pred = model(x)
        total += compute_loss(loss_fn, pred.float(), y, x, ds.spec.adapter).item() * len(x)
        n += len(x)
    return total / max(1, n)


def _reduce_mean(total: float, count: int, device, distributed: bool) -> float:
    if not distributed:
        return total / max(1, count)
    t = torch.tensor([total, count], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t[0] / t[1].clamp_min(1)).item()


def _reduce_sum(value: int, device, distributed: bool) -> int:
    if not distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return int(t.item())


def _hardware(device: torch.device, world: int) -> str:
    if device.type == "cuda":
        return f"{world} x {torch.cuda.get_device_name(device)}"
    import platform

    return f"{world} x CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"

