"""Colour conversion (vfi.io.colour): YUV, deep RGB and grey to RGB and back without
drift, tagged ranges, decoded frames, and converters shared by threads."""

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import make_alpha_video, make_video, moving_frames, texture


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p", "yuv411p", "yuv440p", "yuv420p10le", "yuv444p12le"])
@pytest.mark.parametrize("color_range", [1, 2])
def test_yuv_to_rgb_and_back_keeps_every_sample(pix_fmt, color_range):
    """Noisy samples (chroma differing from one block to the next, as in real footage),
    not a smooth picture: chroma read half a sample off and averaged back mixed
    neighbouring samples (up to 36 levels on a real clip), which a smooth picture hides."""
    from vfi.io.colour import ColorConverter, ColorSpec, bits_per_sample

    rng = np.random.default_rng(1)
    frame = av.VideoFrame(64, 48, pix_fmt)
    shift = bits_per_sample(pix_fmt) - 8
    dtype = np.uint8 if shift == 0 else np.dtype("<u2")
    for k, plane in enumerate(frame.planes):
        low, high = (64, 192) if k == 0 else (112, 144)  # inside the RGB gamut: nothing clips
        samples = (rng.integers(low, high, (plane.height, plane.width)) << shift).astype(dtype)
        rows = np.zeros((plane.height, plane.line_size), np.uint8)
        rows[:, : samples.shape[1] * samples.itemsize] = samples.view(np.uint8)
        plane.update(rows)
    conv = ColorConverter(pix_fmt, ColorSpec(colorspace=1, color_range=color_range, primaries=1, trc=1), 48)
    back = conv.from_rgb(conv.to_rgb(frame))
    assert back.format.name == pix_fmt
    for k in range(3):
        a, b = (np.frombuffer(f.planes[k], np.uint8).reshape(f.planes[k].height, -1)[:, : f.planes[k].width * np.dtype(dtype).itemsize]
                .view(dtype).astype(float) / (1 << shift) for f in (frame, back))
        err = b - a  # in 8-bit levels; deep samples pass through 8-bit RGB, so a quarter level of rounding is expected
        assert abs(err.mean()) < 0.05 and np.abs(err).mean() < (0.02 if shift == 0 else 0.3), (k, err.mean(), np.abs(err).mean())
        assert np.abs(err).max() <= (1 if shift == 0 else 2.5), (k, np.abs(err).max())


@pytest.mark.parametrize("pix_fmt", ["gbrp10le", "gbrp12be", "gbrap16le", "rgb48be", "bgra64le", "gray16le", "gray10be"])
def test_deep_rgb_and_grey_to_rgb_and_back_are_rounded_not_shifted(pix_fmt):
    """swscale read deep RGB 0.4-0.5 levels bright and wrote 255 as 1020 of 1023 (at 10
    bits): synthesised frames of a 10-bit RGB scan were brighter and their whites greyer
    than the source frames around them."""
    from vfi.io.colour import ColorConverter, ColorSpec, plane_samples, write_plane, deep_rgb_layout

    kind, dtype, top = deep_rgb_layout(pix_fmt)
    wide = np.random.default_rng(2).integers(0, top + 1, (24, 40, 3)).astype(np.uint16)  # R, G, B samples
    if kind == "gray":
        wide[..., 1] = wide[..., 2] = wide[..., 0]
    if kind == "packed":
        frame = av.VideoFrame.from_ndarray(wide, format="rgb48le")
        if pix_fmt != "rgb48le":  # reordered by hand: swscale does not reorder 16-bit samples exactly
            order = {"rgb48be": (0, 1, 2), "bgra64le": (2, 1, 0, 3)}[pix_fmt]
            full = np.concatenate([wide, np.full((24, 40, 1), top, np.uint16)], axis=-1)[..., order]
            frame = av.VideoFrame(40, 24, pix_fmt)
            write_plane(frame.planes[0], full.astype(dtype).reshape(24, -1))
    else:
        frame = av.VideoFrame(40, 24, pix_fmt)
        for plane, channel in zip(frame.planes, (0,) if kind == "gray" else (1, 2, 0, None)):  # G, B, R, alpha
            write_plane(plane, (np.full((24, 40), top) if channel is None else wide[..., channel]).astype(dtype))
    conv = ColorConverter(pix_fmt, ColorSpec(), 24)
    rgb = conv.to_rgb(frame)
    assert np.array_equal(rgb, np.rint(wide * (255 / top)).astype(np.uint8))
    if kind != "gray":  # grey out is a luma sum, left to swscale
        assert np.array_equal(conv.to_rgb(conv.from_rgb(rgb, pix_fmt)), rgb)  # written and read by the same rounding
        per_pixel = 4 if "64" in pix_fmt else 3 if "48" in pix_fmt else 1
        white = conv.from_rgb(np.full((2, 2, 3), 255, np.uint8), pix_fmt)
        assert all((plane_samples(p, dtype, per_pixel) == top).all() for p in white.planes)  # white is white
        # float levels (frames made at a deep source's precision), in the format's byte order
        grey = conv.from_rgb(np.full((2, 2, 3), 100.25, np.float32), pix_fmt)
        want = round(100.25 * top / 255)
        samples = [plane_samples(p, dtype, per_pixel).reshape(2, 2, -1) for p in grey.planes]
        colour = np.concatenate(samples, axis=-1)[..., :3]  # alpha, packed last or a fourth plane, left out
        assert (colour == want).all(), (colour.ravel()[:4], want)


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p"])
def test_decoded_h264_frames_go_to_rgb_and_back_unchanged(tmp_path, pix_fmt):
    """Frames decoded from H.264 carry its chroma siting, which swscale's point
    upsampling took half a sample off: a round trip mixed neighbouring chroma samples."""
    from vfi.io.colour import ColorConverter
    from vfi.io.reading import VideoReader

    rng = np.random.default_rng(2)
    img = np.clip(128 + rng.normal(0, 30, (48, 64, 3)), 0, 255).astype(np.uint8)  # chroma changing block to block
    src = make_video(tmp_path / "in.mp4", [img] * 2, Fraction(24), pix_fmt=pix_fmt, options={"qp": "0"})
    with VideoReader(str(src)) as r:
        info = r.info
    with av.open(str(src)) as c:
        frame = next(c.decode(video=0))
    conv = ColorConverter(info.pix_fmt, info.color, info.height)
    back = conv.from_rgb(conv.to_rgb(frame))
    for k in range(3):
        a, b = (np.frombuffer(f.planes[k], np.uint8).reshape(f.planes[k].height, -1)[:, : f.planes[k].width].astype(int)
                for f in (frame, back))
        assert np.abs(b - a).mean() < 0.1, (k, np.abs(b - a).mean())


@pytest.mark.parametrize("pix_fmt", ["yuvj420p", "yuvj422p", "yuvj444p"])
@pytest.mark.parametrize("color_range", [1, 2])  # limited (as some phones tag yuvj), full
def test_yuvj_frames_are_read_and_written_in_their_tagged_range(pix_fmt, color_range):
    """swscale takes yuvj as full range whatever it is told; the converter goes by the tag."""
    import cv2
    from vfi.io.colour import ColorConverter, ColorSpec

    rgb = cv2.GaussianBlur(texture(48, 64, 3), (0, 0), 2)
    conv = ColorConverter(pix_fmt, ColorSpec(colorspace=1, color_range=color_range, primaries=1, trc=1), 48)
    frame = conv.from_rgb(rgb)
    assert frame.format.name == pix_fmt
    back = conv.from_rgb(conv.to_rgb(frame))
    for k in range(3):
        a, b = (np.frombuffer(f.planes[k], np.uint8).reshape(f.planes[k].height, -1)[:, :f.planes[k].width].astype(int)
                for f in (frame, back))
        assert abs((b - a).mean()) < 0.05 and np.abs(b - a).max() <= 1, (k, (b - a).mean())
    y = np.frombuffer(frame.planes[0], np.uint8)
    if color_range == 1:
        assert 16 <= y.min() and y.max() <= 235  # limited range really is limited
    # the luma of a mid-grey frame says which range was written: 126 limited, 128 full
    grey = conv.from_rgb(np.full((48, 64, 3), 128, np.uint8))
    assert np.frombuffer(grey.planes[0], np.uint8)[0] == (126 if color_range == 1 else 128)


def test_colour_conversions_in_several_threads_match_one(tmp_path):
    # Converters keep one swscale context per thread and purpose (vfi.io.colour.reformatter):
    # the decode and encode threads convert at once and must not disturb each other.
    import threading

    from vfi.scenes import thumbnail
    from vfi.io.colour import ColorConverter
    from vfi.io.reading import VideoReader

    src = make_video(tmp_path / "in.mp4", moving_frames(12, 72, 96, speed=3), Fraction(24))
    with VideoReader(str(src)) as r:
        conv = ColorConverter(r.info.pix_fmt, r.info.color, r.info.height)
        frames = [sf.frame for sf in r.frames()]

    def work(frame):
        rgb = conv.to_rgb(frame)
        back = conv.from_rgb(rgb, "yuv420p").to_ndarray()
        return rgb, back, thumbnail(frame)

    alone = [work(f) for f in frames]
    together: list = [None] * len(frames)

    def run_half(idx):
        for _ in range(3):
            for i in idx:
                together[i] = work(frames[i])

    threads = [threading.Thread(target=run_half, args=(range(j, len(frames), 2),)) for j in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for x, y in zip(alone, together):
        assert all(np.array_equal(p, q) for p, q in zip(x, y))


@pytest.mark.parametrize("pix_fmt, codec, name", [("yuva444p16le", "ffv1", "a.mkv"), ("yuva444p10le", "prores_ks", "a.mov")])
def test_yuva_of_more_than_8_bits_is_read_at_its_depth(tmp_path, pix_fmt, codec, name):
    """FFV1 YUVA and ProRes 4444 colour is read by the matrix's formula, as YUV of the
    same depth: a blended frame is the mean of its two source frames within half a
    level (read through 8-bit RGB: 200 levels off at 16 bits, 11 at ProRes's 12)."""
    from vfi.engine import Job, run
    from vfi.io.encoding import EncodeOptions

    src = make_alpha_video(tmp_path / name, codec, pix_fmt)
    out = tmp_path / "o.mkv"
    run(Job(input=str(src), output=str(out), factor=Fraction(2), method="blend", encode=EncodeOptions(codec="ffv1")))

    def luma(path):
        with av.open(str(path)) as c:
            return [np.frombuffer(f.planes[0], np.uint16).reshape(f.height, -1)[:, :f.width].astype(float) for f in c.decode(video=0)]

    s, o = luma(src), luma(out)
    assert np.array_equal(o[0], s[0])  # the source frame as it is
    assert np.abs(o[1] - (s[0] + s[1]) / 2).max() <= 0.5
