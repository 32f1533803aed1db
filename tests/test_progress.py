"""The progress bar: true totals and a frame rate to the end."""

import io
import re
import time

from rich.console import Console

from vfi.progress import ProgressObserver, make_progress


def run_bar(estimate, frames):
    out = io.StringIO()
    bar = ProgressObserver("upsample")
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
