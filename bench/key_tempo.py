"""Key and tempo from a hummed melody: ours vs a simple baseline, on POP909 validation excerpts.

For each POP909 validation song (ids 801-850; never the test split 851-909) a few 8-bar
excerpts of the MELODY track (one from the first downbeat at or before the first melody note,
plus the bars where the melody is densest, not overlapping) are rendered with the synthetic
singer (`synthesize_hum`, seeded, vowel varied), transcribed back with `listen.transcribe`, and
key and tempo are estimated from the transcribed notes. The same estimators also run on the
true MIDI notes of the excerpt, to separate transcription errors from estimator errors.

Truth: the key of `key_audio.txt` segment overlapping the excerpt most; the tempo from the
median beat interval of `beat_midi.txt` inside the excerpt.

Metrics: key, the MIREX weighted score (`mir_eval.key.weighted_score`: correct 1.0, fifth 0.5,
relative 0.3, parallel 0.2) and the share of exact keys; tempo, Accuracy1 (within 4 %) and
Accuracy2 (within 4 % allowing x2, x1/2, x3, x1/3).

Baseline, measured in the same run: Krumhansl-Schmuckler (Krumhansl-Kessler profiles,
duration-weighted pitch-class histogram) for key; the median inter-onset interval folded into
70-160 bpm for tempo.

    python bench/key_tempo.py [DATA_DIR] [--first 801 --last 850 --dense 2 --jobs 2]
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.errors import NoMelodyError
from tunesmith.humsynth import synthesize_hum
from tunesmith.listen import estimate_key, estimate_tempo, transcribe
from tunesmith.score import SungNote
from tunesmith.theory import Key, parse_pitch_class

SAMPLE_RATE = 44100
EXCERPT_BARS = 8
LEAD_IN_S = 0.5
MIN_NOTES = 8
VOWELS = ("mm", "ah", "whistle")
WHISTLE_TRANSPOSE = 12  # people whistle about an octave above where they sing
TEMPO_TOLERANCE = 0.04
FIRST_VALIDATION, LAST_VALIDATION = 801, 850

# Krumhansl & Kessler (1982) probe-tone profiles
KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@dataclass(frozen=True)
class Excerpt:
    song: int
    index: int
    start_s: float
    notes: tuple[SungNote, ...]  # shifted so the excerpt starts at LEAD_IN_S
    key: str  # mir_eval form, e.g. "Gb major"
    tempo_bpm: float


@dataclass(frozen=True)
class Estimates:
    key: str
    tempo_bpm: float


def _mir_key(key: Key) -> str:
    return f"{PITCH_NAMES[key.tonic]} {key.mode}"


def _key_segments(folder: Path) -> list[tuple[float, float, str]]:
    out = []
    for line in (folder / "key_audio.txt").read_text().splitlines():
        if not line.strip():
            continue
        a, b, label = line.split("\t")[:3]
        tonic_txt, _, mode = label.strip().partition(":")
        tonic = parse_pitch_class(tonic_txt)[0]
        out.append((float(a), float(b), f"{PITCH_NAMES[tonic]} {'minor' if mode == 'min' else 'major'}"))
    return out


def load_excerpts(folder: Path, *, dense: int) -> list[Excerpt]:
    """The first-downbeat excerpt and up to `dense` non-overlapping densest 8-bar excerpts."""
    import pretty_midi

    sid = int(folder.name)
    pm = pretty_midi.PrettyMIDI(str(folder / f"{folder.name}.mid"))
    mel = next(i for i in pm.instruments if i.name.upper() == "MELODY")
    notes = sorted(mel.notes, key=lambda n: n.start)
    onsets = np.array([n.start for n in notes])
    beats = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
    beat_t = beats[:, 0]
    down_t = beat_t[beats[:, 2] == 1]
    keys = _key_segments(folder)
    if len(down_t) <= EXCERPT_BARS or not len(notes):
        return []

    def window(i: int) -> tuple[float, float]:
        return float(down_t[i]), float(down_t[i + EXCERPT_BARS])

    def count(i: int) -> int:
        a, b = window(i)
        return int(np.sum((onsets >= a) & (onsets < b)))

    n_windows = len(down_t) - EXCERPT_BARS
    first = int(np.clip(np.searchsorted(down_t, onsets[0] + 0.05, side="right") - 1, 0, n_windows - 1))
    chosen = [first]
    for i in sorted(range(n_windows), key=lambda i: (-count(i), i)):
        if len(chosen) > dense:
            break
        if all(abs(i - j) >= EXCERPT_BARS for j in chosen):
            chosen.append(i)

    out = []
    for k, i in enumerate(chosen):
        a, b = window(i)
        if count(i) < MIN_NOTES:
            continue
        sung = tuple(SungNote(n.start - a + LEAD_IN_S, min(n.end, b) - a + LEAD_IN_S, float(n.pitch))
                     for n in notes if a <= n.start < b)
        inside = beat_t[(beat_t >= a - 1e-6) & (beat_t <= b + 1e-6)]
        tempo = 60.0 / float(np.median(np.diff(inside)))
        overlap = [(min(e, b) - max(s, a), label) for s, e, label in keys]
        key = max(overlap)[1]
        out.append(Excerpt(sid, k, a, sung, key, tempo))
    return out


# ---------------------------------------------------------------- baseline


def baseline_key(notes: list[SungNote]) -> str:
    """Krumhansl-Schmuckler: duration-weighted pitch-class histogram vs the KK profiles."""
    hist = np.zeros(12)
    for n in notes:
        hist[int(round(n.pitch)) % 12] += max(n.duration_s, 0.0)
    return ks_key(hist) if hist.any() else "C major"


def ks_key(profile: np.ndarray) -> str:
    """Krumhansl-Schmuckler: the key whose KK profile correlates best with `profile`."""
    best, name = -2.0, "C major"
    for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(profile, np.roll(prof, tonic))[0, 1])
            if r > best:
                best, name = r, f"{PITCH_NAMES[tonic]} {mode}"
    return name


def baseline_tempo(notes: list[SungNote]) -> float:
    """Median inter-onset interval as one beat, folded by octaves into 70-160 bpm."""
    onsets = np.sort([n.onset_s for n in notes])
    if len(onsets) < 2:
        return 100.0
    bpm = 60.0 / max(float(np.median(np.diff(onsets))), 1e-3)
    while bpm < 70.0:
        bpm *= 2.0
    while bpm > 160.0:
        bpm /= 2.0
    return bpm


# ---------------------------------------------------------------- run


def ours(notes: list[SungNote]) -> Estimates:
    return Estimates(_mir_key(estimate_key(notes).key), estimate_tempo(notes).tempo_bpm)


def baseline(notes: list[SungNote]) -> Estimates:
    return Estimates(baseline_key(notes), baseline_tempo(notes))


def run_excerpt(ex: Excerpt) -> dict[str, Estimates]:
    seed = ex.song * 10 + ex.index
    vowel = VOWELS[seed % len(VOWELS)]
    shift = WHISTLE_TRANSPOSE if vowel == "whistle" else 0
    performed = [SungNote(n.onset_s, n.offset_s, n.pitch + shift) for n in ex.notes]
    audio = synthesize_hum(performed, sample_rate=SAMPLE_RATE, seed=seed, vowel=vowel)
    try:
        heard = transcribe(audio, sample_rate=SAMPLE_RATE)
    except NoMelodyError:
        heard = []
    truth = list(ex.notes)
    return {"ours/hum": ours(heard), "baseline/hum": baseline(heard),
            "ours/midi": ours(truth), "baseline/midi": baseline(truth)}


def tempo_scores(est: float, ref: float) -> tuple[bool, bool]:
    acc1 = abs(est / ref - 1.0) <= TEMPO_TOLERANCE
    acc2 = any(abs(est / (ref * f) - 1.0) <= TEMPO_TOLERANCE for f in (1.0, 2.0, 0.5, 3.0, 1 / 3))
    return acc1, acc2


def summarise(excerpts: list[Excerpt], results: list[dict[str, Estimates]], system: str) -> dict[str, float]:
    import mir_eval

    w, exact, a1, a2 = [], [], [], []
    for ex, res in zip(excerpts, results, strict=True):
        est = res[system]
        w.append(mir_eval.key.weighted_score(ex.key, est.key))
        exact.append(ex.key == est.key)
        t1, t2 = tempo_scores(est.tempo_bpm, ex.tempo_bpm)
        a1.append(t1)
        a2.append(t2)
    return {"key weighted": float(np.mean(w)), "key exact": float(np.mean(exact)),
            "tempo Acc1": float(np.mean(a1)), "tempo Acc2": float(np.mean(a2))}


def tempo_error_kinds(excerpts: list[Excerpt], results: list[dict[str, Estimates]], system: str) -> dict[str, int]:
    kinds = {"ok": 0, "x2": 0, "x1/2": 0, "x3": 0, "x1/3": 0, "other": 0}
    for ex, res in zip(excerpts, results, strict=True):
        r = res[system].tempo_bpm / ex.tempo_bpm
        for name, f in (("ok", 1.0), ("x2", 2.0), ("x1/2", 0.5), ("x3", 3.0), ("x1/3", 1 / 3)):
            if abs(r / f - 1.0) <= TEMPO_TOLERANCE:
                kinds[name] += 1
                break
        else:
            kinds["other"] += 1
    return kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=os.environ.get("TUNESMITH_DATA", str(
        Path(__file__).resolve().parents[1] / ".." / "shared" / "data")))
    ap.add_argument("--first", type=int, default=FIRST_VALIDATION)
    ap.add_argument("--last", type=int, default=LAST_VALIDATION)
    ap.add_argument("--dense", type=int, default=2, help="dense excerpts per song besides the first")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.last > LAST_VALIDATION:
        raise SystemExit("songs 851-909 are the test split: benchmark on 801-850 only")
    root = Path(args.data) / "pop909" / "POP909"
    if not root.is_dir():
        raise SystemExit(f"POP909 not found under {args.data}")
    excerpts = [ex for sid in range(args.first, args.last + 1) if (root / f"{sid:03d}").is_dir()
                for ex in load_excerpts(root / f"{sid:03d}", dense=args.dense)]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_excerpt, excerpts, chunksize=4))

    songs = len({ex.song for ex in excerpts})
    tempos = np.array([ex.tempo_bpm for ex in excerpts])
    print(f"POP909 songs {args.first}-{args.last}: {songs} songs, {len(excerpts)} excerpts of "
          f"{EXCERPT_BARS} bars (true tempo {tempos.min():.0f}-{tempos.max():.0f} bpm, "
          f"median {np.median(tempos):.0f})")
    metrics = ("key weighted", "key exact", "tempo Acc1", "tempo Acc2")
    print(f"{'input':<6} {'metric':<14} {'tunesmith':>10} {'baseline':>10} {'ratio':>7}")
    for source in ("hum", "midi"):
        o = summarise(excerpts, results, f"ours/{source}")
        b = summarise(excerpts, results, f"baseline/{source}")
        for m in metrics:
            print(f"{source:<6} {m:<14} {o[m]:10.3f} {b[m]:10.3f} {o[m] / max(b[m], 1e-9):7.2f}")
    for system in ("ours/hum", "ours/midi", "baseline/hum"):
        print(f"tempo outcomes {system}: {tempo_error_kinds(excerpts, results, system)}")


if __name__ == "__main__":
    main()
