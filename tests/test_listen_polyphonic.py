"""Full-recording transcription: a synthesised band (lead, block chords, bass) with known notes,
chords, tempo and key goes through `transcribe_polyphonic` and the CLI; tempo and beats of
rhythms that invite 3:2 and 2:3 errors; and the one-voice path's refusal of duets (two hummers
or whistlers a third or a fifth apart), which `transcribe --polyphonic` is for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.errors import NoMelodyError, PolyphonicInputError
from tunesmith.humsynth import demo_melody, synthesize_hum
from tunesmith.listen import transcribe
from tunesmith.listen.poly.beats import estimate_beats, harmonic_change, spectral_flux
from tunesmith.listen.poly.chords import recognize_chords
from tunesmith.listen.poly.engine import EngineUnavailableError, basic_pitch_model_path
from tunesmith.listen.poly.melody import transition_scores, viterbi
from tunesmith.listen.poly.notes import PolyNote
from tunesmith.listen.polyphony import estimate_polyphony
from tunesmith.score import SungNote
from tunesmith.theory import ChordSymbol, Key

SR = 22050
TEMPO_BPM = 96.0
BEAT_S = 60.0 / TEMPO_BPM
LEAD_IN_S = 0.5
PROGRESSION = ("C", "Am", "F", "G7", "C", "Am", "Dm7", "G7")  # one bar each
# the lead line, (start beat, length in beats, MIDI pitch); it ends on the tonic
MELODY = [(0, 1, 76), (1, 1, 79), (2, 2, 77), (4, 1, 76), (5, 1, 72), (6, 2, 76), (8, 2, 72),
          (10, 1, 69), (11, 1, 72), (12, 1, 74), (13, 1, 71), (14, 2, 74), (16, 1, 72),
          (17, 1, 76), (18, 2, 79), (20, 1, 81), (21, 1, 76), (22, 2, 72), (24, 2, 74),
          (26, 1, 77), (27, 1, 74), (28, 2, 71), (30, 2, 74)]
CHORD_LOW, CHORD_HIGH = 55, 67


def _have_engine() -> bool:
    try:
        basic_pitch_model_path()
    except EngineUnavailableError:
        return False
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


needs_engine = pytest.mark.skipif(
    not _have_engine(), reason="basic-pitch's note model is not installed "
    "(pip install --no-deps basic-pitch==0.4.0 onnxruntime)")


def _tone(pitch: int, dur_s: float, *, amp: float, decay_s: float | None,
          harmonics: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    n = int(dur_s * SR)
    t = np.arange(n) / SR
    f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
    wave = sum(a * np.sin(2 * np.pi * f0 * (h + 1) * t + rng.uniform(0, 2 * np.pi))
               for h, a in enumerate(harmonics) if f0 * (h + 1) < SR / 2 - 500)
    attack = np.minimum(1.0, t / 0.01)
    release = np.minimum(1.0, (dur_s - t) / 0.03).clip(0.0, 1.0)
    env = attack * release * (np.exp(-t / decay_s) if decay_s else 1.0)
    return (amp * env * wave).astype(np.float32)


def _add(out: np.ndarray, at_s: float, x: np.ndarray) -> None:
    i = int(at_s * SR)
    out[i:i + x.size] += x[: max(0, out.size - i)]


def synth_band(seed: int = 3) -> tuple[np.ndarray, list[SungNote]]:
    """Lead (sustained, bright, loudest), piano-like block chords on every beat (decaying) and
    a bass on beats 1 and 3. Returns the mix at SR and the lead's notes."""
    rng = np.random.default_rng(seed)
    bars = len(PROGRESSION)
    out = np.zeros(int((LEAD_IN_S + bars * 4 * BEAT_S + 1.0) * SR), dtype=np.float32)
    lead = []
    for start, length, pitch in MELODY:
        on = LEAD_IN_S + start * BEAT_S
        dur = length * BEAT_S - 0.04
        _add(out, on, _tone(pitch, dur, amp=0.30, decay_s=None,
                            harmonics=(1.0, 0.5, 0.35, 0.2, 0.12), rng=rng))
        lead.append(SungNote(on, on + dur, float(pitch)))
    for bar, symbol in enumerate(PROGRESSION):
        chord = ChordSymbol.parse(symbol)
        voicing = sorted(CHORD_LOW + (pc - CHORD_LOW) % 12 for pc in chord.pitch_classes)
        root = 36 + (chord.root - 36) % 12
        for beat in range(4):
            on = LEAD_IN_S + (bar * 4 + beat) * BEAT_S
            accent = 1.0 if beat == 0 else 0.75
            for p in voicing:
                _add(out, on, _tone(p, BEAT_S - 0.02, amp=0.07 * accent, decay_s=0.5,
                                    harmonics=(1.0, 0.4, 0.2, 0.1), rng=rng))
            if beat in (0, 2):
                _add(out, on, _tone(root, 2 * BEAT_S - 0.05, amp=0.16, decay_s=1.2,
                                    harmonics=(1.0, 0.6, 0.3), rng=rng))
    out += rng.normal(0.0, 1e-4, out.size).astype(np.float32)
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32), lead


def onset_pitch_f1(ref: list[SungNote], est: list[SungNote], tol_s: float = 0.05) -> float:
    """COnP-style F1: a greedy one-to-one match on the same semitone within `tol_s`."""
    used: set[int] = set()
    hits = 0
    for r in ref:
        for j, e in enumerate(est):
            if j not in used and e.midi == r.midi and abs(e.onset_s - r.onset_s) <= tol_s:
                used.add(j)
                hits += 1
                break
    if not ref or not est or not hits:
        return 0.0
    p, r_ = hits / len(est), hits / len(ref)
    return 2 * p * r_ / (p + r_)


@pytest.fixture(scope="module")
def band() -> tuple[np.ndarray, list[SungNote]]:
    return synth_band()


@pytest.fixture(scope="module")
def heard(band):  # type: ignore[no-untyped-def]
    from tunesmith.listen.polyphonic import transcribe_polyphonic

    if not _have_engine():
        pytest.skip("basic-pitch's note model is not installed")
    return transcribe_polyphonic(band[0], sample_rate=SR)


def _bar_start(bar: int) -> float:
    return LEAD_IN_S + bar * 4 * BEAT_S


# ---------------------------------------------------------------- whole path on a synthetic band


@needs_engine
def test_melody_is_the_lead_line(band, heard) -> None:
    _, lead = band
    assert onset_pitch_f1(lead, heard.melody) >= 0.85
    # the lead, not the chords' top voice or the bass
    assert min(n.midi for n in heard.melody) >= 66


@needs_engine
def test_all_notes_include_chords_and_bass(heard) -> None:
    pitches = {n.midi for n in heard.notes}
    chord_tones = {CHORD_LOW + (pc - CHORD_LOW) % 12 for symbol in PROGRESSION
                   for pc in ChordSymbol.parse(symbol).pitch_classes}
    assert chord_tones <= pitches
    assert {36, 38, 41, 43, 45} <= pitches  # bass C, D, F, G, A
    assert all(1 <= n.velocity <= 127 for n in heard.notes)
    lead_vel = np.median([v for v in heard.melody_velocities])
    chord_vel = np.median([n.velocity for n in heard.notes if CHORD_LOW <= n.midi <= CHORD_HIGH])
    assert lead_vel > chord_vel  # the lead is the loudest part


@needs_engine
def test_chords_per_beat(heard) -> None:
    right = 0
    total = 0
    for bar, symbol in enumerate(PROGRESSION):
        for beat in range(4):
            t = _bar_start(bar) + (beat + 0.5) * BEAT_S
            found = heard.chord_at(t)
            total += 1
            right += found is not None and found.chord == ChordSymbol.parse(symbol)
    assert right / total >= 0.8
    symbols = {s for _, _, s in heard.chord_symbols()}
    assert {"C", "Am", "F", "G7"} <= symbols


@needs_engine
def test_tempo_beats_and_downbeat(heard) -> None:
    assert heard.tempo_bpm == pytest.approx(TEMPO_BPM, rel=0.04)
    beats = np.asarray(heard.beat_times_s)
    true_beats = LEAD_IN_S + BEAT_S * np.arange(len(PROGRESSION) * 4)
    nearest = np.min(np.abs(beats[:, None] - true_beats[None, :]), axis=0)
    assert np.mean(nearest < 0.07) >= 0.9
    bar_phase = ((heard.downbeat_s - LEAD_IN_S) / BEAT_S) % 4
    assert min(bar_phase, 4 - bar_phase) < 0.2


@needs_engine
def test_key(heard) -> None:
    assert heard.key == Key(0, "major")
    assert heard.key_confidence > 0.0


@needs_engine
def test_silence_is_an_error() -> None:
    from tunesmith.listen.polyphonic import transcribe_polyphonic

    with pytest.raises(NoMelodyError, match="silent"):
        transcribe_polyphonic(np.zeros(SR * 2, dtype=np.float32), sample_rate=SR)


@needs_engine
def test_noise_without_notes_is_an_error(rng) -> None:
    from tunesmith.listen.polyphonic import transcribe_polyphonic

    noise = rng.normal(0.0, 0.05, SR * 3).astype(np.float32)
    with pytest.raises(NoMelodyError, match="no notes"):
        transcribe_polyphonic(noise, sample_rate=SR)


@needs_engine
def test_pitch_and_tuning_of_a_sharp_recording() -> None:
    from tunesmith.listen.polyphonic import transcribe_polyphonic

    rng = np.random.default_rng(5)
    out = np.zeros(int(SR * 4.5), dtype=np.float32)
    for i, pitch in enumerate((69, 72, 76, 72)):  # A C E C, 30 cents sharp
        tone = _tone(pitch, 0.95, amp=0.3, decay_s=None, harmonics=(1.0, 0.5, 0.3), rng=rng)
        shifted = np.interp(np.arange(tone.size) * 2 ** (0.3 / 12), np.arange(tone.size), tone,
                            right=0.0).astype(np.float32)
        _add(out, 0.25 + i, shifted)
    heard = transcribe_polyphonic(out, sample_rate=SR)
    assert [n.midi for n in heard.melody] == [69, 72, 76, 72]
    assert all(0.15 <= n.pitch - n.midi <= 0.45 for n in heard.notes)
    assert 15.0 <= heard.tuning_cents <= 45.0


# ---------------------------------------------------------------- MIDI file and CLI


@needs_engine
def test_midi_lines_up_with_the_audio(heard) -> None:
    import mido

    from tunesmith.listen.poly.midi import TICKS_PER_BEAT, transcription_to_midi

    midi = transcription_to_midi(heard)
    names = [t.name for t in midi.tracks]
    assert names == ["conductor", "chords", "melody", "accompaniment"]
    # note times in seconds (through the tempo map) equal the transcription's
    now = 0.0
    onsets = []
    for msg in mido.merge_tracks(midi.tracks):
        now += mido.tick2second(msg.time, TICKS_PER_BEAT, _tempo_at(midi, now))
        if msg.type == "note_on" and msg.velocity > 0:
            onsets.append(now)
    expected = sorted([n.onset_s for n in heard.melody] + [n.onset_s for n in heard.accompaniment])
    assert np.allclose(sorted(onsets), expected, atol=0.005)
    # the first heard downbeat sits on a bar line
    from tunesmith.listen.poly.midi import beat_map

    seconds, ticks = beat_map(heard)
    down_tick = np.interp(heard.downbeat_s, seconds, ticks)
    assert down_tick % (4 * TICKS_PER_BEAT) == pytest.approx(0.0, abs=1.0)


def _tempo_at(midi, time_s: float) -> int:  # type: ignore[no-untyped-def]
    """Tempo in force at `time_s` (seconds), from the conductor track."""
    import mido

    tempo, now = 500_000, 0.0
    for msg in midi.tracks[0]:
        step = mido.tick2second(msg.time, midi.ticks_per_beat, tempo)
        if now + step > time_s + 1e-9:
            break
        now += step
        if msg.type == "set_tempo":
            tempo = msg.tempo
    return tempo


@needs_engine
def test_cli_polyphonic_writes_named_tracks_and_chords(tmp_path: Path, band) -> None:
    import mido

    from tunesmith.score import read_score_midi

    wav = tmp_path / "band.wav"
    sf.write(str(wav), band[0], SR)
    out = tmp_path / "song.mid"
    chords = tmp_path / "chords.txt"
    res = CliRunner().invoke(app, ["transcribe", str(wav), "--polyphonic", "-o", str(out),
                                   "--chords-out", str(chords)])
    assert res.exit_code == 0, res.output
    midi = mido.MidiFile(str(out))
    assert [t.name for t in midi.tracks] == ["conductor", "chords", "melody", "accompaniment"]
    assert any(m.type == "set_tempo" for m in midi.tracks[0])
    lines = [ln.split("\t") for ln in chords.read_text().splitlines() if not ln.startswith("#")]
    assert all(len(parts) == 3 for parts in lines)
    assert "Am" in {parts[2] for parts in lines}
    score = read_score_midi(out)
    assert {c.symbol for c in score.chords} >= {"C", "Am", "F", "G7"}
    assert len(score.track("melody").notes) >= 20


def test_cli_chords_out_needs_polyphonic(tmp_path: Path) -> None:
    wav = tmp_path / "hum.wav"
    sf.write(str(wav), np.zeros(SR, dtype=np.float32), SR)
    res = CliRunner().invoke(app, ["transcribe", str(wav), "-o", str(tmp_path / "a.mid"),
                                   "--chords-out", str(tmp_path / "c.txt")])
    assert res.exit_code == 2
    assert "--polyphonic" in res.output
    assert not (tmp_path / "a.mid").exists()


def test_cli_polyphonic_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "song.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    out = tmp_path / "song.mid"
    res = CliRunner().invoke(app, ["transcribe", str(bad), "--polyphonic", "-o", str(out)])
    assert res.exit_code == 2
    assert "cannot read" in res.output
    assert not out.exists()


# ---------------------------------------------------------------- the parts, without the model


def test_viterbi_prefers_staying_on_a_voice() -> None:
    # two voices; frame 3 alone favours the lower one a little: the path should not jump
    em = np.full((8, 3), -5.0)
    em[:, 2] = -10.0  # rest
    em[:, 1] = -1.0
    em[:, 0] = -1.5
    em[3, 0] = -0.5
    path = viterbi(em, transition_scores(2))
    assert list(path) == [1] * 8


def test_beats_follow_a_steady_pulse() -> None:
    rate = 86.0
    n = int(rate * 20)
    onset = np.zeros((n, 88))
    period_s = 60.0 / 84.0
    for k, t in enumerate(np.arange(0.3, 20.0, period_s / 2)):
        onset[int(t * rate), 40] = 1.0 if k % 2 == 0 else 0.4  # eighths, accented beats
    grid = estimate_beats(onset, rate, duration_s=20.0)
    assert grid.tempo_bpm == pytest.approx(84.0, rel=0.04)
    true = 0.3 + period_s * np.arange(int(19.5 / period_s))
    nearest = np.min(np.abs(grid.beat_times_s[:, None] - true[None, :]), axis=0)
    assert np.mean(nearest < 0.03) > 0.9


def _pulse(pattern: list[float], *, tempo_bpm: float, beats_per_cycle: int = 1,
           seconds: float = 24.0, rate: float = 86.0) -> np.ndarray:
    """An onset posterior (frames, 88) striking one key on an even grid: `pattern` is the
    strength of each grid step within a cycle of `beats_per_cycle` beats (0: no onset)."""
    onset = np.zeros((int(rate * seconds), 88))
    step = 60.0 / tempo_bpm * beats_per_cycle / len(pattern)
    for k, t in enumerate(np.arange(0.5, seconds - 0.2, step)):
        onset[int(t * rate), 40] = pattern[k % len(pattern)]
    return onset


def _same_metre(tempo_bpm: float, true_bpm: float) -> bool:
    """The beat, or its double, half, triple or third (Accuracy2), within 4 %."""
    return any(abs(tempo_bpm / (true_bpm * f) - 1.0) <= 0.04 for f in (1, 2, 0.5, 3, 1 / 3))


@pytest.mark.parametrize("tempo_bpm", [54.0, 60.0, 66.0])
def test_triplet_feel_is_not_heard_at_three_halves(tempo_bpm: float) -> None:
    """Triplet eighths with the beat accented: every multiple of the triplet shows in the
    autocorrelation, two triplets (3/2 of the tempo) included."""
    grid = estimate_beats(_pulse([1.0, 0.5, 0.5], tempo_bpm=tempo_bpm), 86.0, duration_s=24.0)
    assert _same_metre(grid.tempo_bpm, tempo_bpm), grid.tempo_bpm


@pytest.mark.parametrize("tempo_bpm", [110.0, 127.0])
def test_three_three_two_rhythm_is_not_heard_at_two_thirds(tempo_bpm: float) -> None:
    """Eighths accented 3+3+2 in a bar of four beats: the dotted quarter repeats as strongly as
    the beat."""
    pattern = [1.0, 0.3, 0.3, 0.8, 0.3, 0.3, 0.8, 0.3]
    grid = estimate_beats(_pulse(pattern, tempo_bpm=tempo_bpm, beats_per_cycle=4), 86.0,
                          duration_s=24.0)
    assert _same_metre(grid.tempo_bpm, tempo_bpm), grid.tempo_bpm


def test_audio_onsets_line_up_with_the_frames() -> None:
    """A click every 0.5 s: the spectral flux peaks on the frame centred on each click."""
    hop = 256
    audio = np.zeros(SR * 4, dtype=np.float32)
    clicks = np.arange(0.25, 3.9, 0.5)
    for t in clicks:
        audio[int(t * SR):int(t * SR) + 64] = np.hanning(64)
    flux = spectral_flux(audio, sample_rate=SR, n_frames=audio.size // hop, hop=hop)
    peaks = [int(np.argmax(flux[int(t * SR / hop) - 10:int(t * SR / hop) + 10])) - 10 for t in clicks]
    assert all(abs(p) <= 2 for p in peaks), peaks  # within 2 frames (23 ms)


def test_harmonic_change_peaks_where_the_chord_changes() -> None:
    rate = 86.0
    note = np.zeros((int(rate * 4), 88))
    c_major, f_major = (39, 43, 46), (44, 48, 51)  # key indices: C4 E4 G4, F4 A4 C5
    note[: int(rate * 2), list(c_major)] = 0.9
    note[int(rate * 2):, list(f_major)] = 0.9
    change = harmonic_change(note, rate)
    assert abs(int(np.argmax(change)) - int(rate * 2)) <= 2
    assert change[int(rate * 1)] < 0.05 and change[int(rate * 3)] < 0.05


# ---------------------------------------------------------------- duets on the one-voice path


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _duet(semitones_below: int, vowel: str, *, seed: int = 1) -> np.ndarray:
    """The demo melody sung by two synthetic singers `semitones_below` apart at equal level
    (whistlers an octave up)."""
    up = 12.0 if vowel == "whistle" else 0.0
    lead = demo_melody(seed=seed)
    first = [SungNote(n.onset_s, n.offset_s, n.pitch + up) for n in lead]
    second = [SungNote(n.onset_s, n.offset_s, n.pitch + up - semitones_below) for n in lead]
    a = synthesize_hum(first, sample_rate=SR, seed=seed, vowel=vowel)
    b = synthesize_hum(second, sample_rate=SR, seed=seed + 1, vowel=vowel)
    n = min(a.size, b.size)
    y = a[:n] / _rms(a[:n]) + b[:n] / _rms(b[:n])
    return (0.3 * y / np.max(np.abs(y))).astype(np.float32)


@pytest.mark.parametrize(("vowel", "semitones_below"), [
    ("mm", 3), ("mm", 4), ("mm", 7),  # hummers a minor / major third and a fifth apart
    ("ah", 7), ("whistle", 4), ("whistle", 7),
])
def test_two_hummers_a_third_or_a_fifth_apart_are_polyphonic(vowel: str,
                                                             semitones_below: int) -> None:
    """A hum has two strong partials and a whistle one, too few for a second harmonic series in
    one frame; the second voice shows by holding its pitch from frame to frame."""
    found = estimate_polyphony(_duet(semitones_below, vowel), sample_rate=SR)
    assert found.polyphonic, found
    assert found.share > 0.3


def test_hummed_duet_is_refused_with_a_pointer_to_polyphonic() -> None:
    with pytest.raises(PolyphonicInputError, match="--polyphonic"):
        transcribe(_duet(4, "mm", seed=2), sample_rate=SR)


def test_a_voice_over_chatter_is_not_a_duet() -> None:
    """A second voice 10 dB down that changes pitch every 60-100 ms (like a talker in the
    room) leaves peaks that do not hold still: one voice."""
    rng = np.random.default_rng(5)
    lead = synthesize_hum(demo_melody(seed=5), sample_rate=SR, seed=5, vowel="ah",
                          vibrato_cents=60)
    t, syllables = 0.3, []
    while t < lead.size / SR:
        length = rng.uniform(0.06, 0.1)
        syllables.append(SungNote(t, t + length, float(rng.uniform(48, 60))))
        t += length + 0.01
    chatter = synthesize_hum(syllables, sample_rate=SR, seed=6, vowel="ah", vibrato_cents=0)
    n = min(lead.size, chatter.size)
    y = lead[:n] / _rms(lead[:n]) + 10 ** (-10 / 20) * chatter[:n] / _rms(chatter[:n])
    found = estimate_polyphony((0.3 * y / np.max(np.abs(y))).astype(np.float32), sample_rate=SR)
    assert not found.polyphonic, found


def _block(symbol: str, start: float, end: float, bass: int | None = None) -> list[PolyNote]:
    chord = ChordSymbol.parse(symbol)
    notes = [PolyNote(start, end, float(60 + (pc - 60) % 12), 80) for pc in chord.pitch_classes]
    low = chord.root if bass is None else bass
    notes.append(PolyNote(start, end, float(36 + (low - 36) % 12), 90))
    return notes


def test_chords_from_notes_with_sevenths_and_inversions() -> None:
    beats = np.arange(0.0, 16.5, 0.5)  # 32 beats
    spec = [("C", None), ("Am7", None), ("Fmaj7", None), ("G7", None),
            ("C", 4), ("Dm", None), ("Bdim", None), ("Esus4", None)]
    notes = []
    for i, (symbol, bass) in enumerate(spec):
        notes += _block(symbol, 2.0 * i, 2.0 * i + 2.0, bass)
    found = recognize_chords(notes, beats)
    for i, (symbol, _) in enumerate(spec):
        c = next(c for c in found if c.start_s <= 2.0 * i + 1.0 < c.end_s)
        assert c.chord == ChordSymbol.parse(symbol), (i, symbol, c.symbol)
    # a passing melody note (a non-chord tone on one beat) does not flip the chord
    melody = [SungNote(0.5, 1.0, 74.0)]
    notes2 = _block("C", 0.0, 2.0) + [PolyNote(0.5, 1.0, 74.0, 100)]
    found2 = recognize_chords(notes2, np.arange(0.0, 2.5, 0.5), melody=melody)
    assert [c.symbol for c in found2] == ["C"]


def test_silent_beats_have_no_chord() -> None:
    notes = _block("F", 0.0, 2.0) + _block("G", 4.0, 6.0)
    found = recognize_chords(notes, np.arange(0.0, 6.5, 0.5))
    assert [c.symbol for c in found] == ["F", "N", "G"]
