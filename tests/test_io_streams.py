"""Files as cameras, broadcasters and ffmpeg make them: edit lists, offsets, joined
streams, size changes, attachments, timecode and odd audio.  Each input is made here
with PyAV as ffmpeg would make it, and each comes out whole or with one clear line."""

from __future__ import annotations

import json
import struct
from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import make_video, moving_frames, vfi


def remux(src, dst, *, shift=Fraction(0), start=None, end=None, fmt=None, options=None):
    """``src``'s video and audio packets copied into ``dst`` with ``shift`` seconds added
    to every timestamp, keeping [start, end) of the video from the key frame before
    ``start`` on (``ffmpeg -ss START -i SRC -c copy``: the frames before the cut come
    along and an MP4's edit list hides them)."""
    with av.open(str(src)) as i, av.open(str(dst), "w", format=fmt, options=options or {}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams if s.type in ("video", "audio")}
        key = _key_frame_before(src, start) if start is not None else None
        for p in i.demux():
            if p.dts is None or p.stream.index not in streams:
                continue
            tb = p.stream.time_base
            t = (p.pts if p.pts is not None else p.dts) * tb
            first = key if p.stream.type == "video" else start
            if (first is not None and t < first) or (end is not None and t >= end):
                continue
            ticks = round((shift - (start or 0)) / tb)
            p.pts, p.dts = (p.pts + ticks if p.pts is not None else None), p.dts + ticks
            p.stream = streams[p.stream.index]
            o.mux(p)
    return dst


def with_extras(src, dst, *, font=False, timecode=None, chapters=False):
    """``src`` copied into ``dst`` with what anime, camera and DVD files carry: a font
    attachment (``-attach font.ttf``), a timecode (``-timecode 01:00:00:00``: a tmcd
    track in MOV/MP4) and two chapters, at 0 and 1 s."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        if timecode:
            o.metadata["timecode"] = timecode
        if font:
            o.add_attachment("font.ttf", "application/x-truetype-font", b"\0\1\0\0" + bytes(200))
        if chapters:
            ms = Fraction(1, 1000)
            o.set_chapters([{"id": 1, "start": 0, "end": 1000, "time_base": ms, "metadata": {"title": "One"}},
                            {"id": 2, "start": 1000, "end": 2000, "time_base": ms, "metadata": {"title": "Two"}}])
        for p in i.demux():
            if p.dts is not None:
                p.stream = streams[p.stream.index]
                o.mux(p)
    return dst


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) & 0xFFFFFFFF if crc & 0x80000000 else (crc << 1) & 0xFFFFFFFF
    return crc


def _ogg_page(flags: int, serial: int, seq: int, data: bytes) -> bytes:
    lacing = [255] * (len(data) // 255) + [len(data) % 255]
    page = bytearray(b"OggS" + bytes([0, flags]) + struct.pack("<qII", 0, serial, seq) + bytes(4) + bytes([len(lacing)])
                     + bytes(lacing) + data)
    page[22:26] = struct.pack("<I", _ogg_crc(bytes(page)))
    return bytes(page)


def with_skeleton(ogv, dst):
    """An Ogg video with a Skeleton 3.0 stream in front, as Wikimedia's .ogv files have."""
    fishead = b"fishead\0" + struct.pack("<HHqqqq", 3, 0, 0, 1000, 0, 1000) + bytes(20)
    dst.write_bytes(_ogg_page(2, 0x5EE1, 0, fishead) + ogv.read_bytes() + _ogg_page(4, 0x5EE1, 1, b""))
    return dst


def _key_frame_before(src, t):
    with av.open(str(src)) as c:
        v = c.streams.video[0]
        return max(p.pts * v.time_base for p in c.demux(v) if p.pts is not None and p.is_keyframe and p.pts * v.time_base <= t)


def duration_of(path) -> float:
    with av.open(str(path)) as c:
        return c.duration / av.time_base


def start_of(path) -> float:
    with av.open(str(path)) as c:
        return min(s.start_time * s.time_base for s in c.streams if s.start_time is not None)


def sidecar_warnings(out) -> list[str]:
    return json.loads(out.with_name(out.name + ".vfi.json").read_text())["warnings"]


def blend(src, out, *args):
    return vfi("upsample", src, "-o", out, "--factor", "2", "--method", "blend", *args)


def test_an_mp4_cut_with_an_edit_list_is_whole(tmp_path):
    # ffmpeg -ss 0.5 -i clip.mp4 -t 1.5 -c copy cut.mp4: the GOP's first frames are in the
    # file, counted in its frame count, and hidden by the edit list
    clip = make_video(tmp_path / "clip.mp4", moving_frames(60, 64, 96), Fraction(24), audio=True)
    cut = remux(clip, tmp_path / "cut.mp4", start=Fraction(1, 2), end=Fraction(2))
    with av.open(str(cut)) as c:
        assert c.streams.video[0].frames > 36  # the discarded frames are counted
    out = tmp_path / "o.mp4"
    res = blend(cut, out)
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    assert sidecar_warnings(out) == []
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 72 and abs(c.streams.video[0].duration * c.streams.video[0].time_base - Fraction(3, 2)) < 0.05


def test_a_source_that_starts_late_starts_at_0(tmp_path):
    # ffmpeg -i clip.mp4 -c copy -output_ts_offset 3600 late.ts: a broadcast recording
    clip = make_video(tmp_path / "clip.mp4", moving_frames(48, 64, 96), Fraction(24), audio=True)
    late = remux(clip, tmp_path / "late.ts", shift=Fraction(3600))
    assert start_of(late) > 3599
    out = tmp_path / "o.mp4"
    res = blend(late, out)
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    assert start_of(out) == 0 and abs(duration_of(out) - 2) < 0.1
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 96
    # a trim counts from the start too
    res = blend(late, tmp_path / "trim.mkv", "--start", "0.5", "--duration", "1")
    assert res.exit_code == 0, res.output
    assert start_of(tmp_path / "trim.mkv") < 0.05 and abs(duration_of(tmp_path / "trim.mkv") - 1) < 0.1


def test_ts_files_joined_with_cat_go_on_where_they_were(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", moving_frames(48, 64, 96), Fraction(24), audio=True)
    part = remux(clip, tmp_path / "part.ts").read_bytes()
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part + part)  # cat part.ts part.ts: the timestamps jump back
    out = tmp_path / "o.mp4"
    res = blend(joined, out)
    assert res.exit_code == 0 and "timestamps jump back" in res.output, res.output
    assert any("timestamps jump back" in w for w in sidecar_warnings(out))
    assert abs(duration_of(out) - 4) < 0.1
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 192 and c.streams.audio[0].frames > 180


def test_a_change_of_size_midstream_is_scaled_to_the_first(tmp_path):
    small = make_video(tmp_path / "a.mp4", moving_frames(24, 64, 96), Fraction(24), audio=True)
    large = make_video(tmp_path / "b.mp4", moving_frames(24, 80, 128), Fraction(24), audio=True)
    joined = tmp_path / "sizes.ts"
    joined.write_bytes(remux(small, tmp_path / "a.ts").read_bytes() + remux(large, tmp_path / "b.ts").read_bytes())
    out = tmp_path / "o.mkv"
    res = blend(joined, out)
    assert res.exit_code == 0 and "changes size" in res.output and "frame 24 to 128x80" in res.output, res.output
    with av.open(str(out)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 96 and {(f.width, f.height) for f in frames} == {(96, 64)}


@pytest.fixture(scope="module")
def extras(tmp_path_factory):
    d = tmp_path_factory.mktemp("extras")
    clip = make_video(d / "clip.mp4", moving_frames(48, 64, 96), Fraction(24), audio=True)
    ogv = make_video(d / "vp8.ogv", moving_frames(24, 64, 96), Fraction(24), codec="libvpx", options={"b": "500k"})
    return {"font.mkv": with_extras(clip, d / "font.mkv", font=True), "tc.mov": with_extras(clip, d / "tc.mov", timecode="01:00:00:00"),
            "chapters.mp4": with_extras(clip, d / "chapters.mp4", chapters=True),
            "chapters.mkv": with_extras(clip, d / "chapters.mkv", chapters=True), "skeleton.ogv": with_skeleton(ogv, d / "skeleton.ogv")}


def _streams(path) -> list[str]:
    """The kinds of the streams a player sees (not an MP4's chapter track, which the demuxer hides)."""
    with av.open(str(path)) as c:
        return [s.type for s in c.streams if s.discard != av.stream.Discard.all]


def _timecode(path) -> str | None:
    with av.open(str(path)) as c:
        tags = {k.lower(): v for s in c.streams for k, v in s.metadata.items()}
    return tags.get("timecode")


def test_a_font_attachment_goes_into_mkv_and_is_said_elsewhere(extras, tmp_path):
    res = blend(extras["font.mkv"], tmp_path / "o.mkv")
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    with av.open(str(tmp_path / "o.mkv")) as c:
        (font,) = c.streams.attachments
        assert font.name == "font.ttf" or font.metadata.get("filename") == "font.ttf"
    for ext in ("mp4", "webm", "avi", "ts"):
        out = tmp_path / f"o.{ext}"
        res = blend(extras["font.mkv"], out, "--audio", "none", "--crf", "50")
        assert res.exit_code == 0, res.output
        said = [line for line in res.output.splitlines() if "font.ttf" in line]
        assert len(said) == 1 and said[0].startswith("warning") and "(.mkv can)" in said[0], res.output
        assert any("font.ttf" in w for w in sidecar_warnings(out))
        assert _streams(out) == ["video"]  # no junk data stream in .ts


def test_a_timecode_track_becomes_the_outputs_timecode(extras, tmp_path):
    for ext in ("mov", "mp4", "mkv", "nut"):
        out = tmp_path / f"o.{ext}"
        res = blend(extras["tc.mov"], out)
        assert res.exit_code == 0 and "warning" not in res.output, (ext, res.output)
        assert _timecode(out) == "01:00:00:00", ext
    res = blend(extras["tc.mov"], tmp_path / "o.avi")
    assert res.exit_code == 0 and "timecode 01:00:00:00 not carried" in res.output, res.output


def test_chapters_are_kept_and_follow_trims_and_slow_motion(extras, tmp_path):
    for name in ("chapters.mp4", "chapters.mkv"):
        for ext in ("mp4", "mkv", "mov"):
            out = tmp_path / f"{name}.{ext}"
            res = blend(extras[name], out)
            assert res.exit_code == 0 and "warning" not in res.output, (name, ext, res.output)
            with av.open(str(out)) as c:
                assert [(float(ch["start"] * ch["time_base"]), ch["metadata"]["title"]) for ch in c.chapters()] == [(0, "One"), (1, "Two")]
                assert _streams(out) == ["video", "audio"]  # the MP4 chapter track is not copied as data
    out = tmp_path / "slow.mkv"
    res = vfi("slowmo", extras["chapters.mkv"], "-o", out, "--factor", "2", "--method", "blend", "--start", "0.5")
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        assert [(float(ch["start"] * ch["time_base"]), float(ch["end"] * ch["time_base"])) for ch in c.chapters()] == [(0, 1), (1, 3)]
    res = blend(extras["chapters.mkv"], tmp_path / "o.ts")
    assert res.exit_code == 0 and "2 chapter(s) not carried" in res.output, res.output


def test_an_ogg_skeleton_is_said_not_fatal(extras, tmp_path):
    for ext in ("mp4", "mkv", "webm"):
        out = tmp_path / f"o.{ext}"
        res = blend(extras["skeleton.ogv"], out, "--crf", "50")
        assert res.exit_code == 0 and "cannot hold data stream 0 (Ogg Skeleton" in res.output, (ext, res.output)
        assert _streams(out) == ["video"]


def with_sound(dst, codec: str, layout: str = "stereo", rate: int = 48000, seconds: int = 1):
    """A 24 fps clip with one second of a 440 Hz tone in ``codec``, muxed by ``dst``'s
    extension (MPEG-4 Part 2 video in ASF and AVI, as old cameras and Windows wrote)."""
    with av.open(str(dst), "w") as o:
        old = dst.suffix in (".asf", ".avi")
        vs = o.add_stream("mpeg4" if old else "libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 96, 64, "yuv420p"
        a = o.add_stream(codec, rate=rate)
        a.codec_context.layout, a.bit_rate = layout, 128000
        for i, img in enumerate(moving_frames(24 * seconds, 64, 96)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 24)
            o.mux(vs.encode(f))
        o.mux(vs.encode(None))
        n = a.codec_context.frame_size or 1024
        to_codec = av.AudioResampler(format=a.codec_context.format.name, layout=layout, rate=rate)
        channels = av.AudioLayout(layout).nb_channels
        for k in range(rate * seconds // n):
            t = (np.arange(n) + k * n) / rate
            tone = np.repeat((0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], channels, 0)
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout=layout)
            frame.sample_rate, frame.pts, frame.time_base = rate, k * n, Fraction(1, rate)
            for f in to_codec.resample(frame):
                o.mux(a.encode(f))
        o.mux(a.encode(None))
    return dst


def _sound(path) -> tuple[str, str, int]:
    """(codec, layout, samples) of the first audio stream, decoded."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return a.codec_context.codec.canonical_name, a.codec_context.layout.name, sum(f.samples for f in c.decode(a))


@pytest.mark.parametrize("codec, layout, rate, src, ext, expect", [
    ("ac3", "5.1(side)", 48000, "mkv", "webm", ("opus", "5.1")),  # Opus takes 5.1, not 5.1(side)
    ("flac", "5.1(side)", 48000, "mkv", "webm", ("opus", "5.1")),
    ("wmav2", "stereo", 44100, "asf", "mp4", ("aac", "stereo")),  # no channel layout in ASF
    ("pcm_u8", "stereo", 22050, "avi", "mp4", ("aac", "stereo")),  # nor in AVI
    ("pcm_s16le", "stereo", 48000, "mkv", "mp4", ("aac", "stereo")),  # MP4's muxer fails on PCM at its end
])
def test_audio_that_must_be_re_encoded_is(tmp_path, codec, layout, rate, src, ext, expect):
    source = with_sound(tmp_path / f"in.{src}", codec, layout, rate)
    out = tmp_path / f"o.{ext}"
    res = blend(source, out, "--crf", "50")
    assert res.exit_code == 0, res.output
    (said,) = [line for line in res.output.splitlines() if line.startswith("warning")]
    assert f"re-encoded as {'libopus' if expect[0] == 'opus' else 'aac'}" in said and f"cannot hold {codec}" in said, said
    name, got_layout, samples = _sound(out)
    assert (name, got_layout) == expect and abs(samples - rate) < rate // 10, (name, got_layout, samples)
    if layout == "5.1(side)":
        res = vfi("slowmo", source, "-o", tmp_path / "slow.webm", "--factor", "2", "--method", "blend", "--audio", "stretch",
                  "--crf", "50")
        assert res.exit_code == 0 and _sound(tmp_path / "slow.webm")[:2] == expect, res.output


@pytest.mark.parametrize("codec, src", [("aac", "mp4"), ("ac3", "mkv"), ("libmp3lame", "mkv")])
def test_ts_takes_aac_ac3_and_mp3_as_they_are(tmp_path, codec, src):
    source = with_sound(tmp_path / f"in.{src}", codec, rate=44100 if codec == "libmp3lame" else 48000)
    out = tmp_path / "o.ts"
    res = blend(source, out)
    assert res.exit_code == 0 and "warning" not in res.output, res.output
    with av.open(str(source)) as a, av.open(str(out)) as b:
        before = [bytes(p) for p in a.demux(a.streams.audio[0]) if p.size]
        after = [bytes(p) for p in b.demux(b.streams.audio[0]) if p.size]
    assert len(after) == len(before) and all(x.endswith(y) for x, y in zip(after, before))  # copied (ADTS header added to AAC)


def test_webm_above_240_fps_is_vp9_and_av1_asked_for_is_refused(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(12, 64, 96), Fraction(24))
    out = tmp_path / "o.webm"
    res = vfi("upsample", src, "-o", out, "--fps", "480", "--method", "blend")
    assert res.exit_code == 0 and "encoded as VP9" in res.output, res.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "vp9" and v.average_rate == 480 and len(list(c.decode(v))) == 240
    assert any("VP9" in w for w in sidecar_warnings(out))
    res = vfi("upsample", src, "-o", tmp_path / "o.mkv", "--fps", "480", "--method", "blend", "--codec", "libsvtav1")
    assert res.exit_code == 2 and res.output.count("Error:") == 1 and "up to 240 fps" in res.output, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "o.webm", "o.webm.vfi.json"]  # nothing left behind


def test_bmp_images_out_keep_source_frames(tmp_path):
    frames = list(moving_frames(6, 32, 48))
    src = make_video(tmp_path / "in.mkv", frames, Fraction(24), codec="ffv1", pix_fmt="bgr0")  # lossless RGB
    res = vfi("upsample", src, "-o", f"{tmp_path}/out/%04d.bmp", "--factor", "2", "--method", "blend")
    assert res.exit_code == 0, res.output
    bmps = sorted((tmp_path / "out").glob("*.bmp"))
    assert len(bmps) == 12
    for k in range(6):
        with av.open(str(bmps[2 * k])) as c:
            assert np.array_equal(next(c.decode(video=0)).to_ndarray(format="rgb24"), frames[k]), k


def test_h264_copied_into_avi_keeps_its_rate(tmp_path):
    # ffmpeg -i in.mp4 -c copy out.avi: the AVI ticks at 50 for 25 fps H.264, every
    # other packet empty, and its average rate reads 50
    path = tmp_path / "h264.avi"
    with av.open(str(path), "w") as o:
        s = o.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.codec_context.time_base = s.time_base = Fraction(1, 50)
        for i, img in enumerate(moving_frames(50, 64, 96)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = 2 * i, Fraction(1, 50)
            o.mux(s.encode(f))
        o.mux(s.encode(None))
    with av.open(str(path)) as c:
        assert c.streams.video[0].average_rate == 50
    out = tmp_path / "o.mkv"
    res = blend(path, out)
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        assert c.streams.video[0].average_rate == 50 and len(list(c.decode(video=0))) == 100


def test_data_in_joined_ts_follows_the_video_clock(tmp_path):
    # KLV metadata, as drones write it: sparse packets, at 0 s and 1.5 s of each part
    part = tmp_path / "part.ts"
    with av.open(str(part), "w") as o:
        v = o.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
        klv = o.add_data_stream("klv")
        for i, img in enumerate(moving_frames(48, 64, 96)):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 24)
            o.mux(v.encode(f))
            if i in (0, 36):
                p = av.Packet(bytes(16))
                p.stream, p.time_base = klv, Fraction(1, 90000)
                p.pts = p.dts = i * 90000 // 24
                o.mux(p)
        o.mux(v.encode(None))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part.read_bytes() * 2)
    out = tmp_path / "o.ts"
    res = blend(joined, out)
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        first = v.start_time * v.time_base
        times = [p.pts * p.time_base - first for p in c.demux(c.streams.data[0]) if p.pts is not None]
    assert times == [0, Fraction(3, 2), 2, Fraction(7, 2)], times
