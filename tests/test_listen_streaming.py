"""StreamingTranscriber: a take fed in chunks gives the offline `transcribe` notes, finalised
while it is being recorded. Tolerance against offline: the same notes, onsets and offsets within
20 ms, pitch within 10 cents."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from test_listen import phrase, shifted
from test_listen_inputs import POP_CHORDS, ROOM_MELODY, chord_progression, in_room, mix

from tunesmith.errors import InputAudioError, NoMelodyError, PolyphonicInputError
from tunesmith.humsynth import demo_melody, synthesize_hum
from tunesmith.listen import transcribe
from tunesmith.listen.pitch import (
    MAX_CANDIDATES,
    StreamHighpass,
    StreamViterbi,
    _viterbi,
    highpass,
)
from tunesmith.listen.streaming import FINAL_LAG_S, StreamingTranscriber, StreamUpdate
from tunesmith.score import SungNote

SR = 44100
ONSET_TOLERANCE_S = 0.02
PITCH_TOLERANCE_SEMITONES = 0.1


@cache
def take(vowel: str, seed: int, sample_rate: int = SR) -> np.ndarray:
    ref = demo_melody(seed=seed)
    if vowel == "whistle":
        ref = shifted(ref, 24)
    return synthesize_hum(ref, sample_rate=sample_rate, seed=seed, vowel=vowel)


def stream(audio: np.ndarray, chunk_sizes: list[int] | int, *, sample_rate: int = SR,
           **kwargs: object) -> tuple[StreamingTranscriber, list[StreamUpdate]]:
    st = StreamingTranscriber(sample_rate=sample_rate, **kwargs)  # type: ignore[arg-type]
    sizes = chunk_sizes if isinstance(chunk_sizes, list) else [chunk_sizes]
    updates, i, k = [], 0, 0
    while i < audio.size:
        n = sizes[k % len(sizes)]
        updates.append(st.feed(audio[i:i + n]))
        i, k = i + n, k + 1
    updates.append(st.finish())
    return st, updates


def assert_same_notes(streamed: list[SungNote], offline: list[SungNote]) -> None:
    assert len(streamed) == len(offline)
    for s, o in zip(streamed, offline, strict=True):
        assert abs(s.onset_s - o.onset_s) <= ONSET_TOLERANCE_S
        assert abs(s.offset_s - o.offset_s) <= ONSET_TOLERANCE_S
        assert abs(s.pitch - o.pitch) <= PITCH_TOLERANCE_SEMITONES


@pytest.mark.parametrize(("vowel", "seed", "chunks"), [
    ("mm", 0, 1024),  # a typical audio callback
    ("ah", 1, 4410),  # 100 ms websocket messages
    ("mm", 3, [7, 3000, 1, 65536, 12345]),  # ragged chunks
    ("whistle", 2, 2048),
])
def test_streamed_notes_equal_offline(vowel: str, seed: int, chunks: list[int] | int) -> None:
    audio = take(vowel, seed)
    st, updates = stream(audio, chunks)
    assert st.room is None  # a dry take: no reverberation suppression, as offline
    assert_same_notes(st.notes, transcribe(audio, sample_rate=SR))
    # what the updates reported as final is exactly the take, in order, each note once
    assert [n for u in updates for n in u.final] == st.notes


def test_one_chunk_is_the_offline_result() -> None:
    audio = take("ah", 4)
    st, _ = stream(audio, audio.size)
    assert_same_notes(st.notes, transcribe(audio, sample_rate=SR))


@pytest.mark.parametrize("sample_rate", [48000, 22050])
def test_other_sample_rates(sample_rate: int) -> None:
    audio = take("mm", 5, sample_rate)
    st, _ = stream(audio, sample_rate // 20, sample_rate=sample_rate)
    assert_same_notes(st.notes, transcribe(audio, sample_rate=sample_rate))


def test_16k_input_in_single_samples() -> None:
    """At the internal rate (no resampler) and one sample per chunk: every cache boundary
    (high-pass, pitch frames, noise spectra) falls mid-frame at some update."""
    ref = phrase([60, 62, 64], tempo_bpm=120, start_s=0.3)
    audio = synthesize_hum(ref, sample_rate=16000, seed=6, vowel="mm")
    st, _ = stream(audio, 1, sample_rate=16000)
    assert_same_notes(st.notes, transcribe(audio, sample_rate=16000))


def test_stream_highpass_is_prepare_highpass() -> None:
    """The forward pass run piece by piece and the backward pass from the end give the whole
    signal's filter exactly; a provisional tail is filtered as if it had been pushed."""
    rng = np.random.default_rng(0)
    x = (rng.normal(0.0, 0.3, 20000) + 0.2).astype(np.float32)
    whole = highpass(x)
    hp, i = StreamHighpass(), 0
    for n in [1, 7, 50, 3, 999, 1, 4096, 160]:  # starts filtering once past 64 samples
        hp.push(x[i:i + n])
        i += n
    assert np.array_equal(hp.filtered(0, x[i:]), whole)
    hp.push(x[i:])
    hp.forget(8000)
    assert np.array_equal(hp.filtered(9000), whole[9000:])
    short = StreamHighpass()
    short.push(x[:40])  # 64 samples or fewer: not filtered, as highpass()
    assert np.array_equal(short.filtered(0), x[:40])


def test_stream_viterbi_redoes_what_changed() -> None:
    """Windows decoded as they grow and move on, with a frame's evidence changed between
    calls (a frame whose audio was not final), give the whole-sequence Viterbi path over the
    window each time: the pass continues from the state before the window."""
    rng = np.random.default_rng(1)
    n = 300
    midi = 60 + np.cumsum(rng.normal(0, 0.2, (n, MAX_CANDIDATES)), axis=0)
    prob = rng.dirichlet(np.ones(MAX_CANDIDATES + 1), n)[:, :MAX_CANDIDATES]
    prob[rng.random((n, MAX_CANDIDATES)) < 0.2] = 0.0
    midi[prob == 0] = np.nan
    vit = StreamViterbi()
    for end in range(1, n + 1, 23):
        first = max(0, end - 120)  # the window's start moves on
        if end - 40 >= first:
            prob[end - 40] *= 0.5  # a frame well inside the kept forward pass changes
        assert np.array_equal(vit.decode(first, midi[first:end], prob[first:end]),
                              _viterbi(midi[:end], prob[:end])[first:])


def test_room_levels_pushed_in_pieces_are_band_levels() -> None:
    """The room history, pushed frame block by frame block as the audio becomes final, gives
    the levels `dereverb.band_levels` gives the whole spectrogram (within float32 rounding),
    the newest frames smoothed as at the end of a take."""
    from tunesmith.listen.dereverb import band_levels
    from tunesmith.listen.streaming import _RoomLevels

    power = (np.random.default_rng(2).random((157, 400)) ** 4).astype(np.float32)
    levels, i = _RoomLevels(), 0
    for n in [1, 1, 2, 37, 100, 3, 256]:
        levels.push(power[:, i:i + n])
        i += n
        np.testing.assert_allclose(levels.levels(), band_levels(power[:, :i]), atol=1e-4)
    assert levels.frames == 400


def test_notes_become_final_while_recording() -> None:
    """Each note is final within FINAL_LAG_S + one update + the frame look-ahead of its end,
    long before the take is over, and never changes afterwards."""
    audio = take("ah", 1)
    chunk = SR // 20
    st = StreamingTranscriber(sample_rate=SR)
    finalised_at: list[tuple[SungNote, float]] = []
    provisional_seen = False
    for i in range(0, audio.size, chunk):
        update = st.feed(audio[i:i + chunk])
        finalised_at += [(n, update.received_s) for n in update.final]
        provisional_seen = provisional_seen or bool(update.provisional)
        if update.final and update.provisional:
            assert update.provisional[0].onset_s >= update.final[-1].offset_s
    early = list(finalised_at)
    finalised_at += [(n, st.received_s) for n in st.finish().final]
    assert provisional_seen
    assert len(early) >= len(st.notes) - 2  # all but the last notes before finish()
    for note, when in early:
        assert when - note.offset_s <= FINAL_LAG_S + st.update_interval_s + 0.1
    assert [n for n, _ in finalised_at] == st.notes


def test_noisy_take_streams_like_offline() -> None:
    """Stationary noise at 15 dB SNR: noise reduction learns the noise from the audio heard so
    far; the notes still match offline (counts may differ by one at most)."""
    audio = take("ah", 1).astype(np.float64)
    noise = np.random.default_rng(0).normal(0.0, 1.0, audio.size)
    noise *= np.sqrt(np.mean(audio**2) / np.mean(noise**2)) * 10 ** (-15 / 20)
    noisy = (audio + noise).astype(np.float32)
    st, _ = stream(noisy, 2048)
    offline = transcribe(noisy, sample_rate=SR)
    assert abs(len(st.notes) - len(offline)) <= 1
    matched = sum(any(abs(s.onset_s - o.onset_s) <= ONSET_TOLERANCE_S
                      and abs(s.pitch - o.pitch) <= PITCH_TOLERANCE_SEMITONES for o in offline)
                  for s in st.notes)
    assert matched >= len(offline) - 1


ROOM_ONSET_TOLERANCE_S = 0.03


def agreement_f1(streamed: list[SungNote], offline: list[SungNote]) -> float:
    """Note-level F1 of the streamed notes against the offline ones: one-to-one matches with
    onsets within ROOM_ONSET_TOLERANCE_S and pitch within PITCH_TOLERANCE_SEMITONES."""
    used: set[int] = set()
    for s in streamed:
        for j, o in enumerate(offline):
            if (j not in used and abs(s.onset_s - o.onset_s) <= ROOM_ONSET_TOLERANCE_S
                    and abs(s.pitch - o.pitch) <= PITCH_TOLERANCE_SEMITONES):
                used.add(j)
                break
    return 2 * len(used) / max(1, len(streamed) + len(offline))


def test_reverberant_take_streams_like_offline() -> None:
    """A hum sung in a room with RT60 0.7 s: the stream finds the room from the audio heard so
    far and suppresses late reverberation in each window as `transcribe` does on the whole take
    (the same room at the end). The notes finalised before the room is known (the first 1-2 s)
    can differ, so the tolerance is looser than for dry takes: agreement F1 (onsets within
    30 ms, pitch within 10 cents) 1.00 / 0.98 / 0.95 for three singers; 0.86 / 0.83 / 0.86
    without the suppression in the stream (offline has it)."""
    from tunesmith.listen.denoise import stft_power
    from tunesmith.listen.dereverb import estimate_room
    from tunesmith.listen.pitch import INTERNAL_SAMPLE_RATE, prepare

    ref = phrase(ROOM_MELODY, tempo_bpm=100, legato=0.9)
    scores, streams, takes = [], [], []
    for singer in range(3):
        dry = synthesize_hum(ref, sample_rate=SR, seed=singer, vowel="ah")
        audio = in_room(dry, rt60_s=0.7, seed=100)
        st, updates = stream(audio, 2048)
        scores.append(agreement_f1(st.notes, transcribe(audio, sample_rate=SR)))
        assert [n for u in updates for n in u.final] == st.notes
        streams.append(st)
        takes.append(audio)
    assert min(scores) >= 0.9
    assert np.mean(scores) >= 0.95
    for st, audio in zip(streams, takes, strict=True):
        offline_room = estimate_room(
            stft_power(prepare(audio, sample_rate=SR), sample_rate=INTERNAL_SAMPLE_RATE),
            sample_rate=INTERNAL_SAMPLE_RATE)
        assert offline_room is not None and st.room is not None
        assert st.room.rt60_s == pytest.approx(offline_room.rt60_s, rel=1e-3)


def test_integer_pcm_and_stereo_chunks() -> None:
    audio = take("mm", 0)
    pcm = np.round(audio * 32767).astype(np.int16)
    stereo = np.stack([pcm, pcm], axis=1)
    st, _ = stream(stereo, 4096)  # type: ignore[arg-type]
    assert_same_notes(st.notes, transcribe(audio, sample_rate=SR))


def test_long_held_note_keeps_the_window_bounded() -> None:
    """A 12 s drone then a short phrase: the held note stays provisional until it ends, and
    updates thin out while the window is long (cost stays bounded)."""
    ref = [SungNote(0.3, 12.3, 62.0), *phrase([64, 66, 67], tempo_bpm=100, start_s=12.6)]
    audio = synthesize_hum(ref, sample_rate=SR, seed=9, vowel="mm", vibrato_cents=30)
    st, _ = stream(audio, 1024)
    assert_same_notes(st.notes, transcribe(audio, sample_rate=SR))
    assert st.analyses < audio.size / SR / st.update_interval_s * 0.6


def test_silence_noise_and_chords_raise_at_finish() -> None:
    st = StreamingTranscriber(sample_rate=SR)
    st.feed(np.zeros(SR, dtype=np.float32))
    with pytest.raises(NoMelodyError, match="silent"):
        st.finish()
    st = StreamingTranscriber(sample_rate=SR)
    st.feed(np.random.default_rng(0).normal(0, 0.2, 2 * SR).astype(np.float32))
    with pytest.raises(NoMelodyError, match="no sung or hummed notes"):
        st.finish()
    chords = chord_progression(POP_CHORDS)
    st, found = StreamingTranscriber(sample_rate=SR), None
    for i in range(0, chords.size, 4096):
        st.feed(chords[i:i + 4096])
    found = st.polyphony  # running estimate, e.g. for a warning in the studio
    assert found.polyphonic
    with pytest.raises(PolyphonicInputError, match="--polyphonic"):
        st.finish()


@pytest.mark.parametrize(("vowel", "interval"), [("mm", -4), ("mm", -7), ("whistle", -4)])
def test_hummed_and_whistled_duets_raise_at_finish(vowel: str, interval: int) -> None:
    """Two hummers in thirds or fifths, or two whistlers: too few partials for a second harmonic
    series, so the streamed check must use the persisting second voice, as offline does."""
    lead = shifted(demo_melody(seed=1), 24 if vowel == "whistle" else 0)
    duet = mix(synthesize_hum(lead, sample_rate=SR, seed=1, vowel=vowel),
               synthesize_hum(shifted(lead, interval), sample_rate=SR, seed=2, vowel=vowel))
    st = StreamingTranscriber(sample_rate=SR)
    for i in range(0, duet.size, 4096):
        st.feed(duet[i:i + 4096])
    assert st.polyphony.polyphonic
    with pytest.raises(PolyphonicInputError, match="--polyphonic"):
        st.finish()
    solo, _ = stream(synthesize_hum(lead, sample_rate=SR, seed=1, vowel=vowel), 4096)
    assert not solo.polyphony.polyphonic


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputAudioError):
        StreamingTranscriber(sample_rate=0)
    st = StreamingTranscriber(sample_rate=SR)
    with pytest.raises(InputAudioError, match="invalid samples"):
        st.feed(np.array([0.0, np.nan], dtype=np.float32))
    st = StreamingTranscriber(sample_rate=SR, max_duration_s=1.0)
    with pytest.raises(InputAudioError, match="limit"):
        st.feed(np.zeros(2 * SR, dtype=np.float32))
    with pytest.raises(InputAudioError, match="empty"):
        StreamingTranscriber(sample_rate=SR).finish()
    st, _ = stream(take("mm", 0), 8192)
    with pytest.raises(InputAudioError, match="finished"):
        st.feed(np.zeros(10, dtype=np.float32))
