"""``python -m vfi``: the same command line as ``vfi`` (for environments without the script on PATH)."""

from .cli import main

main(prog_name="vfi")
