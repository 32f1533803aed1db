"""The files people really have, made by a real ffmpeg, through the vfi command line:

    FFMPEG=/path/to/ffmpeg python examples/checks/ffmpeg_cases.py [FFMPEG] [--workdir DIR] [-k WORD]

Each case makes its input with an ffmpeg command (edit lists, attachments, timecode,
chapters, TS offsets and joins, odd audio, rotation, aspect ratio, alpha, cover art, odd
names, interlacing, held frames), runs `vfi` on it in a temporary folder and checks the
outcome: either the job works and the output keeps what it can (video from 0, its
length, frame count, sound, timecode, chapters, attachments), or exactly one `Error:`
line with exit 1 or 2 and nothing left behind; never a traceback, and every warning
also in the sidecar.  One PASS/FAIL/SKIP line a case, then the counts; exit 1 on a FAIL.
VFI_ARGS adds options to every job (e.g. VFI_ARGS='--method blend' for a quick run).
ffmpeg is needed by this check only, never by vfi or its tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
CLIP = HERE.parent / "bbb_320x180.mp4"
FONT_MIME = "mimetype=application/x-truetype-font"
CHAPTERS = ";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=500\ntitle=One\n" \
           "[CHAPTER]\nTIMEBASE=1/1000\nSTART=500\nEND=1000\ntitle=Two\n"


@dataclass
class Case:
    """One input made by ffmpeg and one vfi job on it.  `make`: ffmpeg argument lists
    (B is the bundled clip; other names are files in the case's folder); `job`: vfi's
    arguments (IN and OUT are filled in); `expect`: 'ok' or 'error'; `checks`: what the
    output must keep ('audio', 'timecode', 'chapters', 'attachment', 'upright', 'sar',
    'alpha', 'rate=N', 'frames=N', 'said=WORD' (a warning naming WORD), 'quiet' (no warning))."""
    name: str
    make: list[list[str]]
    job: list[str]
    out: str = "out.mp4"
    inp: str = "in.mp4"
    expect: str = "ok"
    checks: tuple[str, ...] = ()
    setup: str = ""  # a shell step before the job (chmod, cat)
    teardown: str = ""  # a shell step after it
    extra: dict = field(default_factory=dict)


def _u(*more: str) -> list[str]:
    return ["upsample", "IN", "-o", "OUT", "--factor", "2", *more]


def _cases() -> list[Case]:
    short = ["-i", "B", "-t", "1"]
    cases = [
        Case("MP4 edit list (-ss 0.5 -t 1.5 -c copy)", [["-ss", "0.5", "-i", "B", "-t", "1.5", "-c", "copy", "in.mp4"]],
             _u(), checks=("audio", "quiet")),
    ]
    font = [*short, "-c", "copy", "-attach", "font.ttf", "-metadata:s:t", FONT_MIME, "in.mkv"]
    for ext in ("mkv", "mp4", "mov", "avi", "nut", "webm", "ts"):
        keeps = ("attachment",) if ext == "mkv" else ("said=attach", "no-data")
        cases.append(Case(f"MKV font attachment -> .{ext}", [font], _u(), inp="in.mkv", out=f"out.{ext}",
                          checks=("audio", *keeps)))
    tc = [*short, "-c", "copy", "-timecode", "01:00:00:00", "in.mov"]
    for ext in ("mov", "mp4", "mkv"):
        cases.append(Case(f"MOV timecode 01:00:00:00 -> .{ext}", [tc], _u(), inp="in.mov", out=f"out.{ext}",
                          checks=("audio", "timecode")))
    cases.append(Case("Ogg Skeleton (.ogv)", [], _u(), inp="in.ogv", extra={"skip": "ffmpeg's Ogg muxer writes no Skeleton"}))
    mp4_chap = [*short, "-i", "chapters.txt", "-map", "0", "-map_chapters", "1", "-c", "copy", "in.mp4"]
    mkv_chap = [*short, "-i", "chapters.txt", "-map", "0", "-map_chapters", "1", "-c", "copy", "in.mkv"]
    for src, make in (("mp4", mp4_chap), ("mkv", mkv_chap)):
        for ext in ("mp4", "mkv"):
            cases.append(Case(f"{src.upper()} chapters -> .{ext}", [make], _u(), inp=f"in.{src}", out=f"out.{ext}",
                              checks=("audio", "chapters")))
    h264_aac = ["-c:v", "libx264", "-c:a", "aac"]
    cases += [
        Case("late.ts (-output_ts_offset 3600) -> .mp4", [[*short, *h264_aac, "-output_ts_offset", "3600", "in.ts"]],
             _u(), inp="in.ts", checks=("audio",)),
        Case("ordinary .ts (starts near 1.4 s) -> .mp4", [[*short, *h264_aac, "in.ts"]], _u(), inp="in.ts", checks=("audio",)),
        Case("ordinary .mpg (starts near 0.5 s) -> .mp4", [[*short, "-c:v", "mpeg2video", "-c:a", "mp2", "in.mpg"]],
             _u(), inp="in.mpg", checks=("audio",)),
        Case("two TS joined with cat -> .mp4", [[*short, *h264_aac, "part.ts"]], _u(), inp="in.ts",
             setup="cat part.ts part.ts > in.ts", checks=("audio", "length=2")),
        Case("TS with a size change midway -> .mp4",
             [[*short, *h264_aac, "a.ts"], [*short, "-vf", "scale=160:90", *h264_aac, "b.ts"]], _u(), inp="in.ts",
             setup="cat a.ts b.ts > in.ts", checks=("audio", "length=2")),
    ]
    for codec in ("ac3", "flac"):
        side = [*short, "-c:v", "copy", "-af", "aformat=channel_layouts=5.1(side)", "-c:a", codec, "in.mkv"]
        cases.append(Case(f"{codec.upper()} 5.1(side) -> .webm", [side], _u(), inp="in.mkv", out="out.webm", checks=("audio",)))
        cases.append(Case(f"{codec.upper()} 5.1(side) -> .webm, slowmo --audio stretch", [side],
                          ["slowmo", "IN", "-o", "OUT", "--factor", "2", "--audio", "stretch"], inp="in.mkv",
                          out="out.webm", checks=("audio",)))
    cases += [
        Case("WMA in ASF -> .mp4", [[*short, "-c:v", "wmv2", "-c:a", "wmav2", "-ac", "2", "in.asf"]], _u(), inp="in.asf", checks=("audio",)),
        Case("PCM u8 in AVI -> .mp4", [[*short, "-c:v", "mpeg4", "-c:a", "pcm_u8", "-ar", "22050", "in.avi"]], _u(),
             inp="in.avi", checks=("audio",)),
        Case("PCM in MKV -> .mp4", [[*short, "-c:v", "copy", "-c:a", "pcm_s16le", "in.mkv"]], _u(), inp="in.mkv",
             checks=("audio",)),
    ]
    for codec in ("aac", "ac3", "libmp3lame"):
        cases.append(Case(f"{codec} into .ts (copied)", [[*short, "-c:v", "copy", "-c:a", codec, "in.mkv"]], _u(),
                          inp="in.mkv", out="out.ts", checks=("audio", "quiet", "audio-copied")))
    cases += [
        Case(".webm at 300 fps", [[*short, "-c", "copy", "in.mp4"]], ["upsample", "IN", "-o", "OUT", "--fps", "300"],
             out="out.webm", checks=("audio", "rate=300")),
        Case("BMP images out", [[*short, "-c", "copy", "in.mp4"]], _u(), out="bmp/%04d.bmp", checks=("frames=x2",)),
        Case("H.264 copied into AVI, --factor 2", [[*short, "-an", "-c", "copy", "in.avi"]], _u(), inp="in.avi",
             checks=("rate=50", "frames=x2")),
        Case("image pattern in, pattern out in the same folder, --overwrite",
             [["-i", "B", "-t", "0.4", "f/f%03d.png"]], _u("--overwrite"), inp="f/f%03d.png", out="f/out_%05d.png",
             expect="either", checks=("inputs-kept",), extra={"mkdir": "f"}),
    ]
    cover = ["-i", "B", "-i", "cover.png", "-t", "1", "-map", "0", "-map", "1", "-c:v:0", "copy", "-c:v:1", "mjpeg",
             "-disposition:v:1", "attached_pic", "-c:a", "copy", "in.mp4"]
    for ext in ("mp4", "mkv", "webm"):
        cases.append(Case(f"MP4 with cover art -> .{ext}", [cover], _u(), out=f"out.{ext}", checks=("audio", "cover")))
    rot = ["-display_rotation", "90", "-i", "B", "-t", "1", "-c", "copy", "in.mp4"]
    for out in ("png/%04d.png", "out.nut", "out.mp4"):
        cases.append(Case(f"rotate=90 phone clip -> {Path(out).suffix}", [rot], _u(), out=out, checks=("upright",)))
    cases.append(Case("rotate=90 phone clip -> -o - --format y4m", [rot], _u("--format", "y4m"), out="out.y4m",
                      checks=("upright",), extra={"pipe": True}))
    for codec, ext in (("ffv1", "mkv"), ("ffv1", "nut"), ("libsvtav1", "mkv"), ("libsvtav1", "webm")):
        sar = [*short, "-an", "-vf", "setsar=4/3", "-c:v", "ffv1", "in.mkv"]
        cases.append(Case(f"SAR 4:3 with {codec} -> .{ext}", [sar], _u("--codec", codec), inp="in.mkv", out=f"out.{ext}",
                          checks=("sar",)))
    rgba = ["-f", "lavfi", "-i", "testsrc2=s=96x64:d=0.4", "-vf", "format=rgba,colorchannelmixer=aa=0.5", "f/%03d.png"]
    for out in ("out.mkv", "png/%04d.png"):
        job = _u("--codec", "ffv1") if out.endswith("mkv") else _u()
        cases.append(Case(f"RGBA PNG sequence -> {Path(out).suffix}", [rgba], job, inp="f/%03d.png", out=out,
                          checks=("alpha",), extra={"mkdir": "f"}))
    art = ["-f", "lavfi", "-i", "sine=d=1", "-i", "cover.png", "-map", "0", "-map", "1", "-c:v", "mjpeg",
           "-disposition:v", "attached_pic"]
    cases += [
        Case("MP3 with cover art", [[*art, "-c:a", "libmp3lame", "in.mp3"]], _u(), inp="in.mp3", expect="error",
             checks=("said=video",)),
        Case("M4A with cover art", [[*art, "-c:a", "aac", "in.m4a"]], _u(), inp="in.m4a", expect="error",
             checks=("said=video",)),
        Case("a file named 100%done.mp4", [[*short, "-c", "copy", "100%done.mp4"]], _u(), inp="100%done.mp4",
             checks=("audio",)),
        Case("a file named 2024-01-01T10:30:00.mp4", [[*short, "-c", "copy", "file:2024-01-01T10:30:00.mp4"]], _u(),
             inp="2024-01-01T10:30:00.mp4", checks=("audio",)),
        Case("--batch into a read-only folder", [[*short, "-c", "copy", "in/a.mp4"]],
             ["upsample", "--batch", "in", "-o", "ro", "--factor", "2"], inp="in", out="ro", expect="error",
             # root writes into any folder it may not write to, but not an immutable one
             setup="mkdir -p ro && chmod 555 ro && { [ $(id -u) != 0 ] || chattr +i ro; }",
             teardown="[ $(id -u) != 0 ] || chattr -i ro", extra={"mkdir": "in"}),
        Case("interlaced MPEG-2 TS", [[*short, "-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-vf", "setfield=tff",
                                       "-c:a", "mp2", "in.ts"]], _u(), inp="in.ts", checks=("audio", "said=interlac")),
        Case("field-order-tagged H.264", [[*short, "-c:v", "libx264", "-flags", "+ilme+ildct", "-field_order", "tt",
                                           "-c:a", "copy", "in.mp4"]], _u(), checks=("audio", "said=interlac")),
        Case("--dedup on a clip held on twos", [["-i", "B", "-t", "2", "-vf", "fps=12.5,fps=25", "-c:a", "copy", "in.mp4"]],
             _u("--dedup", "--json"), checks=("audio", "json-rate=50")),
        Case("--dedup on a 10 s still", [["-loop", "1", "-i", "cover.png", "-t", "10", "-r", "25", "-pix_fmt", "yuv420p",
                                          "in.mp4"]], _u("--dedup", "--json"), checks=("json-rate=50",)),
    ]
    return cases


# --- making the inputs -------------------------------------------------------------

def _ffmpeg(ffmpeg: str, args: list[str], work: Path) -> None:
    full = [ffmpeg, "-v", "error", "-y", *[str(CLIP) if a == "B" else a for a in args]]
    r = subprocess.run(full, cwd=work, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"ffmpeg failed: {shlex.join(full[1:])}: {r.stderr.strip()[-300:]}")


def _common_files(ffmpeg: str, work: Path) -> None:
    """The font, chapter list and cover picture several cases attach."""
    fonts = sorted(Path("/usr/share/fonts").rglob("*.ttf")) if Path("/usr/share/fonts").is_dir() else []
    font = work / "font.ttf"
    if fonts:
        shutil.copy(fonts[0], font)
    else:  # the mimetype makes it an attachment, whatever its bytes
        font.write_bytes(b"\0\1\0\0" + bytes(252))
    (work / "chapters.txt").write_text(CHAPTERS)
    _ffmpeg(ffmpeg, ["-ss", "1", "-i", "B", "-frames:v", "1", "cover.png"], work)


def _prepare(case: Case, ffmpeg: str, root: Path, n: int) -> Path:
    work = root / f"{n:02d}"
    work.mkdir()
    for name in ("font.ttf", "chapters.txt", "cover.png"):
        os.link(root / name, work / name)
    if "mkdir" in case.extra:
        (work / case.extra["mkdir"]).mkdir()
    for args in case.make:
        _ffmpeg(ffmpeg, args, work)
    if case.setup:
        subprocess.run(case.setup, shell=True, cwd=work, check=True)
    return work


# --- reading the outputs -----------------------------------------------------------

def _outputs(work: Path, out: str) -> list[Path]:
    if "%" in out:
        folder = work / Path(out).parent
        prefix = Path(out).name.split("%")[0]
        suffix = Path(out).suffix
        return sorted(p for p in folder.glob(f"{prefix}*{suffix}")) if folder.is_dir() else []
    return [work / out] if (work / out).exists() else []


def _sidecar(work: Path, out: str) -> Path:
    return (work / Path(out).parent / "vfi.json") if "%" in out else work / (out + ".vfi.json")


def _probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0] if c.streams.video else None
        times = [f.time for f in c.decode(v)] if v else []
        first = None
        with av.open(str(path)) as c2:
            if c2.streams.video:
                first = next(c2.decode(video=0), None)
        rotation = getattr(first, "rotation", 0) if first is not None else 0
        return {
            "audio": [s.codec_context.name for s in c.streams.audio],
            "attachments": len(c.streams.attachments),
            "data": len(c.streams.data),
            # Matroska keeps it as a picture stream, untagged, as ffmpeg -map 0 -c copy does
            "cover": sum(bool(s.disposition & av.stream.Disposition.attached_pic) or s.codec_context.name in ("mjpeg", "png")
                         for s in c.streams.video[1:])
            + sum(s.metadata.get("mimetype", "").startswith("image/") for s in c.streams.attachments),
            "timecode": _timecode(c),
            "chapters": len(c.chapters()),
            "frames": len(times), "first": min(times) if times else None,
            "duration": c.duration / av.time_base if c.duration else None,
            "rate": _rate(times),
            "size": (first.width, first.height) if first is not None else None,
            "rotation": rotation,
            "sar": v.sample_aspect_ratio if v else None,
            "pix_fmt": first.format.name if first is not None else None,
        }


def _timecode(c) -> str | None:
    """The timecode tag wherever the container keeps it (MOV: a track; Matroska: TIMECODE)."""
    for tags in (c.metadata, *(s.metadata for s in c.streams)):
        for key, value in tags.items():
            if key.lower() == "timecode":
                return value
    return None


def _rate(times: list[float]) -> float | None:
    """Frames per second over the middle 80 % of the frames (the container's average
    counts the last frame's duration, a millisecond clock rounds each step, and a cut
    made with -c copy may stamp its last frame oddly)."""
    times = sorted(times)[len(times) // 10: len(times) - len(times) // 10]
    span = times[-1] - times[0] if len(times) > 1 else 0
    return (len(times) - 1) / span if span > 0 else None


# --- judging -------------------------------------------------------------------------

def _leftovers(work: Path) -> list[str]:
    return [p.name for p in work.rglob("*") if ".part" in p.name or p.name.startswith(".vfi")]


def _judge_error(case: Case, res, work: Path) -> list[str]:
    why = []
    errors = [line for line in res.stdout.splitlines() + res.stderr.splitlines() if line.startswith("Error:")]
    if res.returncode not in (1, 2):
        why.append(f"exit {res.returncode}, not 1 or 2")
    if len(errors) != 1:
        why.append(f"{len(errors)} Error: lines")
    for check in case.checks:
        if check.startswith("said=") and not any(check[5:] in e.lower() for e in errors):
            why.append(f"the error does not say '{check[5:]}': {errors[:1]}")
    if (work / case.out).is_file() or ("%" in case.out and _outputs(work, case.out)):
        why.append("an output was left")
    return why


def _judge_ok(case: Case, res, work: Path, warnings: list[str], before: dict, src: dict | None) -> list[str]:
    why = []
    outs = _outputs(work, case.out)
    if res.returncode:
        return [f"exit {res.returncode}: {_last_line(res)}"]
    if not outs:
        return ["no output"]
    sidecar = _sidecar(work, case.out)
    if sidecar.exists() and json.loads(sidecar.read_text()).get("warnings", []) != warnings:
        why.append("the warnings printed are not the sidecar's")
    images = "%" in case.out
    got = _probe(outs[0]) if not images else _probe(outs[0]) | {"frames": len(outs)}
    if not images:
        if got["first"] is None or got["first"] > 0.1:
            why.append(f"video starts at {got['first']}")
        want = src["duration"] if src and src["duration"] else None
        want = want * 2 if want and case.job[0] == "slowmo" else want
        if want and got["duration"] and abs(got["duration"] - want) > 0.25 and "length=2" not in case.checks:
            why.append(f"lasts {got['duration']:.2f} s, source {want:.2f} s")
    for check in case.checks:
        why += _check(check, got, src, warnings, work, before, case)
    return why


def _check(check: str, got: dict, src: dict | None, warnings: list[str], work: Path, before: dict, case: Case) -> list[str]:
    said = " ".join(warnings).lower()
    if check == "audio" and src and src["audio"] and not got["audio"]:
        return ["the sound was lost"]
    if check == "audio-copied" and src and got["audio"] != src["audio"]:
        return [f"audio {src['audio']} became {got['audio']}"]
    if check == "quiet" and warnings:
        return [f"warned: {warnings}"]
    if check == "no-data" and got["data"]:
        return [f"{got['data']} data stream(s) written"]
    if check == "cover" and not got["cover"] and "cover" not in said:
        return ["the cover art was lost without a word"]
    if check == "attachment" and not got["attachments"]:
        return ["the attachment was lost"]
    if check == "timecode" and got["timecode"] != "01:00:00:00":
        return [f"timecode {got['timecode']!r}"]
    if check == "chapters" and got["chapters"] != 2:
        return [f"{got['chapters']} chapters, not 2"]
    if check == "length=2" and not (got["duration"] and 1.8 < got["duration"] < 2.3):
        return [f"lasts {got['duration']} s, not 2"]
    if check.startswith("rate=") and round(float(got["rate"] or 0)) != int(check[5:]):
        return [f"rate {got['rate']}, not {check[5:]}"]
    if check == "frames=x2" and src and abs(got["frames"] - 2 * src["frames"]) > 1:
        return [f"{got['frames']} frames from {src['frames']}, not twice"]
    if check.startswith("said=") and check[5:] not in said:
        return [f"no warning names '{check[5:]}'"]
    if check == "upright" and not (got["size"] in ((180, 320),) or abs(got["rotation"]) == 90 or "rotat" in said):
        return [f"frames {got['size']}, rotation {got['rotation']}, nothing said"]
    if check == "sar" and str(got["sar"]) != "4/3" and "aspect" not in said:
        return [f"SAR {got['sar']}, nothing said"]
    if check == "alpha" and not ("a" in (got["pix_fmt"] or "").replace("gray", "") or "transparen" in said or "alpha" in said):
        return [f"written {got['pix_fmt']}, transparency lost without a word"]
    if check.startswith("json-rate="):
        return _json_rate(case, check[10:])
    return []


def _json_rate(case: Case, want: str) -> list[str]:
    try:
        summary = json.loads(case.extra["stdout"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        return ["no JSON summary"]
    return [] if str(summary.get("output_rate")) == want else [f"reports {summary.get('output_rate')} fps, not {want}"]


def _hashes(folder: Path, prefix: str) -> dict:
    if not folder.is_dir():
        return {}
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in folder.glob(prefix + "*")}


def _last_line(res) -> str:
    lines = (res.stdout + res.stderr).strip().splitlines()
    return lines[-1][:200] if lines else ""


def _vfi(case: Case, args: list[str], work: Path) -> subprocess.CompletedProcess:
    """Runs vfi in the case's folder; a pipe case writes stdout (-o -) into its file."""
    cmd = [sys.executable, "-m", "vfi", *args]
    if not case.extra.get("pipe"):
        return subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    cmd[cmd.index(case.out)] = "-"
    with open(work / case.out, "wb") as sink:
        res = subprocess.run(cmd, cwd=work, stdout=sink, stderr=subprocess.PIPE, text=True)
    return subprocess.CompletedProcess(cmd, res.returncode, "", res.stderr)


def run_case(case: Case, ffmpeg: str, root: Path, n: int, vfi_args: list[str]) -> tuple[str, str]:
    if "skip" in case.extra:
        return "SKIP", case.extra["skip"]
    try:
        work = _prepare(case, ffmpeg, root, n)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        return "SKIP", f"input not made: {e}"
    src_path = work / case.inp
    src = _probe(src_path) if src_path.is_file() else None
    before = _hashes(work / "f", "f")
    args = [a.replace("IN", case.inp) if a == "IN" else a.replace("OUT", case.out) if a == "OUT" else a for a in case.job]
    try:
        res = _vfi(case, args + vfi_args, work)
    finally:
        if case.teardown:
            subprocess.run(case.teardown, shell=True, cwd=work)
    case.extra["stdout"] = res.stdout
    text = res.stdout + res.stderr
    warnings = [line.removeprefix("warning: ") for line in text.splitlines() if line.startswith("warning: ")]
    why = ["traceback"] if "Traceback" in text else []
    if case.expect == "error" or (case.expect == "either" and res.returncode):
        why += _judge_error(case, res, work)
    else:
        why += _judge_ok(case, res, work, warnings, before, src)
    if "inputs-kept" in case.checks and _hashes(work / "f", "f") != before:
        why.append("input frames changed or deleted")
    why += [f"left behind: {left}" for left in [_leftovers(work)] if left]
    said = [line for line in text.splitlines() if line.startswith("Error:")] if res.returncode else warnings
    note = "; ".join(said)[:160] if not why else "; ".join(why)
    return ("FAIL" if why else "PASS"), note


def _ffmpeg_path(arg: str | None) -> str:
    ffmpeg = arg or os.environ.get("FFMPEG") or shutil.which("ffmpeg")
    if not ffmpeg or not shutil.which(ffmpeg):
        sys.exit("Error: no ffmpeg binary: give its path (FFMPEG=/path/to/ffmpeg or the first argument)")
    return ffmpeg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ffmpeg", nargs="?")
    ap.add_argument("--workdir", help="where the cases are made and kept (default: a temporary folder, removed)")
    ap.add_argument("-k", dest="only", help="only the cases whose name contains this")
    args = ap.parse_args()
    ffmpeg = _ffmpeg_path(args.ffmpeg)
    vfi_args = shlex.split(os.environ.get("VFI_ARGS", ""))
    root = Path(args.workdir or tempfile.mkdtemp(prefix="vfi-ffmpeg-cases-"))
    root.mkdir(parents=True, exist_ok=True)
    _common_files(ffmpeg, root)
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    cases = [c for c in _cases() if not args.only or args.only.lower() in c.name.lower()]
    for n, case in enumerate(cases):
        verdict, note = run_case(case, ffmpeg, root, n, vfi_args)
        counts[verdict] += 1
        print(f"{verdict} {case.name}" + (f": {note}" if note else ""), flush=True)
    print(f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIP']} skipped of {len(cases)} cases")
    if not args.workdir:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if counts["FAIL"] else 0)


if __name__ == "__main__":
    main()
