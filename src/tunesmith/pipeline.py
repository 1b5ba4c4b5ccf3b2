"""The only module that knows the order of the stages: listen -> compose -> arrange -> render ->
produce -> publish. Each stage is a pure function; this module wires them and reports progress."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tunesmith import __version__
from tunesmith.config import DEFAULT_MASTER_TARGET, DEFAULT_SEED, DEFAULT_STYLE, SAMPLE_RATE
from tunesmith.score import Note, Score
from tunesmith.theory import Key

if TYPE_CHECKING:
    from tunesmith.render import RenderPool

log = logging.getLogger(__name__)

STAGES = ("listen", "compose", "arrange", "render", "produce", "publish")

Progress = Callable[[str, str], None]  # (stage, "start" | "done")


def _noop(stage: str, event: str) -> None:
    del stage, event


@dataclass(slots=True)
class Song:
    """Everything a finished song is made of, before it is written to disk."""

    score: Score
    master: np.ndarray
    stems: dict[str, np.ndarray]
    info: dict[str, Any]
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SongRequest:
    style: str = DEFAULT_STYLE
    tempo_bpm: float | None = None
    key: Key | None = None
    length_s: float | None = None
    seed: int = DEFAULT_SEED
    master_target: str = DEFAULT_MASTER_TARGET
    meter: str | None = None  # the hum's time signature, e.g. "3/4" or "6/8" (default 4/4)


class _Timer:
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.timings: dict[str, float] = {}

    def run(self, stage: str, fn: Callable[[], Any]) -> Any:
        self.progress(stage, "start")
        t0 = time.perf_counter()
        result = fn()
        self.timings[stage] = round(time.perf_counter() - t0, 3)
        self.progress(stage, "done")
        return result


def song_from_audio(audio: np.ndarray, *, sample_rate: int, request: SongRequest,
                    progress: Progress = _noop, source: dict[str, Any] | None = None,
                    render_pool: RenderPool | None = None) -> Song:
    """Hum (mono float array) -> finished song in memory. `render_pool`: render with these
    long-lived workers (SoundFont already loaded) instead of starting processes for this song."""
    from tunesmith import listen as listen_stage
    from tunesmith.arrange import load_style

    style = load_style(request.style)  # fail fast on an unknown style, before any work
    timer = _Timer(progress)
    from tunesmith.compose.meter import Meter

    # A meter the user gives is used as is; otherwise the hum's meter is detected.
    given = Meter.parse(request.meter) if request.meter else None
    heard = timer.run("listen", lambda: listen_stage.listen(
        audio, sample_rate=sample_rate,
        beats_per_bar=given.beats_per_bar if given else None,
        compound=given.compound if given else False))
    if given is None:
        log.info("the hum is in %s (detected, probability %.2f)", heard.meter,
                 heard.meter_confidence)
    info_in = dict(source or {})
    info_in.update({
        "sung_notes": len(heard.sung_notes),
        "detected_key": heard.key.name,
        "key_confidence": round(float(heard.key_confidence), 3),
        "detected_tempo_bpm": round(float(heard.tempo_bpm), 2),
        "tuning_cents": round(float(heard.tuning_cents), 1),
        "meter": heard.meter,
        "meter_source": "given" if given else "detected",
        "meter_confidence": round(float(heard.meter_confidence), 3),
    })
    if heard.meter_probabilities is not None:
        info_in["meter_probabilities"] = heard.meter_probabilities
    return _song_from_melody(heard.melody, key=heard.key, tempo_bpm=heard.tempo_bpm,
                             beats_per_bar=heard.beats_per_bar, compound=heard.compound,
                             request=request, style=style, timer=timer, input_info=info_in,
                             render_pool=render_pool)


def song_from_melody(melody: Sequence[Note], *, key: Key, tempo_bpm: float, request: SongRequest,
                     beats_per_bar: int = 4, compound: bool = False,
                     progress: Progress = _noop, render_pool: RenderPool | None = None) -> Song:
    """A quantised melody (beats from its first downbeat) -> finished song in memory.
    `compound`: the melody is in compound time (6/8 is beats_per_bar=3, compound=True)."""
    from tunesmith.arrange import load_style

    style = load_style(request.style)
    timer = _Timer(progress)
    progress("listen", "done")
    return _song_from_melody(melody, key=key, tempo_bpm=tempo_bpm, beats_per_bar=beats_per_bar,
                             request=request, style=style, timer=timer, input_info={},
                             compound=compound, render_pool=render_pool)


def _song_from_melody(melody: Sequence[Note], *, key: Key, tempo_bpm: float, beats_per_bar: int,
                      request: SongRequest, style: Any, timer: _Timer,
                      input_info: dict[str, Any], compound: bool = False,
                      render_pool: RenderPool | None = None) -> Song:
    from tunesmith.compose import DEFAULT_FORM, DEFAULT_LENGTH_S, compose, transpose_to_key

    if style.beats_per_bar and style.beats_per_bar != beats_per_bar:
        # The style needs its own meter (a waltz): re-bar the hum, keeping every note's time.
        from tunesmith.arrange import remeter_melody

        melody, tempo_bpm = remeter_melody(melody, tempo_bpm=tempo_bpm, beats_per_bar=beats_per_bar,
                                           target_beats_per_bar=style.beats_per_bar)
        beats_per_bar = style.beats_per_bar
    if request.tempo_bpm is not None:
        song_tempo, beat_scale = float(request.tempo_bpm), 1.0
    else:
        song_tempo, beat_scale = style.fit_tempo(tempo_bpm)
        song_tempo = float(round(song_tempo))  # a whole-number tempo, as a DAW session would have
    if beat_scale != 1.0:
        melody = [replace(n, start_beat=n.start_beat * beat_scale,
                          duration_beats=n.duration_beats * beat_scale) for n in melody]
    song_key = key
    if request.key is not None and request.key != key:
        melody = transpose_to_key(melody, source=key, target=request.key)
        song_key = request.key
    length_s = request.length_s or DEFAULT_LENGTH_S
    lead = timer.run("compose", lambda: compose(
        melody, key=song_key, tempo_bpm=song_tempo, beats_per_bar=beats_per_bar,
        compound=compound, length_s=length_s, seed=request.seed,
        form=getattr(style, "form", "") or DEFAULT_FORM))
    return _song_from_lead_sheet(lead, style=style, request=request, timer=timer,
                                 input_info=input_info, length_target_s=length_s,
                                 render_pool=render_pool)


def song_from_lead_sheet(lead: Score, *, style: Any, request: SongRequest,
                         progress: Progress = _noop, input_info: dict[str, Any] | None = None,
                         render_pool: RenderPool | None = None) -> Song:
    """A finished lead sheet (melody, chords, sections: e.g. from `restyle`) -> finished song:
    arrange, render and produce exactly as for a hum."""
    timer = _Timer(progress)
    progress("listen", "done")
    progress("compose", "done")
    return _song_from_lead_sheet(lead, style=style, request=request, timer=timer,
                                 input_info=dict(input_info or {}),
                                 length_target_s=lead.duration_s, render_pool=render_pool)


def song_from_restyle(path: Path, *, request: SongRequest, keep: str = "melody+chords",
                      harmony: str = "style", progress: Progress = _noop,
                      render_pool: RenderPool | None = None) -> Song:
    """A song in another style (MIDI, MusicXML, ABC or a full recording) -> finished song in
    `request.style`: the melody kept, the chords kept or restyled, the rest shared with `hum`."""
    from tunesmith.arrange import load_style
    from tunesmith.restyle import analyze, read_source, restyle_lead_sheet

    style = load_style(request.style)
    timer = _Timer(progress)
    piece = timer.run("listen", lambda: read_source(path))
    found = analyze(piece)
    sheet = timer.run("compose", lambda: restyle_lead_sheet(
        piece, style, keep=keep, harmony=harmony, seed=request.seed, analysis=found))
    info = {"file": path.name, "sha256": file_digest(path), "kind": piece.kind,
            "parts": [p.name for p in piece.parts], "meter": piece.meter,
            "restyle": {"keep": keep, "harmony": harmony, **sheet.info()}}
    return _song_from_lead_sheet(sheet.lead, style=sheet.style, request=request, timer=timer,
                                 input_info=info, length_target_s=sheet.lead.duration_s,
                                 render_pool=render_pool)


def brief_request(brief: Any, *, length_s: float | None = None, seed: int = DEFAULT_SEED
                  ) -> SongRequest:
    """The SongRequest a SongBrief asks for (an explicit length wins over the brief's)."""
    return SongRequest(style=brief.style.name, tempo_bpm=brief.tempo_bpm, key=brief.song_key,
                       length_s=length_s or brief.length_s, seed=seed)


def song_from_brief(brief: Any, *, request: SongRequest, progress: Progress = _noop,
                    render_pool: RenderPool | None = None) -> Song:
    """A SongBrief (`tunesmith.brief.understand`) -> finished song: a hook written from words
    over a progression for the mood and style, composed into a song, then the same arrange,
    render and produce as `hum`."""
    from tunesmith.brief.song import lead_sheet_from_brief

    timer = _Timer(progress)
    plan = timer.run("compose", lambda: lead_sheet_from_brief(
        brief, length_s=request.length_s, seed=request.seed))
    return _song_from_lead_sheet(plan.lead, style=plan.style, request=request, timer=timer,
                                 input_info=plan.info, length_target_s=plan.length_s,
                                 finish=plan.finish, render_pool=render_pool)


def _song_from_lead_sheet(lead: Score, *, style: Any, request: SongRequest, timer: _Timer,
                          input_info: dict[str, Any], length_target_s: float,
                          finish: Callable[[Score], Score] | None = None,
                          render_pool: RenderPool | None = None) -> Song:
    from tunesmith.arrange import arrange
    from tunesmith.produce import MasterTarget, MixTemplate, Stem, master, mix
    from tunesmith.render import render

    score: Score = timer.run("arrange", lambda: arrange(lead, style, seed=request.seed))
    if finish is not None:  # e.g. a brief's "solo piano": the hands' parts as one track
        score = finish(score)
    rendered = timer.run("render", lambda: render(score, sample_rate=SAMPLE_RATE)
                         if render_pool is None
                         else render_pool.render(score, sample_rate=SAMPLE_RATE))

    def produce() -> tuple[Any, Any]:
        # The style's family template (produce.families) under the style file's own [mix].
        template = MixTemplate.for_style(style.name, style.mix)
        stems = [Stem(name=s.name, role=s.role, audio=s.audio, pan=s.pan) for s in rendered]
        mixed = mix(stems, sample_rate=SAMPLE_RATE, template=template, tempo_bpm=score.tempo_bpm)
        mastered = master(mixed.audio, sample_rate=SAMPLE_RATE,
                          target=MasterTarget.named(request.master_target), genre=style.name)
        return mixed, mastered

    mixed, mastered = timer.run("produce", produce)
    from tunesmith.compose import melody_originality

    info = song_info(score, style_name=style.name, request=request, loudness=mastered.summary(),
                     input_info=input_info, length_target_s=length_target_s,
                     originality=melody_originality(lead))
    return Song(score=score, master=mastered.audio, stems=dict(mixed.stems), info=info,
                timings_s=timer.timings)


def song_info(score: Score, *, style_name: str, request: SongRequest, loudness: dict[str, Any],
              input_info: dict[str, Any], length_target_s: float,
              originality: dict[str, Any] | None = None) -> dict[str, Any]:
    """The facts written to song.json. `originality`: the melody's longest run shared with a
    training song (`compose.melody_originality`)."""
    spb = score.seconds_per_beat
    bpb = score.beats_per_bar
    n_bars = int(np.ceil(max(s.end_beat for s in score.sections) / bpb))
    flats = score.key.uses_flats
    bars = []
    for b in range(n_bars):
        start, end = b * bpb, (b + 1) * bpb
        symbols = [c.chord.symbol(flats=flats) for c in score.chords
                   if c.start_beat < end - 1e-6 and c.end_beat > start + 1e-6]
        bars.append({"bar": b + 1, "start_s": round(start * spb, 3), "chords": symbols})
    return {
        "tunesmith_version": __version__,
        "style": style_name,
        "seed": request.seed,
        "tempo_bpm": round(score.tempo_bpm, 3),
        "time_signature": "{}/{}".format(*score.time_signature),
        "swing": round(score.swing, 3),
        "key": score.key.name,
        "duration_s": round(score.duration_s, 3),
        "length_target_s": round(length_target_s, 1),
        "sections": [{"label": s.label, "kind": s.kind, "start_s": round(s.start_beat * spb, 3),
                      "start_bar": int(s.start_beat // bpb) + 1,
                      "bars": int(round(s.duration_beats / bpb)), "energy": s.energy}
                     for s in score.sections],
        "chords_per_bar": bars,
        "chords": [{"start_beat": round(c.start_beat, 3), "end_beat": round(c.end_beat, 3),
                    "symbol": c.chord.symbol(flats=flats)} for c in score.chords],
        "tracks": [{"name": t.name, "role": t.role, "instrument": t.instrument,
                    "program": t.program, "drums": t.is_drum, "notes": len(t.notes)}
                   for t in score.tracks],
        "master": {"target": request.master_target, **loudness},
        "input": input_info,
        "originality": originality or {},
    }


def write_song(song: Song, out_dir: Path, *, progress: Progress = _noop, overwrite: bool = False,
               extra_files: dict[str, bytes] | None = None) -> Path:
    from tunesmith.publish import write_bundle

    progress("publish", "start")
    t0 = time.perf_counter()
    out = write_bundle(out_dir, score=song.score, master=song.master, stems=song.stems,
                       sample_rate=SAMPLE_RATE, info=song.info, extra_files=extra_files,
                       overwrite=overwrite)
    song.timings_s["publish"] = round(time.perf_counter() - t0, 3)
    progress("publish", "done")
    return out


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
