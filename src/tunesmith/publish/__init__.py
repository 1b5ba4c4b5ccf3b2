"""publish: write a finished song folder atomically (nothing half-written looks finished)."""

from __future__ import annotations

from tunesmith.publish.bundle import BundleError, prepare_out_dir, write_bundle
from tunesmith.publish.pianoroll import draw_pianoroll
from tunesmith.publish.release import ReleaseError, ReleaseResult, make_release

__all__ = ["BundleError", "ReleaseError", "ReleaseResult", "draw_pianoroll", "make_release",
           "prepare_out_dir", "write_bundle"]
