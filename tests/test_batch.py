"""Several inputs into one folder (vfi.batch)."""

from __future__ import annotations

from fractions import Fraction

from conftest import make_video, moving_frames, vfi


def test_an_output_folder_that_cannot_be_made_is_one_clear_error(tmp_path):
    a = make_video(tmp_path / "a.mp4", moving_frames(4, 16, 16), Fraction(24))
    b = make_video(tmp_path / "b.mp4", moving_frames(4, 16, 16), Fraction(24))
    (tmp_path / "file").write_text("not a folder")
    res = vfi("upsample", a, b, "-o", f"{tmp_path}/file/out/", "--factor", "2", "--method", "blend")
    lines = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert res.exit_code == 1 and len(lines) == 1 and "unexpected" not in res.output, res.output
    assert "cannot make this folder" in lines[0]
