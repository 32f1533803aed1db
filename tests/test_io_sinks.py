"""Sinks: video files, image sequences, stdout; every one all-or-nothing where it can be."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from fractions import Fraction

import av
import numpy as np

from conftest import make_video, moving_frames, read_frames, vfi


def test_one_image_name_as_output_says_how_to_get_images(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(4, 32, 48), Fraction(24))
    res = vfi("upsample", src, "-o", tmp_path / "shot.png", "--factor", "2")
    assert res.exit_code == 2 and "shot_%06d.png" in res.output and not (tmp_path / "shot.png").exists()


def test_png_sequence_out_keeps_source_frames_bit_for_bit(tmp_path):
    frames = list(moving_frames(8, 32, 48))
    src = make_video(tmp_path / "in.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="bgr0")  # lossless RGB
    res = vfi("upsample", src, "-o", f"{tmp_path}/out/%05d.png", "--factor", "2", "--method", "blend")
    assert res.exit_code == 0, res.output
    pngs = sorted((tmp_path / "out").glob("*.png"))
    assert [p.name for p in pngs[:2]] == ["00001.png", "00002.png"] and len(pngs) == 16
    source = [f for _, f in read_frames(src, "rgb24")]
    for k in range(8):
        with av.open(str(pngs[2 * k])) as c:
            assert np.array_equal(next(c.decode(video=0)).to_ndarray(format="rgb24"), source[k]), k
    kinds = json.loads((tmp_path / "out" / "vfi.json").read_text())["frames"]
    assert kinds.startswith("SISI")


def test_16_bit_png_out_scales_synthesised_frames_as_the_source(tmp_path):
    import cv2

    ramp = np.linspace(0, 65535, 48 * 32 * 3).round().astype(np.uint16).reshape(32, 48, 3)  # every level, dark to white
    (tmp_path / "in").mkdir()
    for i in range(4):
        cv2.imwrite(str(tmp_path / "in" / f"{i:03d}.png"), ramp)
    res = vfi("upsample", tmp_path / "in", "-o", f"{tmp_path}/out/%03d.png", "--factor", "2", "--method", "blend", "--input-fps", "24")
    assert res.exit_code == 0, res.output
    source = cv2.imread(str(tmp_path / "out" / "001.png"), cv2.IMREAD_UNCHANGED)
    made = cv2.imread(str(tmp_path / "out" / "002.png"), cv2.IMREAD_UNCHANGED)  # the blend of two equal frames
    assert source.dtype == made.dtype == np.uint16 and np.array_equal(source, ramp)
    # made at the source's precision: the same 16-bit samples (they were 8-bit steps, and
    # 255 became 65280 rather than 65535: up to 255 off at white)
    assert np.array_equal(made, source)


def test_image_folder_out_is_atomic_and_refuses_to_clobber(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(600, 90, 160, speed=1), Fraction(24))
    out = tmp_path / "frames"
    proc = subprocess.Popen([sys.executable, "-m", "vfi.cli", "upsample", str(src), "-o", f"{out}/", "--factor", "4", "--method", "mci"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".vfi-") and p.is_dir() and any(p.iterdir()) for p in tmp_path.iterdir()):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".vfi-")]
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    res = vfi("upsample", src, "-o", f"{out}/", "--factor", "2", "--method", "blend", "--overwrite", "-t", "0.5")
    assert res.exit_code == 2 and "other things" in res.output
    assert (out / "mine.txt").read_text() == "keep me"


def test_stdout_carries_only_video(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(12, 32, 48), Fraction(24), audio=True)
    for fmt, codec in (("nut", "rawvideo"), ("y4m", "rawvideo"), ("matroska", "ffv1"), ("mpegts", "h264")):
        res = subprocess.run([sys.executable, "-m", "vfi.cli", "upsample", str(src), "-o", "-", "--factor", "2", "--method", "blend",
                              "--format", fmt], capture_output=True, timeout=120)
        assert res.returncode == 0, res.stderr.decode()
        assert b"upsample" in res.stderr  # the summary went to stderr
        with av.open(io.BytesIO(res.stdout)) as c:
            v = c.streams.video[0]
            assert v.codec_context.name == codec, fmt
            assert sum(1 for _ in c.decode(v)) == 24, fmt
            assert v.average_rate == 48, fmt  # YUV4MPEG's header says the rate (it once said 1/time base)
            if fmt in ("nut", "matroska", "mpegts"):
                assert len(c.streams.audio) == 1, fmt  # the sound goes along


def test_stdout_and_json_summary_do_not_mix(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(6, 32, 48), Fraction(24))
    res = vfi("upsample", src, "-o", "-", "--factor", "2", "--method", "blend", "--json")
    assert res.exit_code == 2 and "--json" in res.output
    ok = vfi("upsample", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend", "--json", "-q")
    assert ok.exit_code == 0 and json.loads(ok.output)["frames_out"] == 12


def _film(tmp_path):
    """5 s of H.264 with a French AAC track, English SRT subtitles, a title and a creation time."""
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nHello\n\n2\n00:00:03,000 --> 00:00:04,500\nWorld\n\n")
    path = tmp_path / "film.mkv"
    with av.open(str(srt)) as subs, av.open(str(path), "w") as out:
        out.metadata["title"] = "A test film"
        out.metadata["creation_time"] = "2024-05-01T10:00:00.000000Z"
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
        a = out.add_stream("aac", rate=48000)
        a.codec_context.layout = "stereo"
        a.metadata["language"] = "fre"
        s = out.add_stream_from_template(subs.streams.subtitles[0])
        s.metadata["language"] = "eng"
        for i, img in enumerate(moving_frames(120, 48, 64)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 24)
            out.mux(vs.encode(f))
        out.mux(vs.encode(None))
        for k in range(0, 48000 * 5, 1024):
            af = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, k
            out.mux(a.encode(af))
        out.mux(a.encode(None))
        for p in subs.demux(subs.streams.subtitles[0]):
            if p.size:
                p.stream = s
                out.mux(p)
    return path


def test_everything_the_file_carries_comes_out(tmp_path):
    src = _film(tmp_path)
    res = vfi("upsample", src, "-o", tmp_path / "o.mkv", "--factor", "2", "--method", "blend")
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert c.metadata["title"] == "A test film" and c.metadata["creation_time"].startswith("2024-05-01")
        (audio,), (subs,) = c.streams.audio, c.streams.subtitles
        assert audio.metadata["language"] == "fre" and subs.metadata["language"] == "eng"
        assert [bytes(p) for p in c.demux(subs) if p.size] == [b"Hello", b"World"]
    # MP4 cannot hold SRT: converted to mov_text, its text, times and language kept
    res = vfi("upsample", src, "-o", tmp_path / "o.mp4", "--factor", "2", "--method", "blend")
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    assert json.loads((tmp_path / "o.mp4.vfi.json").read_text())["warnings"] == []
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert c.metadata["title"] == "A test film" and c.streams.audio[0].metadata["language"] == "fre"
        (subs,) = c.streams.subtitles
        assert subs.codec_context.name == "mov_text" and subs.metadata["language"] == "eng"
        cues = [(float(p.pts * p.time_base), bytes(p)[2:]) for p in c.demux(subs) if p.size > 2]  # 16-bit length, text
    assert cues == [(0.5, b"Hello"), (3.0, b"World")], cues
    # WebM holds neither AAC nor SRT: Opus and WebVTT, as ffmpeg makes them, languages kept
    res = vfi("upsample", src, "-o", tmp_path / "o.webm", "--factor", "2", "--method", "blend", "--crf", "50")
    assert res.exit_code == 0 and "re-encoded as libopus" in res.output and "subtitle" not in res.output, res.output
    with av.open(str(tmp_path / "o.webm")) as c:
        (audio,), (subs,) = c.streams.audio, c.streams.subtitles
        assert audio.codec_context.name == "opus" and audio.metadata["language"] == "fre"
        assert subs.codec_context.name == "webvtt" and subs.metadata["language"] == "eng"
        assert [(float(p.pts * p.time_base), bytes(p)) for p in c.demux(subs) if p.size] == [(0.5, b"Hello"), (3.0, b"World")]
    # AVI cannot hold subtitles at all: said, in a warning line and in the sidecar
    res = vfi("upsample", src, "-o", tmp_path / "o.avi", "--factor", "2", "--method", "blend", "--audio", "none")
    assert res.exit_code == 0 and "warning" in res.output and "subtitle" in res.output, res.output
    assert any("subtitle" in w for w in json.loads((tmp_path / "o.avi.vfi.json").read_text())["warnings"])


def test_hdr10_metadata_is_kept(tmp_path):
    from vfi.io.reading import hdr10_metadata

    src = tmp_path / "hdr.mkv"
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx265", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p10le"
        cc = s.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace = 9, 16, 9  # BT.2020, PQ
        cc.options = {"x265-params": "log-level=error:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)"
                                     "WP(15635,16450)L(10000000,1):max-cll=1000,400"}
        for i in range(6):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24").reformat(format="yuv420p10le")
            f.pts, f.time_base = i, Fraction(1, 24)
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    res = vfi("upsample", src, "-o", tmp_path / "o.mkv", "--factor", "2", "--method", "blend", "-q")
    assert res.exit_code == 0, res.output
    with av.open(str(src)) as a, av.open(str(tmp_path / "o.mkv")) as b:
        want = hdr10_metadata(next(a.decode(video=0)))
        got_stream = b.streams.video[0].codec_context
        got = [hdr10_metadata(f) for f in b.decode(video=0)]
    assert want["max_cll"] == 1000 and want["luminance"]["max"] == 1000
    assert got[0] == want and got[-1] == want  # on the frames, as ffprobe's frame side data shows
    assert got_stream.color_primaries == 9 and got_stream.color_trc == 16
