"""Release audio: one master per loudness target the platforms ask for, each delivered as WAV
44.1 kHz/16-bit (TPDF-dithered), FLAC 24-bit and MP3 320 kbit/s.

Platforms whose targets coincide share one version (Spotify and YouTube both normalise to
-14 LUFS / -1 dBTP). A quieter version is the louder master turned down (no second pass
through a limiter, so nothing is squashed twice); a louder one goes back through
`tunesmith.produce.master` with a flat bus (limiter and loudness only) and is measured again
(a plain gain moves the measured loudness and peaks by exactly that gain). Every version must
land within 0.5 LU of its target under its ceiling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunesmith.errors import TunesmithError

log = logging.getLogger(__name__)

#: Platforms a release is prepared for, in the order versions are listed.
RELEASE_PLATFORMS: tuple[str, ...] = ("spotify", "youtube", "apple")
RELEASE_SAMPLE_RATE = 44100
MP3_BITRATE_KBPS = 320
WAV_BITS = 16
FLAC_BITS = 24
LOUDNESS_TOLERANCE_LU = 0.5
_GAIN_ONLY_HEADROOM_DB = 0.05  # a turned-up master must stay this far under its ceiling


class ReleaseAudioError(TunesmithError):
    """A release master could not be made at its platform's loudness."""


@dataclass(frozen=True, slots=True)
class LoudnessTarget:
    integrated_lufs: float
    true_peak_dbtp: float


@dataclass(slots=True)
class PlatformVersion:
    """One loudness version of the song, for the platforms in `platforms`."""

    name: str  # folder name, e.g. "spotify-youtube"
    platforms: tuple[str, ...]
    target: LoudnessTarget
    audio: np.ndarray  # (2, n) float32
    loudness: dict[str, Any]  # LoudnessReport.to_dict() of `audio`
    method: str  # "as mastered", "gain -2.00 dB" or "remastered"


def platform_targets(platforms: tuple[str, ...] = RELEASE_PLATFORMS) -> dict[LoudnessTarget, tuple[str, ...]]:
    """Group platforms by their loudness target (MasterTarget presets), in first-seen order."""
    from tunesmith.produce import MasterTarget

    groups: dict[LoudnessTarget, list[str]] = {}
    for name in platforms:
        t = MasterTarget.named(name)
        groups.setdefault(LoudnessTarget(t.integrated_lufs, t.true_peak_dbtp), []).append(t.name)
    return {k: tuple(v) for k, v in groups.items()}


def make_versions(master_audio: np.ndarray, *, sample_rate: int,
                  platforms: tuple[str, ...] = RELEASE_PLATFORMS) -> list[PlatformVersion]:
    """One PlatformVersion per distinct loudness target, made from the song's master."""
    from tunesmith.produce import loudness_report

    x = np.ascontiguousarray(master_audio, dtype=np.float32)
    source = loudness_report(x, sample_rate=sample_rate)
    versions = []
    for target, names in platform_targets(platforms).items():
        audio, method, gain_db = _fit(x, source.integrated_lufs, source.true_peak_dbtp, target,
                                      sample_rate=sample_rate, name=names[0])
        if gain_db is None:
            report = loudness_report(audio, sample_rate=sample_rate)
        else:  # a plain gain moves every level by exactly that much
            report = _shifted(source, gain_db)
        if (abs(report.integrated_lufs - target.integrated_lufs) > LOUDNESS_TOLERANCE_LU
                or report.true_peak_dbtp > target.true_peak_dbtp + 1e-3):
            raise ReleaseAudioError(
                f"the {'/'.join(names)} master came out at {report.integrated_lufs:.1f} LUFS, "
                f"{report.true_peak_dbtp:.1f} dBTP instead of {target.integrated_lufs:g} LUFS "
                f"under {target.true_peak_dbtp:g} dBTP")
        versions.append(PlatformVersion(name="-".join(names), platforms=names, target=target,
                                        audio=audio, loudness=report.to_dict(), method=method))
        log.info("%s: %s, %.2f LUFS, %.2f dBTP", "/".join(names), method,
                 report.integrated_lufs, report.true_peak_dbtp)
    return versions


def _shifted(report: Any, gain_db: float) -> Any:
    from dataclasses import replace

    return replace(report, integrated_lufs=report.integrated_lufs + gain_db,
                   short_term_max_lufs=report.short_term_max_lufs + gain_db,
                   true_peak_dbtp=report.true_peak_dbtp + gain_db,
                   sample_peak_dbfs=report.sample_peak_dbfs + gain_db)


def _fit(x: np.ndarray, lufs: float, peak_dbtp: float, target: LoudnessTarget, *,
         sample_rate: int, name: str) -> tuple[np.ndarray, str, float | None]:
    """The master for `target`, how it was made, and the plain gain applied (None when it
    went through the limiter again)."""
    gain_db = target.integrated_lufs - lufs
    if abs(gain_db) < 0.05 and peak_dbtp <= target.true_peak_dbtp:
        return x, "as mastered", 0.0
    if peak_dbtp + gain_db <= target.true_peak_dbtp - (_GAIN_ONLY_HEADROOM_DB if gain_db > 0 else 0):
        return x * np.float32(10.0 ** (gain_db / 20.0)), f"gain {gain_db:+.2f} dB", gain_db
    from tunesmith.produce import BusSettings, MasterTarget, master

    flat = BusSettings(low_shelf_db=0.0, high_shelf_db=0.0, glue_ratio=1.0)
    result = master(x, sample_rate=sample_rate, target=MasterTarget.named(name), bus=flat)
    return np.ascontiguousarray(result.audio, dtype=np.float32), "remastered", None


# ---------------------------------------------------------------- encoders

def tpdf_dither_16(audio: np.ndarray, *, seed: int) -> np.ndarray:
    """Float (2, n) -> int16 (n, 2) with triangular (TPDF, +-1 LSB) dither."""
    rng = np.random.default_rng(seed)
    scaled = audio.T * np.float32(32767.0)
    noise = rng.random(scaled.shape, dtype=np.float32)
    noise -= rng.random(scaled.shape, dtype=np.float32)
    scaled += noise
    np.rint(scaled, out=scaled)
    np.clip(scaled, -32768, 32767, out=scaled)
    return scaled.astype(np.int16)


def write_wav16(path: Path, audio: np.ndarray, *, sample_rate: int, seed: int) -> None:
    import soundfile as sf

    sf.write(str(path), tpdf_dither_16(audio, seed=seed), sample_rate, subtype="PCM_16",
             format="WAV")


def write_flac24(path: Path, audio: np.ndarray, *, sample_rate: int) -> None:
    import soundfile as sf

    sf.write(str(path), np.ascontiguousarray(audio.T), sample_rate, subtype="PCM_24",
             format="FLAC")


def write_mp3(path: Path, audio: np.ndarray, *, sample_rate: int,
              bitrate_kbps: int = MP3_BITRATE_KBPS) -> None:
    """Constant-bitrate MP3 (LAME, through pedalboard: about 3x less CPU than PyAV here)."""
    from pedalboard.io import AudioFile

    with AudioFile(str(path), "w", sample_rate, audio.shape[0],
                   quality=f"{bitrate_kbps}K") as f:
        f.write(np.ascontiguousarray(audio, dtype=np.float32))
