"""Benchmark: does the one-voice path spot polyphonic input? tunesmith vs a basic-pitch baseline.

`listen.transcribe` (and so `tunesmith hum` / `transcribe`) refuses recordings that sound like
several instruments or voices at once (tunesmith.listen.polyphony). This measures, on real
singing that must never be refused and on polyphonic music that should be:

negatives  every ssvd-dev take (67 sung melodies), clean and under every degradation of
           transcription_robustness.py (white noise and babble at 20 and 10 dB SNR, reverb
           RT60 0.6 s, phone band, MP3 64 kbit/s, +-2 semitone drift; same seeds);
           and one 8-bar MELODY excerpt per POP909 song sung by the synthetic singer
           (vowels mm / ah / whistle an octave up, in turn);
positives  15 s excerpts of the same POP909 songs rendered with tunesmith.render (FluidSynth):
           piano   the song's MIDI as it is (MELODY, BRIDGE and PIANO tracks, all piano),
           band    MELODY on voice "oohs", BRIDGE on flute, PIANO, a bass on the chord roots
                   (chord_midi.txt) and a drum kit on the beats (beat_midi.txt),
           accomp  the PIANO track alone,
           chords  block chords from chord_midi.txt, four notes each, on piano,
           duet    the MELODY sung ("ah") by two synthetic singers a diatonic third apart,
                   the lower one 2 dB down,
           hum-duet-3rd / hum-duet-5th  the MELODY hummed ("mm") by two synthetic singers a
                   diatonic third / fifth apart, at equal level,
           whistle-duet-3rd  the same whistled (an octave up), a diatonic third apart,
           voice-chords-12dB  the MELODY sung ("ah") over the `chords` variant 12 dB (RMS)
                   quieter.

Peer (same run): basic-pitch 0.4.0 as a multi-pitch detector. A recording is flagged when two
or more of its notes sound at once for more than a share of the time that any note sounds; that
share is set in this run to the largest one seen on the clean ssvd-dev takes, so that it too
raises no false alarm there. Ours uses its shipped thresholds.

    python bench/polyphony_check.py [DATA_DIR] [--songs 801-850] [--limit N] [--skip-peer]
        [--no-cache] [-v]

Never pass the POP909 test songs (851-909) while tuning; they are for a final held-out figure.
basic-pitch notes are cached (.bench-cache/basic-pitch-robustness/ for ssvd-dev, shared with
transcription_robustness.py; .bench-cache/polyphony-check/ for the rest).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from transcription import DATASET, PROJECT_ROOT, bench_parser, read_truth
from transcription_robustness import CACHE_ROOT, CONDITIONS, DEGRADE_VERSION, SEED, run_peer

from tunesmith.humsynth import synthesize_hum
from tunesmith.listen import load_audio, transcribe
from tunesmith.listen.polyphony import POLYPHONIC_SCORE, estimate_polyphony
from tunesmith.score import SungNote

SAMPLE_RATE = 22050
POP_VARIANTS = ("piano", "band", "accomp", "chords", "duet", "hum-duet-3rd", "hum-duet-5th",
                "whistle-duet-3rd", "voice-chords-12dB")
BACKING_DB = -12.0  # voice-chords: the chords this far under the voice (RMS)
EXCERPT_S = 15.0
HUM_BARS = 8
MIN_NOTES = 8
PEER_CACHE = PROJECT_ROOT / ".bench-cache" / "polyphony-check"
PEER_GRID_S = 0.01
VOICE_OOHS, FLUTE, PIANO, BASS = 53, 73, 0, 33
KICK, SNARE, HAT = 36, 38, 42
QUALITIES = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8),
             "sus2": (0, 2, 7), "sus4": (0, 5, 7), "maj7": (0, 4, 7, 11), "min7": (0, 3, 7, 10),
             "7": (0, 4, 7, 10), "maj6": (0, 4, 7, 9), "hdim7": (0, 3, 6, 10),
             "sus4(b7)": (0, 5, 7, 10)}
PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


@dataclass
class Item:
    group: str  # e.g. "ssvd clean", "pop band"
    name: str
    positive: bool
    share: float = 0.0
    score: float = 0.0
    ours: bool = False
    peer_share: float | None = None


@dataclass
class Timing:
    """CPU seconds of `transcribe` with and without the check, per clean take."""

    checked_s: list[float] = field(default_factory=list)
    unchecked_s: list[float] = field(default_factory=list)
    audio_s: list[float] = field(default_factory=list)


def peer_share(notes: Sequence[SungNote]) -> float:
    """Share of the time with a note sounding during which two or more sound at once."""
    if not notes:
        return 0.0
    end = max(n.offset_s for n in notes)
    count = np.zeros(int(np.ceil(end / PEER_GRID_S)) + 1, dtype=np.int32)
    for n in notes:
        count[int(n.onset_s / PEER_GRID_S): int(np.ceil(n.offset_s / PEER_GRID_S))] += 1
    active = count >= 1
    return float(np.mean(count[active] >= 2)) if active.any() else 0.0


# ---------------------------------------------------------------- POP909 material


def pitch_class(text: str) -> int:
    pc = PITCH_CLASSES[text[0].upper()]
    return (pc + text[1:].count("#") - text[1:].count("b")) % 12


def chord_pitches(label: str) -> list[int]:
    """Four MIDI pitches (root in octave 3 + the chord tones above) for a POP909 chord label."""
    if label == "N" or ":" not in label:
        return []
    root_txt, _, rest = label.partition(":")
    quality = rest.split("/")[0]
    iv = QUALITIES.get(quality, (0, 3, 7) if quality.startswith("min") else (0, 4, 7))
    root = 48 + pitch_class(root_txt)
    tones = [root + i for i in iv]
    return (tones + [root + 12])[:4]


def read_song(folder: Path) -> dict:
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(folder / f"{folder.name}.mid"))
    tracks = {i.name.upper(): sorted(i.notes, key=lambda n: n.start) for i in pm.instruments}
    beats = np.loadtxt(folder / "beat_midi.txt", ndmin=2)
    chords = []
    for line in (folder / "chord_midi.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            chords.append((float(parts[0]), float(parts[1]), parts[2]))
    key_line = (folder / "key_audio.txt").read_text().split()
    tonic, _, mode = key_line[2].partition(":") if len(key_line) >= 3 else ("C", "", "maj")
    return {"tracks": tracks, "beats": beats, "chords": chords, "end": pm.get_end_time(),
            "tonic": pitch_class(tonic), "minor": mode.startswith("min")}


def excerpt_start(song: dict) -> float | None:
    """The first downbeat after 30 % (else 50 %, 10 %) of the song with enough melody after it."""
    onsets = np.array([n.start for n in song["tracks"].get("MELODY", [])])
    downs = song["beats"][song["beats"][:, 2] == 1, 0]
    for frac in (0.3, 0.5, 0.1):
        later = downs[downs >= frac * song["end"]]
        if later.size:
            a = float(later[0])
            if np.sum((onsets >= a) & (onsets < a + EXCERPT_S)) >= MIN_NOTES:
                return a
    return None


def _scale(tonic: int, minor: bool) -> set[int]:
    return {(tonic + i) % 12 for i in ((0, 2, 3, 5, 7, 8, 10) if minor else (0, 2, 4, 5, 7, 9, 11))}


def third_below(pitch: int, tonic: int, minor: bool) -> int:
    """The diatonic third below: major (4 semitones) or minor (3), as the key has it."""
    return pitch - 4 if (pitch - 4) % 12 in _scale(tonic, minor) else pitch - 3


def fifth_below(pitch: int, tonic: int, minor: bool) -> int:
    """The diatonic fifth below: perfect (7 semitones), or diminished (6) on the one degree
    where the key has no perfect fifth below."""
    return pitch - 7 if (pitch - 7) % 12 in _scale(tonic, minor) else pitch - 6


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def sung_duet(lead: Sequence[SungNote], below: Callable[[int, int, bool], int], song: dict, *,
              vowel: str, seed: int, second_gain: float = 1.0) -> np.ndarray:
    """The lead sung by one synthetic singer and, `below` it, by another (equal RMS level
    times `second_gain`); whistlers an octave up."""
    up = 12.0 if vowel == "whistle" else 0.0
    first = [SungNote(n.onset_s, n.offset_s, n.pitch + up) for n in lead]
    second = [SungNote(n.onset_s, n.offset_s, below(int(n.pitch), song["tonic"], song["minor"]) + up)
              for n in lead]
    v1 = synthesize_hum(first, sample_rate=SAMPLE_RATE, seed=seed, vowel=vowel)
    v2 = synthesize_hum(second, sample_rate=SAMPLE_RATE, seed=seed + 1, vowel=vowel)
    n = min(v1.size, v2.size)
    y = v1[:n] / _rms(v1[:n]) + second_gain * v2[:n] / _rms(v2[:n])
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


def render_variants(song: dict, a: float, seed: int) -> dict[str, np.ndarray]:
    """The positive variants of one excerpt starting at `a` seconds (mono, SAMPLE_RATE)."""
    from tunesmith.render import render
    from tunesmith.score import Note, Score, Track
    from tunesmith.theory import Key

    b = a + EXCERPT_S

    def notes_of(name: str, *, transpose: int = 0) -> list[Note]:
        return [Note(n.start - a, min(n.end, b) - n.start, n.pitch + transpose, n.velocity)
                for n in song["tracks"].get(name, []) if a <= n.start < b]

    chords, bass = [], []
    for s, e, label in song["chords"]:
        if e <= a or s >= b:
            continue
        s0, e0 = max(s, a) - a, min(e, b) - a
        chords += [Note(s0, e0 - s0, p, 80) for p in chord_pitches(label)]
        if label != "N" and ":" in label:
            root = 36 + pitch_class(label.partition(":")[0])
            beat_t = song["beats"][:, 0]
            for t in beat_t[(beat_t >= max(s, a)) & (beat_t < min(e, b))]:
                bass.append(Note(t - a, 0.45, root, 95))
    drums = []
    for t, strong, _ in song["beats"]:
        if a <= t < b:
            drums += [Note(t - a, 0.1, KICK if strong else SNARE, 100), Note(t - a, 0.05, HAT, 70)]
    tracks = [Track("melody-piano", PIANO, notes=notes_of("MELODY")),
              Track("melody-voice", VOICE_OOHS, notes=notes_of("MELODY")),
              Track("bridge-piano", PIANO, notes=notes_of("BRIDGE")),
              Track("bridge-flute", FLUTE, notes=notes_of("BRIDGE")),
              Track("piano", PIANO, notes=notes_of("PIANO")),
              Track("bass", BASS, notes=bass), Track("drums", 0, is_drum=True, notes=drums),
              Track("chords", PIANO, notes=chords)]
    # tempo 60: beats are seconds
    stems = render(Score(tempo_bpm=60.0, key=Key(0, "major"), tracks=tracks),
                   sample_rate=SAMPLE_RATE, workers=1)
    mono = {s.name: s.audio.mean(axis=0)[: int(EXCERPT_S * SAMPLE_RATE)] for s in stems}

    def mix(*names: str) -> np.ndarray | None:
        parts = [mono[n] for n in names if n in mono]
        return np.sum(parts, axis=0).astype(np.float32) if parts else None

    lead = [SungNote(n.start - a + 0.3, min(n.end, b) - a + 0.3, float(n.pitch))
            for n in song["tracks"].get("MELODY", []) if a <= n.start < b]
    second = [SungNote(n.onset_s, n.offset_s, float(third_below(int(n.pitch), song["tonic"],
                                                                  song["minor"]))) for n in lead]
    v1 = synthesize_hum(lead, sample_rate=SAMPLE_RATE, seed=seed, vowel="ah")
    v2 = synthesize_hum(second, sample_rate=SAMPLE_RATE, seed=seed + 1, vowel="ah")
    n = min(v1.size, v2.size)
    out = {"piano": mix("melody-piano", "bridge-piano", "piano"),
           "band": mix("melody-voice", "bridge-flute", "piano", "bass", "drums"),
           "accomp": mix("piano"), "chords": mix("chords"), "duet": v1[:n] + 0.8 * v2[:n],
           "hum-duet-3rd": sung_duet(lead, third_below, song, vowel="mm", seed=seed),
           "hum-duet-5th": sung_duet(lead, fifth_below, song, vowel="mm", seed=seed),
           "whistle-duet-3rd": sung_duet(lead, third_below, song, vowel="whistle", seed=seed)}
    chords = out["chords"]
    if chords is not None and np.max(np.abs(chords)) > 0:
        m = min(v1.size, chords.size)
        y = v1[:m] / _rms(v1[:m]) + 10 ** (BACKING_DB / 20) * chords[:m] / _rms(chords[:m])
        out["voice-chords-12dB"] = (0.3 * y / np.max(np.abs(y))).astype(np.float32)
    return {k: v for k, v in out.items() if v is not None and np.max(np.abs(v)) > 0}


def hum_excerpt(song: dict, a: float, seed: int) -> np.ndarray:
    """The MELODY of the first HUM_BARS bars from `a`, sung by the synthetic singer."""
    downs = song["beats"][song["beats"][:, 2] == 1, 0]
    later = downs[downs >= a]
    b = float(later[HUM_BARS]) if later.size > HUM_BARS else a + EXCERPT_S
    vowel = ("mm", "ah", "whistle")[seed % 3]
    shift = 12 if vowel == "whistle" else 0
    notes = [SungNote(n.start - a + 0.4, min(n.end, b) - a + 0.4, float(n.pitch + shift))
             for n in song["tracks"].get("MELODY", []) if a <= n.start < b]
    return synthesize_hum(notes, sample_rate=SAMPLE_RATE, seed=seed, vowel=vowel)


# ---------------------------------------------------------------- run


def judge(item: Item, audio: np.ndarray, sr: int, *, peer: bool, cache: Path,
          use_cache: bool) -> Item:
    found = estimate_polyphony(audio, sample_rate=sr)
    item.share, item.score, item.ours = found.share, found.score, found.polyphonic
    if peer:
        item.peer_share = peer_share(run_peer(audio, sr, cache, use_cache=use_cache, threads=1))
    logging.info("%s %s share=%.2f score=%.2f ours=%s peer=%s", item.group, item.name,
                 item.share, item.score, item.ours, item.peer_share)
    return item


def run_ssvd(files: Sequence[Path], conditions: Sequence[str], *, peer: bool, use_cache: bool,
             timing: Timing) -> list[Item]:
    items = []
    for flac in files:
        x, sr = load_audio(flac)
        truth = read_truth(flac.with_suffix(".txt"))
        t0 = time.process_time()
        transcribe(x, sample_rate=sr)
        t1 = time.process_time()
        transcribe(x, sample_rate=sr, allow_polyphonic=True)
        t2 = time.process_time()
        timing.checked_s.append(t1 - t0)
        timing.unchecked_s.append(t2 - t1)
        timing.audio_s.append(x.size / sr)
        for cond in conditions:
            rng = np.random.default_rng([SEED, zlib.crc32(f"{cond}/{flac.stem}".encode())])
            y, _ = CONDITIONS[cond](flac.stem)(x, sr, truth, rng)
            cache = CACHE_ROOT / f"{cond}-v{DEGRADE_VERSION}-s{SEED}" / f"{flac.stem}.json"
            items.append(judge(Item(f"ssvd-dev {cond}", flac.stem, False), y, sr, peer=peer,
                               cache=cache, use_cache=use_cache))
    return items


def run_pop(folders: Sequence[Path], *, peer: bool, use_cache: bool) -> list[Item]:
    items = []
    for folder in folders:
        song = read_song(folder)
        a = excerpt_start(song)
        if a is None:
            logging.info("song %s: no excerpt with enough melody", folder.name)
            continue
        seed = int(folder.name)
        hum = hum_excerpt(song, a, seed)
        items.append(judge(Item("POP909 sung melody", folder.name, False), hum, SAMPLE_RATE,
                           peer=peer, cache=PEER_CACHE / "hum" / f"{folder.name}.json",
                           use_cache=use_cache))
        for variant, audio in render_variants(song, a, seed).items():
            items.append(judge(Item(f"POP909 {variant}", folder.name, True), audio, SAMPLE_RATE,
                               peer=peer, cache=PEER_CACHE / variant / f"{folder.name}.json",
                               use_cache=use_cache))
    return items


def song_range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


def main(argv: Sequence[str] | None = None) -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--songs", default="801-850", help="POP909 song ids (default: validation)")
    parser.add_argument("--skip-ssvd", action="store_true", help="only the POP909 material")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="ssvd-dev degradations (transcription_robustness.py names)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    files = sorted((args.data / DATASET).glob("*.flac"))[: args.limit or None]
    ids = song_range(args.songs)[: args.limit or None]
    folders = [args.data / "pop909" / "POP909" / f"{i:03d}" for i in ids]
    folders = [f for f in folders if f.is_dir()]
    if args.skip_ssvd:
        files = []
    if not folders or not (files or args.skip_ssvd):
        raise SystemExit(f"need {args.data / DATASET} and POP909 songs {args.songs} under {args.data}")
    conditions = [c for c in args.conditions.split(",") if c in CONDITIONS]
    if "clean" not in conditions:
        conditions.insert(0, "clean")  # the peer's threshold is set on it
    print(f"{DATASET}: {len(files)} takes x {len(conditions)} conditions; "
          f"POP909 songs {args.songs}: {len(folders)}")

    t0 = time.perf_counter()
    timing = Timing()
    items = run_ssvd(files, conditions, peer=not args.skip_peer, use_cache=not args.no_cache,
                     timing=timing)
    items += run_pop(folders, peer=not args.skip_peer, use_cache=not args.no_cache)
    wall = time.perf_counter() - t0

    clean = [i.peer_share for i in items if i.group == "ssvd-dev clean" and i.peer_share is not None]
    if args.skip_ssvd and not args.skip_peer:  # the peer's threshold from its cached clean run
        cached = sorted((CACHE_ROOT / f"clean-v{DEGRADE_VERSION}-s{SEED}").glob("*.json"))
        clean = [peer_share(run_peer(np.zeros(1, np.float32), 1, c, use_cache=True, threads=1))
                 for c in cached]
    peer_threshold = max(clean) if clean else None

    def peer_flag(i: Item) -> bool | None:
        return None if peer_threshold is None or i.peer_share is None else i.peer_share > peer_threshold

    groups = list(dict.fromkeys(i.group for i in items))
    print(f"\n{'input':<32}{'kind':>10}{'n':>5}{'ours flagged':>14}{'b-p flagged':>13}"
          f"{'ours score (median, range)':>30}{'ours share':>12}")
    for g in groups:
        sel = [i for i in items if i.group == g]
        ours = np.mean([i.ours for i in sel])
        flags = [peer_flag(i) for i in sel]
        peer_txt = "-" if flags[0] is None else f"{np.mean(flags):.3f}"
        scores = [i.score for i in sel]
        kind = "poly" if sel[0].positive else "one voice"
        print(f"{g:<32}{kind:>10}{len(sel):>5}{ours:>14.3f}{peer_txt:>13}"
              f"{np.median(scores):>12.2f} ({min(scores):.2f}-{max(scores):.2f})"
              f"{np.median([i.share for i in sel]):>12.2f}")
    neg = [i for i in items if not i.positive]
    pos = [i for i in items if i.positive]
    fa, det = np.mean([i.ours for i in neg]), np.mean([i.ours for i in pos])
    print(f"\nours: false alarms {sum(i.ours for i in neg)}/{len(neg)} ({fa:.3f}), "
          f"detected {sum(i.ours for i in pos)}/{len(pos)} ({det:.3f})")
    if peer_threshold is not None:
        pfa = np.mean([bool(peer_flag(i)) for i in neg])
        pdet = np.mean([bool(peer_flag(i)) for i in pos])
        print(f"basic-pitch (overlap share > {peer_threshold:.3f}, the clean ssvd-dev maximum): "
              f"false alarms {sum(bool(peer_flag(i)) for i in neg)}/{len(neg)} ({pfa:.3f}), "
              f"detected {sum(bool(peer_flag(i)) for i in pos)}/{len(pos)} ({pdet:.3f})")
        print(f"ratio ours/basic-pitch: detection {det / max(pdet, 1e-9):.2f}")
    audio, on, off = sum(timing.audio_s), sum(timing.checked_s), sum(timing.unchecked_s)
    if audio:
        print(f"\ncost on clean ssvd-dev ({audio / 60:.1f} min, CPU time): transcribe "
          f"{audio / max(on, 1e-9):.0f}x real time with the check, {audio / max(off, 1e-9):.0f}x "
          f"without (the check adds {100 * (on - off) / max(off, 1e-9):.0f}%)")
    worst_neg = sorted(neg, key=lambda i: -i.score)[:3]
    worst_pos = sorted(pos, key=lambda i: i.score)[:3]
    print(f"closest calls (score; polyphonic from {POLYPHONIC_SCORE}), one voice: "
          + ", ".join(f"{i.group} {i.name} {i.score:.2f}" for i in worst_neg))
    print("closest calls, polyphonic: "
          + ", ".join(f"{i.group} {i.name} {i.score:.2f}" for i in worst_pos))
    print(f"wall {wall:.0f} s")


if __name__ == "__main__":
    main()
