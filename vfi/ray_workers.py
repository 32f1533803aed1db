"""Chunks as Ray tasks (``--ray ADDRESS`` or ``auto``; ``pip install 'vfi[ray]'``)."""

from __future__ import annotations


def run_on_ray(job, plan, todo, folder, digests, report) -> dict:
    raise NotImplementedError
