"""The progress bar: true totals and a frame rate to the end."""

import io
import re
import time

from rich.console import Console

from vfi.progress import ProgressObserver, make_progress


def run_bar(estimate, frames):
    out = io.StringIO()
    bar = ProgressObserver("upsample", plain=False)
    bar.progress = make_progress(console=Console(file=out, force_terminal=True, width=100))
    bar.start(estimate, None)
    for k in range(frames):
        time.sleep(0.01)
        bar.frame(k, "S", None, None, None, 0.0)
    bar.finish()
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())  # terminal control codes
    return [line for line in re.split(r"[\r\n]", text) if line.strip()][-1]


def test_rate_is_shown_at_the_end_when_the_estimate_was_short_or_long():
    for estimate in (5, 12):  # a container that declares too little, or too much
        last = run_bar(estimate, 8)
        assert "8/8" in last
        rate = re.search(r"([\d.]+) fps", last)
        assert rate and 20 < float(rate.group(1)) < 200, last  # 8 frames 10 ms apart


def test_plain_lines_when_stderr_is_not_a_terminal():
    from vfi.progress import LogLines

    out = io.StringIO()
    lines = LogLines("upsample", stream=out, every=0.05)
    for k in range(30):
        time.sleep(0.01)
        lines.update(k + 1, 40)
    lines.finish(failed=False)
    text = out.getvalue().splitlines()
    assert len(text) >= 3 and all(line.startswith("upsample: ") for line in text)
    assert re.search(r"\d+/40 frames \([\d.]+ %\), [\d.]+ fps, ETA \d:\d\d:\d\d", text[0]), text[0]
    assert "30/30 frames (100.0 %)" in text[-1] and "done in" in text[-1]


def test_a_long_job_logs_progress_to_a_file_within_seconds(tmp_path):
    import subprocess
    import sys
    from fractions import Fraction

    from conftest import make_video, moving_frames

    src = make_video(tmp_path / "in.mp4", moving_frames(400, 90, 160, speed=1), Fraction(24))
    log = tmp_path / "log"
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "vfi.cli", "upsample", str(src), "-o", str(tmp_path / "o.mp4"),
                                 "--factor", "4", "--method", "mci"], stderr=f, stdout=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline and "fps" not in log.read_text():
            time.sleep(0.2)
        seen = log.read_text()
        proc.kill()
        proc.wait()
    assert re.search(r"upsample: \d+/\d+ frames", seen), seen
