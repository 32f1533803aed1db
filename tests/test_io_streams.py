"""Files as cameras, broadcasters and ffmpeg make them: edit lists, offsets, joined
streams, size changes, attachments, timecode and odd audio.  Each input is made here
with PyAV as ffmpeg would make it, and each comes out whole or with one clear line."""

from __future__ import annotations

import json
from fractions import Fraction

import av

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
