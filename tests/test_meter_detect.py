"""Meter detection from a hum (seeded synthetic singer): a waltz is heard in 3/4, a jig in 6/8,
a 4/4 tune stays in 4/4 with exactly the bars the tempo estimator gives it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tunesmith.humsynth import demo_melody, demo_melody_truth, synthesize_hum
from tunesmith.listen import estimate_meter, estimate_tempo, listen
from tunesmith.listen.meter import MeterInputError, meter_evidence
from tunesmith.score import SungNote

SR = 22050
LEAD_IN_S = 0.5

# (length in beats, MIDI pitch) per bar; 0 = a rest
WALTZ = [  # 3/4 in D: quarter notes, a dotted half closing each phrase
    [(1, 62), (1, 66), (1, 69)], [(1, 71), (1, 69), (1, 66)],
    [(1, 67), (1, 69), (1, 71)], [(3, 69)],
    [(1, 62), (1, 66), (1, 69)], [(1, 74), (1, 73), (1, 71)],
    [(1, 69), (1, 66), (1, 64)], [(3, 62)],
]
JIG = [  # 6/8 in G, lengths in eighth notes: runs of three and quarter-eighth pairs
    [(1, 67), (1, 71), (1, 74), (2, 79), (1, 74)], [(1, 72), (1, 76), (1, 72), (2, 71), (1, 67)],
    [(1, 69), (1, 72), (1, 76), (2, 74), (1, 72)], [(1, 71), (1, 69), (1, 67), (3, 69)],
    [(1, 67), (1, 71), (1, 74), (2, 79), (1, 74)], [(1, 72), (1, 76), (1, 72), (2, 71), (1, 67)],
    [(1, 69), (1, 72), (1, 71), (1, 69), (1, 66), (1, 62)], [(3, 67), (3, 67)],
]
MARCH = [  # 4/4 in C: quarters, a dotted quarter and eighth, halves at the cadences
    [(1, 64), (1, 64), (1, 65), (1, 67)], [(1, 67), (1, 65), (1, 64), (1, 62)],
    [(1, 60), (1, 60), (1, 62), (1, 64)], [(1.5, 64), (0.5, 62), (2, 62)],
    [(1, 64), (1, 64), (1, 65), (1, 67)], [(1, 67), (1, 65), (1, 64), (1, 62)],
    [(1, 60), (1, 60), (1, 62), (1, 64)], [(1.5, 62), (0.5, 60), (2, 60)],
]


def perform(bars: Sequence[Sequence[tuple[float, int]]], *, unit_s: float, seed: int = 0,
            jitter_s: float = 0.012) -> list[SungNote]:
    """Performed notes: each unit `unit_s` long, onsets jittered, notes released a little early."""
    rng = np.random.default_rng(seed)
    notes, t = [], LEAD_IN_S
    for bar in bars:
        for units, pitch in bar:
            onset = t + rng.normal(0.0, jitter_s)
            notes.append(SungNote(onset, t + units * unit_s * 0.9, float(pitch)))
            t += units * unit_s
    return notes


def hum(notes: Sequence[SungNote], seed: int) -> np.ndarray:
    return synthesize_hum(notes, sample_rate=SR, seed=seed)


@pytest.mark.parametrize(("tempo_bpm", "seed"), [(96.0, 1), (112.0, 2), (132.0, 3)])
def test_a_waltz_is_heard_in_three_four(tempo_bpm: float, seed: int) -> None:
    heard = listen(hum(perform(WALTZ, unit_s=60.0 / tempo_bpm, seed=seed), seed), sample_rate=SR)
    assert heard.meter == "3/4"
    assert (heard.beats_per_bar, heard.compound) == (3, False)
    assert heard.meter_confidence >= 0.5
    assert heard.tempo_bpm == pytest.approx(tempo_bpm, rel=0.04)
    assert heard.downbeat_s == pytest.approx(LEAD_IN_S, abs=0.06)
    # the dotted halves closing each phrase start their bars (beats 9 and 21)
    long_notes = [n.start_beat for n in heard.melody if n.duration_beats >= 2.5]
    assert long_notes and all(b % 3 == 0 for b in long_notes)


@pytest.mark.parametrize(("pulse_bpm", "seed"), [(66.0, 1), (90.0, 2)])
def test_a_jig_is_heard_in_six_eight(pulse_bpm: float, seed: int) -> None:
    eighth_s = 60.0 / pulse_bpm / 3
    heard = listen(hum(perform(JIG, unit_s=eighth_s, seed=seed), seed), sample_rate=SR)
    assert heard.meter == "6/8"
    assert (heard.beats_per_bar, heard.compound) == (3, True)
    # beats are quarter notes: two eighths
    assert heard.tempo_bpm == pytest.approx(60.0 / (2 * eighth_s), rel=0.04)
    assert heard.downbeat_s == pytest.approx(LEAD_IN_S, abs=0.06)
    # every bar starts with a note (bars of three beats), and the notes a quarter or more long
    # start on one of the bar's two dotted-quarter pulses
    assert {3.0 * bar for bar in range(len(JIG))} <= {n.start_beat for n in heard.melody}
    long_notes = [n.start_beat for n in heard.melody if n.duration_beats >= 0.75]
    assert len(long_notes) >= 6 and all(b % 1.5 == 0 for b in long_notes)


@pytest.mark.parametrize(("tempo_bpm", "seed"), [(80.0, 1), (126.0, 2)])
def test_a_four_four_tune_stays_in_four_four(tempo_bpm: float, seed: int) -> None:
    heard = listen(hum(perform(MARCH, unit_s=60.0 / tempo_bpm, seed=seed), seed), sample_rate=SR)
    assert heard.meter == "4/4"
    assert (heard.beats_per_bar, heard.compound) == (4, False)
    assert heard.meter_probabilities is not None and heard.meter_probabilities["4/4"] > 0.5


def test_the_four_four_path_is_the_tempo_estimators_own() -> None:
    """When 4/4 is heard, tempo and downbeat are exactly estimate_tempo's, as before detection."""
    audio = hum(demo_melody(), 0)
    heard = listen(audio, sample_rate=SR)
    tempo = estimate_tempo(heard.sung_notes, beats_per_bar=4)
    assert heard.meter == "4/4"
    assert (heard.tempo_bpm, heard.downbeat_s) == (tempo.tempo_bpm, tempo.downbeat_s)
    given = listen(audio, sample_rate=SR, beats_per_bar=4)
    assert given.melody == heard.melody
    assert given.meter_confidence == 1.0 and given.meter_probabilities is None
    assert [(n.start_beat, n.pitch) for n in heard.melody] == \
        [(n.start_beat, n.pitch) for n in demo_melody_truth()]


def test_a_given_meter_is_not_second_guessed() -> None:
    heard = listen(hum(perform(MARCH, unit_s=0.6, seed=4), 4), sample_rate=SR, beats_per_bar=3,
                   compound=True)
    assert heard.meter == "6/8" and heard.meter_confidence == 1.0


def test_the_notes_alone_give_the_meter() -> None:
    """estimate_meter on performed notes (no audio): the three tunes apart, probabilities sum
    to one; too few notes to tell is 4/4 with confidence 0."""
    waltz = estimate_meter(perform(WALTZ, unit_s=0.6))
    jig = estimate_meter(perform(JIG, unit_s=0.25))
    march = estimate_meter(perform(MARCH, unit_s=0.6))
    assert [waltz.time_signature, jig.time_signature, march.time_signature] == ["3/4", "6/8", "4/4"]
    assert sum(waltz.probabilities.values()) == pytest.approx(1.0, abs=0.01)
    few = estimate_meter(perform(WALTZ[:2], unit_s=0.6))
    assert few.time_signature == "4/4" and few.confidence == 0.0


def test_velocities_must_match_the_notes() -> None:
    notes = perform(WALTZ, unit_s=0.6)
    with pytest.raises(MeterInputError):
        meter_evidence(notes, velocities=[90] * (len(notes) - 1))
