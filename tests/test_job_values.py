"""A Job made from Python is checked as the command line checks its options
(vfi.job_values): one clear UsageError, never a bare TypeError or a numpy error."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import make_video, moving_frames
from vfi.engine import Job, run
from vfi.errors import UsageError


def test_paths_are_taken_as_file_names(tmp_path):
    src = make_video(tmp_path / "in.mp4", moving_frames(4, 16, 16), Fraction(24))
    job = Job(input=src, output=tmp_path / "out.mkv", factor=2, method="blend")
    assert (job.input, job.output) == (str(src), str(tmp_path / "out.mkv"))
    assert run(job).frames_out == 8 and (tmp_path / "out.mkv").exists()


@pytest.mark.parametrize("values, needle", [
    ({"input": 3}, "input must be a file name"),
    ({"tile": -5}, "tile must be at least 0"),
    ({"tile": 2.5}, "tile must be a whole number"),
    ({"start": Fraction(-1)}, "start must not be negative"),
    ({"start": -1}, "start: a time cannot be negative"),
    ({"start": "-0:01"}, "start"),
    ({"duration": 0}, "duration must be above 0"),
    ({"scene_threshold": 1.5}, "scene_threshold must be a number from 0 to 1"),
    ({"dedup_threshold": -0.1}, "dedup_threshold must be a number from 0 to 1"),
    ({"overwrite": "no"}, "overwrite must be True or False"),
    ({"threads": 1}, "threads must be True or False"),
    ({"depth": 0}, "depth must be 1 to 8"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"mode": "fast"}, "mode must be upsample or slowmo"),
])
def test_bad_values_are_one_clear_usage_error(values, needle):
    args = {"input": "in.mp4", "output": "out.mp4", "factor": 2, **values}
    with pytest.raises(UsageError, match=needle):
        Job(**args)


def test_good_values_pass(tmp_path):
    job = Job(input=Path("a.mp4"), output="b.mkv", factor=2, tile=0, start=0, scene_threshold=0, dedup_threshold=1, overwrite=True)
    assert (job.input, job.tile, job.overwrite) == ("a.mp4", 0, True)


@pytest.mark.parametrize("command", ["upsample", "slowmo"])
def test_the_command_line_takes_the_same_ranges(command):
    import click

    from vfi.cli import main
    from vfi.io.filters import DEINTERLACE_MODES
    from vfi.job_values import COUNTS, FRACTION_RANGE, FRACTIONS

    options = {p.name: p.type for p in main.commands[command].params}
    for name, (low, high) in COUNTS.items():
        assert isinstance(options[name], click.IntRange) and (options[name].min, options[name].max) == (low, high), name
    for name in FRACTIONS:
        assert (options[name].min, options[name].max) == FRACTION_RANGE, name
    assert tuple(options["deinterlace"].choices) == DEINTERLACE_MODES
    res = CliRunner().invoke(main, [command, "in.mp4", "-o", "o.mkv", "--depth", str(COUNTS["depth"][1] + 1)])
    assert res.exit_code == 2 and "'--depth'" in res.output and "1<=x<=8" in res.output, res.output
