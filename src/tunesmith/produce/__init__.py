"""produce: stems -> mix -> master at a loudness target.

    result = mix(stems, sample_rate=44100, template=MixTemplate.default())
    mastered = master(result.audio, sample_rate=44100, target=MasterTarget.named("spotify"))

Audio is float32, channels first: shape (2, n_samples).
"""

from tunesmith.produce.common import DEFAULT_SAMPLE_RATE, ROLES, ProduceError
from tunesmith.produce.limiter import TruePeakLimiter
from tunesmith.produce.loudness import (
    LoudnessReport,
    integrated_lufs,
    loudness_report,
    true_peak_dbtp,
)
from tunesmith.produce.mastering import (
    TARGET_PRESETS,
    BusSettings,
    MasterResult,
    MasterTarget,
    master,
)
from tunesmith.produce.mixing import MixResult, Stem, StemReport, mix
from tunesmith.produce.templates import CompressorSettings, EqMove, MixTemplate

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "ROLES",
    "TARGET_PRESETS",
    "BusSettings",
    "CompressorSettings",
    "EqMove",
    "LoudnessReport",
    "MasterResult",
    "MasterTarget",
    "MixResult",
    "MixTemplate",
    "ProduceError",
    "Stem",
    "StemReport",
    "TruePeakLimiter",
    "integrated_lufs",
    "loudness_report",
    "master",
    "mix",
    "true_peak_dbtp",
]
