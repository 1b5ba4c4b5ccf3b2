"""Render speed per stem, every style: ours (tunesmith.render, FluidSynth through pyfluidsynth,
SoundFont loaded once per process) against the `fluidsynth` command-line program rendering the
same stem from a MIDI file (the usual way to bounce MIDI to audio; it loads the SoundFont on
every call, as a user running it per stem would), measured in the same run.

Each style arranges the same song: the built-in demo hum through listen and compose, as
`tunesmith demo` makes it. Target (issue 5): faster than 40x real time per stem on 2 cores.

    python bench/render_speed.py [--length 1:00] [--styles rock,waltz] [--skip-peer]

Columns: stems, song length; ours, one process: median and slowest stem, x real time (SoundFont
load not included: it happens once per process, its time is printed apart); ours, `render()` as
the pipeline calls it (2 spawned worker processes, SoundFont load and process start included):
x real time per stem = stems x length / wall time; peer: the fluidsynth CLI per stem (median,
SoundFont load included, as each call pays it), and the ratio ours (one process) / peer.

Speeds are song seconds per CPU second of the process doing the work (`--clock cpu`, the
default: fair on a shared, loaded machine) or per wall-clock second (`--clock wall`). For
`render()`, CPU time is the workers' (they are child processes) plus the parent's.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

SAMPLE_RATE = 44100


def _lead_sheet(style, *, length_s: float):
    """The demo hum, heard and composed for `style` (as the pipeline does it)."""
    from tunesmith import humsynth, listen
    from tunesmith.arrange import remeter_melody
    from tunesmith.compose import compose

    hum = humsynth.synthesize_hum(humsynth.demo_melody(seed=0), sample_rate=SAMPLE_RATE, seed=0)
    heard = listen.listen(hum, sample_rate=SAMPLE_RATE)
    melody, tempo, bpb = list(heard.melody), heard.tempo_bpm, heard.beats_per_bar
    if style.beats_per_bar and style.beats_per_bar != bpb:
        melody, tempo = remeter_melody(melody, tempo_bpm=tempo, beats_per_bar=bpb,
                                       target_beats_per_bar=style.beats_per_bar)
        bpb = style.beats_per_bar
    song_tempo, scale = style.fit_tempo(tempo)
    melody = [replace(n, start_beat=n.start_beat * scale, duration_beats=n.duration_beats * scale)
              for n in melody]
    return compose(melody, key=heard.key, tempo_bpm=float(round(song_tempo)), beats_per_bar=bpb,
                   length_s=length_s, seed=0)


class Clock:
    """Seconds of wall time, or of CPU time of this process and its finished children."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def now(self) -> float:
        if self.kind == "wall":
            return time.perf_counter()
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _peer_stem_s(score, track, folder: Path, soundfont: Path, exe: str, clock: Clock) -> float:
    """Seconds for the fluidsynth CLI to bounce one stem (its own MIDI file) to a WAV."""
    from tunesmith.score import Score, write_score_midi

    one = Score(tempo_bpm=score.tempo_bpm, key=score.key, beats_per_bar=score.beats_per_bar,
                tracks=[track], sections=score.sections, swing=score.swing)
    mid = folder / f"{track.name}.mid"
    write_score_midi(one, mid)
    wav = folder / f"{track.name}.wav"
    t0 = clock.now()
    subprocess.run([exe, "-ni", "-q", "-g", "0.6", "-R", "0", "-C", "0", "-r", str(SAMPLE_RATE),
                    "-o", "synth.cpu-cores=1", "-F", str(wav), str(soundfont), str(mid)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return clock.now() - t0


def main() -> None:
    from tunesmith.arrange import arrange, load_style, style_names
    from tunesmith.cli import parse_length
    from tunesmith.render import FluidSynthRenderer, find_soundfont, render, song_length_samples

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", default="1:00", help="song length per style (default 1:00)")
    ap.add_argument("--styles", default="", help="comma-separated style names (default: all)")
    ap.add_argument("--workers", type=int, default=2, help="processes for render() (default 2)")
    ap.add_argument("--skip-peer", action="store_true", help="do not run the fluidsynth CLI")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="time in CPU seconds (default; fair on a loaded machine) or wall seconds")
    args = ap.parse_args()
    clock = Clock(args.clock)
    names = [s for s in args.styles.split(",") if s] or style_names()
    soundfont = find_soundfont()
    exe = None if args.skip_peer else shutil.which("fluidsynth")
    if not args.skip_peer and exe is None:
        print("fluidsynth CLI not found (apt-get install fluidsynth): peer column left out")

    t0 = time.perf_counter()
    renderer = FluidSynthRenderer(soundfont, sample_rate=SAMPLE_RATE)
    load_s = time.perf_counter() - t0
    print(f"SoundFont {soundfont.name}: loaded in {load_s:.2f} s wall (once per process); "
          f"speeds in song seconds per {args.clock} second")
    header = (f"{'style':<22} {'stems':>5} {'song s':>6} {'ours med':>9} {'ours min':>9} "
              f"{'render()':>9} {'peer med':>9} {'ratio':>6}")
    print(header)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            style = load_style(name)
            score = arrange(_lead_sheet(style, length_s=parse_length(args.length)), style, seed=0)
            tracks = [t for t in score.tracks if t.notes]
            n = song_length_samples(score, sample_rate=SAMPLE_RATE)
            song_s = n / SAMPLE_RATE
            ours = []
            for t in tracks:
                t1 = clock.now()
                renderer.render_track(t, score, sample_rate=SAMPLE_RATE, n_samples=n)
                ours.append(song_s / (clock.now() - t1))
            t1 = clock.now()
            render(score, sample_rate=SAMPLE_RATE, workers=args.workers)
            pool = len(tracks) * song_s / (clock.now() - t1)
            peer = [song_s / _peer_stem_s(score, t, Path(tmp), soundfont, exe, clock)
                    for t in tracks] if exe else []
            med = statistics.median(ours)
            peer_med = statistics.median(peer) if peer else float("nan")
            rows.append((med, min(ours), pool, peer_med))
            print(f"{name:<22} {len(tracks):>5} {song_s:>6.1f} {med:>8.0f}x {min(ours):>8.0f}x "
                  f"{pool:>8.0f}x {peer_med:>8.0f}x {med / peer_med:>6.2f}", flush=True)
    renderer.close()
    worst = min(r[1] for r in rows)
    pools = [r[2] for r in rows]
    print(f"\nall styles: ours per stem median {statistics.median(r[0] for r in rows):.0f}x, "
          f"slowest stem {worst:.0f}x; render() with {args.workers} workers "
          f"{min(pools):.0f}-{max(pools):.0f}x per stem"
          + (f"; fluidsynth CLI median {statistics.median(r[3] for r in rows):.0f}x" if exe else ""))
    print(f"target: faster than 40x real time per stem -> "
          f"{'PASS' if worst > 40 and min(pools) > 40 else 'FAIL'}")


if __name__ == "__main__":
    main()
