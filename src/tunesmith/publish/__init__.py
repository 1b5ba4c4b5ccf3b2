"""publish: write a finished song folder atomically (nothing half-written looks finished)."""

from __future__ import annotations

from tunesmith.publish.bundle import BundleError, prepare_out_dir, write_bundle
from tunesmith.publish.pianoroll import draw_pianoroll

__all__ = ["BundleError", "draw_pianoroll", "prepare_out_dir", "write_bundle"]
