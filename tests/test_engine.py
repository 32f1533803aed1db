"""End-to-end runs of the engine on generated videos: counts, timestamps, pass-through,
audio, scene cuts, sizes, VFR, colour metadata."""

import json
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import audio_packets, make_video, moving_frames, read_frames, texture
from vfi.engine import Job, run
from vfi.errors import InputError, UsageError
from vfi.io.encoding import EncodeOptions
from vfi.io.target import sidecar_path

LOSSLESS = EncodeOptions(codec="ffv1")
MKV_TICK = Fraction(1, 2000)  # Matroska stores milliseconds: stamps are exact to half of one


def job(src, out, **kw):
    kw.setdefault("method", "blend")
    kw.setdefault("encode", LOSSLESS)
    return Job(input=str(src), output=str(out), **kw)


def test_double_rate_passes_source_frames_bit_for_bit(tmp_path):
    src = make_video(tmp_path / "in.mkv", moving_frames(20, 48, 64), Fraction(24), codec="ffv1")
    res = run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))
    a, b = read_frames(src), read_frames(tmp_path / "out.mkv")
    assert len(b) == 2 * len(a) == res.frames_out
    for i, (t, img) in enumerate(a):
        assert b[2 * i][0] == t
        assert np.array_equal(b[2 * i][1], img), f"source frame {i} changed"
    assert all(abs(t - Fraction(k, 48)) <= MKV_TICK for k, (t, _) in enumerate(b))
    # inserted frames are real blends, not copies
    mid = b[1][1].astype(int)
    assert not np.array_equal(mid, a[0][1]) and not np.array_equal(mid, a[1][1])
    assert sidecar_path(tmp_path / "out.mkv").exists()


def test_24_to_60(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(24, 48, 64), Fraction(24))
    res = run(job(src, tmp_path / "out.mkv", fps=Fraction(60)))
    b = read_frames(tmp_path / "out.mkv")
    assert len(b) == 60 == res.frames_out
    assert all(abs(t - Fraction(k, 60)) <= MKV_TICK for k, (t, _) in enumerate(b))
    a = read_frames(src)
    for j in range(0, 24, 2):
        assert np.array_equal(b[j * 5 // 2][1], a[j][1])


def test_ntsc_23976_to_5994(tmp_path):
    rate = Fraction(24000, 1001)
    src = make_video(tmp_path / "in.mp4", moving_frames(30, 48, 64), rate)
    run(job(src, tmp_path / "out.mkv", fps=Fraction(60000, 1001)))
    b = read_frames(tmp_path / "out.mkv")
    assert len(b) == 75
    # MKV stores milliseconds: each stamp within half a millisecond of k*1001/60000
    for k, (t, _) in enumerate(b):
        assert abs(t - Fraction(k * 1001, 60000)) <= MKV_TICK


def test_audio_copied_unchanged_and_duration_kept(clip, tmp_path):
    out = tmp_path / "out.mp4"
    res = run(job(clip, out, factor=Fraction(2), encode=EncodeOptions()))
    before, after = audio_packets(clip), audio_packets(out)
    assert len(before) > 10
    assert [p for p, _ in before] == [p for p, _ in after]
    assert [t for _, t in before] == [t for _, t in after]
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert abs(float(v.duration * v.time_base) - 2.0) <= 1 / 48
        assert v.frames == 96
    assert res.duration_out == pytest.approx(2.0)


def test_slowmo_counts_and_audio(clip, tmp_path):
    out = tmp_path / "slow.mp4"
    run(job(clip, out, mode="slowmo", factor=Fraction(4), audio="stretch", encode=EncodeOptions()))
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.frames == 4 * 48
        assert v.average_rate == 24
        a = c.streams.audio[0]
        assert abs(float(a.duration * a.time_base) - 8.0) < 0.1
    run(job(clip, tmp_path / "mute.mp4", mode="slowmo", factor=Fraction(2), encode=EncodeOptions()))
    with av.open(str(tmp_path / "mute.mp4")) as c:
        assert not c.streams.audio


def _tone(path):
    """(sample rate, seconds of sound, its strongest frequency in Hz) of the first audio stream."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        rate = a.codec_context.sample_rate
        mono = np.concatenate([f.to_ndarray().reshape(-1, f.samples)[0] for f in c.decode(a)])
    spectrum = np.abs(np.fft.rfft(mono[rate // 10:-rate // 10]))  # away from the codecs' priming and tail
    return rate, len(mono) / rate, np.argmax(spectrum) * rate / (len(mono) - 2 * (rate // 10))


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path):
    # AAC at 44.1 kHz: WebM holds neither AAC nor (in Opus) 44.1 kHz. Upsampling used to
    # refuse it and slow motion failed at "cannot start writing"; ffmpeg re-encodes.
    src = make_video(tmp_path / "in.mp4", moving_frames(24, 48, 64), Fraction(24), audio=True, audio_rate=44100)
    res = run(job(src, tmp_path / "up.webm", factor=Fraction(2), encode=EncodeOptions(crf=40)))
    assert any("re-encoded as libopus" in w for w in res.warnings)
    rate, seconds, pitch = _tone(tmp_path / "up.webm")
    assert rate == 48000 and abs(seconds - 1.0) < 0.05 and abs(pitch - 440) < 5
    run(job(src, tmp_path / "slow.webm", mode="slowmo", factor=Fraction(2), audio="stretch", encode=EncodeOptions(crf=40)))
    rate, seconds, pitch = _tone(tmp_path / "slow.webm")
    assert abs(seconds - 2.0) < 0.1 and abs(pitch - 440) < 5  # twice as long, same pitch
    run(job(src, tmp_path / "up.mkv", factor=Fraction(2), encode=EncodeOptions()))
    copied = [p for p, _ in audio_packets(tmp_path / "up.mkv")]
    assert copied == [p for p, _ in audio_packets(src)]  # a container that holds AAC copies it


def test_scene_cut_is_never_blended(tmp_path):
    src = make_video(tmp_path / "cut.mkv", moving_frames(12, 48, 64, cut_at=6), Fraction(24), codec="ffv1")
    res = run(job(src, tmp_path / "out.mkv", factor=Fraction(4)))
    assert res.cuts == [6]
    a, b = read_frames(src), read_frames(tmp_path / "out.mkv")
    # frames 21..23 lie between source 5 and 6: the nearer source frame, never a mix
    assert np.array_equal(b[21][1], a[5][1])
    assert np.array_equal(b[22][1], a[6][1]) and np.array_equal(b[23][1], a[6][1])
    kinds = __import__("json").loads(sidecar_path(tmp_path / "out.mkv").read_text())["frames"]
    assert kinds[20:25] == "SRRRS"


def test_fast_pan_is_not_a_cut(tmp_path):
    # 10 px per frame on a 64 px wide frame: most pixels change, yet it is one shot
    src = make_video(tmp_path / "pan.mkv", moving_frames(12, 48, 64, speed=7), Fraction(24), codec="ffv1")
    res = run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))
    assert res.cuts == []
    assert res.synthesised == 11


def test_cut_scores_prepared_ahead_agree_with_direct_ones():
    from types import SimpleNamespace

    from vfi.scenes import CutDetector, cut_score, thumbnail

    frames = list(moving_frames(10, 48, 64, speed=3, cut_at=5))
    vf = [av.VideoFrame.from_ndarray(f, format="rgb24") for f in frames]
    sfs = [SimpleNamespace(index=i, frame=f, cut_score=None) for i, f in enumerate(vf)]
    ahead, direct = CutDetector(), CutDetector()
    for sf in sfs:
        ahead.prepare(sf)  # what the engine's decode thread does
    plain = [SimpleNamespace(index=i, frame=f) for i, f in enumerate(vf)]
    got = [ahead.is_cut(a, b) for a, b in zip(sfs, sfs[1:])]
    want = [direct.is_cut(a, b) for a, b in zip(plain, plain[1:])]
    assert got == want and ahead.cuts == direct.cuts == [5]
    # stop_below only skips the shift search when the answer is already known
    th = [thumbnail(f) for f in vf]
    for a, b in zip(th, th[1:]):
        full, quick = cut_score(a, b), cut_score(a, b, stop_below=0.10)
        assert (full > 0.10) == (quick > 0.10) and quick >= full - 1e-9


@pytest.mark.parametrize("size,codec,ext", [((17, 33), "libx264", "mp4"), ((17, 33), "ffv1", "mkv"), ((8, 8), "libx264", "mp4"), ((9, 2), "ffv1", "mkv")])
def test_odd_and_tiny_sizes(tmp_path, size, codec, ext):
    h, w = size
    src = make_video(tmp_path / "in.mkv", moving_frames(6, h, w, speed=1), Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    run(job(src, tmp_path / f"out.{ext}", factor=Fraction(2), encode=EncodeOptions(codec=codec)))
    b = read_frames(tmp_path / f"out.{ext}", "rgb24")
    assert len(b) == 12 and b[0][1].shape == (h, w, 3)


@pytest.mark.parametrize("codec,width", [("libx264", 33), ("libx265", 65)])
def test_odd_size_high_bit_depth_source_keeps_its_depth(tmp_path, codec, width):
    # x264 and x265 take 4:2:0 only at even sizes: an odd 10-bit 4:2:0 source goes out as
    # 10-bit 4:4:4 (it once failed with "Generic error in an external library").
    src = make_video(tmp_path / "in.mkv", moving_frames(6, 17, width, speed=1), Fraction(24), codec="ffv1", pix_fmt="yuv420p10le")
    run(job(src, tmp_path / "out.mkv", factor=Fraction(2), encode=EncodeOptions(codec=codec)))
    with av.open(str(tmp_path / "out.mkv")) as c:
        v = c.streams.video[0]
        assert (v.width, v.height, v.codec_context.pix_fmt) == (width, 17, "yuv444p10le")
        assert sum(1 for _ in c.decode(v)) == 12
    with pytest.raises(UsageError, match="even width and height"):  # asked for 4:2:0 outright: said before any work
        run(job(src, tmp_path / "out2.mkv", factor=Fraction(2), encode=EncodeOptions(codec=codec, pix_fmt="yuv420p10le")))
    assert not (tmp_path / "out2.mkv").exists()


def test_x265_refuses_the_widths_where_it_corrupts_memory(tmp_path):
    src = make_video(tmp_path / "in.mkv", moving_frames(4, 32, 48), Fraction(24), codec="ffv1")
    with pytest.raises(UsageError, match="libx264 or ffv1"):
        run(job(src, tmp_path / "out.mkv", factor=Fraction(2), encode=EncodeOptions(codec="libx265")))
    assert not (tmp_path / "out.mkv").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".vfi-")]


def test_variable_frame_rate_uses_real_timestamps(tmp_path):
    # frames at irregular times: 0, 1/24, 2/24, 4/24 (a dropped frame), 5/24, 8/24
    times = [Fraction(i, 24) for i in (0, 1, 2, 4, 5, 8)]
    frames = list(moving_frames(6, 48, 64))
    src = make_video(tmp_path / "vfr.mkv", frames, Fraction(24), codec="ffv1", times=times, time_base=Fraction(1, 1000))
    run(job(src, tmp_path / "out.mkv", fps=Fraction(48), scene_threshold=0))
    b = read_frames(tmp_path / "out.mkv")
    a = read_frames(src)
    assert len(b) == 18  # 9/24 s at 48 fps
    # output 6 (time 3/24) lies halfway between source frames at 2/24 and 4/24
    expected = np.rint((a[2][1].astype(float) + a[3][1]) / 2)
    assert np.abs(b[6][1].astype(float) - expected).max() <= 3  # blended in RGB: rounding twice
    assert np.array_equal(b[8][1], a[3][1])  # 8/48 == 4/24: that source frame
    assert np.array_equal(b[10][1], a[4][1])
    # a whole --factor fills the gaps at the output rate too: the same frames and times
    run(job(src, tmp_path / "x2.mkv", factor=Fraction(2), scene_threshold=0))
    c = read_frames(tmp_path / "x2.mkv")
    assert len(c) == 18 and all(abs(t - Fraction(k, 48)) <= MKV_TICK for k, (t, _) in enumerate(c))
    # (the grid's t differs by up to 1 % where Matroska rounded a source time to the ms)
    assert all(np.abs(x.astype(int) - y).max() <= 2 for (_, x), (_, y) in zip(b, c))


def test_whole_factor_follows_a_drifting_source_clock(tmp_path):
    # A camera whose clock runs 0.5 % slow against its nominal 30 fps, stamped in ms (as
    # many phones and muxers do): by frame 60 it is 0.3 frames off the nominal grid.
    times = [round(Fraction(i * 1005, 30 * 1000) * 1000) / Fraction(1000) for i in range(60)]
    src = make_video(tmp_path / "drift.mkv", moving_frames(60, 48, 64), Fraction(30), codec="ffv1", times=times,
                     time_base=Fraction(1, 1000))
    res = run(job(src, tmp_path / "out.mkv", factor=Fraction(2), scene_threshold=0))
    a, b = read_frames(src), read_frames(tmp_path / "out.mkv")
    assert len(b) == 120 and res.synthesised == 59 and res.max_time_error_ms == 0
    for i in range(59):
        assert b[2 * i][0] == a[i][0] and np.array_equal(b[2 * i][1], a[i][1])  # every source frame, unmoved
        assert abs(b[2 * i + 1][0] - (a[i][0] + a[i + 1][0]) / 2) <= MKV_TICK
    # slow motion: the source clock stretched 3 times, t = 1/3 and 2/3 of every interval
    run(job(src, tmp_path / "slow.mkv", mode="slowmo", factor=Fraction(3), audio="none", scene_threshold=0))
    c = read_frames(tmp_path / "slow.mkv")
    assert len(c) == 180
    assert all(c[3 * i][0] == 3 * a[i][0] and np.array_equal(c[3 * i][1], a[i][1]) for i in range(60))


def test_full_range_jpeg_frames_pass_through_unchanged(tmp_path):
    # MJPEG gives yuvj422p; FFV1 takes yuv422p (tagged full range): the same samples
    src = make_video(tmp_path / "mjpeg.mkv", moving_frames(6, 48, 64), Fraction(24), codec="mjpeg", pix_fmt="yuvj422p")
    run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))

    def planes(path):
        with av.open(str(path)) as c:
            return [(f.format.name, f.color_range, [bytes(np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width])
                                                    for p in f.planes]) for f in c.decode(video=0)]

    a, b = planes(src), planes(tmp_path / "out.mkv")
    assert b[0][0] == "yuv422p" and b[0][1] == 2  # full range (JPEG)
    assert all(b[2 * i][2] == a[i][2] for i in range(len(a)))


def test_rgb_source_frames_pass_through_lossless_output_unchanged(tmp_path):
    src = make_video(tmp_path / "png.mov", moving_frames(6, 48, 64), Fraction(24), codec="png", pix_fmt="rgb24")
    run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))
    a, b = read_frames(src, "rgb24"), read_frames(tmp_path / "out.mkv", "rgb24")
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "bgr0"  # RGB, not 4:2:0
    assert len(b) == 2 * len(a) and all(np.array_equal(b[2 * i][1], a[i][1]) for i in range(len(a)))


def test_colour_description_rotation_and_sar_are_carried(tmp_path):
    color = {"colorspace": 1, "color_range": 2, "color_primaries": 1, "color_trc": 1}
    src = make_video(tmp_path / "in.mp4", moving_frames(6, 48, 64), Fraction(24), color=color, rotation=90, sar=Fraction(4, 3))
    run(job(src, tmp_path / "out.mp4", factor=Fraction(2), encode=EncodeOptions()))
    with av.open(str(tmp_path / "out.mp4")) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc) == (1, 2, 1, 1)
        assert cc.sample_aspect_ratio == Fraction(4, 3)
        f = next(c.decode(video=0))
        assert round(f.rotation) == 90


def test_synthesised_frames_use_the_source_colour_conversion(tmp_path):
    # a full-range BT.709 source: a blend of two identical frames must equal them
    color = {"colorspace": 1, "color_range": 2}
    img = next(moving_frames(1, 48, 64))
    src = make_video(tmp_path / "in.mkv", [img] * 4, Fraction(24), codec="ffv1", color=color)
    run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))
    a, b = read_frames(src), read_frames(tmp_path / "out.mkv")
    diff = np.abs(b[1][1].astype(int) - a[0][1].astype(int))
    assert diff.max() <= 1, "synthesised frame shifted colours"


@pytest.mark.parametrize("method", ["blend", None])
def test_frames_made_from_a_10_bit_source_keep_10_bit_steps(tmp_path, method):
    """A slow 10-bit ramp (300 levels over 256 px) with a bar moving over it: made frames
    were computed in 8-bit RGB, so on the still ramp they had a quarter of the source's
    levels (banding beside smooth source frames). Now they match the source there."""
    h, w = 64, 256
    ramp = np.tile(np.linspace(100, 400, w).round().astype(np.uint16), (h, 1))
    src = tmp_path / "ramp10.mkv"
    with av.open(str(src), "w") as c:
        s = c.add_stream("ffv1", rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv444p10le"
        for i in range(4):
            f = av.VideoFrame(w, h, "yuv444p10le")
            luma = ramp.copy()
            luma[5:15, 10 + 4 * i:30 + 4 * i] = 800
            for k, plane in enumerate(f.planes):
                values = luma if k == 0 else np.full((h, w), 512, np.uint16)
                rows = np.zeros((h, plane.line_size), np.uint8)
                rows[:, : 2 * w] = values.view(np.uint8)
                plane.update(rows)
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    run(job(src, tmp_path / "out.mkv", factor=Fraction(2), method=method))  # None: the default, flow-fusion
    with av.open(str(tmp_path / "out.mkv")) as c:
        lumas = [np.frombuffer(bytes(f.planes[0]), np.uint16).reshape(h, -1)[:, :w].astype(int) for f in c.decode(video=0)]
    made = lumas[1]  # between source frames 0 and 1
    assert lumas[0][30:].tolist() == ramp[30:].tolist()  # the source frame, bit for bit
    assert np.abs(made[30:] - ramp[30:]).max() <= 1 and len(set(made[40])) == len(set(ramp[40]))


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p", "yuv444p", "yuvj420p"])
@pytest.mark.parametrize("colorspace,color_range", [(1, 1), (5, 1), (1, 2), (5, 2)])  # BT.709/601, limited/full
def test_synthesised_frames_keep_the_source_levels(tmp_path, pix_fmt, colorspace, color_range):
    """Compared in the file's own samples, not through a decoder's RGB: a blend of two
    identical frames is that frame again (rounding aside), so inserted frames neither
    darken nor flicker against the source frames around them.  (yuvj420p tagged limited
    range: phones write such files; the tag is what counts, both ways.)"""
    import cv2

    img = cv2.GaussianBlur(texture(48, 64, 3), (0, 0), 2)  # smooth, so chroma subsampling loses little
    codec, options = ("libx264", {"qp": "0"}) if pix_fmt.startswith("yuvj") else ("ffv1", None)  # FFV1 takes no yuvj
    src = make_video(tmp_path / "in.mkv", [img] * 4, Fraction(24), codec=codec, pix_fmt=pix_fmt, options=options,
                     color={"colorspace": colorspace, "color_range": color_range})
    run(job(src, tmp_path / "out.mkv", factor=Fraction(2), encode=EncodeOptions(codec="ffv1")))
    with av.open(str(src)) as a, av.open(str(tmp_path / "out.mkv")) as b:
        source = next(a.decode(video=0))
        made = [f for f in b.decode(video=0)][1]
    assert made.format.name == pix_fmt.replace("yuvj", "yuv")
    def samples(frame, k):
        p = frame.planes[k]
        return np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, :p.width].astype(int)

    for plane in range(3):
        diff = samples(made, plane) - samples(source, plane)
        assert abs(diff.mean()) < 0.1 and np.abs(diff).max() <= 1, (plane, diff.mean(), np.abs(diff).max())


def test_mci_and_dup_methods(tmp_path):
    src = make_video(tmp_path / "in.mkv", moving_frames(8, 64, 96, speed=3), Fraction(24), codec="ffv1")
    res = run(job(src, tmp_path / "mci.mkv", fps=Fraction(60), method="mci"))
    assert res.frames_out == 20 and res.max_time_error_ms < 0.5  # only MKV's ms rounding
    res = run(job(src, tmp_path / "dup.mkv", factor=Fraction(2), method="dup"))
    a, b = read_frames(src), read_frames(tmp_path / "dup.mkv")
    # t = 0.5 (give or take MKV's rounding) repeats one of the two frames, unmixed
    assert np.array_equal(b[1][1], a[0][1]) or np.array_equal(b[1][1], a[1][1])
    assert res.synthesised == 0


def test_4k_frames(tmp_path):
    frames = [np.ascontiguousarray(np.broadcast_to(f, (2160, 3840, 3))) for f in
              (np.kron(img, np.ones((45, 60, 1), np.uint8)) for img in moving_frames(3, 48, 64))]
    src = make_video(tmp_path / "4k.mkv", frames, Fraction(24), codec="ffv1")
    res = run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))
    assert res.frames_out == 6
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (3840, 2160)


def test_threaded_pipeline_matches_sequential(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(16, 48, 64), Fraction(24), audio=True)
    a = run(job(src, tmp_path / "threads.mkv", factor=Fraction(3), threads=True))
    b = run(job(src, tmp_path / "plain.mkv", factor=Fraction(3), threads=False))
    fa, fb = read_frames(tmp_path / "threads.mkv"), read_frames(tmp_path / "plain.mkv")
    assert len(fa) == len(fb) == a.frames_out == b.frames_out
    assert all(np.array_equal(x[1], y[1]) and x[0] == y[0] for x, y in zip(fa, fb))
    assert audio_packets(tmp_path / "threads.mkv") == audio_packets(tmp_path / "plain.mkv")
    assert set(a.profile) >= {"decode", "model", "encode"}


def test_failure_in_the_encoder_thread_surfaces_and_cleans_up(tmp_path, monkeypatch):
    from vfi.errors import OutputError
    from vfi.io import writing

    src = make_video(tmp_path / "in.mkv", moving_frames(12, 48, 64), Fraction(24), codec="ffv1")
    calls = {"n": 0}
    original = writing.VideoWriter.write

    def failing(self, frame, pts):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OutputError("disk full (simulated)")
        return original(self, frame, pts)

    monkeypatch.setattr(writing.VideoWriter, "write", failing)
    with pytest.raises(OutputError, match="disk full"):
        run(job(src, tmp_path / "out.mkv", factor=Fraction(2)))
    assert not (tmp_path / "out.mkv").exists()
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


@pytest.mark.parametrize("codec,ext", [("libx264", "mp4"), ("libx265", "mkv"), ("libsvtav1", "mkv"), ("ffv1", "mkv")])
def test_every_output_codec(tmp_path, codec, ext):
    src = make_video(tmp_path / "in.mp4", moving_frames(6, 48, 64), Fraction(24))
    run(job(src, tmp_path / f"out.{ext}", factor=Fraction(2), encode=EncodeOptions(codec=codec, crf=30 if codec != "ffv1" else None)))
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12


@pytest.mark.parametrize("factor", [Fraction(2), Fraction(5, 2)])
def test_model_streams_give_the_same_video_as_one(tmp_path, factor):
    # Several frame pairs in the model at once (one thread each) must not change a frame
    # or the order; 5/2 also sends pairs with two inner frames and bisection levels.
    src = make_video(tmp_path / "in.mkv", moving_frames(9, 40, 56, speed=3), Fraction(24), codec="ffv1")
    outs = []
    for streams in (1, 2, 3):
        out = tmp_path / f"s{streams}.mkv"
        res = run(job(src, out, factor=factor, method="sparse-cnn", streams=streams, precision="fp32"))
        outs.append(read_frames(out))
        assert res.synthesised > 0
    for other in outs[1:]:
        assert len(other) == len(outs[0])
        for (t0, f0), (t1, f1) in zip(outs[0], other):
            assert t0 == t1 and np.array_equal(f0, f1)


def test_model_failure_in_a_stream_surfaces_and_leaves_no_output(tmp_path, monkeypatch):
    from vfi.models import Interpolator

    calls = []

    def broken(self, pairs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("model broke")
        return [p[0] for p in pairs]

    monkeypatch.setattr(Interpolator, "predict_batch", broken)
    src = make_video(tmp_path / "in.mkv", moving_frames(12, 40, 56, speed=3), Fraction(24), codec="ffv1")
    with pytest.raises(RuntimeError, match="model broke"):
        run(job(src, tmp_path / "out.mkv", factor=Fraction(2), method="sparse-cnn", streams=2))
    assert not (tmp_path / "out.mkv").exists()
    assert not list(tmp_path.glob("out.mkv*"))


def test_trim_start_and_duration_give_that_part_with_its_audio(tmp_path):
    from conftest import audio_packets

    frames = list(moving_frames(24 * 6, 48, 64, speed=1))
    src = make_video(tmp_path / "in.mkv", frames, Fraction(24), codec="ffv1", audio=True)
    out = tmp_path / "o.mkv"
    res = run(Job(input=str(src), output=str(out), factor=2, method="blend", start=2, duration=3,
                  encode=EncodeOptions(codec="ffv1")))
    assert res.frames_in == 72 and res.frames_out == 144 and abs(res.duration_out - 3.0) < 1 / 48
    got, source = read_frames(out), read_frames(src)
    assert len(got) == 144 and got[0][0] == 0
    assert np.array_equal(got[0][1], source[48][1]) and np.array_equal(got[-2][1], source[48 + 71][1])  # the right frames, bit for bit
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        seconds = sum(f.samples for f in c.decode(a)) / a.sample_rate
    assert abs(seconds - 3.0) <= 1 / 24, seconds  # within one frame
    assert audio_packets(out)  # copied, not re-encoded


def test_trim_end_and_bad_ranges(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(48, 32, 48), Fraction(24))
    res = run(Job(input=str(src), output=str(tmp_path / "o.mp4"), factor=2, method="blend", start="0:00.5", end=1.5))
    assert res.frames_in == 24 and abs(res.duration_out - 1.0) < 1 / 48
    with pytest.raises(UsageError, match="either --duration or --end"):
        run(Job(input=str(src), output=str(tmp_path / "p.mp4"), factor=2, method="blend", duration=1, end=2))
    with pytest.raises(UsageError, match="nothing to do"):
        run(Job(input=str(src), output=str(tmp_path / "p.mp4"), factor=2, method="blend", start=2, end=1))
    with pytest.raises(InputError, match="past the end|nothing to read"):
        run(Job(input=str(src), output=str(tmp_path / "p.mp4"), factor=2, method="blend", start=10))
    assert not (tmp_path / "p.mp4").exists()


def test_dedup_makes_animation_on_twos_move_on_every_frame(tmp_path):
    drawings = list(moving_frames(12, 48, 64, speed=4))
    on_twos = [d for d in drawings for _ in range(2)]  # every drawing held for two frames
    src = make_video(tmp_path / "twos.mkv", on_twos, Fraction(24), codec="ffv1", pix_fmt="yuv444p")
    for dedup, expect_repeats in ((False, True), (True, False)):
        out = tmp_path / f"o_{dedup}.mkv"
        res = run(Job(input=str(src), output=str(out), factor=2, method="blend", dedup=dedup, encode=EncodeOptions(codec="ffv1")))
        got = [f for _, f in read_frames(out)]
        same = [np.array_equal(a, b) for a, b in zip(got[1:-5], got[2:-4])]  # away from the ends (the last drawing is held)
        assert any(same) == expect_repeats, (dedup, same)
        assert res.output_rate == 48, (dedup, res.output_rate)  # the file's rate, not the drawings'
        if dedup:
            assert res.duplicates_dropped == 11 and res.frames_out == 48  # the same length


def test_dedup_on_a_still_reports_the_files_rate(tmp_path):
    still = [next(moving_frames(1, 32, 48))] * 48
    src = make_video(tmp_path / "still.mkv", still, Fraction(24), codec="ffv1")
    res = run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=2, method="blend", dedup=True, encode=EncodeOptions(codec="ffv1")))
    assert res.output_rate == 48 and res.frames_out == 96, (res.output_rate, res.frames_out)
    assert json.loads((tmp_path / "o.mkv.vfi.json").read_text())["output_rate"] == "48"


@pytest.mark.parametrize("rate, frames, tick, factor, out", [
    (Fraction(30000, 1001), 30, Fraction(1, 1000), 2, Fraction(60000, 1001)), (Fraction(30), 30, Fraction(1, 1000), 2, 60),
    (Fraction(12), 2, Fraction(1, 1000), 2, 24), (Fraction(12), 6, Fraction(1, 12), 3, 36)])
def test_the_reported_rate_is_the_common_rate_the_timestamps_stand_for(tmp_path, rate, frames, tick, factor, out):
    """Millisecond timestamps (.mkv): 29.97 doubled is 59.94, not the 60 a thousandth
    away; two frames 83 ms apart are 12 fps, not 12.05.  A clock that ticks once a frame
    (.avi) tells nothing finer than a frame, yet 36 is what the output runs at, not 30."""
    src = make_video(tmp_path / ("ms.mkv" if tick == Fraction(1, 1000) else "frames.avi"), moving_frames(frames, 32, 48), rate,
                     codec="ffv1", time_base=tick)
    res = run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=factor, method="blend", encode=EncodeOptions(codec="ffv1")))
    assert res.output_rate == out, res.output_rate
    assert json.loads((tmp_path / "o.mkv.vfi.json").read_text())["output_rate"] == str(out)


def test_the_reported_rate_is_the_outputs_real_rate(tmp_path):
    # A phone clip whose first frame comes late: 30 fps, but its container's average is lower.
    times = [Fraction(0)] + [Fraction(6, 30) + Fraction(i, 30) for i in range(29)]
    src = make_video(tmp_path / "late.mkv", moving_frames(30, 32, 48), Fraction(30), codec="ffv1", times=times,
                     time_base=Fraction(1, 1000))
    res = run(Job(input=str(src), output=str(tmp_path / "o.mkv"), factor=2, method="blend", encode=EncodeOptions(codec="ffv1")))
    assert res.output_rate == 60, res.output_rate
