"""Fuzzing the command line: for every subcommand, at least 40 generated bad inputs and
option values (seeded, so a failure reproduces), each of which must give exit code 1
(the job failed) or 2 (usage), exactly one ``Error:`` line, no traceback, no file left
beside the output, the inputs unchanged, and an end within a time limit."""

from __future__ import annotations

import hashlib
import random
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from conftest import make_alpha_video, make_video, moving_frames
from vfi.cli import main

SUBCOMMANDS = ("upsample", "slowmo", "blur-report", "eval", "prep", "train", "models")
CASES_PER_COMMAND = 44
TIME_LIMIT = 30.0  # seconds per case; most fail in well under one


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    """Files a careless or unlucky user might hand to vfi, made here."""
    d = tmp_path_factory.mktemp("inputs")
    good = make_video(d / "good.mp4", moving_frames(12, 32, 48), Fraction(24))
    files = {"good": good}
    files["missing"] = d / "missing.mp4"
    files["folder"] = d / "a_folder"
    files["folder"].mkdir()
    files["empty"] = d / "empty.mp4"
    files["empty"].write_bytes(b"")
    files["text"] = d / "notes.mp4"
    files["text"].write_text("not a video\n" * 40)
    rng = np.random.default_rng(7)
    files["noise"] = d / "noise.mkv"
    files["noise"].write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    data = good.read_bytes()
    files["truncated"] = d / "truncated.mp4"
    files["truncated"].write_bytes(data[: len(data) // 3])
    files["header_only"] = d / "header.y4m"
    files["header_only"].write_bytes(b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 C420jpeg\n")
    files["huge_y4m"] = d / "huge.y4m"
    files["huge_y4m"].write_bytes(b"YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\nxyz")
    flipped = bytearray(data)
    for i in rng.choice(np.arange(len(data) // 3, 2 * len(data) // 3), 120, replace=False):
        flipped[i] ^= 0xFF
    files["flipped"] = d / "flipped.mp4"
    files["flipped"].write_bytes(bytes(flipped))
    audio = d / "sound.m4a"
    with av.open(str(audio), "w") as c:
        s = c.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        c.mux(s.encode(frame))
        c.mux(s.encode(None))
    files["audio_only"] = audio
    files["two_frames"] = make_video(d / "two.mp4", moving_frames(2, 32, 48), Fraction(24))
    files["bad_weights"] = d / "w.safetensors"
    files["bad_weights"].write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    files["text_weights"] = d / "t.safetensors"
    files["text_weights"].write_text("hello")
    files["not_dataset"] = d / "not_a_dataset"
    files["not_dataset"].mkdir()
    return files


BAD_VIDEO_INPUTS = ("missing", "folder", "empty", "text", "noise", "truncated", "header_only", "huge_y4m", "flipped", "audio_only")
BAD_RATES = ("0", "-1", "nan", "inf", "1e400", "abc", "1/0", "2/-1", "5000", "1e9", "", "0.5", "1")
BAD_OPTIONS = [
    ["--method", "bogus"], ["--model", "no-such-model"], ["--depth", "0"], ["--depth", "99"], ["--scene-threshold", "2"],
    ["--scene-threshold", "-1"], ["--device", "tpu"], ["--tile", "-3"], ["--precision", "int4"], ["--batch-size", "0"],
    ["--streams", "0"], ["--codec", "mpeg2"], ["--crf", "99"], ["--pix-fmt", "nope"], ["--preset", "bogus"],
    ["--method", "blend", "--model", "sparse-cnn"], ["--method", "blend", "--weights", "{bad_weights}"],
    ["--weights", "{bad_weights}"], ["--weights", "{text_weights}"], ["--weights", "{missing}"], ["--audio", "loud"],
]
BAD_OUTPUTS = ["{dir}/o.gif", "{dir}/o.mp3", "{dir}/o", "{dir}/no_folder/o.mp4", "{dir}/%d%d.png", "{good}",
               "{dir}/%06d.xyz", "{dir}/%06d/x.png", "{dir}/no/folder/%04d.png"]


def _fill(args, files, out_dir):
    names = {k: str(v) for k, v in files.items()}
    names["dir"] = str(out_dir)
    return [a.format(**names) for a in args]


def _video_job_cases(rng: random.Random, command: str) -> list[list[str]]:
    """Bad inputs, bad rates, bad options and bad outputs for upsample or slowmo."""
    rate_opts = ["--factor", "2"] if command == "slowmo" else ["--factor", "2"]
    cases = []
    for name in BAD_VIDEO_INPUTS:
        cases.append([command, "{" + name + "}", "-o", "{dir}/o.mp4", *rate_opts, "--method", rng.choice(["blend", "dup", "mci"])])
    for r in BAD_RATES:
        flag = rng.choice(["--fps", "--factor"]) if command == "upsample" else "--factor"
        cases.append([command, "{good}", "-o", "{dir}/o.mp4", flag, r, "--method", "blend"])
    for opts in BAD_OPTIONS:
        cases.append([command, "{good}", "-o", "{dir}/o.mp4", *rate_opts, *opts])
    for out in BAD_OUTPUTS:
        cases.append([command, "{good}", "-o", out, *rate_opts, "--method", "blend"])
    cases.append([command, "{good}", "-o", "{dir}/o.mp4", "--method", "blend"])  # no rate
    both = ["--fps", "48", "--factor", "2"] if command == "upsample" else ["--factor", "1.5"]  # slowmo takes both
    cases.append([command, "{good}", "-o", "{dir}/o.mp4", *both, "--method", "blend"])
    cases.append([command, "{good}", "-o", "{dir}/o.mp4", *rate_opts, "--blur-report", "{good}", "--method", "blend"])
    cases.append([command, "{good}", "-o", "{dir}/o.mp4", *rate_opts, "--blur-report", "{dir}/o.mp4", "--method", "blend"])
    cases.append([command, "{good}", "{good}", "-o", "{dir}/o.mp4", *rate_opts])  # two inputs
    return cases


def _cases(command: str) -> list[list[str]]:
    rng = random.Random(f"vfi-fuzz-{command}")
    if command in ("upsample", "slowmo"):
        cases = _video_job_cases(rng, command)
    elif command == "blur-report":
        cases = [["blur-report", "{" + n + "}"] for n in BAD_VIDEO_INPUTS]
        cases += [["blur-report", "{good}", "--reference", "{" + n + "}"] for n in BAD_VIDEO_INPUTS]
        cases += [["blur-report", "{good}", opt, "{good}"] for opt in ("--csv", "--json", "--plot", "--local")]
        cases += [["blur-report", "{good}", "--local", "{dir}/l.png", "--tiles", t] for t in ("0x0", "1000x1000", "axb", "8", "-2x3", "13x900")]
        cases += [["blur-report", "{good}", "--local", "{dir}/l.png", "--frames", f] for f in ("x", "1,,z", "999", "-5")]
        cases += [["blur-report", "{good}", "--csv", "{dir}/no_folder/r.csv"], ["blur-report", "{good}", "--csv", "{dir}"],
                  ["blur-report", "{good}", "--csv", "{dir}/r", "--json", "{dir}/r"], ["blur-report"],
                  ["blur-report", "{good}", "--bogus"], ["blur-report", "{good}", "--reference", "{two_frames}"]]
        cases += [["blur-report", "{" + n + "}", "--csv", "{dir}/r.csv"] for n in BAD_VIDEO_INPUTS]
    elif command == "eval":
        cases = [["eval", "{" + n + "}", "--methods", "blend"] for n in BAD_VIDEO_INPUTS]
        cases += [["eval", "{good}", "--methods", m] for m in ("bogus", "blend,nope", ",", "sparse-cnn")]
        cases += [["eval", "{good}", "--model", "nope"], ["eval", "{good}", "--weights", "{bad_weights}"],
                  ["eval", "{good}", "--model", "sparse-cnn", "--weights", "{text_weights}"], ["eval"],
                  ["eval", "{two_frames}", "--methods", "blend"], ["eval", "{good}", "--every", "0"],
                  ["eval", "{good}", "--max-triplets", "-1"], ["eval", "{good}", "--scene-threshold", "5"],
                  ["eval", "{good}", "--json", "{good}"], ["eval", "{good}", "--markdown", "{dir}/no/x.md"],
                  ["eval", "{good}", "--sheet", "{dir}"], ["eval", "--dataset", "{not_dataset}", "--model", "sparse-cnn", "--weights", "{bad_weights}"],
                  ["eval", "--dataset", "{missing}"], ["eval", "--dataset", "{not_dataset}"], ["eval", "{good}", "--device", "tpu", "--model", "sparse-cnn"]]
        cases += [["eval", "{" + n + "}", "{good}", "--methods", rng.choice(["blend", "dup"]), "--json", "{dir}/r.json"] for n in BAD_VIDEO_INPUTS]
        cases += [["eval", "{good}", "--json", "{dir}/r.json", "--markdown", "{dir}/r.json"], ["eval", "{good}", "--bogus"],
                  ["eval", "{good}", "--sheet", "{good}"], ["eval", "{good}", "--max-triplets", "abc"]]
    elif command == "prep":
        cases = [["prep", "{" + n + "}", "-o", "{dir}/ds"] for n in BAD_VIDEO_INPUTS]
        cases += [["prep", "{good}", "-o", "{dir}/ds", *o] for o in (
            ["--preset", "paper003"], ["--stride", "0"], ["--stride", "1000"], ["--val", "0"], ["--val", "1.5"], ["--scale", "0"],
            ["--scale", "2"], ["--size", "2x2"], ["--size", "axb"], ["--max-frames", "1"], ["--spans", "1"], ["--spans", "x"],
            ["--spans", "99"], ["--every", "0"], ["--max-width", "3"], ["--preset", "paper002", "--scale", "0.5"], ["--split", "halves"],
            ["--seed", "x"], ["--bogus"])]
        cases += [["prep", "{good}"], ["prep", "-o", "{dir}/ds"], ["prep", "{good}", "-o", "{good}"], ["prep", "{good}", "-o", "{not_dataset}"],
                  ["prep", "--info", "{not_dataset}"], ["prep", "--info", "{missing}"], ["prep", "{two_frames}", "-o", "{dir}/ds"],
                  ["prep", "{good}", "-o", "{dir}/no/ds"] if False else ["prep", "http://127.0.0.1:9/none.mp4", "-o", "{dir}/ds"],
                  ["prep", "ftp://127.0.0.1:9/x.mp4", "-o", "{dir}/ds"], ["prep", "{folder}", "-o", "{dir}/ds"]]
        cases += [["prep", "{" + n + "}", "{missing}", "-o", "{dir}/ds", "--preset", rng.choice(["paper000", "paper002", "flow"])]
                  for n in BAD_VIDEO_INPUTS[:6]]
    elif command == "train":
        cases = [["train", "--data", "{" + n + "}", "-o", "{dir}/run"] for n in ("missing", "not_dataset", "good", "folder")]
        cases += [["train", "--data", "{not_dataset}", "-o", "{dir}/run", *o] for o in (
            ["--model", "nope"], ["--loss", "nope"], ["--epochs", "0"], ["--batch-size", "0"], ["--lr", "x"], ["--crop", "2"],
            ["--context", "-1"], ["--schedule", "linear"], ["--init", "zeros"], ["--max-train", "0"], ["--max-val", "0"],
            ["--device", "tpu"], ["--from-weights", "{missing}"], ["--val-data", "{missing}"], ["--seed", "x"], ["--bogus"],
            ["--amp", "--no-amp", "--resume"], ["--blur-weight", "x"])]
        cases += [["train"], ["train", "--data"], ["train", "--data", "{not_dataset}", "-o", "{good}"]]
        cases += [["train", "--data", "{not_dataset}", "-o", "{dir}/run", "--lr", v] for v in ("nan", "-1", "0", "inf", "1e999")]
        cases += [["train", "--data", "{not_dataset}", "-o", "{dir}/run", "--blur-weight", v] for v in ("nan", "-1", "inf")]
        cases += [["train", "--data", "{not_dataset}", "-o", "{dir}/run", "--model", m] for m in ("sparse-cnn", "flow-fusion", "conv-ae", "forward-ae")]
        cases += [["train", "--data", "{" + n + "}", "-o", "{dir}/run", "--resume"] for n in ("missing", "not_dataset", "folder")]
        cases += [["train", "--data", "{not_dataset}", "-o", "{dir}/run", "--from-weights", "{" + w + "}"] for w in ("bad_weights", "text_weights")]
        cases += [["train", "--data", "{not_dataset}", "-o", "{dir}/run", "--val-data", "{not_dataset}"]]
    else:  # models: takes no arguments but --json
        cases = [["models", *o] for o in (["--bogus"], ["extra"], ["--json", "x"], ["-x"])]
        words = ["--fps", "2", "{good}", "-o", "--json", "--all", "x", "--model", "sparse-cnn", "-h2", "--", "~"]
        while len(cases) < CASES_PER_COMMAND:
            n = rng.randint(1, 4)
            extra = [rng.choice(words) for _ in range(n)]
            if all(w in ("--json", "--") for w in extra):
                continue  # a valid call
            cases.append(["models", *extra])
    # Pad every command to the same count with random mixes of its own bad options.
    while len(cases) < CASES_PER_COMMAND:
        base = rng.choice(cases)
        cases.append(base + rng.choice([["--bogus-flag"], ["--quiet", "--nonsense"], ["extra-arg-" + str(rng.randint(0, 99))]]))
    return cases


def _snapshot(files) -> dict[str, str]:
    out = {}
    for k, p in files.items():
        p = Path(p)
        if p.is_file():
            out[k] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[k] = "dir:" + ",".join(sorted(x.name for x in p.iterdir()))
        else:
            out[k] = "absent"
    return out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_bad_inputs_and_options_fail_cleanly(command, bad_inputs, tmp_path):
    cases = _cases(command)
    assert len(cases) >= 40
    before = _snapshot(bad_inputs)
    runner = CliRunner()
    for i, case in enumerate(cases):
        out_dir = tmp_path / f"case{i:02d}"
        out_dir.mkdir()
        args = _fill(case, bad_inputs, out_dir)
        t0 = time.time()
        res = runner.invoke(main, args)
        took = time.time() - t0
        where = f"case {i}: vfi {' '.join(args)}\n{res.output}"
        assert res.exit_code in (1, 2), where
        assert took < TIME_LIMIT, where
        assert "Traceback" not in res.output, where
        lines = res.output.strip().splitlines()
        assert sum(line.startswith("Error:") for line in lines) == 1, where
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            pytest.fail(f"{where}\nexception escaped: {res.exception!r}")
        assert list(out_dir.iterdir()) == [], f"{where}\nleft behind: {[p.name for p in out_dir.iterdir()]}"
        assert _snapshot(bad_inputs) == before, where


# Real files vfi must take whatever they carry: each input kind into each container.
OUTPUT_CONTAINERS = ("mp4", "mov", "mkv", "webm", "avi", "nut", "ts")


@pytest.fixture(scope="module")
def stream_kinds(tmp_path_factory):
    """One input per kind of stream or clock that broke a job once, made here."""
    from test_io_streams import remux, with_extras, with_skeleton, with_sound

    d = tmp_path_factory.mktemp("kinds")
    clip = make_video(d / "clip.mp4", moving_frames(24, 64, 96), Fraction(24), audio=True)
    ogv = make_video(d / "vp8.ogv", moving_frames(24, 64, 96), Fraction(24), codec="libvpx", options={"b": "500k"})
    ntsc = make_video(d / "ntsc.mp4", moving_frames(24, 64, 96), Fraction(30000, 1001), audio=True)
    part = remux(clip, d / "part.ts").read_bytes()
    (d / "joined.ts").write_bytes(part + part)
    return {
        "edit list": remux(clip, d / "cut.mp4", start=Fraction(1, 4), end=Fraction(3, 4)),
        "late ts": remux(clip, d / "late.ts", shift=Fraction(3600)), "joined ts": d / "joined.ts",
        "font": with_extras(clip, d / "font.mkv", font=True), "timecode": with_extras(clip, d / "tc.mov", timecode="01:00:00:00"),
        "mp4 chapters": with_extras(clip, d / "chapters.mp4", chapters=True), "skeleton": with_skeleton(ogv, d / "skeleton.ogv"),
        "ac3 5.1(side)": with_sound(d / "side.mkv", "ac3", "5.1(side)"), "pcm u8": with_sound(d / "u8.avi", "pcm_u8", rate=22050),
        "pcm s16": with_sound(d / "pcm.mkv", "pcm_s16le"), "wma": with_sound(d / "wma.asf", "wmav2", rate=44100),
        "mpeg-ps at 0.5 s": remux(make_video(d / "m2v.mkv", moving_frames(24, 64, 96), Fraction(24), codec="mpeg2video"),
                                  d / "ps.mpg", fmt="mpeg", shift=Fraction(1, 2)),
        "drop-frame timecode": with_extras(ntsc, d / "df.mkv", timecode="00:59:59;29"),
        "yuva444p16le": make_alpha_video(d / "yuva.mkv", "ffv1", "yuva444p16le", n=24, h=64, w=96),
        "prores 4444": make_alpha_video(d / "alpha.mov", "prores_ks", "yuva444p10le", n=24, h=64, w=96),
    }


@pytest.mark.parametrize("ext", OUTPUT_CONTAINERS)
def test_every_stream_kind_into_every_container(stream_kinds, tmp_path, ext):
    """Each kind works into each container: the video whole and from 0, the sound kept,
    every warning line also in the sidecar, nothing left behind."""
    import json

    for kind, src in stream_kinds.items():
        out = tmp_path / f"{kind.replace(' ', '_')}.{ext}"
        res = CliRunner().invoke(main, ["upsample", str(src), "-o", str(out), "--factor", "2", "--method", "blend", "--crf", "50"])
        where = f"{kind} -> .{ext}:\n{res.output}"
        assert res.exit_code == 0 and "Traceback" not in res.output, where
        said = [line.removeprefix("warning: ") for line in res.output.splitlines() if line.startswith("warning")]
        assert said == json.loads(out.with_name(out.name + ".vfi.json").read_text())["warnings"], where
        with av.open(str(src)) as a, av.open(str(out)) as b:
            v = b.streams.video[0]
            frames = [f.time for f in b.decode(v)]
            assert frames[0] < 0.1 and len(frames) >= 20 and b.duration / av.time_base < 5, where  # from 0, not an hour
            assert len(b.streams.audio) == len(a.streams.audio), where
    assert not [p.name for p in tmp_path.iterdir() if ".part" in p.name or p.name.startswith(".vfi")]


TRIMS_AND_RATES = (["upsample", "--fps", "300"], ["slowmo", "--factor", "2", "--start", "0.1"],
                   ["slowmo", "--factor", "3", "--audio", "stretch", "--method", "dup", "-ss", "0.2"])


@pytest.mark.parametrize("opts", TRIMS_AND_RATES, ids=lambda o: " ".join(o))
def test_alpha_and_timecode_with_trims_and_rates_into_every_output(stream_kinds, tmp_path, opts):
    """Alpha and timecode sources with a trim, slow motion or a rate above MOV's
    timecode limit into every container and image format: each works, and every warning
    is also in the sidecar."""
    import json

    for kind in ("timecode", "drop-frame timecode", "yuva444p16le", "prores 4444"):
        for ext in (*OUTPUT_CONTAINERS, "png", "tif"):
            out = tmp_path / kind.replace(" ", "_") / (f"%04d.{ext}" if ext in ("png", "tif") else f"o.{ext}")
            out.parent.mkdir(exist_ok=True)
            args = [opts[0], str(stream_kinds[kind]), "-o", str(out), *opts[1:], "--crf", "50"]
            res = CliRunner().invoke(main, args + ([] if "--method" in opts else ["--method", "blend"]))
            where = f"{kind} -> {ext}, {' '.join(opts)}:\n{res.output}"
            assert res.exit_code == 0 and "Traceback" not in res.output, where
            said = [line.removeprefix("warning: ") for line in res.output.splitlines() if line.startswith("warning")]
            sidecar = out.parent / "vfi.json" if ext in ("png", "tif") else out.with_name(out.name + ".vfi.json")
            assert said == json.loads(sidecar.read_text())["warnings"], where
            for p in out.parent.iterdir():
                p.unlink()
