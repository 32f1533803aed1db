"""The model registry: every learned model is a name, a constructor, how frames go in
and out, a training recipe, and (when trained weights ship) those weights with their
metadata. Everything else (``upsample``, ``train``, ``eval``, ``models``) looks models
up here by name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .. import __version__
from ..errors import InputError, UsageError
from .adapters import FlowWarpAdapter, FrameAdapter, GreyAdapter, RGBPairAdapter
from .autoencoders import ConvAE, MultilayerAE
from .flow_fusion import FlowFusion
from .sparse_cnn import SparseCNN, fused_runner

WEIGHTS_FORMAT = "vfi-weights-1"


@dataclass
class ModelSpec:
    """A registered model: its network (``build``), how frames go in and out of it
    (``adapter``), its training recipe, and what older weights files of it lack."""

    name: str
    paper: str
    summary: str
    build: Callable[..., nn.Module]
    adapter: FrameAdapter
    recipe: dict = field(default_factory=dict)  # training defaults
    legacy_config: dict = field(default_factory=dict)  # config keys older weights files lack: what they meant then
    cpu_runner: Callable | None = None  # (model, precision) -> a faster CPU runner, or None where it cannot run

    @property
    def takes_t(self) -> bool:
        """Whether the model makes a frame at any t directly (else: midpoints only)."""
        return self.adapter.takes_t

    @property
    def input_description(self) -> str:
        return self.adapter.description()

    def create(self, config: dict | None = None) -> nn.Module:
        return self.build(**(config or {}))


MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    MODELS[spec.name] = spec
    return spec


AE_RECIPE = {"batch_size": 64, "epochs": 10, "lr": 1e-3, "loss": "mse"}
register_model(ModelSpec(
    "flow-fusion", "vfi", "Motion-compensated (the default): DIS flow, quadratic paths to any t, paper 000's layout (narrow) fuses the warps",
    lambda **config: FlowFusion(**config), FlowWarpAdapter(),
    {"batch_size": 16, "epochs": 8, "lr": 3e-3, "loss": "charbonnier-blur", "blur_weight": 0.005, "crop": 80, "context": 20,
     "init": "fusion", "schedule": "cosine"},
    legacy_config={"motion": "linear"},  # files from 0.2.0 predate the key: they were trained on straight paths
))
register_model(ModelSpec(
    "sparse-cnn", "000", "Sparse CNN: 1x1 lift to 40 dims, 7/4/3/2 convs, 1x1 down to RGB",
    lambda dropout=0.0, leaky_slope=0.3: SparseCNN(dropout, leaky_slope), RGBPairAdapter(),
    {"batch_size": 16, "epochs": 4, "lr": 1e-4, "loss": "no-worse-than-blend", "crop": 64, "context": 7,
     "init": "residual", "schedule": "cosine"},
    cpu_runner=fused_runner,
))
register_model(ModelSpec(
    "forward-ae", "002", "Forward multilayer autoencoder (predicts from the previous frame)",
    lambda inputs=1: MultilayerAE(inputs), GreyAdapter("prev"), dict(AE_RECIPE)))
register_model(ModelSpec(
    "backward-ae", "002", "Backward multilayer autoencoder (predicts from the next frame)",
    lambda inputs=1: MultilayerAE(inputs), GreyAdapter("next"), dict(AE_RECIPE)))
register_model(ModelSpec(
    "bidirectional-ae", "002", "Bi-directional multilayer autoencoder (both neighbours)",
    lambda inputs=2: MultilayerAE(inputs), GreyAdapter("pair"), dict(AE_RECIPE)))
register_model(ModelSpec(
    "conv-ae", "002", "Convolutional autoencoder, 2x16 filters with pooling (previous frame)",
    lambda filters=16, kernel=3: ConvAE(filters, kernel), GreyAdapter("prev"), dict(AE_RECIPE, batch_size=1)))


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UsageError(f"unknown model {name!r} (available: {', '.join(MODELS)})")
    return MODELS[name]


def check_dataset_fits(spec: ModelSpec, data) -> None:
    """A dataset the model cannot learn from or be evaluated on is a usage error."""
    want = spec.adapter.preset
    if data.preset != want:
        raise UsageError(f"{spec.name} trains on '{want}' datasets; {data.root} is '{data.preset}' (make one with vfi prep --preset {want})")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda asked for, but no CUDA device is available")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise UsageError(f"--device must be auto, cpu or cuda, not {device!r}")
    return torch.device(device)


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def fast_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast pays on this device: on CUDA, and on CPUs with bf16 in
    hardware, AMX tiles (Intel Sapphire Rapids and later) or AVX-512 BF16 (AMD Zen 4 and
    later, Intel Cooper Lake), where oneDNN's bf16 convolutions run about twice (AVX-512
    BF16) to several times (AMX) as fast as fp32 (benchmarks/README.md).  Elsewhere
    CPU bf16 is emulated and slower than fp32."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        return any(bool(getattr(torch.cpu, probe, lambda: False)())
                   for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto': bf16 on CPUs with bf16 in hardware (the fastest path there, output within
    a level or two of fp32, held-out quality unchanged: benchmarks/README.md), fp32
    elsewhere (on CUDA bf16 stays opt-in until its quality change has been measured on
    a GPU)."""
    if precision == "auto":
        return "bf16" if device.type == "cpu" and fast_bf16(device) else "fp32"
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be auto or one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


class Interpolator:
    """A model with weights, ready to predict middle frames from RGB frame pairs.

    ``tile``: None = automatic (on CPU, tiles of ``CPU_TILE`` pixels, which is faster;
    on CUDA, 512 px tiles above 1280x720, which bounds memory for 4K), 0 = never tile,
    N = tiles of N x N pixels.  Tiled output equals untiled output (the model's
    ``tile_margin``)."""

    def __init__(self, spec: ModelSpec, model: nn.Module, device: torch.device, meta: dict | None = None,
                 batch_size: int = 4, tile: int | None = None, precision: str = "auto"):
        self.precision = resolve_precision(precision, device)
        self.dtype = PRECISIONS[self.precision]
        self.spec = spec
        self.name = spec.name
        # channels-last: oneDNN's (and cuDNN's) fast convolution layout; measured 1.6x
        # faster than NCHW for the sparse CNN on a 2-core CPU (benchmarks/README.md).
        self.adapter = spec.adapter
        self.channels_last = spec.adapter.channels_last
        self.model = model.to(device).eval()
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.device = device
        self.meta = meta or {}
        self.batch_size = batch_size
        self.tile = tile
        self.fused = None
        if device.type == "cpu":
            from ..pipeline import tune_allocator

            tune_allocator()  # no page faults on every frame's activations
            self.fused = spec.cpu_runner(self.model, self.precision) if spec.cpu_runner else None

    def _tile_size(self, h: int, w: int) -> int:
        if not self.adapter.tiles or self.tile == 0:
            return 0
        if self.tile is None:
            return self.adapter.auto_tile(h, w, self.device, self.precision)
        return self.tile if (h > self.tile or w > self.tile) else 0

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.fused is not None:
            return self.fused(x)
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            return self.model(x).float()

    @torch.inference_mode()
    def predict_batch(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
        """Middle frames for several pairs of the same size, ``batch_size`` at a time."""
        if not pairs:
            return []
        h, w = pairs[0][0].shape[:2]
        if len(pairs) == 1 or self._tile_size(h, w) or not self.adapter.batches:
            return [self.predict(x0, x1) for x0, x1 in pairs]
        out = []
        for i in range(0, len(pairs), self.batch_size):
            chunk = pairs[i: i + self.batch_size]
            y = self._run(torch.cat([self._inputs(x0, x1) for x0, x1 in chunk]))
            out += [self.adapter.from_model(y[j: j + 1], h, w) for j in range(len(chunk))]
        return out

    def _inputs(self, rgb0: np.ndarray, rgb1: np.ndarray) -> torch.Tensor:
        return self.adapter.to_model(rgb0, rgb1, self.device)

    @torch.inference_mode()
    def predict(self, rgb0: np.ndarray, rgb1: np.ndarray) -> np.ndarray:
        h, w = rgb0.shape[:2]
        return self.adapter.from_model(self.run_tiled(self._inputs(rgb0, rgb1)), h, w)

    @torch.inference_mode()
    def fuse(self, features, precise: bool = False) -> np.ndarray:
        """flow-fusion: the model's input for one frame (:func:`vfi.flow.fusion_inputs`,
        a (1, C, H, W) tensor or an H x W x C array) -> the H x W x 3 uint8 frame
        (``precise``: float32 on 0..255, not rounded)."""
        x = features if isinstance(features, torch.Tensor) else torch.from_numpy(features).permute(2, 0, 1).unsqueeze(0)
        return frame_levels(self.run_tiled(x.to(self.device)), precise)

    def decide(self, w0: torch.Tensor, w1: torch.Tensor, cues: torch.Tensor, t: float, scale: int | None = None) -> torch.Tensor:
        """flow-fusion's network alone (its per-pixel decisions, :meth:`FlowFusion.decisions_from`)
        at this precision."""
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            return self.model.decisions_from(w0, w1, cues, t, scale).float()

    def tiles(self, h: int, w: int, margin: int | None = None, align: int | None = None):
        """The tiles an h x w frame goes through the model in, as ((y0, y1, x0, x1),
        (ya, yb, xa, xb)): each tile and the window around it with the model's
        ``tile_margin`` of real neighbours, so tiled output equals untiled output.
        Equal tiles of at most ``tile`` pixels (no thin slivers), or one."""
        tile = self._tile_size(h, w)
        if not tile:
            yield (0, h, 0, w), (0, h, 0, w)
            return
        m = margin if margin is not None else getattr(self.model, "tile_margin", 8)
        align = align or getattr(self.model, "tile_align", 1)

        def edges(n: int) -> list[int]:
            cuts = np.linspace(0, n, -(-n // tile) + 1)
            return [0] + [int(round(c / align)) * align for c in cuts[1:-1]] + [n]

        ys, xs = edges(h), edges(w)
        for y0, y1 in zip(ys[:-1], ys[1:]):
            for x0, x1 in zip(xs[:-1], xs[1:]):
                yield (y0, y1, x0, x1), (max(0, y0 - m), min(h, y1 + m), max(0, x0 - m), min(w, x1 + m))

    def run_tiled(self, x: torch.Tensor) -> torch.Tensor:
        """The model on (1, C, H, W), in :meth:`tiles`."""
        h, w = x.shape[-2:]
        if not self._tile_size(h, w):
            return self._run(x)
        out = torch.empty((x.shape[0], 3, h, w), dtype=torch.float32, device=self.device)
        for (y0, y1, x0, x1), (ya, yb, xa, xb) in self.tiles(h, w):
            y = self._run(x[:, :, ya:yb, xa:xb])
            out[:, :, y0:y1, x0:x1] = y[:, :, y0 - ya: y1 - ya, x0 - xa: x1 - xa]
        return out


def frame_levels(y: torch.Tensor, precise: bool = False) -> np.ndarray:
    """A (1, 3, H, W) frame on 0..1 as the H x W x 3 uint8 frame (``precise``: float32 on
    0..255, not rounded), on the host.  ``y`` is overwritten."""
    y = y[0].mul_(255).clamp_(0, 255)
    if not precise:
        y = y.round_().to(torch.uint8)
    return y.permute(1, 2, 0).contiguous().cpu().numpy()


# ------------------------------------------------------------------ weights files

def save_weights(path: str | os.PathLike, spec: ModelSpec, model: nn.Module, meta: dict | None = None) -> Path:
    """safetensors with the model's name, config and training metadata; written to a
    temporary file and renamed."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": WEIGHTS_FORMAT,
        "model": spec.name,
        "config": json.dumps(getattr(model, "config", {})),
        "meta": json.dumps(meta or {}),
        "vfi_version": __version__,
        "parameters": str(count_parameters(model)),
    }
    tmp = path.with_name(path.name + ".part")
    save_file(tensors, str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def _safetensors(path: str | os.PathLike, tensors: bool) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, or {} unless asked for; metadata) of a vfi weights file."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such weights file")
    try:
        with safe_open(str(p), framework="pt") as f:
            metadata = f.metadata() or {}
            found = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except Exception as e:  # noqa: BLE001 - safetensors raises several types for bad files
        raise InputError(f"{path}: not a readable weights file (corrupt or not safetensors: {type(e).__name__})") from None
    if metadata.get("format") != WEIGHTS_FORMAT or "model" not in metadata:
        raise InputError(f"{path}: not a vfi weights file (no vfi model metadata)")
    return found, metadata


def read_weights(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    return _safetensors(path, tensors=True)


def weights_metadata(path: str | os.PathLike) -> dict[str, str]:
    """A weights file's metadata (its model's name, config, training record) without
    reading its tensors."""
    return _safetensors(path, tensors=False)[1]


def weights_model(path: str | os.PathLike) -> str:
    """The registered model a weights file is for."""
    name = weights_metadata(path)["model"]
    get_spec(name)  # one the registry knows
    return name


def describe_models() -> list[dict]:
    """Each registered model for ``vfi models``: paper, parameters, input, shipped
    weights and their validation figures."""
    rows = []
    for name, spec in MODELS.items():
        path = shipped_weights(name)
        quality = ""
        if path is not None:
            v = json.loads(weights_metadata(path).get("meta") or "{}").get("validation", {})
            quality = ", ".join(f"{k} {v[k]:.3g}" for k in ("psnr", "psnr_blend", "abs_rbf") if k in v)
        rows.append({"name": name, "paper": spec.paper, "parameters": count_parameters(spec.create()),
                     "input": spec.input_description, "weights": str(path) if path else None, "quality": quality,
                     "summary": spec.summary})
    return rows


def load_model(path: str | os.PathLike, expected: str | None = None) -> tuple[ModelSpec, nn.Module, dict]:
    tensors, metadata = read_weights(path)
    name = metadata["model"]
    if expected is not None and name != expected:
        raise InputError(f"{path}: weights are for model {name!r}, not {expected!r}")
    spec = get_spec(name)
    try:
        config = json.loads(metadata.get("config") or "{}")
        meta = json.loads(metadata.get("meta") or "{}")
        if isinstance(config, dict):
            config = {**spec.legacy_config, **config}
        model = spec.create(config)
    except (ValueError, TypeError) as e:
        raise InputError(f"{path}: bad model config in weights metadata ({e})") from None
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise InputError(f"{path}: weights do not fit {name}: missing {missing[:3]} unexpected {extra[:3]}")
    for k, v in own.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise InputError(f"{path}: weights do not fit {name}: {k} has shape {tuple(tensors[k].shape)}, expected {tuple(v.shape)}")
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise InputError(f"{path}: weights hold NaN or infinite values ({bad[0]}...): a training run that diverged?")
    model.load_state_dict(tensors)
    return spec, model, meta


def shipped_weights(name: str) -> Path | None:
    try:
        p = resources.files("vfi.weights") / f"{name}.safetensors"
    except ModuleNotFoundError:
        return None
    return Path(str(p)) if p.is_file() else None


def load_interpolator(name: str, weights: str | None = None, device: str = "auto", batch_size: int = 4, tile: int | None = None,
                      precision: str = "auto") -> Interpolator:
    spec = get_spec(name)
    path = weights or shipped_weights(name)
    if path is None:
        raise UsageError(f"no trained weights ship for {name}: train some with 'vfi train' and pass --weights")
    spec, model, meta = load_model(path, expected=name)
    return Interpolator(spec, model, resolve_device(device), meta, batch_size, tile, precision)
