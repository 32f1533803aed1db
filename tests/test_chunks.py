"""Chunked jobs: planned on source-frame boundaries (scene cuts first), made apart,
joined without re-encoding into the output the one-process job writes."""

from __future__ import annotations

import json
from fractions import Fraction

import av
import pytest

from conftest import audio_packets, make_video, moving_frames, read_frames, vfi
from vfi.chunks import ChunkOptions, make_plan
from vfi.engine import Job, run
from vfi.io.sources import open_source

RATE = Fraction(10)
CUTS = [70, 140]


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """20 s at 10 fps, 160x90, three shots (scene cuts at frames 70 and 140), with sound."""
    shots = [list(moving_frames(70, 90, 160, seed=1)), list(moving_frames(70, 90, 160, seed=2, speed=3)),
             list(moving_frames(60, 90, 160, seed=3))]
    return make_video(tmp_path_factory.mktemp("film") / "film.mp4", [f for s in shots for f in s], RATE, audio=True)


def video_times(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(Fraction(p.pts) * s.time_base for p in c.demux(s) if p.size)  # presentation order


def audio_length(path):
    packets = audio_packets(path)
    return len(packets), packets[-1][1]


def test_the_plan_ends_chunks_at_scene_cuts_and_makes_every_pair_once(film):
    job = Job(input=str(film), output="x.mkv", factor=Fraction(2), method="blend")
    with open_source(str(film)) as source:
        plan = make_plan(job, source, 4.0)
    firsts = [c.first for c in plan.chunks]
    assert set(CUTS) <= set(firsts) and firsts[0] == 0
    assert all(a.end == b.first for a, b in zip(plan.chunks, plan.chunks[1:]))  # the pair across a boundary: the chunk before
    assert plan.chunks[-1].end == 199 and plan.chunks[-1].last
    assert all(float(b.start_time - a.start_time) <= 4.0 for a, b in zip(plan.chunks, plan.chunks[1:]))
    assert sum(c.frames_out for c in plan.chunks) == 400 and plan.cuts == CUTS


def test_chunks_equal_the_one_process_job_frame_for_frame(film, tmp_path):
    one = run(Job(input=str(film), output=str(tmp_path / "one.mkv"), factor=2, method="blend", encode=_ffv1()))
    split = run(Job(input=str(film), output=str(tmp_path / "split.mkv"), factor=2, method="blend", encode=_ffv1(),
                    chunks=ChunkOptions(seconds=3)))
    a, b = read_frames(tmp_path / "one.mkv"), read_frames(tmp_path / "split.mkv")
    assert len(a) == len(b) == 400
    assert all(ta == tb and (fa == fb).all() for (ta, fa), (tb, fb) in zip(a, b))
    assert audio_length(tmp_path / "one.mkv") == audio_length(tmp_path / "split.mkv")
    sidecars = [json.loads((tmp_path / f"{n}.mkv.vfi.json").read_text()) for n in ("one", "split")]
    assert sidecars[0]["frames"] == sidecars[1]["frames"] and split.cuts == one.cuts == CUTS
    assert (split.frames_out, split.synthesised, split.output_rate) == (one.frames_out, one.synthesised, one.output_rate)
    assert not list(tmp_path.glob(".*chunks*")) and not list(tmp_path.glob(".vfi-*"))  # the work folder went with the job


def test_two_workers_equal_one_process(film, tmp_path):
    args = ["--factor", "2", "--method", "blend", "-q"]
    assert vfi("upsample", film, "-o", tmp_path / "one.mkv", "--codec", "ffv1", *args).exit_code == 0
    r = vfi("upsample", film, "-o", tmp_path / "two.mkv", "--codec", "ffv1", "--workers", "2", "--chunk-seconds", "5", *args)
    assert r.exit_code == 0, r.output
    a, b = read_frames(tmp_path / "one.mkv"), read_frames(tmp_path / "two.mkv")
    assert len(a) == len(b) and all(ta == tb and (fa == fb).all() for (ta, fa), (tb, fb) in zip(a, b))
    # the default codec (x264 in MP4): each chunk is its own encode, but the frames, their times and the sound are the same
    assert vfi("upsample", film, "-o", tmp_path / "one.mp4", *args).exit_code == 0
    r = vfi("upsample", film, "-o", tmp_path / "two.mp4", "--workers", "2", "--chunk-seconds", "5", *args)
    assert r.exit_code == 0, r.output
    assert video_times(tmp_path / "one.mp4") == video_times(tmp_path / "two.mp4")
    assert len(video_times(tmp_path / "two.mp4")) == 400
    assert audio_length(tmp_path / "one.mp4") == audio_length(tmp_path / "two.mp4")
    assert [t for t, _ in read_frames(tmp_path / "two.mp4")] == video_times(tmp_path / "one.mp4")  # it decodes whole


def test_the_default_model_in_chunks_makes_the_same_frames(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(20, 36, 64, speed=3, cut_at=9), Fraction(10))
    one = run(Job(input=str(src), output=str(tmp_path / "one.mkv"), factor=2, encode=_ffv1()))
    split = run(Job(input=str(src), output=str(tmp_path / "split.mkv"), factor=2, encode=_ffv1(), chunks=ChunkOptions(seconds=0.5)))
    assert split.method == one.method and split.synthesised == one.synthesised
    a, b = read_frames(tmp_path / "one.mkv"), read_frames(tmp_path / "split.mkv")
    assert len(a) == len(b) == 40 and all(ta == tb and (fa == fb).all() for (ta, fa), (tb, fb) in zip(a, b))


def test_what_chunks_cannot_do_is_a_usage_error(film, tmp_path):
    for extra in (["-o", tmp_path / "x_%04d.png"], ["-o", tmp_path / "x.mkv", "--dedup"], ["-o", tmp_path / "x.mkv", "-t", "2"],
                  ["-o", tmp_path / "x.mkv", "--chunk-seconds", "0"]):
        r = vfi("upsample", film, "--factor", "2", "--method", "blend", "--workers", "1", *extra)
        assert r.exit_code == 2 and "Error:" in r.output and "Traceback" not in r.output, r.output


def _ffv1():
    from vfi.io.encoding import EncodeOptions

    return EncodeOptions(codec="ffv1")


def _cli(*args):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    return subprocess.Popen([sys.executable, "-m", "vfi", *map(str, args)], env=env, stderr=subprocess.PIPE, text=True)


def _terminate_once(job, record) -> str:
    """Sends SIGTERM to ``job`` once the chunk ``record`` is written (or the job ends,
    or two minutes pass); its stderr, after it has exited."""
    import signal
    import time

    deadline = time.monotonic() + 120
    while not record.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    job.send_signal(signal.SIGTERM)
    return job.communicate(timeout=60)[1]


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_sigterm_then_resume_makes_only_the_remaining_chunks(film, tmp_path, workers):
    import signal

    out = tmp_path / "out.mkv"
    args = ["upsample", film, "-o", out, "--factor", "2", "--method", "blend", "--codec", "ffv1", "--chunk-seconds", "1",
            "--workers", workers]
    folder = tmp_path / ".out.mkv.vfi-chunks"
    job = _cli(*args, "--resume")
    err = _terminate_once(job, folder / "chunk-0002.json")
    assert job.returncode == 128 + signal.SIGTERM, err
    assert "chunks are finished" in err and "Traceback" not in err and not out.exists()
    kept = sorted(p.stem for p in folder.glob("chunk-*.json"))
    assert len(kept) >= 2 and not list(folder.glob(".*.part"))  # finished chunks stay, the partial one went
    job = _cli(*args, "--resume")
    _, err = job.communicate(timeout=300)
    assert job.returncode == 0, err
    made = [line.split(" ")[0] for line in err.splitlines() if line.endswith(": made")]
    assert sorted(line.split(" ")[0] for line in err.splitlines() if line.endswith(": kept")) == kept
    assert made and not set(made) & set(kept) and len(made) + len(kept) == 20  # 1 s chunks of a 20 s film
    assert not folder.exists()
    whole = tmp_path / "whole.mkv"
    assert vfi(*args[:3], whole, *args[4:-2], "-q").exit_code == 0
    a, b = read_frames(whole), read_frames(out)
    assert len(a) == len(b) == 400 and all(ta == tb and (fa == fb).all() for (ta, fa), (tb, fb) in zip(a, b))


def test_without_resume_a_stopped_job_leaves_no_chunks(film, tmp_path):
    import signal

    out = tmp_path / "out.mkv"
    folder = tmp_path / ".out.mkv.vfi-chunks"
    job = _cli("upsample", film, "-o", out, "--factor", "2", "--method", "blend", "--chunk-seconds", "1")
    err = _terminate_once(job, folder / "chunk-0001.json")
    assert job.returncode == 128 + signal.SIGTERM, err
    assert not folder.exists() and not out.exists() and not list(tmp_path.glob(".vfi-*"))


def test_one_progress_across_chunks_and_workers(tmp_path):
    from vfi.engine import Observer

    class Record(Observer):
        def __init__(self):
            self.total, self.indices, self.notes = None, [], []

        def start(self, total, info):
            self.total = total

        def frame(self, index, kind, rgb, a, b, t):
            self.indices.append(index)

        def note(self, line):
            self.notes.append(line)

    src = make_video(tmp_path / "in.mp4", moving_frames(30, 36, 64), Fraction(10))
    seen = Record()
    run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=2, method="blend", chunks=ChunkOptions(seconds=1, workers=2)), [seen])
    assert seen.total == 60 and seen.indices == list(range(60))  # every frame once, as one job
    assert sorted(n.split(" ")[0] for n in seen.notes if n.endswith(": made")) == [f"chunk-{i:04d}" for i in range(1, 4)]


def test_a_chunk_is_kept_only_whole_and_made_with_the_same_settings(tmp_path):
    from dataclasses import replace

    from vfi.chunks import finished, make_chunk, settings_hash
    from vfi.engine import checked_job

    src = make_video(tmp_path / "in.mp4", moving_frames(20, 36, 64), Fraction(10))
    job = checked_job(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=2, method="blend", chunks=ChunkOptions(seconds=1)))
    with open_source(str(src)) as source:
        chunk = make_plan(job, source, 1).chunks[0]
    record = make_chunk(job, Fraction(0), chunk, str(tmp_path), settings_hash(job, chunk))
    assert finished(tmp_path, chunk, settings_hash(job, chunk)) == record
    assert finished(tmp_path, chunk, settings_hash(replace(job, method="dup"), chunk)) is None
    assert finished(tmp_path, chunk, settings_hash(replace(job, chunks=ChunkOptions(seconds=1, workers=3)), chunk)) == record
    packets = tmp_path / f"{chunk.name}.packets"
    packets.write_bytes(packets.read_bytes()[:-10])  # cut short, as by a power cut
    assert finished(tmp_path, chunk, settings_hash(job, chunk)) is None


@pytest.mark.parametrize("mode, said", [("auto", "deinterlaced with bwdif"), ("off", "as if progressive")])
def test_chunks_follow_deinterlace_as_the_one_process_job_does(tmp_path, mode, said):
    from test_io_filters import interlaced_clip

    src = interlaced_clip(tmp_path / "tff.mkv")
    run(Job(input=str(src), output=str(tmp_path / "whole.mkv"), factor=2, method="blend", encode=_ffv1(),
            deinterlace=mode))
    split = run(Job(input=str(src), output=str(tmp_path / "split.mkv"), factor=2, method="blend", encode=_ffv1(),
                    deinterlace=mode, chunks=ChunkOptions(seconds=0.2)))
    assert [w for w in split.warnings if said in w], split.warnings
    a, b = read_frames(tmp_path / "whole.mkv"), read_frames(tmp_path / "split.mkv")
    assert len(a) == len(b) == 24 and all(ta == tb and (fa == fb).all() for (ta, fa), (tb, fb) in zip(a, b))
