"""The Python API: Job takes rates as the CLI does; the README's example runs."""

from __future__ import annotations

import re
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import make_video, moving_frames
from vfi.engine import Job, default_method, run
from vfi.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kw,rate", [({"fps": 60}, Fraction(60)), ({"fps": 59.94}, Fraction(60000, 1001)),
                                     ({"fps": "60000/1001"}, Fraction(60000, 1001)), ({"factor": 2.5}, Fraction(60)),
                                     ({"fps": Fraction(48)}, Fraction(48))])
def test_job_takes_rates_as_the_cli_does(tmp_path, kw, rate):
    src = make_video(tmp_path / "in.mp4", moving_frames(12, 32, 48), Fraction(24))
    res = run(Job(input=str(src), output=str(tmp_path / "o.mp4"), method="blend", **kw))
    assert res.output_rate == rate


def test_bad_rates_are_usage_errors():
    for bad in ("fast", -3, float("nan"), [60]):
        with pytest.raises(UsageError):
            Job(input="a.mp4", output="b.mp4", fps=bad)


def test_the_default_method_is_the_clis():
    from vfi.cli import _job_from_options
    from vfi.engine import checked_job

    assert Job(input="a", output="b").method is None  # filled in by run(): default_method(), once
    opts = dict(output="b.mkv", fps=None, factor=Fraction(2), method=None, model=None, weights=None, depth=3,
                scene_threshold=0.3, audio="copy", overwrite=False, salvage=False, device="auto", tile=None, precision="auto",
                batch_size=4, streams=None, start=None, duration=None, end=None, input_fps=None, dedup=False,
                dedup_threshold=0.005, deinterlace="auto", codec=None, crf=None, pix_fmt=None, preset=None, pipe_format=None)
    job = _job_from_options("upsample", "a.mp4", opts)
    assert job.method is None and checked_job(job).method == default_method()


def test_the_readme_python_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "bbb_320x180.mp4", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "bbb_60fps.mp4").exists()
