"""Benchmark: full-recording transcription (`listen.transcribe_polyphonic`) on POP909 songs
rendered to audio with our own renderer, against simple baselines measured in the same run.

Each song (validation split 801-850 by default; never the test split 851-909) is cut to its
first EXCERPT_S seconds and rendered with `tunesmith.render` (FluidSynth, FluidR3 GM): MELODY on
a lead instrument (cycling through LEAD_PROGRAMS by song id), BRIDGE on BRIDGE_PROGRAM, PIANO on
an acoustic grand, each track at the velocities of the MIDI file, summed to mono at 44.1 kHz.
The audio is cached under .bench-cache/polyphonic/.

Scores:
- melody: mir_eval note F1 against the MELODY track (onset 50 ms, pitch 50 cents), COnP
  (offset_ratio=None, headline), COn and COnPOff (offset ratio 0.2), mean over songs.
  Baseline: the highest-note skyline of basic-pitch 0.4.0's own notes (its `note_creation`
  with its default settings, on the same model output).
- chords: per beat of `beat_midi.txt`, the label sounding at the beat against `chord_midi.txt`
  with `mir_eval.chord`: triads (root + triad; sevenths reduced), tetrads (root + full quality up
  to the seventh, the "seventh level"; inversions ignored) and MIREX sevenths (majmin + 7ths;
  other reference chords not counted). Baseline: frame-wise chroma-template matching on the
  audio (librosa CQT chroma, same chord vocabulary, no smoothing), read at the same beats.
- speed: seconds of audio per second of CPU time (process time, all threads: the machine is
  shared, wall time is not a fair clock), ours from samples to the whole transcription,
  basic-pitch's `predict` from a WAV file to notes.
- tempo (Accuracy1 / Accuracy2 against the median `beat_midi.txt` interval; the songs missed
  are listed with the ratio of the estimate to the truth), beat F-measure (mir_eval.beat,
  70 ms) and key (MIREX weighted score against `key_audio.txt`); baselines: librosa's beat
  tracker and Krumhansl-Schmuckler on the audio's mean chroma.

    python bench/polyphonic.py [DATA_DIR] [--first 801 --last 850 --limit 15 --excerpt-s 60]

DATA_DIR defaults to $TUNESMITH_DATA or ../shared/data. Needs the `bench` extra, the FluidR3
SoundFont and basic-pitch 0.4.0 (`pip install --no-deps basic-pitch==0.4.0`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from key_tempo import PITCH_NAMES, ks_key  # the same Krumhansl-Schmuckler baseline (bench/)

from tunesmith.score import Note, Score, SungNote, Track
from tunesmith.theory import Key

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"
CACHE_DIR = PROJECT_ROOT / ".bench-cache" / "polyphonic"
RENDER_VERSION = 1
SAMPLE_RATE = 44100
EXCERPT_S = 60.0
FIRST_VALIDATION, LAST_VALIDATION = 801, 850
LAST_TRAIN = 800
FIRST_TEST = 851
# General MIDI programs. Leads: Voice Oohs, Alto Sax, Flute, Clarinet (sung, reed, air, reed).
LEAD_PROGRAMS = (53, 65, 73, 71)
BRIDGE_PROGRAM = 48  # String Ensemble 1
PIANO_PROGRAM = 0  # Acoustic Grand Piano
ONSET_TOLERANCE_S = 0.05
PITCH_TOLERANCE_CENTS = 50.0
OFFSET_RATIO = 0.2
TEMPO_TOLERANCE = 0.04


@dataclass
class Song:
    sid: int
    audio: np.ndarray  # mono float32, SAMPLE_RATE
    melody: list[SungNote]
    chords: list[tuple[float, float, str]]  # Harte labels, as in chord_midi.txt
    beats: np.ndarray  # beat times (s) inside the excerpt
    tempo_bpm: float
    key: str  # mir_eval form, e.g. "Gb major"
    lead_program: int
    all_notes: list[SungNote] = field(default_factory=list)  # MELODY + BRIDGE + PIANO


@dataclass
class SongResult:
    sid: int
    lead_program: int
    scores: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0


# ---------------------------------------------------------------- data


def _midi_tracks(folder: Path) -> dict[str, list[tuple[float, float, int, int]]]:
    """(onset_s, offset_s, pitch, velocity) per named track of the song's MIDI file."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(folder / f"{folder.name}.mid"))
    return {inst.name.upper(): sorted((n.start, n.end, n.pitch, n.velocity) for n in inst.notes)
            for inst in pm.instruments}


def _read_chords(folder: Path, end_s: float) -> list[tuple[float, float, str]]:
    out = []
    for line in (folder / "chord_midi.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and float(parts[0]) < end_s:
            out.append((float(parts[0]), min(float(parts[1]), end_s), parts[2]))
    return out


def _read_key(folder: Path, end_s: float) -> str:
    best, label = -1.0, "C major"
    for line in (folder / "key_audio.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        a, b = float(parts[0]), min(float(parts[1]), end_s)
        tonic_txt, _, mode = parts[2].partition(":")
        from tunesmith.theory import parse_pitch_class

        name = f"{PITCH_NAMES[parse_pitch_class(tonic_txt)[0]]} {'minor' if mode == 'min' else 'major'}"
        if b - a > best:
            best, label = b - a, name
    return label


def _render_audio(tracks: dict[str, list[tuple[float, float, int, int]]], *, lead: int,
                  excerpt_s: float) -> np.ndarray:
    """The excerpt's MELODY, BRIDGE and PIANO summed to mono: a 60 bpm score, so beats = seconds."""
    from tunesmith.render import render

    programs = {"MELODY": (lead, "melody"), "BRIDGE": (BRIDGE_PROGRAM, "bridge"),
                "PIANO": (PIANO_PROGRAM, "piano")}
    score_tracks = []
    for name, (program, role) in programs.items():
        notes = [Note(on, min(off, excerpt_s) - on, pitch, vel)
                 for on, off, pitch, vel in tracks.get(name, []) if on < excerpt_s - 0.05]
        if notes:
            score_tracks.append(Track(name=role, program=program, notes=notes, role=role))
    score = Score(tempo_bpm=60.0, key=Key(0), tracks=score_tracks)
    stems = render(score, sample_rate=SAMPLE_RATE, workers=1)
    mix = np.sum([s.audio.mean(axis=0) for s in stems], axis=0)[: int(excerpt_s * SAMPLE_RATE)]
    peak = float(np.max(np.abs(mix))) or 1.0
    return (mix * (10 ** (-1.0 / 20) / peak)).astype(np.float32)


def load_song(folder: Path, *, excerpt_s: float, use_cache: bool = True) -> Song | None:
    import soundfile as sf

    sid = int(folder.name)
    tracks = _midi_tracks(folder)
    melody_notes = [(on, min(off, excerpt_s), p) for on, off, p, _ in tracks.get("MELODY", [])
                    if on < excerpt_s - ONSET_TOLERANCE_S]
    if not melody_notes:
        return None
    lead = LEAD_PROGRAMS[sid % len(LEAD_PROGRAMS)]
    cache = CACHE_DIR / f"v{RENDER_VERSION}-{excerpt_s:g}s" / f"{sid:03d}.flac"
    if use_cache and cache.is_file():
        audio = sf.read(str(cache), dtype="float32")[0]
    else:
        audio = _render_audio(tracks, lead=lead, excerpt_s=excerpt_s)
        cache.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(cache), audio, SAMPLE_RATE, subtype="PCM_24")
    beats_all = np.loadtxt(folder / "beat_midi.txt", ndmin=2)[:, 0]
    beats = beats_all[beats_all < excerpt_s]
    tempo = 60.0 / float(np.median(np.diff(beats_all)))
    everything = sorted((SungNote(on, min(off, excerpt_s), float(p))
                         for name in ("MELODY", "BRIDGE", "PIANO")
                         for on, off, p, _ in tracks.get(name, []) if on < excerpt_s - 0.05),
                        key=lambda n: (n.onset_s, n.pitch))
    return Song(sid=sid, audio=audio, melody=[SungNote(a, b, float(p)) for a, b, p in melody_notes],
                chords=_read_chords(folder, excerpt_s), beats=beats, tempo_bpm=tempo,
                key=_read_key(folder, excerpt_s), lead_program=lead, all_notes=everything)


def song_folders(data: Path, first: int, last: int) -> list[Path]:
    root = data / "pop909" / "POP909"
    if not root.is_dir():
        raise SystemExit(f"POP909 not found under {data} (set TUNESMITH_DATA or pass DATA_DIR)")
    if last >= FIRST_TEST:
        raise SystemExit("songs 851-909 are the test split: the bench never runs on them")
    return [root / f"{i:03d}" for i in range(first, last + 1) if (root / f"{i:03d}").is_dir()]


# ---------------------------------------------------------------- metrics


def note_scores(ref: list[SungNote], est: list[SungNote]) -> dict[str, float]:
    """COnP / COn / COnPOff F1 (mir_eval.transcription, 50 ms, 50 cents)."""
    import mir_eval

    def arrays(notes: list[SungNote]) -> tuple[np.ndarray, np.ndarray]:
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        iv = np.array([[n.onset_s, max(n.offset_s, n.onset_s + 1e-3)] for n in notes])
        return iv, 440.0 * 2.0 ** ((np.array([n.pitch for n in notes]) - 69.0) / 12.0)

    (ri, rh), (ei, eh) = arrays(ref), arrays(est)
    common = dict(onset_tolerance=ONSET_TOLERANCE_S, pitch_tolerance=PITCH_TOLERANCE_CENTS)
    return {
        "COnP": mir_eval.transcription.precision_recall_f1_overlap(
            ri, rh, ei, eh, offset_ratio=None, **common)[2],
        "COn": mir_eval.transcription.onset_precision_recall_f1(
            ri, ei, onset_tolerance=ONSET_TOLERANCE_S)[2],
        "COnPOff": mir_eval.transcription.precision_recall_f1_overlap(
            ri, rh, ei, eh, offset_ratio=OFFSET_RATIO, **common)[2],
    }


HARTE_QUALITY = {"maj": "maj", "min": "min", "dim": "dim", "aug": "aug", "sus2": "sus2",
                 "sus4": "sus4", "7": "7", "maj7": "maj7", "min7": "min7", "m7b5": "hdim7",
                 "dim7": "dim7", "6": "maj6", "min6": "min6", "9": "9"}


def harte(chord: object) -> str:
    """A tunesmith ChordSymbol (or None) as a Harte label, e.g. Am7 -> 'A:min7', None -> 'N'."""
    if chord is None:
        return "N"
    return f"{PITCH_NAMES[chord.root]}:{HARTE_QUALITY[chord.quality]}"  # type: ignore[attr-defined]


def _label_at(spans: list[tuple[float, float, str]], t: float) -> str:
    for a, b, label in spans:
        if a <= t < b:
            return label
    return "N"


def chord_scores(song: Song, est: list[tuple[float, float, str]]) -> dict[str, float]:
    """Share of beats (the middle of each `beat_midi.txt` beat) whose label matches, by
    mir_eval.chord comparison; reference chords a rule does not cover are left out."""
    import mir_eval

    mids = (song.beats[:-1] + song.beats[1:]) / 2.0
    ref = [_label_at(song.chords, t) for t in mids]
    hyp = [_label_at(est, t) for t in mids]
    out = {}
    for rule in ("triads", "tetrads", "sevenths"):
        comp = getattr(mir_eval.chord, rule)(ref, hyp)
        counted = comp >= 0
        out[rule] = float(np.mean(comp[counted])) if counted.any() else float("nan")
    return out


def tempo_scores(est_bpm: float, ref_bpm: float) -> dict[str, float]:
    acc1 = abs(est_bpm / ref_bpm - 1.0) <= TEMPO_TOLERANCE
    acc2 = any(abs(est_bpm / (ref_bpm * f) - 1.0) <= TEMPO_TOLERANCE
               for f in (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0))
    return {"tempo Acc1": float(acc1), "tempo Acc2": float(acc2), "tempo ratio": est_bpm / ref_bpm}


def beat_f(song: Song, beats: np.ndarray) -> float:
    import mir_eval

    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(song.beats),
                                         mir_eval.beat.trim_beats(np.asarray(beats, float))))


def key_score(est: str, ref: str) -> float:
    import mir_eval

    return float(mir_eval.key.weighted_score(ref, est))


def skyline(notes: list[SungNote]) -> list[SungNote]:
    """Highest-note skyline: keep a note when no higher note sounds at its onset (started at
    most ONSET_TOLERANCE_S / 2 after it and not yet ended); then end each kept note at the
    next kept onset."""
    ordered = sorted(notes, key=lambda n: (n.onset_s, -n.pitch))
    kept: list[SungNote] = []
    for n in ordered:
        t = n.onset_s + ONSET_TOLERANCE_S / 2
        if any(m.pitch > n.pitch + 0.5 and m.onset_s <= t and m.offset_s > t for m in ordered
               if abs(m.onset_s - n.onset_s) < 10.0):
            continue
        kept.append(n)
    out = []
    for i, n in enumerate(kept):
        end = min(n.offset_s, kept[i + 1].onset_s) if i + 1 < len(kept) else n.offset_s
        if end > n.onset_s:
            out.append(SungNote(n.onset_s, end, n.pitch))
    return out


# ---------------------------------------------------------------- systems


def run_ours(song: Song) -> tuple[dict[str, float], float]:
    from tunesmith.listen.polyphonic import transcribe_polyphonic

    t0 = time.process_time()
    heard = transcribe_polyphonic(song.audio, sample_rate=SAMPLE_RATE)
    elapsed = time.process_time() - t0
    scores = {f"melody {k}": v for k, v in note_scores(song.melody, heard.melody).items()}
    scores |= chord_scores(song, [(c.start_s, c.end_s, harte(c.chord)) for c in heard.chords])
    scores |= tempo_scores(heard.tempo_bpm, song.tempo_bpm)
    scores["beat F"] = beat_f(song, np.asarray(heard.beat_times_s))
    scores["key weighted"] = key_score(f"{PITCH_NAMES[heard.key.tonic]} {heard.key.mode}", song.key)
    scores["all notes COnP"] = note_scores(song.all_notes, [n.as_sung() for n in heard.notes])["COnP"]
    return scores, elapsed


def basic_pitch_notes(song: Song, *, use_cache: bool) -> tuple[list[SungNote], float]:
    """basic-pitch 0.4.0's own `predict` (its ONNX model, default settings) on the mix."""
    import json
    import tempfile

    import soundfile as sf

    cache = (CACHE_DIR / f"v{RENDER_VERSION}-{len(song.audio) / SAMPLE_RATE:g}s" / "basic-pitch-cpu"
             / f"{song.sid:03d}.json")
    if use_cache and cache.is_file():
        data = json.loads(cache.read_text())
        return [SungNote(*n) for n in data["notes"]], float(data["elapsed_s"])
    logging.getLogger().setLevel(logging.ERROR)  # basic-pitch warns about TF/CoreML on import
    from basic_pitch.inference import predict

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / f"{song.sid:03d}.wav"
        sf.write(str(wav), song.audio, SAMPLE_RATE, subtype="FLOAT")
        t0 = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            _, _, events = predict(str(wav))
        elapsed = time.process_time() - t0
    notes = sorted((SungNote(float(s), float(e), float(p)) for s, e, p, *_ in events),
                   key=lambda n: (n.onset_s, n.pitch))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"elapsed_s": elapsed,
                                 "notes": [[n.onset_s, n.offset_s, n.pitch] for n in notes]}))
    return notes, elapsed


def run_baselines(song: Song, *, use_cache: bool) -> tuple[dict[str, float], float]:
    import librosa

    from tunesmith.listen.poly.chords import frame_chord_labels

    notes, elapsed = basic_pitch_notes(song, use_cache=use_cache)
    scores = {f"melody {k}": v for k, v in note_scores(song.melody, skyline(notes)).items()}
    y = librosa.resample(song.audio, orig_sr=SAMPLE_RATE, target_sr=22050)
    hop = 512
    chroma = librosa.feature.chroma_cqt(y=y, sr=22050, hop_length=hop).T
    labels = [harte(c) for c in frame_chord_labels(chroma)]
    step = hop / 22050
    spans = [(i * step, (i + 1) * step, lab) for i, lab in enumerate(labels)]
    scores |= chord_scores(song, spans)
    tempo, beat_frames = librosa.beat.beat_track(y=y, sr=22050, hop_length=hop)
    scores |= tempo_scores(float(np.atleast_1d(tempo)[0]), song.tempo_bpm)
    scores["beat F"] = beat_f(song, librosa.frames_to_time(beat_frames, sr=22050, hop_length=hop))
    scores["key weighted"] = key_score(ks_key(chroma.mean(axis=0)), song.key)
    scores["all notes COnP"] = note_scores(song.all_notes, notes)["COnP"]
    return scores, elapsed


# ---------------------------------------------------------------- report

ROWS = (
    ("melody COnP", "melody COnP F1 (headline)", "skyline of basic-pitch notes"),
    ("melody COn", "melody COn F1", "skyline of basic-pitch notes"),
    ("melody COnPOff", "melody COnPOff F1", "skyline of basic-pitch notes"),
    ("triads", "chords per beat, triads", "frame-wise CQT-chroma templates"),
    ("tetrads", "chords per beat, sevenths (tetrads)", "frame-wise CQT-chroma templates"),
    ("sevenths", "chords per beat, MIREX sevenths", "frame-wise CQT-chroma templates"),
    ("tempo Acc1", "tempo Accuracy1", "librosa beat_track"),
    ("tempo Acc2", "tempo Accuracy2", "librosa beat_track"),
    ("beat F", "beat F-measure (70 ms)", "librosa beat_track"),
    ("key weighted", "key, MIREX weighted", "Krumhansl-Schmuckler on CQT chroma"),
    ("all notes COnP", "all notes COnP F1 (3 tracks)", "basic-pitch 0.4.0 notes"),
)


def _mean(results: list[SongResult], metric: str) -> float:
    values = [r.scores[metric] for r in results if np.isfinite(r.scores.get(metric, np.nan))]
    return float(np.mean(values)) if values else float("nan")


def report(ours: list[SongResult], base: list[SongResult], audio_s: float) -> None:
    print("\n| metric | tunesmith | baseline | baseline system (same run) | ratio |")
    print("|---|---|---|---|---|")
    for key, label, what in ROWS:
        a, b = _mean(ours, key), _mean(base, key) if base else float("nan")
        ratio = a / b if b and np.isfinite(b) and b > 0 else float("nan")
        print(f"| {label} | {a:.3f} | {b:.3f} | {what} | {ratio:.2f} |")
    ours_xrt = audio_s / max(sum(r.elapsed_s for r in ours), 1e-9)
    line = f"| speed, x real time per CPU second (whole pipeline vs notes only) | {ours_xrt:.1f} |"
    if base:
        base_xrt = audio_s / max(sum(r.elapsed_s for r in base), 1e-9)
        line += f" {base_xrt:.1f} | basic-pitch `predict` | {ours_xrt / base_xrt:.2f} |"
    print(line)
    print("\nmelody COnP F1 by lead instrument (GM program):")
    for program in LEAD_PROGRAMS:
        mine = [r for r in ours if r.lead_program == program]
        theirs = [r for r in base if r.lead_program == program]
        if mine:
            print(f"  {program:>3}: tunesmith {_mean(mine, 'melody COnP'):.3f}"
                  + (f"  skyline {_mean(theirs, 'melody COnP'):.3f}" if theirs else "")
                  + f"  ({len(mine)} songs)")
    for name, results in (("tunesmith", ours), ("librosa", base)):
        misses = [f"{r.sid:03d} x{r.scores['tempo ratio']:.2f}" for r in results
                  if not r.scores["tempo Acc1"]]
        if results:
            print(f"tempo misses (Accuracy1), {name}: " + (", ".join(misses) or "none"))
    worst = sorted(ours, key=lambda r: r.scores["melody COnP"])[:5]
    print("worst songs (melody COnP, triads): "
          + ", ".join(f"{r.sid:03d} ({r.scores['melody COnP']:.2f}, {r.scores['triads']:.2f})"
                      for r in worst))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path,
                    default=Path(os.environ.get("TUNESMITH_DATA", DEFAULT_DATA)))
    ap.add_argument("--first", type=int, default=FIRST_VALIDATION)
    ap.add_argument("--last", type=int, default=LAST_VALIDATION)
    ap.add_argument("--limit", type=int, default=15, help="at most N songs (0: all in range)")
    ap.add_argument("--excerpt-s", type=float, default=EXCERPT_S)
    ap.add_argument("--no-cache", action="store_true", help="render and run basic-pitch again")
    ap.add_argument("--skip-peer", action="store_true", help="only run ours")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    folders = song_folders(args.data, args.first, args.last)
    ours: list[SongResult] = []
    base: list[SongResult] = []
    audio_s = 0.0
    for folder in folders:
        if args.limit and len(ours) >= args.limit:
            break
        song = load_song(folder, excerpt_s=args.excerpt_s, use_cache=not args.no_cache)
        if song is None:
            continue
        audio_s += len(song.audio) / SAMPLE_RATE
        scores, elapsed = run_ours(song)
        ours.append(SongResult(song.sid, song.lead_program, scores, elapsed))
        if not args.skip_peer:
            b_scores, b_elapsed = run_baselines(song, use_cache=not args.no_cache)
            base.append(SongResult(song.sid, song.lead_program, b_scores, b_elapsed))
        logging.info("%03d melody COnP %.3f (skyline %.3f), triads %.3f (baseline %.3f)", song.sid,
                     scores["melody COnP"], base[-1].scores["melody COnP"] if base else np.nan,
                     scores["triads"], base[-1].scores["triads"] if base else np.nan)
    if not ours:
        raise SystemExit("no songs with a melody in the chosen range")
    print(f"POP909 {args.first:03d}-{args.last:03d}: {len(ours)} songs, first {args.excerpt_s:g} s "
          f"each ({audio_s / 60:.1f} min), rendered with FluidR3 GM")
    report(ours, base, audio_s)


if __name__ == "__main__":
    main()
