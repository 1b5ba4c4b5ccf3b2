"""Tune the tempo estimator's scoring (`tunesmith.listen.tempo.TempoParams`) on POP909 training songs.

Uses only songs 001-800 (validation 801-850 is for bench/key_tempo.py; 851-909 is the test
split). From each song, 8-bar MELODY excerpts (the first downbeat, and the two densest
non-overlapping windows; the same selection as the benchmark) give onsets; the truth is the
median beat interval of `beat_midi.txt` inside the excerpt. The true MIDI notes are used (the
benchmark shows transcription changes the tempo figures by under 1 point), which makes a grid
search over every combination fast: the subdivision periodicities are computed once per
excerpt and only the weights and preferences vary.

A setting is admissible only if it also keeps the synthetic demo phrase at 72, 96 and 128 bpm
correct (the unit tests' tempo range), so that the POP909 preference for slow counting does not
halve a brisk hum. Prints the top settings by Accuracy1 (within 4 %) and the current defaults.

    python training/tune_tempo.py [DATA_DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import numpy as np

from tunesmith.humsynth import demo_melody_truth
from tunesmith.listen.tempo import (
    DEFAULT_TEMPO_PARAMS,
    TempoParams,
    _accent_weights,
    candidate_tempos_bpm,
    notes_per_beat,
    subdivision_fit,
    tempo_score,
)
from tunesmith.score import SungNote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from key_tempo import load_excerpts  # noqa: E402

FIRST_TRAIN, LAST_TRAIN = 1, 800
TOLERANCE = 0.04
SYNTHETIC_TEMPOS_BPM = (72.0, 96.0, 128.0)
GRID = {
    "half_beat_weight": (0.25, 0.5, 1.0),
    "quarter_beat_weight": (0.0, 0.5, 0.75, 1.0, 1.5),
    "preferred_tempo_bpm": (65.0, 70.0, 75.0, 80.0, 90.0, 95.0),
    "preference_octaves": (0.6, 0.8, 1.0, 1.2),
    "preferred_notes_per_beat": (1.0, 1.3, 1.5, 1.8),
    "density_octaves": (0.5, 0.7, 1.0),
}


def features(notes: list[SungNote], bpm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ordered = sorted(notes, key=lambda n: n.onset_s)
    onsets = np.array([n.onset_s for n in ordered])
    periods = 60.0 / bpm
    return subdivision_fit(onsets, _accent_weights(ordered), periods), notes_per_beat(onsets, periods)


def synthetic(tempo_bpm: float) -> list[SungNote]:
    """The demo phrase at a tempo with 10 ms timing jitter, as in tests/test_listen.py."""
    spb = 60.0 / tempo_bpm
    rng = np.random.default_rng(int(tempo_bpm))
    out = []
    for n in demo_melody_truth():
        t = 0.5 + n.start_beat * spb + rng.normal(0, 0.01)
        out.append(SungNote(t, t + 0.85 * n.duration_beats * spb, float(n.pitch)))
    return out


def accuracy(feats: list[tuple[np.ndarray, np.ndarray]], truth: np.ndarray, bpm: np.ndarray,
             params: TempoParams) -> float:
    est = np.array([bpm[np.argmax(tempo_score(fit, bpm, dens, params)[1])] for fit, dens in feats])
    return float(np.mean(np.abs(est / truth - 1.0) <= TOLERANCE))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=os.environ.get("TUNESMITH_DATA", str(
        Path(__file__).resolve().parents[1] / ".." / "shared" / "data")))
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    root = Path(args.data) / "pop909" / "POP909"
    if not root.is_dir():
        raise SystemExit(f"POP909 not found under {args.data}")
    excerpts = [ex for sid in range(FIRST_TRAIN, LAST_TRAIN + 1) if (root / f"{sid:03d}").is_dir()
                for ex in load_excerpts(root / f"{sid:03d}", dense=2)]
    bpm = candidate_tempos_bpm()
    truth = np.array([ex.tempo_bpm for ex in excerpts])
    feats = [features(list(ex.notes), bpm) for ex in excerpts]
    syn_truth = np.array(SYNTHETIC_TEMPOS_BPM)
    syn_feats = [features(synthetic(t), bpm) for t in SYNTHETIC_TEMPOS_BPM]
    print(f"{len(excerpts)} training excerpts from songs {FIRST_TRAIN:03d}-{LAST_TRAIN:03d}")

    rows = []
    for values in itertools.product(*GRID.values()):
        params = TempoParams(**dict(zip(GRID, values, strict=True)))
        if accuracy(syn_feats, syn_truth, bpm, params) < 1.0:
            continue
        rows.append((accuracy(feats, truth, bpm, params), params))
    rows.sort(key=lambda r: -r[0])
    for acc, params in rows[: args.top]:
        print(f"Acc1 {acc:.3f}  {params}")
    print(f"defaults: Acc1 {accuracy(feats, truth, bpm, DEFAULT_TEMPO_PARAMS):.3f}  {DEFAULT_TEMPO_PARAMS}")


if __name__ == "__main__":
    main()
