"""Nothing silently lost, as a matrix: sources with a property an output may not hold
(rotation, non-square pixels, transparency of 8 and 16 bits, RGBA and YUVA, cover art,
interlacing) into every output
vfi writes.  Each job must work, and each property must either reach the output or be
said in a warning (the sidecar holds the same warnings)."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from conftest import make_alpha_video, make_video, make_with_cover_art, moving_frames
from vfi.engine import Job, run

OUTPUTS = ["o.mp4", "o.mkv", "o.mov", "o.webm", "o.nut", "o.avi", "o.ts", "img/"]


def _rgba_folder(folder):
    folder.mkdir()
    for i, rgb in enumerate(moving_frames(4, 32, 48)):
        Image.fromarray(np.dstack([rgb, np.full((32, 48, 1), 90 + 40 * i, np.uint8)]), "RGBA").save(folder / f"{i:03d}.png")
    return f"{folder}/"


def _rgba64_folder(folder):
    folder.mkdir()
    make_alpha_video(folder / "%03d.png", "png", "rgba64be")
    return f"{folder}/"


SOURCES = {
    "rotated": lambda d: str(make_video(d / "phone.mp4", moving_frames(4, 48, 64), Fraction(24), rotation=-90)),
    "anamorphic": lambda d: str(make_video(d / "dvd.mp4", moving_frames(4, 48, 64), Fraction(24), sar=Fraction(4, 3))),
    "rgba": lambda d: _rgba_folder(d / "rgba"),
    "rgba64": lambda d: _rgba64_folder(d / "rgba64"),
    "yuva444p16le": lambda d: str(make_alpha_video(d / "yuva.mkv", "ffv1", "yuva444p16le")),
    "prores 4444": lambda d: str(make_alpha_video(d / "alpha.mov", "prores_ks", "yuva444p10le")),
    "cover art": lambda d: str(make_with_cover_art(d / "cover.mp4")),
    "interlaced": lambda d: str(make_video(d / "tv.mkv", moving_frames(4, 48, 64), Fraction(25),
                                           options={"x264-params": "interlaced=1:tff=1", "crf": "10", "preset": "ultrafast"})),
}


def _first_frame_and_streams(out):
    path = next(iter(sorted(out.iterdir()))) if out.is_dir() else out
    with av.open(str(path)) as c:
        streams = [(s.type, s.codec_context.name if s.codec_context else None) for s in c.streams]
        video = c.streams.video[0]
        return next(c.decode(video)), video.sample_aspect_ratio, streams


def _kept(prop, frame, sar, streams) -> bool:
    if prop == "rotated":  # a display matrix on the picture as stored, or the picture turned
        return (frame.width, frame.height, round(frame.rotation or 0)) in ((64, 48, -90), (48, 64, 0))
    if prop == "anamorphic":
        return sar == Fraction(4, 3)
    if prop == "rgba":
        return len(frame.format.components) == 4
    if prop in DEEP_ALPHA:  # and more than 8 bits where the output has them
        return len(frame.format.components) == 4 and max(c.bits for c in frame.format.components) > 8
    if prop == "cover art":
        return ("video", "mjpeg") in streams
    return not frame.interlaced_frame  # interlaced: made into frames


DEEP_ALPHA = ("rgba64", "yuva444p16le", "prores 4444")
SAID = {"rotated": "rotat", "anamorphic": "sample aspect ratio", "rgba": "transparency", "cover art": "cover art",
        "interlaced": "interlaced", **{k: "transparency" for k in DEEP_ALPHA}}


@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("prop", list(SOURCES))
def test_kept_or_said(tmp_path, prop, output):
    src = SOURCES[prop](tmp_path)
    out = tmp_path / output
    result = run(Job(input=src, output=str(out) + ("/" if output.endswith("/") else ""), factor=Fraction(2), method="blend"))
    frame, sar, streams = _first_frame_and_streams(out)
    said = [w for w in result.warnings if SAID[prop] in w]
    assert _kept(prop, frame, sar, streams) or said, (prop, output, result.warnings, streams)
    if prop == "interlaced":
        assert said and not frame.interlaced_frame, result.warnings  # deinterlaced, and said so
