"""Tests for the produce stage (mix and master) on synthesised, seeded stems.

Loudness and true peak are checked independently of the code under test: pyloudnorm for
BS.1770 loudness and scipy's resample_poly (4x) for true peak.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyloudnorm as pyln
import pytest
from scipy.signal import resample_poly

from tunesmith.errors import TunesmithError
from tunesmith.produce import (
    MasterTarget,
    MixTemplate,
    ProduceError,
    Stem,
    TruePeakLimiter,
    integrated_lufs,
    loudness_report,
    master,
    mix,
    true_peak_dbtp,
)

SR = 44100


# --------------------------------------------------------------------------- helpers


def ref_lufs(audio: np.ndarray, sample_rate: int = SR) -> float:
    return float(pyln.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64)))


def ref_true_peak_db(audio: np.ndarray) -> float:
    oversampled = resample_poly(audio.astype(np.float64), 4, 1, axis=-1)
    return 20.0 * math.log10(float(np.abs(oversampled).max()))


def stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x]).astype(np.float32)


def tone(freq_hz: float, seconds: float, amp: float = 0.3, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * freq_hz * t + phase)


def band_energy(x: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / SR)
    return float(spectrum[..., (freqs >= lo_hz) & (freqs < hi_hz)].sum())


def make_stems(seconds: float = 8.0, seed: int = 0) -> list[Stem]:
    """A small band: kick-like drums with noise hats, a bass, a melody, chords and a pad."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    beat = 0.5
    since_beat = t % beat
    # pitch falls 140 -> 50 Hz over ~40 ms: phase is the integral of that frequency
    kick_phase = 2 * np.pi * (50 * since_beat + 90 * 0.02 * (1 - np.exp(-since_beat / 0.02)))
    kick = np.sin(kick_phase) * np.exp(-since_beat / 0.15)
    hats = rng.standard_normal(n) * np.exp(-((t + beat / 4) % (beat / 2)) / 0.02) * 0.25
    steps = rng.integers(0, 12, size=int(seconds / beat) + 1)
    melody_f = 220 * 2 ** (steps[(t / beat).astype(int)] / 12)
    melody = (
        0.3 * np.sin(2 * np.pi * np.cumsum(melody_f) / SR) * (0.6 + 0.4 * np.exp(-since_beat / 0.3))
    )
    bass = 0.4 * np.tanh(2 * np.sin(2 * np.pi * 55 * t))
    chords = sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)) * 0.1
    pad = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in (130.8, 196.0, 329.6)) * 0.05
    return [
        Stem("drums", "drums", stereo(0.5 * (kick + hats)), pan=0.0),
        Stem("bass", "bass", stereo(bass), pan=0.0),
        Stem("melody", "melody", stereo(melody), pan=0.0),
        Stem("chords", "chords", stereo(chords), pan=-0.4),
        Stem(
            "pad", "pad", np.stack([pad, np.roll(pad, 300)]).astype(np.float32), pan=0.3, gain_db=-3
        ),
    ]


@pytest.fixture(scope="module")
def band_mix():
    return mix(make_stems(), sample_rate=SR)


# --------------------------------------------------------------------------- meters


def test_meters_agree_with_pyloudnorm_and_resample_poly():
    rng = np.random.default_rng(1)
    t = np.arange(10 * SR) / SR
    signals = [
        (rng.standard_normal((2, t.size)) * 0.1).astype(np.float32),
        np.stack([tone(50, 10, 0.5), tone(7000, 10, 0.2)]).astype(np.float32),
        (rng.standard_normal((2, t.size)) * 0.2 * (np.sin(2 * np.pi * 0.3 * t) > 0.5)).astype(
            np.float32
        ),
    ]
    for x in signals:
        assert integrated_lufs(x, sample_rate=SR) == pytest.approx(ref_lufs(x), abs=0.02)
        assert true_peak_dbtp(x, sample_rate=SR) == pytest.approx(ref_true_peak_db(x), abs=0.005)


def test_loudness_report_fields():
    x = stereo(tone(1000, 6, amp=0.5))
    report = loudness_report(x, sample_rate=SR)
    assert report.crest_factor_db == pytest.approx(20 * math.log10(math.sqrt(2)), abs=0.05)
    assert report.sample_peak_dbfs == pytest.approx(20 * math.log10(0.5), abs=0.01)
    assert report.short_term_max_lufs == pytest.approx(report.integrated_lufs, abs=0.1)
    assert report.loudness_range_lu == pytest.approx(0.0, abs=0.1)
    # a level step of 10 dB halfway shows up as loudness range
    step = stereo(np.concatenate([tone(1000, 10, 0.05), tone(1000, 10, 0.05 * 10**0.5)]))
    lra = loudness_report(step, sample_rate=SR).loudness_range_lu
    assert lra == pytest.approx(pyln.Meter(SR).loudness_range(step.T.astype(np.float64)), abs=0.5)
    assert 8.0 < lra < 11.0
    json.dumps(report.to_dict())


# --------------------------------------------------------------------------- limiter


def test_limiter_catches_inter_sample_peaks():
    n = np.arange(2 * SR)
    # fs/4 at phase pi/4: every sample is +-0.707 (-3 dBFS) but the waveform peaks at 0 dBTP
    x = stereo(np.sin(np.pi / 2 * n + np.pi / 4))
    assert 20 * math.log10(np.abs(x).max()) < -1.0 < ref_true_peak_db(x)
    y = TruePeakLimiter(ceiling_dbtp=-1.0)(x, SR)
    assert ref_true_peak_db(y) <= -1.0
    assert ref_true_peak_db(y) > -1.3  # limited, not crushed


def test_limiter_ceiling_on_loud_noise_and_leaves_quiet_audio_alone():
    rng = np.random.default_rng(2)
    loud = (rng.standard_normal((2, 5 * SR)) * 2.0).astype(np.float32)
    limiter = TruePeakLimiter(ceiling_dbtp=-2.0)
    assert ref_true_peak_db(limiter(loud, SR)) <= -2.0
    quiet = (rng.standard_normal((2, 5 * SR)) * 0.01).astype(np.float32)
    np.testing.assert_allclose(limiter(quiet, SR), quiet, atol=1e-7)


# --------------------------------------------------------------------------- mix


def test_mix_headroom_and_stems_sum_to_mix(band_mix):
    assert band_mix.audio.shape == (2, 8 * SR) and band_mix.audio.dtype == np.float32
    assert 20 * math.log10(np.abs(band_mix.audio).max()) == pytest.approx(-6.0, abs=0.01)
    json.dumps(band_mix.report_dict())
    bypassed = mix(make_stems(), sample_rate=SR, bypass_bus=True)
    total = sum(bypassed.stems.values()) + sum(bypassed.returns.values())
    np.testing.assert_allclose(total, bypassed.audio, atol=1e-5)


def test_gain_staging_restores_balance_of_a_stem_20_db_too_loud():
    stems = make_stems(seed=3)
    stems[3].audio = stems[3].audio * np.float32(10.0)  # chords 20 dB hot
    result = mix(stems, sample_rate=SR)
    tpl = MixTemplate.default()
    melody = ref_lufs(result.stems["melody"])
    for stem in stems:
        measured = ref_lufs(result.stems[stem.name]) - melody
        expected = tpl.level_lu[stem.role] + stem.gain_db
        assert measured == pytest.approx(expected, abs=1.0), stem.name
        assert result.report[stem.name].output_lufs == pytest.approx(
            ref_lufs(result.stems[stem.name]), abs=0.5
        )


def test_melody_is_high_passed_but_bass_is_not():
    source = stereo(tone(50, 6, 0.3) + tone(1000, 6, 0.1))
    stems = [Stem("tune", "melody", source), Stem("low", "bass", source.copy())]
    out = mix(stems, sample_rate=SR, template=MixTemplate.from_dict({"reverb_wet_level": 0}))

    def low_to_mid_db(x: np.ndarray) -> float:
        return 10 * math.log10(band_energy(x, 30, 80) / band_energy(x, 800, 1200))

    before = low_to_mid_db(source)
    assert low_to_mid_db(out.stems["tune"]) < before - 12.0
    assert low_to_mid_db(out.stems["low"]) > before - 3.0


def test_pan_hint_moves_energy_and_bass_stays_centred():
    source = stereo(tone(440, 4, 0.2))
    stems = [Stem("left", "keys", source, pan=-0.8), Stem("low", "bass", source.copy(), pan=-1.0)]
    out = mix(stems, sample_rate=SR)
    left = out.stems["left"]
    assert band_energy(left[0], 400, 480) > 10 * band_energy(left[1], 400, 480)
    low = out.stems["low"]
    assert band_energy(low[0], 400, 480) == pytest.approx(band_energy(low[1], 400, 480), rel=1e-3)


def test_silent_stem_gives_no_nan():
    stems = make_stems(seconds=4)
    stems.append(Stem("mute", "other", np.zeros((2, 4 * SR), dtype=np.float32)))
    result = mix(stems, sample_rate=SR)
    assert np.isfinite(result.audio).all()
    assert not result.stems["mute"].any()
    assert result.report["mute"].silent
    assert result.report["mute"].to_dict()["input_lufs"] is None


def test_stems_of_different_lengths_and_mono_are_padded():
    stems = [Stem("a", "melody", tone(440, 2)), Stem("b", "keys", stereo(tone(660, 3)))]
    result = mix(stems, sample_rate=SR)
    assert result.audio.shape == (2, 3 * SR)


def test_sidechain_ducks_bass_under_the_kick():
    stems = make_stems(seconds=4)[:2]
    plain = mix(stems, sample_rate=SR).stems["bass"]
    ducked = mix(
        stems, sample_rate=SR, template=MixTemplate.from_dict({"sidechain_duck_db": 6.0})
    ).stems["bass"]
    position = np.arange(4 * SR) % (SR // 2)  # samples since the last kick
    after_kick = position < int(0.15 * SR)
    before_kick = position >= int(0.35 * SR)

    def ducking_db(mask: np.ndarray) -> float:
        return 20 * math.log10(np.abs(ducked[0, mask]).mean() / np.abs(plain[0, mask]).mean())

    assert ducking_db(after_kick) < ducking_db(before_kick) - 3.0


def test_mix_rejects_bad_stems():
    with pytest.raises(ProduceError):
        mix([], sample_rate=SR)
    with pytest.raises(ProduceError, match="role"):
        mix([Stem("x", "kazoo", stereo(tone(440, 1)))], sample_rate=SR)
    with pytest.raises(ProduceError, match="channels-last"):
        mix([Stem("x", "keys", stereo(tone(440, 1)).T.copy())], sample_rate=SR)


# --------------------------------------------------------------------------- master


@pytest.mark.parametrize("name", ["spotify", "apple"])
def test_mix_then_master_hits_target(band_mix, name):
    target = MasterTarget.named(name)
    result = master(band_mix.audio, sample_rate=SR, target=target)
    assert result.audio.shape == band_mix.audio.shape and result.audio.dtype == np.float32
    assert ref_lufs(result.audio) == pytest.approx(target.integrated_lufs, abs=0.5)
    assert ref_lufs(result.audio) == pytest.approx(target.integrated_lufs, abs=0.15)
    assert ref_true_peak_db(result.audio) <= target.true_peak_dbtp
    assert result.report.integrated_lufs == pytest.approx(ref_lufs(result.audio), abs=0.02)


def percussive(seconds: float = 8.0, seed: int = 5) -> np.ndarray:
    """Clicks and noise snaps every 125 ms over a faint tone: crest factor ~20 dB, so -14 LUFS
    under -1 dBTP needs several dB of limiting."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    since = t % 0.25
    clicks = np.sin(2 * np.pi * (60 * since + 1.0 * (1 - np.exp(-since / 0.01)))) * np.exp(
        -since / 0.03
    )
    snaps = rng.standard_normal(t.size) * np.exp(-((t + 0.125) % 0.25) / 0.01)
    return stereo(0.8 * clicks + 0.5 * snaps + 0.02 * np.sin(2 * np.pi * 220 * t))


@pytest.mark.parametrize("name", ["spotify", "apple"])
def test_transient_heavy_material_is_limited_to_target(name):
    x = percussive()
    assert loudness_report(x, sample_rate=SR).crest_factor_db > 18.0
    target = MasterTarget.named(name)
    result = master(x, sample_rate=SR, target=target)
    assert result.limiter_reduction_max_db > 3.0  # the limiter really worked here
    assert ref_lufs(result.audio) == pytest.approx(target.integrated_lufs, abs=0.15)
    assert ref_true_peak_db(result.audio) <= target.true_peak_dbtp


def test_loud_clipped_and_quiet_inputs_reach_target():
    rng = np.random.default_rng(4)
    t = np.arange(6 * SR) / SR
    music = rng.standard_normal((2, t.size)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t)
    ) + 0.5 * np.sin(2 * np.pi * 80 * t)
    clipped = np.clip(music * 5.0, -1.0, 1.0).astype(np.float32)
    quiet = (music * 10 ** (-50 / 20)).astype(np.float32)
    for x in (clipped, quiet):
        result = master(x, sample_rate=SR)
        assert ref_lufs(result.audio) == pytest.approx(-14.0, abs=0.5)
        assert ref_true_peak_db(result.audio) <= -1.0


def test_master_rejects_silence_and_short_audio():
    with pytest.raises(ProduceError, match="silent"):
        master(np.zeros((2, 2 * SR), dtype=np.float32), sample_rate=SR)
    with pytest.raises(ProduceError, match="0.4 s"):
        master(stereo(tone(440, 0.2)), sample_rate=SR)
    assert issubclass(ProduceError, TunesmithError)


def test_master_target_presets_and_round_trip():
    assert MasterTarget.named("Spotify") == MasterTarget("spotify", -14.0, -1.0)
    assert MasterTarget.named("apple").integrated_lufs == -16.0
    for name in ("youtube", "soundcloud"):
        assert (
            MasterTarget.named(name).integrated_lufs,
            MasterTarget.named(name).true_peak_dbtp,
        ) == (
            -14.0,
            -1.0,
        )
    target = MasterTarget("club", -9.0, -0.5)
    assert MasterTarget.from_dict(json.loads(json.dumps(target.to_dict()))) == target
    with pytest.raises(ProduceError):
        MasterTarget.named("radio-1")


# --------------------------------------------------------------------------- template


def test_mix_template_round_trips_and_overlays():
    template = MixTemplate.default()
    assert MixTemplate.from_json(template.to_json()) == template
    styled = MixTemplate.from_dict({"reverb_send": {"melody": 0.25}, "reverb_room_size": 0.6})
    assert styled.reverb_send["melody"] == 0.25
    assert styled.reverb_send["pad"] == template.reverb_send["pad"]
    assert styled.reverb_room_size == 0.6
    assert MixTemplate.from_dict(json.loads(json.dumps(styled.to_dict()))) == styled
    assert template.highpass_hz["bass"] is None and template.sidechain_duck_db == 0.0
    with pytest.raises(ProduceError, match="unknown"):
        MixTemplate.from_dict({"reverb_sends": {}})
    with pytest.raises(ProduceError, match="unknown roles"):
        MixTemplate.from_dict({"level_lu": {"kazoo": 0}})
