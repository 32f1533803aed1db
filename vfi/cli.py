"""The ``vfi`` command: a thin Click layer that parses options into a job for the
library (:mod:`vfi.engine` and friends) and turns errors into one-line messages.

Exit codes: 0 success, 1 failure (bad input, write error), 2 usage error,
130 interrupted (partial output removed).
"""

from __future__ import annotations

import functools
import signal
import sys
from fractions import Fraction
from pathlib import Path

import click
from rich.console import Console

from . import __version__
from .errors import VfiError
from .loss_names import LOSS_NAMES
from .outputs import check_stdout_free, left_behind, remove_unfinished
from .ray_workers import SHIP_MODES
from .scenes import DEFAULT_THRESHOLD
from .signals import StopSignals
from .timing import parse_rate, parse_time
from .io.encoding import EncodeOptions
from .io.filters import DEINTERLACE_MODES
from .job_values import COUNTS, FRACTION_RANGE


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


class TimeType(click.ParamType):
    name = "TIME"

    def convert(self, value, param, ctx):
        if isinstance(value, Fraction):
            return value
        try:
            return parse_time(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


TIME = TimeType()


class SizeType(click.ParamType):
    name = "WxH"

    def __init__(self, minimum: int = 8):
        self.minimum = minimum

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            w, h = (int(v) for v in str(value).lower().split("x"))
            if w < self.minimum or h < self.minimum:
                raise ValueError
        except ValueError:
            self.fail(f"give WxH like 320x180 (each at least {self.minimum}), not {value!r}", param, ctx)
        return (w, h)


class OneLineError(click.ClickException):
    """'Error: <message>' on one line with our exit code (2 for usage errors)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def handle_errors(fn):
    """VfiError -> one line and its exit code; Ctrl-C, SIGTERM, SIGHUP -> one line and
    128 + the signal; anything unexpected -> one line too, unless --debug asks for the
    traceback."""

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
        except KeyboardInterrupt as e:
            if debug:
                raise
            signum = getattr(e, "signum", signal.SIGINT)
            what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
            err_console.print(f"vfi: {what}; {getattr(e, 'message', None) or left_behind(remove_unfinished())}", soft_wrap=True)
            ctx.exit(128 + signum)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as e:  # noqa: BLE001 - last resort: one line, never a traceback
            if debug:
                raise
            raise click.ClickException(f"unexpected error: {type(e).__name__}: {e} (run with --debug for details)") from None

    return wrapper


def _debug_first(args: list[str]) -> list[str]:
    """``--debug`` is the group's option, but people add it where the error was, after
    the command (``vfi upsample ... --debug``): it is moved to the front."""
    if "--debug" in args[1:]:
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug"] + [a for i, a in enumerate(args) if not (a == "--debug" and i < end)]
    return args


class VfiGroup(click.Group):
    """The ``vfi`` group: every error is one ``Error:`` line (Click's own usage errors
    too, which it otherwise prints as a three-line usage block), and SIGTERM and SIGHUP
    stop a command the way Ctrl-C does, cleaning up behind it."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = _debug_first(sys.argv[1:] if args is None else list(args))
        stop_signals = StopSignals().install()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            click.echo(e.ctx.get_help(), err=True)  # plain 'vfi': the help, as Click shows it
            rv = 2
        except click.exceptions.UsageError as e:
            hint = f" (see '{e.ctx.command_path} -h')" if e.ctx is not None else ""
            click.echo(f"Error: {' '.join(e.format_message().split())}{hint}", err=True)
            rv = 2
        except click.ClickException as e:
            e.show()
            rv = e.exit_code
        except (click.exceptions.Abort, KeyboardInterrupt) as e:
            signum = getattr(e.__context__, "signum", None) or getattr(e, "signum", signal.SIGINT)
            click.echo("vfi: interrupted", err=True)
            rv = 128 + signum
        finally:
            remove_unfinished()
            stop_signals.restore()
        if not standalone_mode:
            return rv
        stop_signals.ignore_repeats()
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=VfiGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
        click.option("--preset", default=None, help="Encoder speed preset (x264/x265/AV1). x264/x265 default to veryfast, transparent at the default CRF; medium or slow make smaller files, slower."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def job_options(f):
    opts = [
        click.option("-o", "--output", required=True,
                     help="Output: a video file; an image sequence (out/%06d.png, or a folder: out/); '-' for stdout (see --format)."),
        click.option("--format", "pipe_format", type=click.Choice(["nut", "y4m", "matroska", "mpegts"]), default=None,
                     help="With -o -: the stream's format (default nut, raw video and the audio)."),
        click.option("--input-fps", type=RATE, default=None, help="Image-sequence input: its frame rate (default 25, as ffmpeg)."),
        click.option("--method", default=None, type=click.Choice(["dup", "blend", "dis", "mci"]),
                     help="Classical method: dup (repeat nearest), blend (cross-fade), dis (two-frame DIS-flow warp), mci (FFmpeg motion-compensated)."),
        click.option("--model", default=None, help="Learned model by name (see 'vfi models'); the default is the shipped flow-fusion."),
        click.option("--weights", type=click.Path(exists=True, dir_okay=False), default=None, help="Weights file for --model."),
        click.option("--depth", type=click.IntRange(*COUNTS["depth"]), default=3, show_default=True,
                     help="Bisection depth for midpoint-only methods (time error <= 1/2^(depth+1) frame)."),
        click.option("--scene-threshold", type=click.FloatRange(*FRACTION_RANGE), default=DEFAULT_THRESHOLD, show_default=True,
                     help="Scene-cut sensitivity (0 turns detection off); no blending across cuts."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda (learned models)."),
        click.option("--tile", type=click.IntRange(*COUNTS["tile"]), default=None,
                     help="Model inference in NxN tiles (seamless; bounds memory). Default: 256 (fp32) / 384 (bf16) px on CPU, which is faster; 512 above 1280x720 on CUDA; 0: never."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
                     help="Model arithmetic. auto: bf16 autocast on CPUs with native bf16 (AMX or AVX-512 BF16: about twice as fast, output within a level or two of fp32), else fp32."),
        click.option("--batch-size", type=click.IntRange(*COUNTS["batch_size"]), default=4, show_default=True, help="Frames per model call."),
        click.option("--streams", type=click.IntRange(*COUNTS["streams"]), default=None,
                     help="Learned models on CPU: frame pairs in the model at once, the CPU threads shared among them. Default: 2 on 2+ cores (on 2 cores 1.1-1.4x faster than 1; same output), 1 above 1440p (memory)."),
        click.option("--start", "-ss", "start", type=TIME, default=None, help="Trim: begin at this time of the input (seconds or [hh:]mm:ss[.ms], as ffmpeg's -ss)."),
        click.option("--duration", "-t", "duration", type=TIME, default=None, help="Trim: this much of the input (as ffmpeg's -t)."),
        click.option("--end", "-to", "end", type=TIME, default=None, help="Trim: up to this time of the input (as ffmpeg's -to)."),
        click.option("--batch", is_flag=True, help="INPUT is a folder of videos: each one to -o FOLDER."),
        click.option("--dedup", is_flag=True, help="Drop frames that repeat the one before (animation on twos) so motion is even on every output frame."),
        click.option("--dedup-threshold", type=click.FloatRange(*FRACTION_RANGE), default=0.005, show_default=True,
                     help="--dedup: a frame repeats the one before when fewer than this fraction of its samples changed (by more than 4 levels)."),
        click.option("--deinterlace", type=click.Choice(DEINTERLACE_MODES), default="auto", show_default=True,
                     help="Interlaced sources (tagged so) become frames with FFmpeg's bwdif first; on: every source; off: never."),
        click.option("--overwrite", "-y", is_flag=True, help="Replace an existing output file."),
        click.option("--salvage", is_flag=True, help="If the input is truncated or corrupt, keep the output made from what decoded."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary."),
        click.option("--json", "as_json", is_flag=True, help="Print the job's summary as one JSON object on stdout."),
        click.option("--profile", "show_profile", is_flag=True, help="Print where the time went: decode, prepare, scenes, model (summed over streams), convert, encode, wait."),
        click.option("--chunk-seconds", type=float, default=None, help="Split the job into chunks of about this many source seconds (ending at scene cuts where there are any), joined at the end; default 60 with --workers, --ray or --resume."),
        click.option("--workers", type=click.IntRange(1), default=None, help="Make this many chunks at once, in processes sharing the cores."),
        click.option("--resume", is_flag=True, help="Keep the finished chunks of this job when it stops, and go on from them when run again."),
        click.option("--ray", "ray_address", default=None, metavar="ADDRESS", help="Make the chunks as tasks on a Ray cluster (an address, or auto); pip install 'vfi[ray]'."),
        click.option("--ray-ship", type=click.Choice(SHIP_MODES), default=None,
                     help="--ray: send the input through Ray's object store to nodes that lack it [auto], to all (always), or to none (never)."),
        click.option("--blur-report", "blur_csv", type=click.Path(dir_okay=False), default=None,
                     help="Write BF of every inserted frame and its RBF vs its two source neighbours (CSV) while running."),
    ]
    for o in reversed(opts):
        f = o(f)
    return encode_options(f)


def _method_name(method, model, weights):
    """The method or model asked for; None for the default, which the engine chooses
    (:func:`vfi.engine.default_method`)."""
    if method and model:
        raise click.UsageError("give either --method or --model, not both")
    if method:
        return method
    if model:
        return model
    if weights is not None:
        from .models import weights_model

        return weights_model(weights)
    return None


def _run_job(job, quiet, label, blur_csv=None, show_profile=False, as_json=False):
    from .engine import run
    from .progress import ProgressObserver, profile_line, summary_json, summary_line

    check_stdout_free(job.output, as_json)
    observers = [ProgressObserver(label, quiet=quiet)]
    if blur_csv:
        from .blur import BlurObserver

        observers.append(BlurObserver(blur_csv))
    result = run(job, observers)
    if not quiet:
        for w in result.warnings:
            err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
        err_console.print(summary_line(result), soft_wrap=True)  # one line, whatever the width: grep finds it whole
    if show_profile:  # on stderr where stdout carries the video or the JSON
        click.echo(profile_line(result), err=as_json or job.output == "-")
    if as_json:
        click.echo(summary_json(result))
    return result


def _job_from_options(mode: str, input: str, opts: dict):
    """Parse -> context: the shared options of upsample and slowmo become a Job."""
    from .chunks import chunk_options
    from .engine import Job

    return Job(input=input, output=opts["output"], mode=mode, fps=opts["fps"], factor=opts["factor"],
               method=_method_name(opts["method"], opts["model"], opts["weights"]), weights=opts["weights"],
               depth=opts["depth"], scene_threshold=opts["scene_threshold"], audio=opts["audio"],
               overwrite=opts["overwrite"], salvage=opts["salvage"], device=opts["device"], tile=opts["tile"],
               precision=opts["precision"], batch_size=opts["batch_size"], streams=opts["streams"],
               start=opts["start"], duration=opts["duration"], end=opts["end"], input_fps=opts["input_fps"],
               dedup=opts["dedup"], dedup_threshold=opts["dedup_threshold"], deinterlace=opts["deinterlace"],
               chunks=chunk_options(opts.get("chunk_seconds"), opts.get("workers"), opts.get("resume"), opts.get("ray_address"),
                                    opts.get("ray_ship")),
               encode=EncodeOptions(codec=opts["codec"], crf=opts["crf"], pix_fmt=opts["pix_fmt"], preset=opts["preset"],
                                    format=opts["pipe_format"]))


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--fps", type=RATE, default=None, help="Target frame rate: 48, 59.94, 60000/1001 ...")
@click.option("--factor", type=RATE, default=None, help="Multiply the frame rate (2, 2.5, ...). A whole factor keeps every source frame at its own time and makes N-1 between each pair; --fps (or 2.5) gives a constant-rate grid.")
@click.option("--audio", type=click.Choice(["copy", "none"]), default="copy", show_default=True, help="Audio streams: copied unchanged, or dropped.")
@job_options
@handle_errors
def upsample(inputs, **opts):
    """Raise the frame rate of INPUTS: same duration, more frames.

    INPUTS: a video file, an image folder or pattern (frames/%06d.png), or - (stdin).
    Several inputs (or a folder of videos with --batch) go to -o FOLDER, one after another."""
    _run_command("upsample", inputs, opts)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--factor", type=RATE, required=True, help="How many times slower (>= 2).")
@click.option("--fps", type=RATE, default=None, help="Output frame rate (default: the source's).")
@click.option("--audio", type=click.Choice(["none", "stretch"]), default="none", show_default=True, help="Drop the audio, or stretch it (pitch kept).")
@job_options
@handle_errors
def slowmo(inputs, **opts):
    """Make INPUTS FACTOR times slower at the same frame rate (inputs as for upsample)."""
    _run_command("slowmo", inputs, opts)


def _run_command(mode: str, inputs: tuple[str, ...], opts: dict) -> None:
    if len(inputs) == 1 and not opts["batch"]:
        _run_job(_job_from_options(mode, inputs[0], opts), opts["quiet"], mode, opts["blur_csv"], opts["show_profile"], opts["as_json"])
        return
    from .batch import plan_batch, run_batch

    if opts["blur_csv"] or opts["as_json"]:
        raise OneLineError("--blur-report and --json take one input; run them on each file", 2)
    jobs = plan_batch(inputs, opts["output"], opts["batch"], lambda i, o: _job_from_options(mode, i, dict(opts, output=o)))
    failed = run_batch(jobs, mode, opts["quiet"], err_console)
    if failed:
        raise OneLineError(f"{failed} of {len(jobs)} input(s) failed (the others are in {opts['output']})", 1)


def _int_list(text):
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise click.BadParameter(f"give frame numbers like 3,10,25, not {text!r}") from None


@main.command("blur-report")
@click.argument("videos", nargs=-1, required=True)
@click.option("--reference", type=click.Path(), default=None, help="Ground truth with the same frames: adds RBF, PSNR, SSIM.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, help="Per-frame values as CSV.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Per-frame values and summary as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="PNG of BF over time (log scale).")
@click.option("--local", "local_path", type=click.Path(dir_okay=False), default=None, help="PNG heatmaps of per-tile RBF (or BF).")
@click.option("--frames", "local_frames", default=None, help="Frames for --local, e.g. 1,5,9 (default: first inserted frame).")
@click.option("--tiles", type=SizeType(1), default=None, help="Tile grid for --local as COLSxROWS (default 8x8).")
@click.option("--quiet", "-q", is_flag=True)
@handle_errors
def blur_report_cmd(videos, reference, csv_path, json_path, plot_path, local_path, local_frames, tiles, quiet):
    """Per-frame Blur Factor of VIDEOS (paper 002), and RBF/PSNR/SSIM against --reference."""
    if len(videos) > 1:
        if reference or csv_path or json_path or plot_path or local_path:
            raise OneLineError("--reference, --csv, --json, --plot and --local take one video; give them one at a time", 2)
        failed = 0
        for v in videos:
            try:
                _blur_report_one(v, None, None, None, None, None, None, None, quiet)
            except VfiError as e:
                failed += 1
                err_console.print(f"[red]failed[/] {e}", soft_wrap=True)
        if failed:
            raise OneLineError(f"{failed} of {len(videos)} video(s) failed", 1)
        return
    _blur_report_one(videos[0], reference, csv_path, json_path, plot_path, local_path, local_frames, tiles, quiet)


def _blur_report_one(video, reference, csv_path, json_path, plot_path, local_path, local_frames, tiles, quiet):
    from .blur import report_to_files, summary_table
    from .progress import make_progress

    prog = make_progress(disable=quiet, transient=True)
    with prog:
        task = prog.add_task("blur-report", total=None)
        report = report_to_files(video, reference, csv_path, json_path, plot_path, local_path,
                                 _int_list(local_frames) if local_path and local_frames else None, (tiles[1], tiles[0]) if tiles else (8, 8),
                                 progress=lambda: prog.advance(task))
    if not quiet:
        Console(width=140).print(summary_table(report, f"Blur report: {video}" + (f" vs {reference}" if reference else "")))


@main.command("eval")
@click.argument("clips", nargs=-1)
@click.option("--methods", default="dup,blend,dis,mci", show_default=True, help="Classical methods to compare (comma-separated; '' for none).")
@click.option("--model", "models", multiple=True, help="Learned model to add (repeatable); shipped weights unless --weights.")
@click.option("--weights", "weights", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Weights file (repeatable): pairs with the --model at the same position.")
@click.option("--max-triplets", type=click.IntRange(1), default=None, help="Per clip.")
@click.option("--every", type=click.IntRange(1), default=1, show_default=True, help="Use every k-th triplet.")
@click.option("--scene-threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD, show_default=True)
@click.option("--dataset", type=click.Path(exists=True, file_okay=False), default=None,
              help="Evaluate --model/--weights on a prepared dataset's validation split instead (model domain).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None)
@click.option("--markdown", "md_path", type=click.Path(dir_okay=False), default=None)
@click.option("--sheet", "sheet_path", type=click.Path(dir_okay=False), default=None,
              help="PNG: each method's worst triplet, cropped where it errs most.")
@click.option("--neighbours", type=click.Choice(["true", "jumped", "none"]), default="true", show_default=True,
              help="Frames around each pair: the clip's t-3 and t+3, frames from elsewhere in it, or none.")
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
              help="The learned models' arithmetic, as in upsample (auto: what upsample runs on this machine).")
@click.option("--quiet", "-q", is_flag=True)
@handle_errors
def eval_cmd(clips, methods, models, weights, max_triplets, every, scene_threshold, dataset, json_path, md_path, sheet_path, neighbours,
             device, precision, quiet):
    """Drop-frame evaluation: predict each middle frame of CLIPS from its neighbours."""
    from . import evaluate as ev
    from .progress import make_progress

    pairs = ev.model_weight_pairs(list(models), list(weights), dataset=bool(dataset))
    if dataset:
        rep = ev.dataset_report(dataset, pairs, json_path, device=device, max_triplets=max_triplets)
        Console(width=160).print(ev.dataset_table(rep, f"{dataset}: validation split"))
        return
    if not clips:
        raise OneLineError("give one or more CLIPS (or --dataset)", 2)
    ev.check_report_paths(list(clips), json_path, md_path, sheet_path)
    contenders = ev.make_contenders([m for m in methods.split(",") if m.strip()], pairs, device, precision)
    results = []
    prog = make_progress(unit="triplets/s", disable=quiet, transient=True)
    with prog:
        for clip in clips:
            task = prog.add_task(Path(clip).name, total=max_triplets)
            results.append(ev.evaluate_clip(clip, contenders, max_triplets=max_triplets, every=every, scene_threshold=scene_threshold,
                                            neighbours=neighbours, keep_worst=bool(sheet_path), progress=lambda: prog.advance(task)))
    results, warnings = ev.usable_results(results)
    for w in warnings:
        err_console.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    rep = ev.report(results)
    ev.write_reports(rep, results, json_path, md_path, sheet_path)
    Console(width=200).print(ev.table(rep))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
@handle_errors
def models(as_json):
    """List the learned models, their inputs and shipped weights."""
    import json

    from rich.table import Table

    from .models import describe_models

    rows = describe_models()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    table = Table(title="vfi models")
    for col in ("name", "paper", "parameters", "input", "trained weights", "validation"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["paper"], f"{r['parameters']:,}", r["input"], "shipped" if r["weights"] else "-", r["quality"] or "-")
    Console(width=160).print(table)


@main.command()
@click.argument("sources", nargs=-1)
@click.option("-o", "--output", type=click.Path(file_okay=False), help="Dataset folder to create.")
@click.option("--info", "info_path", type=click.Path(exists=True, file_okay=False), default=None, help="Describe an existing dataset instead.")
@click.option("--preset", type=click.Choice(["paper000", "paper002", "flow"]), default="paper000", show_default=True,
              help="paper000: RGB triplets; paper002: greyscale 200x100 frames in [0,1]; flow: RGB triplets with their optical flow (flow-fusion).")
@click.option("--size", type=SizeType(), default=None, help="paper000/flow: resize frames to WxH (default: native size).")
@click.option("--max-width", type=click.IntRange(16), default=None, help="paper000/flow: scale frames wider than this down to it.")
@click.option("--spans", default="2", show_default=True,
              help="flow: windows (i, i+S) for each S listed (e.g. 2,3): every frame inside is a target, at t = j/S.")
@click.option("--every", type=click.IntRange(1), default=1, show_default=True, help="flow: a window starts at every k-th frame.")
@click.option("--scale", "scales", type=click.FloatRange(0, 1, min_open=True), multiple=True,
              help="paper000: also store each source downscaled by this factor (repeatable, e.g. --scale 1 --scale 0.5); default 1.")
@click.option("--stride", type=click.IntRange(1, 100), default=1, show_default=True, help="Triplets (i-d, i, i+d) at distance d.")
@click.option("--max-frames", type=click.IntRange(3), default=None, help="Cap on frames read per video.")
@click.option("--keep-cuts", is_flag=True, help="Keep triplets that straddle a scene cut.")
@click.option("--keep-duplicates", is_flag=True, help="Keep triplets holding repeated frames.")
@click.option("--split", type=click.Choice(["random", "segments"]), default="random", show_default=True,
              help="random (paper 002) or contiguous segments (no near-twins across the split).")
@click.option("--val", "val_fraction", type=click.FloatRange(0.01, 0.99), default=0.3, show_default=True, help="Validation fraction.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace an existing dataset folder.")
@click.option("--quiet", "-q", is_flag=True)
@handle_errors
def prep(sources, output, info_path, preset, size, max_width, spans, every, scales, stride, max_frames, keep_cuts, keep_duplicates, split,
         val_fraction, seed, overwrite, quiet):
    """Build a training dataset from SOURCES: video files, folders or URLs (yt-dlp).

    Each source is reported on its own; the exit code is 1 if any failed."""
    from .data import PrepOptions, TripletDataset
    from .data import prep as run_prep

    if info_path:
        out_console.print(TripletDataset(info_path).describe())
        return
    if not sources or not output:
        raise OneLineError("give SOURCES and -o DATASET (or --info DATASET)", 2)
    try:
        span_list = tuple(int(v) for v in spans.split(",") if v.strip())
    except ValueError:
        raise OneLineError(f"--spans takes whole numbers like 2,3, not {spans!r}", 2) from None
    opts = PrepOptions(preset=preset, size=size, max_width=max_width, spans=span_list, every=every,
                       scales=tuple(scales) or (1.0,), stride=stride, max_frames=max_frames, drop_cuts=not keep_cuts,
                       drop_duplicates=not keep_duplicates, split=split, val_fraction=val_fraction, seed=seed)

    def report(r):
        if not quiet or not r.ok:
            err_console.print(("[green]ok[/]  " if r.ok else "[red]failed[/] ") + (f"{r.source}: {r.message}" if r.ok else r.message), soft_wrap=True)

    def on_download(d):
        if not quiet and d.get("status") == "finished":
            err_console.print(f"downloaded {d.get('filename')}", soft_wrap=True)

    path, reports = run_prep(list(sources), output, opts, report, on_download, overwrite)
    failed = [r for r in reports if not r.ok]
    if not quiet:
        err_console.print(f"{path}: {sum(r.triplets for r in reports)} triplets from {len(reports) - len(failed)} of {len(reports)} source(s)")
    if failed:
        raise OneLineError(f"{len(failed)} of {len(reports)} source(s) failed (the others are in {path})", 1)


@main.command()
@click.option("--model", "model_name", default="sparse-cnn", show_default=True, help="Model to train (see 'vfi models').")
@click.option("--loss", type=click.Choice(list(LOSS_NAMES)), default=None,
              help="Default: the model's recipe. blur = MSE + weight x (log Laplacian-variance gap)^2; log-mse = mean of 10 log10(per-sample MSE + 1), i.e. minus mean PSNR; log-mse-blur = log-mse + the same gap term; charbonnier-blur = Charbonnier (smooth L1) + weight x the same gap term (flow-fusion); no-worse-than-blend = log-mse + the dB a sample falls below the linear blend + 100 x the squared mean of its correction to the blend, per channel (sparse CNN).")
@click.option("--blur-weight", type=float, default=None, help="Weight of the sharpness term (default: the recipe's, else 0.1).")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="Dataset from 'vfi prep'.")
@click.option("-o", "--out", default="runs/train", show_default=True, type=click.Path(file_okay=False), help="Run folder.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Default: the model's recipe.")
@click.option("--batch-size", type=click.IntRange(1), default=None)
@click.option("--lr", type=float, default=None)
@click.option("--crop", type=click.IntRange(8), default=None, help="Random crop size (sparse CNN; default 64).")
@click.option("--context", type=click.IntRange(0), default=None,
              help="Pixels of input around each crop that the loss leaves out, so every scored pixel sees real neighbours (sparse CNN; default 7, its reach).")
@click.option("--schedule", type=click.Choice(["constant", "cosine"]), default=None,
              help="Learning rate: constant (the papers' Adam) or warm-up + cosine decay (default: the model's recipe).")
@click.option("--init", "init", type=click.Choice(["keras", "blend", "residual"]), default=None,
              help="Sparse CNN start: Keras initialisation; blend: the warm start that equals the linear blend; "
                   "residual (default): the same with the blend's pass-through held fixed, so training learns a "
                   "correction to the blend.")
@click.option("--max-train", type=click.IntRange(1), default=None, help="Use at most this many training triplets.")
@click.option("--val-data", type=click.Path(exists=True, file_okay=False), default=None,
              help="Validate on this dataset (e.g. clips kept out of training), whole frames; the best epoch is also saved as MODEL.best.safetensors.")
@click.option("--max-val", type=click.IntRange(1), default=96, show_default=True, help="Validation triplets (spread evenly).")
@click.option("--patience", type=click.IntRange(1), default=None, help="Stop once validation has not improved for this many epochs (the best epoch is kept).")
@click.option("--no-augment", is_flag=True, help="No flips or time reversal of training triplets.")
@click.option("--amp/--no-amp", default=True, show_default=True, help="bf16 autocast where it is fast (CUDA, CPUs with AMX or AVX-512 BF16).")
@click.option("--from-weights", type=click.Path(exists=True, dir_okay=False), default=None, help="Fine-tune from these weights.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt.")
@click.option("--overwrite", is_flag=True, help="Start again in a run folder that holds a run (its checkpoint and weights are replaced).")
@click.option("--quiet", "-q", is_flag=True)
@handle_errors
def train(model_name, loss, blur_weight, data, out, epochs, batch_size, lr, crop, context, schedule, init, max_train, val_data, max_val, patience,
          no_augment, amp, from_weights, seed, device, resume, overwrite, quiet):
    """Train a model on a prepared dataset; torchrun runs it distributed."""
    from .train import TrainConfig
    from .train import train as run_train

    cfg = TrainConfig(model=model_name, data=data, out=out, loss=loss, blur_weight=blur_weight, epochs=epochs,
                      batch_size=batch_size, lr=lr, crop=crop, context=context, schedule=schedule, init=init, max_train=max_train, val_data=val_data, max_val=max_val,
                      patience=patience, augment=not no_augment, amp=amp,
                      from_weights=from_weights, seed=seed, device=device)
    from .progress import TrainProgress

    prog = TrainProgress(quiet)
    try:
        summary = run_train(cfg, resume=resume, overwrite=overwrite, log=(lambda m: None) if quiet else prog.progress.console.print,
                            progress=prog)
    finally:
        prog.close()
    if not quiet and int(__import__("os").environ.get("RANK", "0")) == 0:
        err_console.print(f"weights: {out}/{summary['model']}.safetensors; loss curve {out}/loss_curve.png; "
                          f"{summary['samples_seen']} samples seen in {summary['seconds']} s")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
