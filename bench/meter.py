"""Meter from a hummed melody: ours vs an autocorrelation baseline and "always 4/4".

Melodies whose meter is known are sung by the synthetic singer and transcribed back, and the
meter (4/4, 3/4 or 6/8) is estimated from the transcribed notes ("hum"); also from the hum's
first 4 bars only, from hums sung with a metrical loudness accent (downbeats 2 dB louder), and,
to separate transcription errors from estimator errors, from the performed notes themselves.

Tunes:
- folk tunes in ABC bundled with music21 (`music21.corpus`: the Essen folksong collection,
  O'Neill's 1850, Ryan's Mammoth, Aird's Airs, miscFolk): one time signature throughout, one
  voice, the pickup and first 8 full bars. Class 4/4 is written 4/4, C, 2/4, C| or 2/2; 3/4 is
  3/4; 6/8 is 6/8. Same tune in two collections: kept once.
- POP909 validation songs (801-850; never the test split 851-909): MELODY track, 8-bar excerpts
  of four-beat bars (the first, and the densest one not overlapping it), at the song's tempo.

Performance (seeded per tune): quarter-note tempo log-uniform 70-160 bpm for 4/4 and 3/4,
dotted-quarter pulse 50-100 bpm for 6/8 (eighths at 150-300 a minute); onsets jittered
(15 ms), a slow +-3 % tempo wobble, notes held 80-95 % of their time to the next onset, moved by
octaves into a singable range; vowel "mm", "ah" or "whistle" (an octave up) in turn.

Tuning split: every tune is in half A or B by a hash of its name (POP909: by song id parity).
The detector's weights (`tunesmith.listen.meter.MeterParams`) were fitted on half A only (plain
and accented hums); its onset profiles count other tunes (music21 corpus tunes the benchmark
does not draw, POP909 songs 001-800). `--tune` rebuilds both and prints them. The headline
figures are half B (`--half A` or `--half all` to see the others).

Metrics: accuracy per true class and overall (mean over tunes, and balanced: mean of the
three class accuracies), the share of 4/4 tunes called 3/4 (the costly mistake), and where our
meter is right, the share whose quarter-note tempo is within 4 %.

Baseline (same run, same notes): the classic autocorrelation meter guess (Brown 1993): the
onset train weighted by note length, autocorrelated; the bar is the lag among 2, 3 and 4 beats
(of our beat estimate) with the highest autocorrelation; a triple bar is 6/8 when the
autocorrelation at 1.5 beats beats the one at 1 beat.

    python bench/meter.py [DATA_DIR] [--per-class 150 --half B --jobs 1 --confusion --tune]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from tunesmith.errors import NoMelodyError
from tunesmith.humsynth import synthesize_hum
from tunesmith.listen import estimate_tempo, transcribe
from tunesmith.listen.meter import (
    DEFAULT_METER_PARAMS,
    FEATURES,
    LONG_SIXTEENTHS,
    METERS,
    MeterEvidence,
    MeterParams,
    MeterProfile,
    estimate_meter,
    meter_evidence,
)
from tunesmith.listen.quantization import note_velocities
from tunesmith.score import SungNote

SAMPLE_RATE = 22050
EXCERPT_BARS = 8
MAX_EXCERPT_S = 24.0
MIN_NOTES = 12
LEAD_IN_S = 0.5
CLASSES = ("4/4", "3/4", "6/8")
WRITTEN_CLASS = {"4/4": "4/4", "2/4": "4/4", "2/2": "4/4", "3/4": "3/4", "6/8": "6/8"}
ABC_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
SIMPLE_BPM = (70.0, 160.0)  # quarter notes, 4/4 and 3/4
COMPOUND_PULSE_BPM = (50.0, 100.0)  # dotted quarters, 6/8
JITTER_S = 0.015
WOBBLE = 0.03
VOWELS = ("mm", "ah", "whistle")
WHISTLE_TRANSPOSE = 12
SINGING_CENTRE = 62  # median pitch of a hum moved to about here (D4)
FIRST_VALIDATION, LAST_VALIDATION = 801, 850
CACHE_VERSION = 3
SEED = 2024
ACCENT_DB = 2.0  # the accented condition: downbeats this much louder
SHORT_BARS = 4
TEMPO_TOLERANCE = 0.04
RIDGE = 1e-4  # L2 penalty of the weight fit
LAST_TRAIN = 800  # POP909 songs 001-800 are the training split
POP909_TRAIN_EVERY = 4  # every 4th training song's excerpts count for the pop profile


@dataclass(frozen=True)
class Tune:
    ident: str  # e.g. "essenFolksong/kinder0.abc#12" or "pop909/801@3"
    meter: str  # class: 4/4, 3/4 or 6/8
    written: str  # time signature as written
    notes: tuple[tuple[float, float, int], ...]  # (start, length) in quarter notes, MIDI pitch
    tempo_bpm: float = 0.0  # POP909: the song's own tempo; 0 = draw one
    seconds: bool = False  # notes already in seconds (POP909)
    downbeat_q: float = 0.0  # where the first full bar starts (after a pickup), quarter notes

    @property
    def half(self) -> str:
        if self.ident.startswith("pop909/"):
            return "AB"[int(self.ident.split("/")[1].split("@")[0]) % 2]
        return "AB"[zlib.crc32(self.ident.encode()) % 2]


@dataclass(frozen=True)
class Item:
    tune: Tune
    tempo_bpm: float  # quarter notes
    performed: tuple[SungNote, ...]
    heard: tuple[SungNote, ...]
    velocities: tuple[int, ...]


# ---------------------------------------------------------------- tunes


def _abc_tunes(path: Path) -> list[tuple[int, str]]:
    """(number, text) of each single-meter tune of an ABC file whose meter is one of ours."""
    out = []
    for k, text in enumerate(re.split(r"\n(?=X:)", path.read_text(errors="ignore"))):
        if not text.startswith("X:"):
            continue
        meters = re.findall(r"^M:\s*(\S+)", text, re.M)
        if len(meters) != 1 or "[M:" in text:
            continue
        written = {"C": "4/4", "C|": "2/2"}.get(meters[0], meters[0])
        if written in WRITTEN_CLASS:
            out.append((k, text))
    return out


def _parse_abc(text: str) -> tuple[str, float, list[tuple[float, float, int]]] | None:
    """Time signature, start of the first full bar and the notes of the pickup and first
    EXCERPT_BARS full bars (quarter notes from the first note)."""
    from music21 import converter
    from music21 import meter as m21meter

    try:
        score = converter.parse(text, format="abc").stripTies()
    except Exception:  # noqa: BLE001 - a tune music21 cannot read is skipped
        return None
    sigs = {ts.ratioString for ts in score.recurse().getElementsByClass(m21meter.TimeSignature)}
    if len(sigs) != 1:
        return None
    if len(score.parts) > 1:  # a second voice: not a melody one person could hum
        return None
    notes: list[tuple[float, float, int]] = []
    for n in score.recurse().notes:
        bar = n.measureNumber or 0
        if bar > EXCERPT_BARS:
            break
        start, length = float(n.getOffsetInHierarchy(score)), float(n.quarterLength)
        if length <= 0:  # grace notes
            continue
        if notes and start < notes[-1][0] + notes[-1][1] - 1e-6:  # overlapping notes
            return None
        notes.append((start, length, int(max(p.midi for p in n.pitches))))
    pickup = next((float(m.duration.quarterLength) for m in score.recurse().getElementsByClass("Measure")
                   if m.number == 0), 0.0)
    return sigs.pop(), pickup, notes


def abc_tunes(per_class: int, *, skip: int = 0, seed: int = SEED) -> list[Tune]:
    """Up to `per_class` tunes of each class, drawn (seeded) from the music21 ABC corpus, after
    the first `skip` of each class (so `skip=per_class` of the benchmark gives other tunes)."""
    from music21 import corpus

    pool: dict[str, list[tuple[str, str]]] = {c: [] for c in CLASSES}
    for path in sorted(corpus.getPaths(fileExtensions=("abc",))):
        if path.parent.name not in ABC_COLLECTIONS:
            continue
        for k, text in _abc_tunes(path):
            meter = re.search(r"^M:\s*(\S+)", text, re.M)
            written = {"C": "4/4", "C|": "2/2"}.get(meter.group(1), meter.group(1)) if meter else ""
            pool[WRITTEN_CLASS[written]].append((f"{path.parent.name}/{path.name}#{k}", text))
    rng = np.random.default_rng(seed)
    tunes: list[Tune] = []
    seen: set[tuple] = set()
    for cls in CLASSES:
        order = rng.permutation(len(pool[cls]))
        taken = 0
        for i in order:
            if taken >= skip + per_class:
                break
            ident, text = pool[cls][i]
            parsed = _parse_abc(text)
            if parsed is None:
                continue
            written, pickup, notes = parsed
            if WRITTEN_CLASS.get(written) != cls or len(notes) < MIN_NOTES:
                continue
            key = tuple((round(s, 3), round(d, 3), p % 12) for s, d, p in notes)
            if key in seen:
                continue
            seen.add(key)
            if taken >= skip:
                tunes.append(Tune(ident, cls, written, tuple(notes), downbeat_q=pickup))
            taken += 1
    return tunes


def pop909_tunes(root: Path, *, ids: Iterable[int]) -> list[Tune]:
    """Two 8-bar excerpts of four-beat bars per song: the first and the densest other one."""
    import pretty_midi

    out = []
    for sid in ids:
        folder = root / f"{sid:03d}"
        if not folder.is_dir():
            continue
        pm = pretty_midi.PrettyMIDI(str(folder / f"{sid:03d}.mid"))
        mel = next(i for i in pm.instruments if i.name.upper() == "MELODY")
        notes = sorted(mel.notes, key=lambda n: n.start)
        onsets = np.array([n.start for n in notes])
        beats = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
        down_idx = np.flatnonzero(beats[:, 2] == 1)
        down_t = beats[down_idx, 0]
        four = np.diff(down_idx) == 4  # bar i has four beats
        windows = [i for i in range(len(down_t) - EXCERPT_BARS) if four[i:i + EXCERPT_BARS].all()]

        counts = {i: int(np.sum((onsets >= down_t[i]) & (onsets < down_t[i + EXCERPT_BARS])))
                  for i in windows}
        count = counts.__getitem__
        windows = [i for i in windows if count(i) >= MIN_NOTES]
        if not windows:
            continue
        first_w = next((i for i in windows if down_t[i + 1] > onsets[0]), windows[0])
        chosen = [first_w]
        rest = [i for i in windows if abs(i - first_w) >= EXCERPT_BARS]
        if rest:
            chosen.append(max(rest, key=lambda i: (count(i), -i)))
        for i in chosen:
            a, b = float(down_t[i]), float(down_t[i + EXCERPT_BARS])
            beat_s = float(np.median(np.diff(beats[down_idx[i]:down_idx[i + EXCERPT_BARS] + 1, 0])))
            sel = []
            for n in notes:  # one note at a time: a note starting under another is dropped
                if a <= n.start < b and (not sel or n.start - a >= sel[-1][0] + 0.03):
                    sel.append((n.start - a, min(n.end, b) - n.start, n.pitch))
            out.append(Tune(f"pop909/{sid}@{i}", "4/4", "4/4", tuple(sel),
                            tempo_bpm=60.0 / beat_s, seconds=True))
    return out


# ---------------------------------------------------------------- performance


def perform(tune: Tune, *, seed: int) -> tuple[float, list[SungNote]]:
    """The tune as a singer might hum it: (quarter-note tempo, performed notes in seconds)."""
    rng = np.random.default_rng(seed)
    if tune.seconds:
        bpm, spq = tune.tempo_bpm, 1.0
    else:
        lo, hi = COMPOUND_PULSE_BPM if tune.meter == "6/8" else SIMPLE_BPM
        bpm = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        if tune.meter == "6/8":
            bpm *= 1.5  # the pulse is a dotted quarter
        spq = 60.0 / bpm
    pitches = np.array([p for _, _, p in tune.notes])
    shift = 12 * int(round((SINGING_CENTRE - float(np.median(pitches))) / 12.0))
    starts = np.array([s for s, _, _ in tune.notes]) * spq
    ends = starts + np.array([d for _, d, _ in tune.notes]) * spq
    wobble_rate = rng.uniform(0.05, 0.15)
    wobble_phase = rng.uniform(0, 2 * np.pi)

    def warp(t: np.ndarray) -> np.ndarray:  # slow tempo drift, +-WOBBLE
        return t + WOBBLE / (2 * np.pi * wobble_rate) * (np.sin(2 * np.pi * wobble_rate * t + wobble_phase)
                                                          - np.sin(wobble_phase))

    on = warp(starts) + rng.normal(0.0, JITTER_S, starts.size)
    on = np.maximum.accumulate(on)
    nxt = np.append(on[1:], on[-1] + (ends[-1] - starts[-1]))
    held = np.minimum(warp(ends) - warp(starts), (nxt - on) * rng.uniform(0.8, 0.95, on.size))
    keep = on - on[0] <= MAX_EXCERPT_S
    notes = [SungNote(round(float(a - on[0] + LEAD_IN_S), 4),
                      round(float(a - on[0] + LEAD_IN_S + max(h, 0.06)), 4), float(p + shift))
             for a, h, p, k in zip(on, held, pitches, keep, strict=True) if k]
    return bpm, notes


def metric_accents_db(tune: Tune, *, accent_db: float) -> np.ndarray:
    """A singer's stress per note: `accent_db` louder on the downbeat, half that on the
    mid-bar pulse (beat 3 of 4/4, the second dotted quarter of 6/8), a quarter of it on the
    other beats."""
    starts = np.array([s for s, _, _ in tune.notes])
    q = starts * tune.tempo_bpm / 60.0 if tune.seconds else starts - tune.downbeat_q
    bar = {"2/4": 2.0, "3/4": 3.0, "6/8": 3.0}.get(tune.written, 4.0)
    mid = {"2/4": 1.0, "3/4": bar, "6/8": 1.5}.get(tune.written, 2.0)
    tol = 0.08 if tune.seconds else 1e-3  # POP909 notes are performed, not quantised
    pos = np.mod(q + tol, bar) - tol

    def at(x: float) -> np.ndarray:
        return np.abs(pos - x) < tol

    beat = np.abs(pos - np.round(pos)) < tol if tune.written != "6/8" else at(0.0)
    return np.where(at(0.0), accent_db, np.where(at(mid), accent_db / 2,
                                                 np.where(beat, accent_db / 4, 0.0)))


def _apply_gains(audio: np.ndarray, notes: Sequence[SungNote], gains_db: np.ndarray) -> np.ndarray:
    """Each note louder or softer by its gain, from its onset to the next (10 ms ramps)."""
    times = np.arange(audio.size) / SAMPLE_RATE
    onsets = np.array([n.onset_s for n in notes])
    curve = np.interp(times, np.repeat(onsets, 2) + np.tile([0.0, 0.01], onsets.size),
                      np.repeat(gains_db, 2))
    out = audio * 10.0 ** (curve / 20.0)
    return (out / max(1.0, float(np.max(np.abs(out))))).astype(np.float32)


def hum_item(tune: Tune, accent_db: float = 0.0) -> Item:
    seed = zlib.crc32(tune.ident.encode()) % 100_000
    bpm, performed = perform(tune, seed=seed)
    vowel = VOWELS[seed % len(VOWELS)]
    shift = WHISTLE_TRANSPOSE if vowel == "whistle" else 0
    sung = [SungNote(n.onset_s, n.offset_s, n.pitch + shift) for n in performed]
    audio = synthesize_hum(sung, sample_rate=SAMPLE_RATE, seed=seed, vowel=vowel)
    if accent_db:
        audio = _apply_gains(audio, sung, metric_accents_db(tune, accent_db=accent_db)[:len(sung)])
    try:
        heard = transcribe(audio, sample_rate=SAMPLE_RATE)
    except NoMelodyError:
        heard = []
    velocities = note_velocities(audio, sample_rate=SAMPLE_RATE, notes=heard) if heard else []
    return Item(tune, bpm, tuple(performed), tuple(heard), tuple(velocities))


def _notes_json(notes: Sequence[SungNote]) -> list[list[float]]:
    return [[n.onset_s, n.offset_s, round(n.pitch, 3)] for n in notes]


def _notes_from(rows: list[list[float]]) -> tuple[SungNote, ...]:
    return tuple(SungNote(a, b, p) for a, b, p in rows)


def load_items(tunes: list[Tune], *, cache: Path | None, jobs: int, accent_db: float = 0.0
               ) -> list[Item]:
    """Sing and transcribe every tune (cached by tune, seed, accent and CACHE_VERSION)."""
    stored: dict[str, dict] = {}
    if cache is not None and cache.exists():
        stored = json.loads(cache.read_text())
    todo = [t for t in tunes if t.ident not in stored]
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            for item in pool.map(partial(hum_item, accent_db=accent_db), todo, chunksize=4):
                stored[item.tune.ident] = {
                    "tempo_bpm": item.tempo_bpm, "performed": _notes_json(item.performed),
                    "heard": _notes_json(item.heard), "velocities": list(item.velocities)}
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(stored))
    return [Item(t, stored[t.ident]["tempo_bpm"], _notes_from(stored[t.ident]["performed"]),
                 _notes_from(stored[t.ident]["heard"]), tuple(stored[t.ident]["velocities"]))
            for t in tunes]


# ---------------------------------------------------------------- baseline


def baseline_meter(notes: Sequence[SungNote]) -> str:
    """Brown (1993): autocorrelation of the duration-weighted onset train at candidate bar
    lengths (2, 3, 4 beats of the estimated beat); a triple bar is 6/8 when the 1.5-beat lag
    beats the 1-beat lag."""
    ordered = sorted(notes, key=lambda n: n.onset_s)
    if len(ordered) < 4:
        return "4/4"
    beat_s = 60.0 / estimate_tempo(ordered).tempo_bpm
    hop = 0.01
    onsets = np.array([n.onset_s for n in ordered])
    ioi = np.append(np.diff(onsets), ordered[-1].duration_s)
    x = np.zeros(int(onsets[-1] / hop) + 2)
    np.add.at(x, np.round(onsets / hop).astype(int), ioi)
    x = np.convolve(x, np.exp(-0.5 * (np.arange(-5, 6) / 2.5) ** 2), mode="same")
    x -= x.mean()

    def ac(beats: float) -> float:
        lag = int(round(beats * beat_s / hop))
        if lag >= x.size:
            return 0.0
        return float(np.dot(x[:-lag], x[lag:]) / (x.size - lag))

    duple, triple = max(ac(2), ac(4)), ac(3)
    if triple <= duple:
        return "4/4"
    return "6/8" if ac(1.5) > ac(1) else "3/4"


# ---------------------------------------------------------------- tuning


def learn_profiles(tunes: list[Tune], *, prior: float = 1.0) -> dict[str, MeterProfile]:
    """Onset and long-note profiles per sixteenth of the bar, counted in notated tunes (written
    4/4, 2/4, 3/4, 6/8; POP909 excerpts make the "pop" profile), with `prior` pseudo-counts."""
    sizes = {"4/4": 16, "2/4": 8, "pop": 16, "3/4": 12, "6/8": 12}
    onsets = {m: np.zeros(n) for m, n in sizes.items()}
    longs = {m: np.zeros(n) for m, n in sizes.items()}
    bars = dict.fromkeys(sizes, 0)
    for t in tunes:
        name = "pop" if t.seconds else t.written
        if name not in sizes:
            continue
        starts = np.array([s for s, _, _ in t.notes])
        q = starts * t.tempo_bpm / 60.0 if t.seconds else starts - t.downbeat_q
        six = np.round(q * 4).astype(int)
        gaps = np.diff(np.append(six, six[-1] + 8))
        keep = six >= 0  # the pickup is left out
        if not keep.any():
            continue
        n = sizes[name]
        count = int(six[keep].max()) // n + 1
        hit = np.zeros(count * n)
        hit[six[keep]] = 1
        onsets[name] += hit.reshape(count, n).sum(axis=0)
        bars[name] += count
        np.add.at(longs[name], six[keep & (gaps >= LONG_SIXTEENTHS)] % n, 1)
    return {m: MeterProfile(
        onset=tuple(round(float(x), 3) for x in (onsets[m] + prior) / (bars[m] + 2 * prior)),
        long=tuple(round(float(x), 3) for x in (longs[m] + prior) / (onsets[m] + 2 * prior)))
        for m in sizes}


def _fit_data(evidence: list[MeterEvidence | None], labels: list[str]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack the hypotheses: rows, group (item * 3 + meter) of each row, true meter per item."""
    rows, groups, truth = [], [], []
    for ev, label in zip(evidence, labels, strict=True):
        if ev is None:
            continue
        i = len(truth)
        rows.append(ev.features)
        groups.append(3 * i + ev.meter)
        truth.append(METERS.index(label))
    return np.vstack(rows), np.concatenate(groups), np.array(truth)


def _nll(theta: np.ndarray, x: np.ndarray, groups: np.ndarray, truth: np.ndarray,
         item_w: np.ndarray, ridge: float) -> tuple[float, np.ndarray]:
    """Weighted negative log-likelihood of the true meters (and its gradient) when a meter's
    score is the log-sum-exp of its hypotheses' scores x @ theta."""
    n = truth.size
    s = x @ theta
    top = np.full(3 * n, -np.inf)
    np.maximum.at(top, groups, s)
    e = np.exp(s - top[groups])
    tot = np.zeros(3 * n)
    np.add.at(tot, groups, e)
    meter_score = (top + np.log(tot)).reshape(n, 3)
    norm = np.logaddexp.reduce(meter_score, axis=1)
    p = np.exp(meter_score - norm[:, None])
    ll = np.sum(item_w * (meter_score[np.arange(n), truth] - norm))
    item, meter = groups // 3, groups % 3
    within = np.exp(s - meter_score.reshape(-1)[groups])
    coef = item_w[item] * within * ((meter == truth[item]) - p[item, meter])
    w = item_w.sum()
    return -ll / w + ridge * theta @ theta, -(x.T @ coef) / w + 2 * ridge * theta


def fit_weights(evidence: list[MeterEvidence | None], labels: list[str], *,
                ridge: float = RIDGE) -> tuple[float, ...]:
    """Weights of FEATURES maximising the likelihood of the true meters, each class weighing
    the same in total."""
    from scipy.optimize import minimize

    x, groups, truth = _fit_data(evidence, labels)
    item_w = np.ones(truth.size)
    for c in range(3):
        if np.any(truth == c):
            item_w[truth == c] = 1.0 / np.mean(truth == c) / 3
    res = minimize(_nll, np.zeros(x.shape[1]), args=(x, groups, truth, item_w, ridge), jac=True,
                   method="L-BFGS-B")
    return tuple(round(float(v), 3) for v in res.x)


def tune(args: argparse.Namespace, items_by_condition: dict[str, list[Item]]) -> MeterParams:
    """Profiles from tunes outside the benchmark, weights from half A: print and return them."""
    training = abc_tunes(args.train_per_class, skip=args.per_class)
    root = Path(args.data) / "pop909" / "POP909"
    if root.is_dir():
        training += pop909_tunes(root, ids=range(POP909_TRAIN_EVERY, LAST_TRAIN + 1,
                                                 POP909_TRAIN_EVERY))
    profiles = learn_profiles(training)
    params = replace(DEFAULT_METER_PARAMS, profiles=profiles)
    evidence, labels = [], []
    for items in items_by_condition.values():
        for it in items:
            if "A" in it.tune.half:
                evidence.append(meter_evidence(list(it.heard), velocities=list(it.velocities),
                                               params=params))
                labels.append(it.tune.meter)
    weights = fit_weights(evidence, labels)
    print(f"profiles from {len(training)} tunes outside the benchmark:")
    for name, prof in profiles.items():
        print(f'    "{name}": MeterProfile(\n        onset={prof.onset},\n        long={prof.long}),')
    print(f"weights fitted on {len(labels)} half-A hums ({', '.join(items_by_condition)}):")
    for name, w in zip(FEATURES, weights, strict=True):
        print(f"    {w:8.3f},  # {name}")
    return replace(params, weights=weights)


# ---------------------------------------------------------------- scoring


def first_bars(item: Item, bars: int) -> tuple[list[SungNote], list[int]]:
    """The heard notes (and velocities) of the pickup and the first `bars` bars only."""
    t = item.tune
    bar_q = {"2/4": 2.0, "3/4": 3.0, "6/8": 3.0}.get(t.written, 4.0)
    end_s = LEAD_IN_S + (t.downbeat_q + bars * bar_q - 0.25) * 60.0 / item.tempo_bpm
    keep = [i for i, n in enumerate(item.heard) if n.onset_s < end_s]
    return [item.heard[i] for i in keep], [item.velocities[i] for i in keep]


def scores(truth: list[str], guess: list[str]) -> dict[str, float]:
    t, g = np.array(truth), np.array(guess)
    out = {c: float(np.mean(g[t == c] == c)) if np.any(t == c) else float("nan") for c in CLASSES}
    out["overall"] = float(np.mean(g == t))
    out["balanced"] = float(np.mean([out[c] for c in CLASSES if np.any(t == c)]))
    out["4/4->3/4"] = float(np.mean(g[t == "4/4"] == "3/4")) if np.any(t == "4/4") else float("nan")
    return out


def confusion(truth: list[str], guess: list[str]) -> str:
    lines = ["true \\ guess " + " ".join(f"{c:>5}" for c in CLASSES)]
    for c in CLASSES:
        row = [sum(1 for t, g in zip(truth, guess, strict=True) if t == c and g == d) for d in CLASSES]
        lines.append(f"{c:<13} " + " ".join(f"{n:5d}" for n in row))
    return "\n".join(lines)


def report(name: str, items: list[Item], inputs: list[tuple[list[SungNote], list[int] | None]],
           params: MeterParams, *, show_confusion: bool) -> None:
    truth = [it.tune.meter for it in items]
    ours = [estimate_meter(n, velocities=v, params=params) for n, v in inputs]
    res = {"tunesmith": [e.time_signature for e in ours],
           "autocorr": [baseline_meter(n) for n, _ in inputs],
           "always 4/4": ["4/4"] * len(inputs)}
    table = {system: scores(truth, g) for system, g in res.items()}
    # with the meter right, are the bars right too: quarter-note tempo within 4 %
    right = [abs(e.tempo_bpm / it.tempo_bpm - 1.0) <= TEMPO_TOLERANCE
             for e, it, t in zip(ours, items, truth, strict=True) if e.time_signature == t]
    print(f"\n{name}")
    print(f"  {'metric':<10} " + " ".join(f"{s:>11}" for s in res) + f" {'ratio/autocorr':>15}")
    for m in (*CLASSES, "overall", "balanced", "4/4->3/4"):
        o, b = table["tunesmith"][m], table["autocorr"][m]
        ratio = f"{o / b:15.2f}" if b > 0 else f"{'-':>15}"
        print(f"  {m:<10} " + " ".join(f"{table[s][m]:11.3f}" for s in res) + ratio)
    print(f"  tunesmith tempo within {TEMPO_TOLERANCE:.0%} where the meter is right: "
          f"{np.mean(right):.3f} of {len(right)}")
    if show_confusion:
        for system in ("tunesmith", "autocorr"):
            print(f"  {system}:\n    " + confusion(truth, res[system]).replace("\n", "\n    "))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=os.environ.get("TUNESMITH_DATA", str(
        Path(__file__).resolve().parents[1] / ".." / "shared" / "data")))
    ap.add_argument("--per-class", type=int, default=150, help="ABC tunes drawn per class")
    ap.add_argument("--half", choices=("A", "B", "all"), default="B",
                    help="report on this half (A is the tuning half)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--confusion", action="store_true", help="print confusion matrices")
    ap.add_argument("--tune", action="store_true",
                    help="rebuild the profiles and weights (half A) and report with them")
    ap.add_argument("--train-per-class", type=int, default=300,
                    help="with --tune: ABC tunes per class, outside the benchmark, for profiles")
    args = ap.parse_args()

    tunes = abc_tunes(args.per_class)
    root = Path(args.data) / "pop909" / "POP909"
    if root.is_dir():
        tunes += pop909_tunes(root, ids=range(FIRST_VALIDATION, LAST_VALIDATION + 1))
    else:
        print(f"POP909 not found under {args.data}: folk tunes only")
    cache_dir = Path(__file__).resolve().parents[1] / ".bench-cache"
    conditions = {"plain": 0.0, f"accented {ACCENT_DB:g} dB": ACCENT_DB}
    items_by_condition = {}
    for name, accent in conditions.items():
        suffix = f"-accent{accent:g}" if accent else ""
        cache = None if args.no_cache else cache_dir / f"meter-v{CACHE_VERSION}-{args.per_class}{suffix}.json"
        items_by_condition[name] = load_items(tunes, cache=cache, jobs=args.jobs, accent_db=accent)
    params = tune(args, items_by_condition) if args.tune else DEFAULT_METER_PARAMS

    def pick(items: list[Item]) -> list[Item]:
        return items if args.half == "all" else [it for it in items if args.half in it.tune.half]

    plain = pick(items_by_condition["plain"])
    counts = ", ".join(f"{c} {sum(it.tune.meter == c for it in plain)}" for c in CLASSES)
    n_pop = sum(it.tune.ident.startswith("pop909/") for it in plain)
    print(f"half {args.half}: {len(plain)} melodies: {counts} (4/4: {n_pop} of them POP909 excerpts)")
    show = args.confusion
    report("hum (sung, transcribed)", plain,
           [(list(it.heard), list(it.velocities)) for it in plain], params, show_confusion=show)
    report(f"hum, first {SHORT_BARS} bars only", plain, [first_bars(it, SHORT_BARS) for it in plain],
           params, show_confusion=show)
    accented = pick(items_by_condition[f"accented {ACCENT_DB:g} dB"])
    report(f"hum with metrical loudness accents ({ACCENT_DB:g} dB on downbeats)", accented,
           [(list(it.heard), list(it.velocities)) for it in accented], params, show_confusion=show)
    report("performed notes (no transcription)", plain, [(list(it.performed), None) for it in plain],
           params, show_confusion=show)


if __name__ == "__main__":
    main()
