"""The synthetic singer and the demo hum: physical properties of what they produce."""

from __future__ import annotations

import numpy as np
import pytest

from tunesmith.humsynth import (
    DEMO_KEY,
    DEMO_TEMPO_BPM,
    HumSynthError,
    demo_melody,
    demo_melody_truth,
    synthesize_hum,
)
from tunesmith.score import SungNote

SR = 44100


def spectrum_peak_hz(x: np.ndarray, lo_hz: float, hi_hz: float) -> tuple[float, np.ndarray, np.ndarray]:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), 1 << 18))
    freqs = np.fft.rfftfreq(1 << 18, 1.0 / SR)
    band = (freqs >= lo_hz) & (freqs <= hi_hz)
    return float(freqs[band][np.argmax(spec[band])]), spec, freqs


def level_db(spec: np.ndarray, freqs: np.ndarray, hz: float, width_hz: float = 15.0) -> float:
    band = np.abs(freqs - hz) < width_hz
    return float(20 * np.log10(spec[band].max() + 1e-12))


def test_seeded_and_deterministic() -> None:
    notes = demo_melody()[:5]
    a = synthesize_hum(notes, seed=1)
    b = synthesize_hum(notes, seed=1)
    c = synthesize_hum(notes, seed=2)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_output_shape_level_and_silence_outside_notes() -> None:
    notes = [SungNote(0.5, 1.2, 60.0), SungNote(1.4, 2.0, 62.0)]
    x = synthesize_hum(notes, sample_rate=SR, breath_db=-60)
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.size == pytest.approx(2.4 * SR, abs=SR * 0.01)
    assert 0.3 < np.max(np.abs(x)) <= 1.0
    rms = lambda seg: float(np.sqrt(np.mean(seg**2)))  # noqa: E731
    assert rms(x[: int(0.45 * SR)]) < 0.01 * rms(x[int(0.7 * SR): int(1.0 * SR)])


@pytest.mark.parametrize("vowel", ["mm", "ah", "whistle"])
def test_fundamental_is_at_the_note_pitch(vowel: str) -> None:
    pitch = 88.0 if vowel == "whistle" else 57.0  # 1319 Hz whistle, 220 Hz voice
    x = synthesize_hum([SungNote(0.1, 1.6, pitch)], vowel=vowel, vibrato_cents=0, drift_cents=0)
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    seg = x[int(0.4 * SR): int(1.4 * SR)]
    peak, spec, freqs = spectrum_peak_hz(seg, 0.7 * f0, 1.3 * f0)
    assert abs(1200 * np.log2(peak / f0)) < 15
    if vowel == "whistle":  # near-sine: the octave is far below the fundamental
        assert level_db(spec, freqs, 2 * f0) < level_db(spec, freqs, f0) - 25
    else:  # a voice has harmonics
        assert level_db(spec, freqs, 3 * f0) > level_db(spec, freqs, f0) - 40


def test_mm_is_darker_than_ah() -> None:
    note = [SungNote(0.1, 1.5, 57.0)]

    def centroid(x: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(x[int(0.3 * SR): int(1.3 * SR)]))
        freqs = np.fft.rfftfreq(int(SR), 1.0 / SR)
        return float(np.sum(spec * freqs) / np.sum(spec))

    assert centroid(synthesize_hum(note, vowel="mm")) < 0.7 * centroid(synthesize_hum(note, vowel="ah"))


def test_vibrato_depth_follows_the_parameter() -> None:
    def pitch_spread(vibrato_cents: float) -> float:
        x = synthesize_hum([SungNote(0.1, 2.1, 88.0)], vowel="whistle", vibrato_cents=vibrato_cents,
                           drift_cents=0, breath_db=-80)
        seg = x[int(0.6 * SR): int(2.0 * SR)].astype(np.float64)
        crossings = np.flatnonzero((seg[:-1] < 0) & (seg[1:] >= 0))
        periods = np.diff(crossings) / SR
        cents = 1200 * np.log2(np.median(periods) / periods)
        return float(np.percentile(cents, 95) - np.percentile(cents, 5))

    flat, wide = pitch_spread(0.0), pitch_spread(80.0)
    assert wide > 100 and wide > 3 * flat


def test_unknown_vowel() -> None:
    with pytest.raises(HumSynthError, match="vowel"):
        synthesize_hum(demo_melody()[:2], vowel="ee")


def test_demo_melody_is_a_singable_phrase_ending_on_the_tonic() -> None:
    notes = demo_melody()
    assert 8.0 <= notes[-1].offset_s - notes[0].onset_s <= 12.0
    assert round(notes[-1].pitch) % 12 == DEMO_KEY.tonic
    assert all(round(n.pitch) % 12 in DEMO_KEY.scale for n in notes)
    assert max(n.pitch for n in notes) - min(n.pitch for n in notes) <= 12  # one octave
    assert all(b.onset_s - a.offset_s > 0.01 for a, b in zip(notes, notes[1:], strict=False))
    truth = demo_melody_truth()
    assert [round(n.pitch) for n in notes] == [n.pitch for n in truth]
    assert max(n.end_beat for n in truth) == 16.0  # four bars of 4/4


def test_demo_timing_is_human_but_on_tempo() -> None:
    a, b = demo_melody(seed=0), demo_melody(seed=1)
    assert [n.onset_s for n in a] != [n.onset_s for n in b]
    assert [n.pitch for n in a] == [n.pitch for n in b]
    spb = 60.0 / DEMO_TEMPO_BPM
    beats = np.array([n.start_beat for n in demo_melody_truth()])
    onsets = np.array([n.onset_s for n in a])
    slope = np.polyfit(beats, onsets, 1)[0]
    assert abs(slope / spb - 1) < 0.02
    resid = onsets - np.polyval(np.polyfit(beats, onsets, 1), beats)
    assert 0.002 < np.std(resid) < 0.03
