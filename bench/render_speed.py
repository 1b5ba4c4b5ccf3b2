"""Render speed per stem, every style: ours (tunesmith.render, FluidSynth through ctypes) against
the `fluidsynth` command-line program rendering the same stem from a MIDI file (the usual way to
bounce MIDI to audio; it loads the SoundFont on every call, as a user running it per stem
would), measured in the same run.

Each style arranges the same song: the built-in demo hum through listen and compose, as
`tunesmith demo` makes it. Target (issue 5): faster than 40x real time per stem on 2 cores.

    python bench/render_speed.py [--length 1:00] [--styles rock,waltz] [--workers 2] [--skip-peer]

Every figure is x real time (song seconds per second), on both clocks: CPU seconds (fair on a
shared, loaded machine) and wall seconds (what a user waits, inflated by other load).
- one process: `FluidSynthRenderer.render_track` per stem in this process, SoundFont loaded
  once before (its time printed apart): median and slowest stem.
- cold: `render()` as the CLI calls it: a RenderPool of `--workers` processes started for the
  song (process start and SoundFont load included), stems x song length / time.
- warm: the same song on one RenderPool kept across all styles (the service and benches):
  stems x song length / time. CPU is the workers' own clock plus this process's.
- peer: the fluidsynth CLI per stem, one at a time (SoundFont load included, as each call pays
  it): median stem.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

SAMPLE_RATE = 44100
log = logging.getLogger("render_speed")


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


@dataclass(frozen=True, slots=True)
class Span:
    """Wall and CPU seconds of one measured piece of work."""

    wall_s: float
    cpu_s: float


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _cpu_children() -> float:
    """CPU seconds of this process's finished (reaped) children."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(fn, *, pool=None) -> Span:
    """Run `fn`; wall time, and CPU of this process, its reaped children and `pool`'s workers."""
    def pool_cpu() -> float:
        return sum(w.cpu_s for w in pool.stats()) if pool is not None else 0.0

    c0, k0, p0 = _cpu_self(), _cpu_children(), pool_cpu()
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    return Span(wall, (_cpu_self() - c0) + (_cpu_children() - k0) + (pool_cpu() - p0))


def _peer_stem(score, track, folder: Path, soundfont: Path, exe: str) -> Span:
    """The fluidsynth CLI bouncing one stem (its own MIDI file) to a WAV."""
    from tunesmith.score import Score, write_score_midi

    one = Score(tempo_bpm=score.tempo_bpm, key=score.key, beats_per_bar=score.beats_per_bar,
                tracks=[track], sections=score.sections, swing=score.swing)
    mid = folder / f"{track.name}.mid"
    write_score_midi(one, mid)
    wav = folder / f"{track.name}.wav"
    k0, t0 = _cpu_children(), time.perf_counter()
    subprocess.run([exe, "-ni", "-q", "-g", "0.6", "-R", "0", "-C", "0", "-r", str(SAMPLE_RATE),
                    "-o", "synth.cpu-cores=1", "-F", str(wav), str(soundfont), str(mid)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Span(time.perf_counter() - t0, _cpu_children() - k0)


def _x(song_s: float, seconds: float) -> float:
    return song_s / max(seconds, 1e-9)


def main() -> None:
    from tunesmith.arrange import arrange, load_style, style_names
    from tunesmith.cli import parse_length
    from tunesmith.render import (
        FluidSynthRenderer,
        RenderPool,
        find_soundfont,
        render,
        song_length_samples,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--length", default="1:00", help="song length per style (default 1:00)")
    ap.add_argument("--styles", default="", help="comma-separated style names (default: all)")
    ap.add_argument("--workers", type=int, default=2, help="render processes (default 2)")
    ap.add_argument("--skip-peer", action="store_true", help="do not run the fluidsynth CLI")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("tunesmith").setLevel(logging.WARNING)
    names = [s for s in args.styles.split(",") if s] or style_names()
    soundfont = find_soundfont()
    exe = None if args.skip_peer else shutil.which("fluidsynth")
    if not args.skip_peer and exe is None:
        log.info("fluidsynth CLI not found (apt-get install fluidsynth): peer column left out")

    holder: list[FluidSynthRenderer] = []
    load = _timed(lambda: holder.append(FluidSynthRenderer(soundfont, sample_rate=SAMPLE_RATE)))
    renderer = holder[0]
    pool = RenderPool(args.workers, sample_rate=SAMPLE_RATE)
    started = _timed(pool.stats, pool=None)  # until every worker has loaded its SoundFont
    log.info("SoundFont %s loaded in %.2f s wall / %.2f s CPU; pool of %d started in %.2f s wall;"
             " load average %s", soundfont.name, load.wall_s, load.cpu_s, args.workers,
             started.wall_s, " ".join(f"{x:.1f}" for x in os.getloadavg()))
    log.info("x real time per stem; c = CPU clock, w = wall clock")
    log.info(f"{'style':<21} {'stems':>5} {'song s':>6} | {'1 proc med c':>12} {'slowest c':>9}"
             f" {'all c':>6} |"
             f" {'cold c':>6} {'cold w':>6} | {'warm c':>6} {'warm w':>6} |"
             f" {'peer c':>6} {'peer w':>6} | {'ratio c':>7}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            style = load_style(name)
            score = arrange(_lead_sheet(style, length_s=parse_length(args.length)), style, seed=0)
            tracks = [t for t in score.tracks if t.notes]
            n = song_length_samples(score, sample_rate=SAMPLE_RATE)
            song_s = n / SAMPLE_RATE
            one = [_timed(partial(renderer.render_track, t, score, sample_rate=SAMPLE_RATE,
                                  n_samples=n)) for t in tracks]
            cold = _timed(partial(render, score, sample_rate=SAMPLE_RATE, workers=args.workers))
            warm = _timed(partial(pool.render, score), pool=pool)
            peer = [_peer_stem(score, t, Path(tmp), soundfont, exe) for t in tracks] if exe else []
            all_s = len(tracks) * song_s
            row = {
                "one_med": statistics.median(_x(song_s, s.cpu_s) for s in one),
                "one_min": min(_x(song_s, s.cpu_s) for s in one),
                "one_all": _x(all_s, sum(s.cpu_s for s in one)),
                "slowest": f"{name} {tracks[max(range(len(one)), key=lambda i: one[i].cpu_s)].name}",
                "cold_c": _x(all_s, cold.cpu_s), "cold_w": _x(all_s, cold.wall_s),
                "warm_c": _x(all_s, warm.cpu_s), "warm_w": _x(all_s, warm.wall_s),
                "peer_c": statistics.median(_x(song_s, s.cpu_s) for s in peer) if peer else 0.0,
                "peer_w": statistics.median(_x(song_s, s.wall_s) for s in peer) if peer else 0.0,
            }
            ratio = row["one_med"] / row["peer_c"] if peer else float("nan")
            rows.append(row)
            log.info(f"{name:<21} {len(tracks):>5} {song_s:>6.1f} | {row['one_med']:>11.0f}x "
                     f"{row['one_min']:>8.0f}x {row['one_all']:>5.0f}x | {row['cold_c']:>5.0f}x {row['cold_w']:>5.0f}x | "
                     f"{row['warm_c']:>5.0f}x {row['warm_w']:>5.0f}x | {row['peer_c']:>5.0f}x "
                     f"{row['peer_w']:>5.0f}x | {ratio:>7.2f}")
    stats = pool.stats()
    pool.close()
    renderer.close()

    def span(key: str) -> str:
        v = [r[key] for r in rows]
        return f"median {statistics.median(v):.0f}x (range {min(v):.0f}-{max(v):.0f}x)"

    slowest = min(rows, key=lambda r: r["one_min"])
    log.info("\nall %d styles, x real time per stem:", len(rows))
    log.info("  one process, CPU clock: stem %s; slowest stem %.0fx (%s); all stems of a song %s",
             span("one_med"), slowest["one_min"], slowest["slowest"], span("one_all"))
    for key, what in (("cold", f"cold render(), {args.workers} new processes per song"),
                      ("warm", f"warm RenderPool({args.workers}), kept across songs")):
        log.info("  %s: CPU %s; wall %s", what, span(f"{key}_c"), span(f"{key}_w"))
    if exe:
        log.info("  fluidsynth CLI, one stem at a time: CPU %s; wall %s", span("peer_c"),
                 span("peer_w"))
    log.info("  pool workers at the end: %s", ", ".join(
        f"pid {w.pid}: {w.soundfont_loads} SoundFont load, {w.songs} songs, {w.stems} stems"
        for w in stats))
    log.info("  load average at the end: %s", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    worst_warm = min(r["warm_w"] for r in rows)
    worst_cold = min(r["cold_w"] for r in rows)
    log.info("target: faster than 40x real time per stem on %d cores (wall clock): warm %s "
             "(slowest song %.0fx), cold %s (slowest song %.0fx)", args.workers,
             "PASS" if worst_warm > 40 else "FAIL", worst_warm,
             "PASS" if worst_cold > 40 else "FAIL", worst_cold)


if __name__ == "__main__":
    main()
