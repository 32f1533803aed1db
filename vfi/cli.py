"""The ``vfi`` command: a thin Click layer that parses options into a job for the
library (:mod:`vfi.engine` and friends) and turns errors into one-line messages.

Exit codes: 0 success, 1 failure (bad input, write error), 2 usage error,
130 interrupted (partial output removed).
"""

from __future__ import annotations

import functools
import sys
from fractions import Fraction

import click
from rich.console import Console

from . import __version__
from .errors import VfiError
from .scenes import DEFAULT_THRESHOLD
from .timing import parse_rate
from .video import EncodeOptions

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)


class RateType(click.ParamType):
    name = "RATE"

    def convert(self, value, param, ctx):
        if isinstance(value, Fraction):
            return value
        try:
            return parse_rate(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


RATE = RateType()


class OneLineError(click.ClickException):
    """'Error: <message>' on one line with our exit code (2 for usage errors)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def handle_errors(fn):
    """VfiError -> one line and its exit code; Ctrl-C -> 130; anything unexpected ->
    one line too, unless --debug asks for the traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = ctx.find_root().params.get("debug", False)
        try:
            return fn(*args, **kwargs)
        except VfiError as e:
            if debug:
                raise
            raise OneLineError(str(e), e.exit_code) from None
        except KeyboardInterrupt:
            if debug:
                raise
            err_console.print("vfi: interrupted; no output was left behind")
            ctx.exit(130)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as e:  # noqa: BLE001 - last resort: one line, never a traceback
            if debug:
                raise
            raise click.ClickException(f"unexpected error: {type(e).__name__}: {e} (run with --debug for details)") from None

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vfi")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def main(debug):
    """Video frame interpolation: smoother and slower video."""


def encode_options(f):
    opts = [
        click.option("--codec", type=click.Choice(["libx264", "libx265", "libsvtav1", "ffv1"]), default=None,
                     help="Video codec (default: libx264; libsvtav1 for .webm). ffv1 in .mkv is lossless."),
        click.option("--crf", type=click.IntRange(0, 63), default=None, help="Quality for x264/x265/AV1 (lower is better; default 18/20/30)."),
        click.option("--pix-fmt", default=None, help="Output pixel format (default: the source's when the codec takes it)."),
        click.option("--preset", default=None, help="Encoder speed preset, e.g. medium, slow (x264/x265/AV1)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def job_options(f):
    opts = [
        click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output video file."),
        click.option("--method", default=None, type=click.Choice(["dup", "blend", "mci"]),
                     help="Classical method: dup (repeat nearest), blend (cross-fade), mci (FFmpeg motion-compensated)."),
        click.option("--model", default=None, help="Learned model by name (see 'vfi models'); the default is the shipped sparse-cnn."),
        click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None, help="Weights file for --model."),
        click.option("--depth", type=click.IntRange(1, 8), default=3, show_default=True,
                     help="Bisection depth for midpoint-only methods (time error <= 1/2^(depth+1) frame)."),
        click.option("--scene-threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD, show_default=True,
                     help="Scene-cut sensitivity (0 turns detection off); no blending across cuts."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (learned models)."),
        click.option("--overwrite", "-y", is_flag=True, help="Replace an existing output file."),
        click.option("--salvage", is_flag=True, help="If the input is truncated or corrupt, keep the output made from what decoded."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary."),
    ]
    for o in reversed(opts):
        f = o(f)
    return encode_options(f)


def _method_name(method, model, weights):
    if method and model:
        raise click.UsageError("give either --method or --model, not both")
    if method:
        return method
    if model:
        return model
    return "sparse-cnn" if weights is not None or _default_model_available() else "blend"


def _default_model_available() -> bool:
    try:
        from .models import shipped_weights

        return shipped_weights("sparse-cnn") is not None
    except Exception:  # noqa: BLE001 - no model support: fall back to blend
        return False


def _run_job(job, quiet, label):
    from .engine import run
    from .progress import ProgressObserver

    result = run(job, [ProgressObserver(label, quiet=quiet)])
    if not quiet:
        for w in result.warnings:
            err_console.print(f"[yellow]warning:[/] {w}")
        depth = f", bisection depth {result.bisection_depth} (max time error {result.max_time_error_ms:.2f} ms)" if result.bisection_depth else ""
        err_console.print(
            f"{result.output}: {result.frames_out} frames at {float(result.output_rate):.3f} fps from {result.frames_in} "
            f"({result.synthesised} synthesised, {result.repeated} repeated, {len(result.cuts)} scene cut(s)); "
            f"method {result.method}{depth}; {result.duration_out:.2f} s; took {result.seconds:.1f} s"
        )
    return result


@main.command()
@click.argument("input", type=click.Path(dir_okay=True))
@click.option("--fps", type=RATE, default=None, help="Target frame rate: 48, 59.94, 60000/1001 ...")
@click.option("--factor", type=RATE, default=None, help="Multiply the frame rate (2, 2.5, ...).")
@click.option("--audio", type=click.Choice(["copy", "none"]), default="copy", show_default=True, help="Audio streams: copied unchanged, or dropped.")
@job_options
@handle_errors
def upsample(input, fps, factor, audio, output, method, model, weights, depth, scene_threshold, device, overwrite, salvage, quiet, codec, crf, pix_fmt, preset):
    """Raise the frame rate of INPUT: same duration, more frames."""
    from .engine import Job

    job = Job(input=input, output=output, mode="upsample", fps=fps, factor=factor, method=_method_name(method, model, weights),
              weights=weights, depth=depth, scene_threshold=scene_threshold, audio=audio, overwrite=overwrite,
              salvage=salvage, device=device, encode=EncodeOptions(codec=codec, crf=crf, pix_fmt=pix_fmt, preset=preset))
    _run_job(job, quiet, "upsample")


@main.command()
@click.argument("input", type=click.Path(dir_okay=True))
@click.option("--factor", type=RATE, required=True, help="How many times slower (>= 2).")
@click.option("--fps", type=RATE, default=None, help="Output frame rate (default: the source's).")
@click.option("--audio", type=click.Choice(["none", "stretch"]), default="none", show_default=True, help="Drop the audio, or stretch it (pitch kept).")
@job_options
@handle_errors
def slowmo(input, factor, fps, audio, output, method, model, weights, depth, scene_threshold, device, overwrite, salvage, quiet, codec, crf, pix_fmt, preset):
    """Make INPUT FACTOR times slower at the same frame rate."""
    from .engine import Job

    job = Job(input=input, output=output, mode="slowmo", fps=fps, factor=factor, method=_method_name(method, model, weights),
              weights=weights, depth=depth, scene_threshold=scene_threshold, audio=audio, overwrite=overwrite,
              salvage=salvage, device=device, encode=EncodeOptions(codec=codec, crf=crf, pix_fmt=pix_fmt, preset=preset))
    _run_job(job, quiet, "slowmo")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handle_errors
def models(as_json):
    """List the learned models, their inputs and shipped weights."""
    import json

    from rich.table import Table

    from .models import MODELS, count_parameters, read_weights, shipped_weights

    rows = []
    for name, spec in MODELS.items():
        path = shipped_weights(name)
        quality = ""
        if path is not None:
            meta = json.loads(read_weights(path)[1].get("meta") or "{}")
            v = meta.get("validation", {})
            if v:
                quality = ", ".join(f"{k} {v[k]:.3g}" for k in ("psnr", "psnr_blend", "abs_rbf") if k in v)
        rows.append({"name": name, "paper": spec.paper, "parameters": count_parameters(spec.create()),
                     "input": spec.input_description, "weights": str(path) if path else None, "quality": quality,
                     "summary": spec.summary})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="vfi models")
    for col in ("name", "paper", "parameters", "input", "trained weights", "validation"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["paper"], f"{r['parameters']:,}", r["input"], "shipped" if r["weights"] else "-", r["quality"] or "-")
    Console(width=160).print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
