"""Read POP909 songs as lead sheets (melody, chords, keys, meter) and label their sections.

Used by training, benchmarks and data tests only: nothing at run time needs the dataset.
Times are in quarter-note beats from the song's first downbeat, on a sixteenth-note grid.
POP909's `beat_midi.txt` counts quarter notes in 4/4 songs; in the 29 songs with six beats to
the bar the beat is an eighth note (6/8), so those beats are halved.

Section labels: POP909 has no structure annotations, so they are derived from repetition: the
most repeated 4-bar melody window (preferring higher-pitched ones) marks the chorus, the most
repeated of what is left before it the verse, unrepeated bars just before a chorus the
pre-chorus, unrepeated material between choruses the bridge; bars without melody are "other".
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunesmith.compose.melody_model import NO_CHORD, ChordTones, NoteContext
from tunesmith.errors import TunesmithError
from tunesmith.score import Note, Section
from tunesmith.theory import Key, parse_pitch_class

log = logging.getLogger(__name__)

GRID_BEATS = 0.25
TRAIN_IDS = range(1, 801)
VALIDATION_IDS = range(801, 851)
TEST_IDS = range(851, 910)
SPLITS = {"train": TRAIN_IDS, "validation": VALIDATION_IDS, "test": TEST_IDS}

# Chord-label qualities of POP909 (Harte syntax) as intervals above the root.
_QUALITY_INTERVALS = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8), "sus2": (0, 2, 7),
    "sus4": (0, 5, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10), "dim7": (0, 3, 6, 9), "maj6": (0, 4, 7, 9), "min6": (0, 3, 7, 9),
    "sus4(b7)": (0, 5, 7, 10), "minmaj7": (0, 3, 7, 11),
}


class DatasetError(TunesmithError):
    """The POP909 data folder is missing or malformed."""


@dataclass(frozen=True, slots=True)
class LabelledChord:
    """A chord of a dataset lead sheet: root and pitch classes (no ChordSymbol: POP909 has
    qualities our theory module does not name, e.g. sus4(b7))."""

    start_beat: float
    end_beat: float
    root: int
    pitch_classes: frozenset[int]


@dataclass(frozen=True, slots=True)
class KeySpan:
    start_beat: float
    key: Key


@dataclass(slots=True)
class LeadSheet:
    """One POP909 song's melody and harmony, in beats from its first downbeat."""

    song_id: int
    notes: list[Note]
    chords: list[LabelledChord]
    keys: list[KeySpan]
    beats_per_bar: int
    compound: bool
    tempo_bpm: float
    sections: list[Section]

    def key_at(self, beat: float) -> Key:
        key = self.keys[0].key
        for span in self.keys:
            if span.start_beat <= beat + 1e-6:
                key = span.key
        return key

    def chord_at(self, beat: float) -> LabelledChord | None:
        for c in self.chords:
            if c.start_beat <= beat + 1e-6 < c.end_beat:
                return c
        return None

    def section_at(self, beat: float) -> str:
        for s in self.sections:
            if s.start_beat <= beat + 1e-6 < s.end_beat:
                return s.kind
        return "other"


def sheet_contexts(sheet: LeadSheet) -> list[NoteContext]:
    """The melody model's context of every note: key and chord at its onset, its section, and
    the song's median melody pitch as register centre."""
    centre = float(np.median([n.pitch for n in sheet.notes])) if sheet.notes else 67.0
    out = []
    for n in sheet.notes:
        c = sheet.chord_at(n.start_beat)
        sec = next((s for s in sheet.sections if s.start_beat <= n.start_beat < s.end_beat), None)
        out.append(NoteContext(
            key=sheet.key_at(n.start_beat),
            chord=ChordTones(c.root, c.pitch_classes) if c else NO_CHORD,
            section=sec.kind if sec else "other",
            section_start=sec.start_beat if sec else 0.0,
            section_beats=sec.duration_beats if sec else 4.0 * sheet.beats_per_bar,
            centre=centre))
    return out


def default_data_dir() -> Path:
    """`$TUNESMITH_DATA`, else ../shared/data beside the project checkout."""
    env = os.environ.get("TUNESMITH_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


def pop909_root(data_dir: Path | None = None) -> Path:
    root = (data_dir or default_data_dir()) / "pop909" / "POP909"
    if not root.is_dir():
        raise DatasetError(f"POP909 not found under {data_dir or default_data_dir()}")
    return root


def _tempo_map(midi: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tick, seconds, tempo in us/beat) at the start of every constant-tempo segment."""
    import mido

    tpb = midi.ticks_per_beat  # type: ignore[attr-defined]
    changes: list[tuple[int, int]] = []
    for track in midi.tracks:  # type: ignore[attr-defined]
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                changes.append((tick, msg.tempo))
    changes.sort()
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, 500000))
    ticks, secs, tempos = [changes[0][0]], [0.0], [changes[0][1]]
    for tick, tempo in changes[1:]:
        secs.append(secs[-1] + mido.tick2second(tick - ticks[-1], tpb, tempos[-1]))
        ticks.append(tick)
        tempos.append(tempo)
    return np.array(ticks), np.array(secs), np.array(tempos)


def _melody_seconds(path: Path) -> list[tuple[float, float, int]]:
    import mido

    midi = mido.MidiFile(str(path))
    tpb = midi.ticks_per_beat
    ticks, secs, tempos = _tempo_map(midi)

    def to_s(tick: int) -> float:
        i = max(0, int(np.searchsorted(ticks, tick, side="right")) - 1)
        return float(secs[i] + (tick - ticks[i]) * tempos[i] * 1e-6 / tpb)

    track = next((t for t in midi.tracks if t.name.strip().upper() == "MELODY"), None)
    if track is None:
        raise DatasetError(f"{path.name} has no MELODY track")
    out = []
    open_notes: dict[int, int] = {}
    tick = 0
    for msg in track:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            open_notes[msg.note] = tick
        elif msg.type in ("note_off", "note_on") and msg.note in open_notes:
            on = open_notes.pop(msg.note)
            out.append((to_s(on), to_s(tick), msg.note))
    return sorted(out)


def _parse_chord_label(label: str) -> tuple[int, frozenset[int]] | None:
    if label == "N" or ":" not in label:
        return None
    root_txt, _, rest = label.partition(":")
    quality = rest.split("/")[0]
    root = parse_pitch_class(root_txt)[0]
    iv = _QUALITY_INTERVALS.get(quality, (0, 3, 7) if quality.startswith("min") else (0, 4, 7))
    return root, frozenset((root + i) % 12 for i in iv)


def load_lead_sheet(folder: Path) -> LeadSheet:
    """One POP909 song folder -> LeadSheet (monophonic melody on a sixteenth grid)."""
    sid = folder.name
    try:
        beats = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
        raw = _melody_seconds(folder / f"{sid}.mid")
        chord_lines = (folder / "chord_midi.txt").read_text().splitlines()
        key_lines = (folder / "key_audio.txt").read_text().splitlines()
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read POP909 song {sid}: {exc}") from exc
    times = beats[:, 0]
    down = np.flatnonzero(beats[:, 2] == 1)
    spacing = int(np.median(np.diff(down))) if len(down) > 1 else 4
    compound = spacing == 6
    first_down = int(down[0]) if len(down) else 0
    step = float(np.median(np.diff(times)))
    idx = np.arange(len(times), dtype=float) - first_down
    scale = 0.5 if compound else 1.0  # eighth-note beats -> quarter-note beats

    def to_beat(t: float) -> float:
        if t < times[0]:
            b = idx[0] - (times[0] - t) / step
        elif t > times[-1]:
            b = idx[-1] + (t - times[-1]) / step
        else:
            b = float(np.interp(t, times, idx))
        return b * scale

    def q(b: float) -> float:
        return round(b / GRID_BEATS) * GRID_BEATS

    notes: list[Note] = []
    for on, off, pitch in raw:
        start = q(to_beat(on))
        end = max(start + GRID_BEATS, q(to_beat(off)))
        if notes and start <= notes[-1].start_beat + 1e-9:
            if pitch > notes[-1].pitch:  # two notes on one grid step: keep the upper
                notes[-1] = Note(notes[-1].start_beat, end - notes[-1].start_beat, pitch)
            continue
        if notes and notes[-1].end_beat > start:
            prev = notes[-1]
            notes[-1] = Note(prev.start_beat, start - prev.start_beat, prev.pitch)
        notes.append(Note(start, end - start, pitch))
    chords = []
    for line in chord_lines:
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        parsed = _parse_chord_label(parts[2].strip())
        if parsed:
            a, b = to_beat(float(parts[0])), to_beat(float(parts[1]))
            if chords and chords[-1].root == parsed[0] and chords[-1].pitch_classes == parsed[1] \
                    and abs(chords[-1].end_beat - a) < 1e-3:
                chords[-1] = LabelledChord(chords[-1].start_beat, b, parsed[0], parsed[1])
            else:
                chords.append(LabelledChord(a, b, parsed[0], parsed[1]))
    keys = []
    for line in key_lines:
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        txt = parts[2].strip()
        key = Key(parse_pitch_class(txt)[0], "minor" if txt.endswith("min") else "major")
        keys.append(KeySpan(to_beat(float(parts[0])), key))
    if not keys:
        raise DatasetError(f"POP909 song {sid} has no key annotation")
    keys[0] = KeySpan(-1e9, keys[0].key)
    beats_per_bar = 3 if compound else 4
    tempo = 60.0 / step * scale
    sheet = LeadSheet(int(sid), notes, chords, keys, beats_per_bar, compound, tempo, [])
    sheet.sections = label_sections(notes, beats_per_bar=beats_per_bar)
    return sheet


def load_split(split: str, data_dir: Path | None = None, *,
               limit: int | None = None) -> list[LeadSheet]:
    """Songs of a split: 'train' (001-800), 'validation' (801-850) or 'test' (851-909); the
    first `limit` of them when given."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}: use train, validation or test")
    root = pop909_root(data_dir)
    ids = [i for i in SPLITS[split] if (root / f"{i:03d}").is_dir()][:limit]
    return [load_lead_sheet(root / f"{i:03d}") for i in ids]


# ---------------------------------------------------------------- sections from repetition

def _bar_sets(notes: list[Note], beats_per_bar: int, n_bars: int) -> list[set[tuple[float, int]]]:
    bars: list[set[tuple[float, int]]] = [set() for _ in range(n_bars)]
    for n in notes:
        b = int(n.start_beat // beats_per_bar)
        if 0 <= b < n_bars:
            bars[b].add((round(n.start_beat - b * beats_per_bar, 2), n.pitch))
    return bars


def _similarity(bars: list[set[tuple[float, int]]]) -> np.ndarray:
    n = len(bars)
    sim = np.zeros((n, n))
    for i in range(n):
        if not bars[i]:
            continue
        for j in range(i + 1, n):
            if bars[j]:
                s = len(bars[i] & bars[j]) / max(len(bars[i]), len(bars[j]))
                sim[i, j] = sim[j, i] = s
    return sim


def repeats_of(sim: np.ndarray, free: np.ndarray, window: int, start: int,
               threshold: float = 0.6) -> list[int]:
    """`start` and the start bars of the non-overlapping `free` passages of `window` bars whose
    bars match those from `start` on (mean bar similarity `sim` at least `threshold`)."""
    n = len(free)
    starts = [start]
    for t in range(n - window + 1):
        if abs(t - start) >= window and free[t:t + window].all() and all(
                abs(t - u) >= window for u in starts) and np.mean(
                [sim[start + k, t + k] for k in range(window)]) >= threshold:
            starts.append(t)
    return starts


def _occurrences(sim: np.ndarray, free: np.ndarray, window: int, pitch: np.ndarray,
                 threshold: float = 0.6) -> list[int]:
    """Start bars of the best repeated `window`-bar passage among `free` bars: most matches,
    ties (and near ties) to the higher one."""
    n = len(free)
    best: tuple[float, list[int]] = (0.0, [])
    for s in range(n - window + 1):
        if not free[s:s + window].all():
            continue
        starts = repeats_of(sim, free, window, s, threshold)
        if len(starts) < 2:
            continue
        score = len(starts) + 0.15 * float(np.nanmean(pitch[s:s + window]))
        if score > best[0]:
            best = (score, starts)
    return sorted(best[1])


def _extend(starts: list[int], sim: np.ndarray, free: np.ndarray, window: int,
            max_bars: int = 16, threshold: float = 0.6) -> list[tuple[int, int]]:
    """Grow each occurrence bar by bar while the occurrences keep matching one another."""
    n = len(free)
    length = window
    while length < max_bars:
        ok = all(s + length < n and free[s + length] for s in starts)
        ok = ok and all(s + length not in range(t, t + length + 1) for s in starts for t in starts
                        if t > s)
        if not ok:
            break
        pairs = [sim[a + length, b + length] for i, a in enumerate(starts) for b in starts[i + 1:]]
        if not pairs or max(pairs) < threshold:
            break
        length += 1
    return [(s, s + length) for s in starts]


def label_sections(notes: list[Note], *, beats_per_bar: int, window: int = 4) -> list[Section]:
    """Sections (kinds verse, prechorus, chorus, bridge, other) derived from melodic repetition."""
    if not notes:
        return []
    n_bars = int(max(n.end_beat for n in notes) // beats_per_bar) + 1
    bars = _bar_sets([n for n in notes if n.start_beat >= 0], beats_per_bar, n_bars)
    has_melody = np.array([bool(b) for b in bars])
    pitch = np.array([np.mean([p for _, p in b]) if b else np.nan for b in bars])
    sim = _similarity(bars)
    kinds = np.array(["other"] * n_bars, dtype=object)
    free = has_melody.copy()
    chorus = _extend(_occurrences(sim, free, window, pitch), sim, free, window)
    for a, b in chorus:
        kinds[a:b] = "chorus"
        free[a:b] = False
    first_chorus = min((a for a, _ in chorus), default=n_bars)
    # The verse: the most repeated passage left, preferring those before the first chorus.
    pre_free = free.copy()
    pre_free[first_chorus:] = False
    starts = _occurrences(sim, pre_free, window, -np.nan_to_num(pitch)) or \
        _occurrences(sim, free, window, -np.nan_to_num(pitch))
    for a, b in _extend(starts, sim, free, window):
        kinds[a:b] = "verse"
        free[a:b] = False
    # What is left: just before a chorus -> pre-chorus; between choruses -> bridge.
    chorus_starts = sorted(a for a, _ in chorus)
    for b in range(n_bars):
        if not free[b]:
            continue
        nxt = next((c for c in chorus_starts if c > b), None)
        if nxt is not None and nxt - b <= 4 and any(kinds[k] == "verse" for k in range(max(0, b - 8), b)):
            kinds[b] = "prechorus"
        elif chorus_starts and chorus_starts[0] < b and nxt is not None:
            kinds[b] = "bridge"
        elif b < first_chorus:
            kinds[b] = "verse"
    sections: list[Section] = []
    for b in range(n_bars):
        kind = str(kinds[b])
        if sections and sections[-1].kind == kind:
            last = sections[-1]
            sections[-1] = Section(kind, last.label, last.start_beat,
                                   last.duration_beats + beats_per_bar)
        else:
            sections.append(Section(kind, kind, float(b * beats_per_bar), float(beats_per_bar)))
    return sections
