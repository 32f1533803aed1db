"""Shared by the verify_*.py scripts: PASS/FAIL lines and the exit status."""

import argparse
import sys
import tempfile
from pathlib import Path


def clip_and_workdir():
    """Command line of the verify scripts: CLIP [--workdir DIR]."""
    ap = argparse.ArgumentParser()
    ap.add_argument("clip")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp())
    work.mkdir(parents=True, exist_ok=True)
    return args, work


class Checks:
    def __init__(self):
        self.ok = True

    def __call__(self, cond, text: str) -> None:
        self.ok &= bool(cond)
        print(("PASS " if cond else "FAIL ") + text)

    def finish(self) -> None:
        print("all checks passed" if self.ok else "SOME CHECKS FAILED")
        sys.exit(0 if self.ok else 1)
