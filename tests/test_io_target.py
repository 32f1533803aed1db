"""The output target (vfi.io.target) and the one table of formats (vfi.io.formats)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from conftest import make_video, moving_frames
from vfi.errors import UsageError
from vfi.io.encoding import EncodeOptions
from vfi.io.target import SIDECAR_NAME, OutputTarget, output_kind, prepare_target


def test_output_kinds():
    assert output_kind("-") == "pipe"
    assert output_kind("out/%05d.png") == "images" and output_kind("frames/") == "images"
    assert output_kind("out.mp4") == "file"


def test_the_target_is_parsed_into_what_the_job_needs(tmp_path):
    f = OutputTarget.parse(str(tmp_path / "out.mkv"))
    assert (f.kind, f.path, f.sidecar, f.pipe_format) == ("file", tmp_path / "out.mkv", tmp_path / "out.mkv.vfi.json", None)
    assert f.carries_audio and f.carries_other_streams
    i = OutputTarget.parse(str(tmp_path / "frames" / "%05d.png"))
    assert (i.kind, i.path, i.pattern, i.sidecar) == ("images", tmp_path / "frames", "%05d.png", tmp_path / "frames" / SIDECAR_NAME)
    assert not i.carries_audio
    assert OutputTarget.parse("folder/").pattern == "%06d.png"
    p = OutputTarget.parse("-")
    assert (p.kind, p.path, p.sidecar, p.pipe_format) == ("pipe", Path("-"), None, "nut")
    assert p.carries_audio and not p.carries_other_streams
    assert not OutputTarget.parse("-", "y4m").carries_audio


def test_every_check_runs_before_any_work(tmp_path):
    src = str(make_video(tmp_path / "in.mp4", moving_frames(2, 16, 16), Fraction(24)))
    with pytest.raises(UsageError, match="would overwrite the input"):
        prepare_target(src, src, EncodeOptions(), overwrite=True)
    with pytest.raises(UsageError, match="cannot be stored in .mp4"):
        prepare_target(str(tmp_path / "o.mp4"), src, EncodeOptions(codec="ffv1"), overwrite=False)
    with pytest.raises(UsageError, match="given for both sidecar and --blur-report"):
        prepare_target(str(tmp_path / "o.mkv"), src, EncodeOptions(), False, [("--blur-report", str(tmp_path / "o.mkv.vfi.json"))])
    with pytest.raises(UsageError, match="y4m carries raw video only"):
        prepare_target("-", src, EncodeOptions(codec="libx264", format="y4m"), False)
    assert prepare_target(str(tmp_path / "o.mkv"), src, EncodeOptions(), False).kind == "file"


def test_a_job_parses_and_checks_its_output_once(tmp_path, monkeypatch):
    from vfi.engine import Job, run
    from vfi.io import encoding, target

    src = make_video(tmp_path / "in.mkv", moving_frames(4, 16, 16), Fraction(24), codec="ffv1")
    calls = {"parse": 0, "validate": 0}
    parse, validate = target.OutputTarget.parse.__func__, encoding.EncodeOptions.validate

    def counting_parse(cls, *a, **kw):
        calls["parse"] += 1
        return parse(cls, *a, **kw)

    def counting_validate(self, *a, **kw):
        calls["validate"] += 1
        return validate(self, *a, **kw)

    monkeypatch.setattr(target.OutputTarget, "parse", classmethod(counting_parse))
    monkeypatch.setattr(encoding.EncodeOptions, "validate", counting_validate)
    run(Job(input=str(src), output=str(tmp_path / "out.mkv"), factor=Fraction(2), method="blend", encode=EncodeOptions(codec="ffv1")))
    assert calls == {"parse": 1, "validate": 1}


def test_one_table_of_video_extensions_for_every_search(tmp_path):
    from vfi import batch, data
    from vfi.io import formats

    assert batch.VIDEO_EXTENSIONS is data.VIDEO_EXTENSIONS is formats.VIDEO_EXTENSIONS
    assert set(formats.VIDEO_CONTAINERS) <= set(formats.VIDEO_EXTENSIONS)  # what vfi writes, it reads
    assert {".mp4", ".mkv", ".m2ts", ".mts", ".3gp", ".y4m", ".nut"} <= set(formats.VIDEO_EXTENSIONS)
    assert formats.muxer_for(Path("a.m4v")) == "mp4" and formats.muxer_for(Path("a.ts")) == "mpegts"


def _png_sequence(folder: Path, n: int = 4) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, img in enumerate(moving_frames(n, 16, 24)):
        files.append(folder / f"f{i + 1:03d}.png")
        av.VideoFrame.from_ndarray(img, format="rgb24").to_image().save(files[-1])
    return files


@pytest.mark.parametrize("output", ["f/out_%05d.png", "f/", "f", ".", "f/f%03d.png", "f/f002.png"])
def test_no_output_replaces_or_deletes_an_input_image(tmp_path, monkeypatch, output):
    from vfi.engine import Job, run

    monkeypatch.chdir(tmp_path)
    files = _png_sequence(tmp_path / "f")
    before = {p.name: p.read_bytes() for p in files}
    with pytest.raises(UsageError, match="input"):
        run(Job(input="f/f%03d.png", output=output, factor=Fraction(2), method="blend", overwrite=True))
    assert {p.name: p.read_bytes() for p in (tmp_path / "f").iterdir()} == before
    # beside the input, a video file is fine
    run(Job(input="f/f%03d.png", output="f/x.mkv", factor=Fraction(2), method="blend", overwrite=True))
    assert {p.name: p.read_bytes() for p in files} == before


@pytest.mark.parametrize("name", ["100%done.mp4", "2024-01-01T10:30:00.mp4", "%d.mkv"])
def test_odd_file_names_are_files(tmp_path, monkeypatch, name):
    from conftest import vfi

    monkeypatch.chdir(tmp_path)  # relative names, as typed
    make_video(tmp_path / name, moving_frames(4, 16, 16), Fraction(24))
    res = vfi("upsample", name, "-o", f"out {name}", "--factor", "2", "--method", "blend", "-q")
    assert res.exit_code == 0, res.output
    assert output_kind(name) == "file" and (tmp_path / f"out {name}").exists()
    res = vfi("upsample", name, "-o", f"x{name}", "--factor", "2", "--method", "blend", "-q")
    assert res.exit_code == 0 and (tmp_path / f"x{name}").exists(), res.output
