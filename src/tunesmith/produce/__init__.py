"""produce: stems -> mix -> master at a loudness target.

    result = mix(stems, sample_rate=44100, template=MixTemplate.for_style("rock"))
    mastered = master(result.audio, sample_rate=44100, target=MasterTarget.named("spotify"))
    auto = automix([SourceStem("Kick", kick, 48000), ...])   # anyone's stems: roles detected
    matched = master(mix, sample_rate=sr, reference=TonalBalance.from_audio(ref, sample_rate=sr))

Audio is float32, channels first: shape (2, n_samples).
"""

from tunesmith.produce.analysis import RoleGuess, StemFeatures, detect_role, stem_features
from tunesmith.produce.automix import AutoMixResult, SourceStem, automix
from tunesmith.produce.common import DEFAULT_SAMPLE_RATE, ROLES, ProduceError, canonical_role
from tunesmith.produce.dynamics import MultibandCompressor
from tunesmith.produce.families import Family, family_for_style
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
from tunesmith.produce.mixing import SUM_TOLERANCE, MixResult, Stem, StemReport, mix
from tunesmith.produce.templates import CompressorSettings, EqMove, MixTemplate
from tunesmith.produce.tonal import MatchEq, TonalBalance, spectral_distance_db

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "ROLES",
    "SUM_TOLERANCE",
    "TARGET_PRESETS",
    "AutoMixResult",
    "BusSettings",
    "CompressorSettings",
    "EqMove",
    "Family",
    "LoudnessReport",
    "MasterResult",
    "MasterTarget",
    "MatchEq",
    "MixResult",
    "MixTemplate",
    "MultibandCompressor",
    "ProduceError",
    "RoleGuess",
    "SourceStem",
    "Stem",
    "StemFeatures",
    "StemReport",
    "TonalBalance",
    "TruePeakLimiter",
    "automix",
    "canonical_role",
    "detect_role",
    "family_for_style",
    "integrated_lufs",
    "loudness_report",
    "master",
    "mix",
    "spectral_distance_db",
    "stem_features",
    "true_peak_dbtp",
]
