"""A synthetic singer: turns performed notes into a voice-like recording, and the demo hum.

Source-filter synthesis, seeded and deterministic:
- source: a Rosenberg glottal pulse train (differentiated, for lip radiation) whose pitch
  follows the notes with portamento, a slight scoop at each attack, delayed vibrato, slow
  drift and per-period jitter; shimmer varies each period's amplitude;
- filter: parallel formant resonators for the vowel ("ah" open vowel, "mm" nasal hum);
  "whistle" skips the glottis and formants and is a near-sine with a little breath;
- breath noise shaped like aspiration, amplitude envelopes with soft attacks and releases.
Used by tests and the demo; it makes no claim to sound like a trained singer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunesmith.errors import TunesmithError
from tunesmith.score import Note, SungNote
from tunesmith.theory import Key

VIBRATO_RATE_HZ = 5.5
VIBRATO_DELAY_S = 0.15  # vibrato fades in after this much of a note
PORTAMENTO_S = 0.04  # glide between notes closer than GLIDE_GAP_S
GLIDE_GAP_S = 0.12
SCOOP_CENTS = 30.0  # attacks start this much flat and settle within SCOOP_S
SCOOP_S = 0.05
JITTER = 0.004  # relative period-to-period f0 perturbation
SHIMMER = 0.06  # relative period-to-period amplitude perturbation
PEAK_LEVEL = 0.5  # output peak (about -6 dBFS)
TAIL_S = 0.4


class HumSynthError(TunesmithError):
    """The synthetic singer was asked for something it cannot do."""


@dataclass(frozen=True)
class Vowel:
    attack_s: float
    release_s: float
    formants: tuple[tuple[float, float], ...]  # (centre Hz, bandwidth Hz), in cascade
    breath_band_hz: tuple[float, float]
    open_quotient: float  # fraction of the period the glottis is open


VOWELS: dict[str, Vowel] = {
    # nasal hum: energy low, first nasal resonance ~250 Hz, weak higher resonances
    "mm": Vowel(0.07, 0.08, ((250.0, 100.0), (450.0, 300.0), (2200.0, 400.0)), (200.0, 1500.0), 0.7),
    # open "ah" for singing
    "ah": Vowel(0.03, 0.06, ((730.0, 90.0), (1090.0, 110.0), (2440.0, 170.0), (3400.0, 250.0)),
                (800.0, 6000.0), 0.55),
    "whistle": Vowel(0.04, 0.05, (), (500.0, 6000.0), 0.5),
}

DEMO_TEMPO_BPM = 96.0
DEMO_KEY = Key(2, "major")
DEMO_LEAD_IN_S = 0.5
# (start beat, beats, MIDI pitch): a 4-bar antecedent/consequent phrase in D major.
_DEMO_PHRASE = (
    (0.0, 1.0, 66), (1.0, 1.0, 69), (2.0, 1.5, 71), (3.5, 0.5, 69),
    (4.0, 1.0, 66), (5.0, 0.5, 64), (5.5, 0.5, 62), (6.0, 2.0, 64),
    (8.0, 1.0, 66), (9.0, 1.0, 69), (10.0, 1.0, 74), (11.0, 0.5, 73), (11.5, 0.5, 71),
    (12.0, 1.0, 69), (13.0, 0.5, 66), (13.5, 0.5, 64), (14.0, 2.0, 62),
)


def demo_melody_truth() -> list[Note]:
    """The demo hum as written: beats from the first downbeat, integer pitches (D major, 96 bpm)."""
    return [Note(start, dur, pitch) for start, dur, pitch in _DEMO_PHRASE]


def demo_melody(*, seed: int = 0) -> list[SungNote]:
    """The built-in demo hum as performed: about 10.5 s at ~96 bpm with slightly uneven human
    timing (seeded), each note released a little before the next, ending on the tonic."""
    rng = np.random.default_rng(seed)
    spb = 60.0 / DEMO_TEMPO_BPM
    notes = []
    for i, (start, dur, pitch) in enumerate(_DEMO_PHRASE):
        onset = DEMO_LEAD_IN_S + start * spb + rng.normal(0.0, 0.012)
        sounding = dur * spb * (1.0 if i == len(_DEMO_PHRASE) - 1 else rng.uniform(0.82, 0.9))
        notes.append(SungNote(round(onset, 4), round(onset + sounding, 4), float(pitch)))
    return notes


def synthesize_hum(notes: Sequence[SungNote], *, sample_rate: int = 44100, seed: int = 0,
                   vibrato_cents: float = 40, drift_cents: float = 15, breath_db: float = -35,
                   vowel: str = "mm") -> np.ndarray:
    """Render performed notes as a mono float32 voice-like signal starting at t = 0."""
    if vowel not in VOWELS:
        raise HumSynthError(f"unknown vowel {vowel!r}; use one of {', '.join(VOWELS)}")
    v = VOWELS[vowel]
    rng = np.random.default_rng(seed)
    ordered = sorted(notes, key=lambda n: n.onset_s)
    end_s = (ordered[-1].offset_s if ordered else 0.0) + TAIL_S
    n = int(np.ceil(end_s * sample_rate))
    t = np.arange(n) / sample_rate
    if not ordered:
        return np.zeros(n, dtype=np.float32)

    midi, env = _pitch_and_envelope(ordered, t, v, rng, vibrato_cents=vibrato_cents,
                                    drift_cents=drift_cents, sample_rate=sample_rate)
    f0 = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    f0 *= 1.0 + JITTER * _smooth_noise(rng, n, sample_rate, cutoff_hz=80.0)
    phase = np.cumsum(f0) / sample_rate  # in periods
    if vowel == "whistle":
        voice = np.sin(2 * np.pi * phase) + 0.03 * np.sin(4 * np.pi * phase)
    else:
        voice = _formants(_glottal(phase, v.open_quotient, rng), v, sample_rate)
    voice = voice / (np.sqrt(np.mean(voice[env > 0.5] ** 2)) + 1e-12)
    breath = _band_noise(rng, n, sample_rate, v.breath_band_hz)
    breath *= 10.0 ** (breath_db / 20.0) * (0.3 + env)
    out = voice * env + breath
    out *= PEAK_LEVEL / (np.max(np.abs(out)) + 1e-12)
    return out.astype(np.float32)


def _pitch_and_envelope(notes: Sequence[SungNote], t: np.ndarray, v: Vowel,
                        rng: np.random.Generator, *, vibrato_cents: float, drift_cents: float,
                        sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    midi = np.full(t.size, notes[0].pitch)
    env = np.zeros(t.size)
    for i, note in enumerate(notes):
        a = int(note.onset_s * sample_rate)
        b = min(t.size, max(a + 1, int(note.offset_s * sample_rate)))
        nxt = notes[i + 1] if i + 1 < len(notes) else None
        stop = max(a + 1, int(nxt.onset_s * sample_rate)) if nxt else t.size
        local = t[a:stop] - note.onset_s
        contour = np.full(local.size, float(note.pitch))
        contour -= SCOOP_CENTS / 100.0 * np.exp(-local / (SCOOP_S / 3.0))
        depth = vibrato_cents / 100.0 * rng.uniform(0.8, 1.2)
        rate = VIBRATO_RATE_HZ * rng.uniform(0.93, 1.07)
        fade = np.clip((local - VIBRATO_DELAY_S) / 0.2, 0.0, 1.0)
        contour += depth * fade * np.sin(2 * np.pi * rate * local + rng.uniform(0, 2 * np.pi))
        if nxt is not None and nxt.onset_s - note.offset_s < GLIDE_GAP_S:
            glide = np.clip((local - (nxt.onset_s - note.onset_s - PORTAMENTO_S)) / PORTAMENTO_S, 0, 1)
            contour += (nxt.pitch - note.pitch) * glide * 0.5
        midi[a:stop] = contour
        length = (b - a) / sample_rate
        attack = min(v.attack_s, 0.4 * length)
        release = min(v.release_s, 0.4 * length)
        lt = t[a:b] - note.onset_s
        shape = np.minimum(np.clip(lt / attack, 0, 1), np.clip((length - lt) / release, 0, 1))
        shape = np.sin(0.5 * np.pi * shape) ** 2 * (1.0 - 0.15 * lt / max(length, 1e-3))
        env[a:b] = np.maximum(env[a:b], shape * 10.0 ** (rng.normal(0.0, 1.5) / 20.0))
    midi += drift_cents / 100.0 * _smooth_noise(rng, t.size, sample_rate, cutoff_hz=0.5)
    return midi, env


def _glottal(phase: np.ndarray, open_quotient: float, rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg pulses, one per period, with per-period shimmer."""
    frac = phase % 1.0
    rise = 0.66 * open_quotient
    fall = open_quotient - rise
    flow = np.where(frac < rise, 0.5 * (1 - np.cos(np.pi * frac / rise)),
                    np.where(frac < open_quotient, np.cos(0.5 * np.pi * (frac - rise) / fall), 0.0))
    period = np.floor(phase).astype(np.int64)
    shimmer = 1.0 + SHIMMER * rng.standard_normal(int(period.max()) + 2)
    return np.diff(flow * shimmer[period], prepend=0.0)


def _formants(source: np.ndarray, v: Vowel, sample_rate: int) -> np.ndarray:
    """Klatt-style cascade of two-pole resonators, each with unit gain at 0 Hz."""
    from scipy.signal import lfilter

    out = source
    for centre, bandwidth in v.formants:
        if centre >= sample_rate / 2:
            continue
        r = np.exp(-np.pi * bandwidth / sample_rate)
        a = [1.0, -2 * r * np.cos(2 * np.pi * centre / sample_rate), r * r]
        out = lfilter([sum(a)], a, out)
    return out


def _smooth_noise(rng: np.random.Generator, n: int, sample_rate: int, *, cutoff_hz: float) -> np.ndarray:
    """Unit-variance noise low-passed at cutoff_hz (control signals: drift, jitter)."""
    hop = max(1, int(sample_rate / (4 * cutoff_hz)))
    coarse = rng.standard_normal(n // hop + 3)
    x = np.interp(np.arange(n) / hop, np.arange(coarse.size), coarse)
    return x / (np.std(x) + 1e-12)


def _band_noise(rng: np.random.Generator, n: int, sample_rate: int,
                band_hz: tuple[float, float]) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    hi = min(band_hz[1], 0.45 * sample_rate)
    sos = butter(2, [band_hz[0], hi], btype="bandpass", fs=sample_rate, output="sos")
    x = sosfilt(sos, rng.standard_normal(n))
    return x / (np.std(x) + 1e-12)
