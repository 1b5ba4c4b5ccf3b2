"""Mixing anyone's stems and mastering for delivery, on synthesised, seeded audio.

Loudness and true peak are measured independently of the code under test: pyloudnorm for
BS.1770 loudness and scipy's resample_poly (4x) for true peak; spectra with scipy's Welch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyloudnorm as pyln
import pytest
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt, welch
from typer.testing import CliRunner

from tunesmith.cli import app
from tunesmith.produce import MixTemplate, Stem, mix
from tunesmith.produce.analysis import detect_role, estimate_tempo_bpm, stem_features
from tunesmith.produce.automix import SourceStem, automix
from tunesmith.produce.dynamics import MultibandCompressor
from tunesmith.produce.families import family_for_style
from tunesmith.produce.mastering import TARGET_PRESETS, MasterTarget
from tunesmith.produce.mixing import SUM_TOLERANCE

runner = CliRunner()
SR = 44100
BPM = 110.0


# --------------------------------------------------------------------------- synthesis


def _note(f0: float, dur: float, sr: int, *, harmonics: int, decay_s: float | None = None,
          attack_s: float = 0.005, tilt: float = 1.0, vibrato: float = 0.0) -> np.ndarray:
    t = np.arange(int(dur * sr)) / sr
    phase = 2 * np.pi * np.cumsum(f0 * (1 + vibrato * np.sin(2 * np.pi * 5.5 * t))) / sr
    x = sum(np.sin(k * phase) / k**tilt for k in range(1, harmonics + 1) if k * f0 < sr / 2.2)
    env = np.minimum(1.0, t / attack_s)
    if decay_s:
        env = env * np.exp(-t / decay_s)
    fade = min(env.size, int(0.01 * sr))
    env[env.size - fade:] *= np.linspace(1.0, 0.0, fade)
    return x * env


def _place(out: np.ndarray, x: np.ndarray, start_s: float, sr: int) -> None:
    i = int(start_s * sr)
    x = x[: max(0, out.size - i)]
    out[i: i + x.size] += x


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def band(seconds: float = 10.0, sr: int = SR, seed: int = 0, bpm: float = BPM) -> dict[str, np.ndarray]:
    """Kick/snare/hat pattern, a bass line, a sustained pad, struck keys and a lead melody,
    each normalised to peak at -6 dBFS (mono float32)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    beat = 60.0 / bpm
    parts = {k: np.zeros(n) for k in ("drums", "bass", "pad", "keys", "lead")}
    t = np.arange(int(0.4 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 * t + 100 * 0.03 * (1 - np.exp(-t / 0.03)))) * np.exp(-t / 0.18)
    snare = (rng.standard_normal(t.size) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.09)
    th = np.arange(int(0.08 * sr)) / sr
    hat = sosfilt(butter(4, 7000, "highpass", fs=sr, output="sos"), rng.standard_normal(th.size))
    hat *= np.exp(-th / 0.02) * 0.4
    n_beats = int(seconds / beat)
    for b in range(n_beats):
        _place(parts["drums"], kick if b % 2 == 0 else 0.7 * snare, b * beat, sr)
        _place(parts["drums"], hat, b * beat, sr)
        _place(parts["drums"], 0.6 * hat, (b + 0.5) * beat, sr)
    roots = [28, 33, 31, 26]  # E1 A1 G1 D1: the bass fundamentals sit where the kick does
    chords = [[64, 67, 71], [64, 69, 72], [62, 67, 71], [62, 66, 69]]
    for b in range(0, n_beats, 4):
        bar = (b // 4) % 4
        for e in range(8):
            m = roots[bar] + (12 if e % 4 == 3 else 0)
            _place(parts["bass"], _note(_hz(m), beat / 2 * 0.9, sr, harmonics=10, decay_s=0.5),
                   (b + e / 2) * beat, sr)
        for m in chords[bar]:
            _place(parts["pad"], 0.5 * _note(_hz(m - 12), 4 * beat, sr, harmonics=6,
                                             attack_s=0.4, tilt=1.5), b * beat, sr)
            for h in (0, 2):
                _place(parts["keys"], 0.4 * _note(_hz(m), 2 * beat, sr, harmonics=10,
                                                  decay_s=0.6, tilt=1.3), (b + h) * beat, sr)
    pos = 0.0
    while pos < n_beats - 1:
        d = float(rng.choice([0.5, 1.0, 1.0, 1.5]))
        m = 72 + int(rng.choice([0, 2, 4, 5, 7, 9, 12]))
        _place(parts["lead"], _note(_hz(m), d * beat * 0.95, sr, harmonics=6, attack_s=0.02,
                                    vibrato=0.004), pos * beat, sr)
        pos += d
    return {k: (0.5 * v / np.abs(v).max()).astype(np.float32) for k, v in parts.items()}


@pytest.fixture(scope="module")
def stems() -> dict[str, np.ndarray]:
    return band()


def ref_lufs(audio: np.ndarray, sample_rate: int) -> float:
    return float(pyln.Meter(sample_rate).integrated_loudness(audio.T.astype(np.float64)))


def ref_true_peak_db(audio: np.ndarray) -> float:
    over = resample_poly(audio.astype(np.float64), 4, 1, axis=-1)
    return 20.0 * math.log10(float(np.abs(over).max()))


def third_octave_db(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """1/3-octave band levels 50 Hz - 12.5 kHz of the mono sum (Welch), independent of the
    code under test."""
    f, p = welch(audio.mean(axis=0), fs=sample_rate, nperseg=8192)
    centres = 1000.0 * 2.0 ** (np.arange(-13, 12) / 3.0)
    return np.array([10 * np.log10(p[(f >= c / 2 ** (1 / 6)) & (f < c * 2 ** (1 / 6))].sum())
                     for c in centres])


def shape_distance_db(a: np.ndarray, b: np.ndarray) -> float:
    diff = a - b
    return float(np.mean(np.abs(diff - diff.mean())))


# --------------------------------------------------------------------------- role detection


def test_roles_are_detected_from_the_audio(stems):
    expected = {"drums": "drums", "bass": "bass", "pad": "pad", "keys": "keys", "lead": "lead"}
    for name, audio in stems.items():
        guess = detect_role(stem_features(audio, sample_rate=SR), name=f"track {len(name)}")
        assert guess.role == expected[name], (name, guess.scores)
        assert guess.confidence > 0.2, (name, guess.scores)


def test_file_name_is_only_a_weak_hint(stems):
    # a drum loop misnamed as a vocal is still drums; a lead named "vox" becomes the vocal
    drums = detect_role(stem_features(stems["drums"], sample_rate=SR), name="Vocal take 3")
    assert drums.role == "drums" and drums.name_hint == "vocal"
    vox = detect_role(stem_features(stems["lead"], sample_rate=SR), name="LeadVox_02")
    assert vox.role == "vocal"
    gtr = detect_role(stem_features(stems["keys"], sample_rate=SR), name="Gtr 2")
    assert gtr.role == "guitar"


def test_tempo_is_read_from_the_drums(stems):
    assert estimate_tempo_bpm(stems["drums"], sample_rate=SR) == pytest.approx(BPM, rel=0.02)
    assert estimate_tempo_bpm(stems["pad"][: SR // 2], sample_rate=SR) is None  # too short


# --------------------------------------------------------------------------- automix


@pytest.fixture(scope="module")
def auto(stems):
    sources = [SourceStem(f"stem{i}", audio, SR) for i, audio in enumerate(stems.values())]
    return automix(sources), list(stems)


def test_automix_decisions(auto, stems):
    result, kinds = auto
    by_kind = {kind: d for kind, d in zip(kinds, result.decisions, strict=True)}
    assert [by_kind[k].role for k in kinds] == ["drums", "bass", "pad", "keys", "lead"]
    assert result.tempo_bpm == pytest.approx(BPM, rel=0.02)
    # lead, bass and drums centred; pad and keys on opposite sides
    assert by_kind["lead"].pan == by_kind["bass"].pan == by_kind["drums"].pan == 0.0
    assert by_kind["pad"].pan * by_kind["keys"].pan < 0
    # high-pass on everything but bass and drums
    assert by_kind["bass"].highpass_hz is None and by_kind["drums"].highpass_hz is None
    assert all(by_kind[k].highpass_hz for k in ("pad", "keys", "lead"))
    # the bass makes room for the kick, low down; the keys make room for the lead
    bass_cuts = by_kind["bass"].cuts
    assert bass_cuts and 40 <= bass_cuts[0].freq_hz <= 130 and bass_cuts[0].gain_db < -1.0
    keys_cuts = by_kind["keys"].cuts
    assert keys_cuts and 200 <= keys_cuts[0].freq_hz <= 5000 and keys_cuts[0].gain_db < -1.0
    report = json.loads(json.dumps(result.to_dict()))
    assert {s["role"] for s in report["stems"]} == {"drums", "bass", "pad", "keys", "lead"}


def test_carving_cut_is_in_the_processed_stem(auto, stems):
    result, kinds = auto
    keys = result.decisions[kinds.index("keys")]
    cut = keys.cuts[0]
    out = result.mix.stems[keys.name]
    f, p_in = welch(stems["keys"], fs=SR, nperseg=8192)
    _, p_out = welch(out.mean(axis=0), fs=SR, nperseg=8192)

    def level(p: np.ndarray, centre: float) -> float:
        sel = (f >= centre / 2 ** (1 / 6)) & (f < centre * 2 ** (1 / 6))
        return 10 * np.log10(p[sel].sum())

    # relative to two octaves up (past the cut), the cut band lost level in the strip
    change = (level(p_out, cut.freq_hz) - level(p_out, 4 * cut.freq_hz)) - (
        level(p_in, cut.freq_hz) - level(p_in, 4 * cut.freq_hz)
    )
    assert change < -1.0


def test_bypassed_bus_sums_to_the_stems(stems):
    sources = [Stem(k, k if k != "lead" else "melody", v) for k, v in stems.items()]
    template = MixTemplate.for_style("rock")  # rock has a bus compressor
    bypassed = mix(sources, sample_rate=SR, template=template, bypass_bus=True, tempo_bpm=BPM)
    total = sum(bypassed.stems.values()) + sum(bypassed.returns.values())
    assert np.abs(total - bypassed.audio).max() <= SUM_TOLERANCE
    assert bypassed.returns["delay"].any() and bypassed.returns["reverb"].any()
    glued = mix(sources, sample_rate=SR, template=template, tempo_bpm=BPM)
    assert not glued.bus_bypassed
    total = sum(glued.stems.values()) + sum(glued.returns.values())
    assert np.abs(total - glued.audio).max() > 10 * SUM_TOLERANCE  # the bus did something


def test_families_and_role_aliases():
    assert family_for_style("jazz-ballad").name == "jazz"
    assert family_for_style("hip-hop-trap").name == "beats"
    assert family_for_style("edm-house").name == "electronic"
    assert family_for_style("string-quartet").name == "orchestral"
    assert family_for_style("polka-fusion").name == "general"
    edm = MixTemplate.for_style("synthwave")
    assert edm.sidechain_duck_db > 0 and "bass" in edm.sidechain_roles
    styled = MixTemplate.for_style("synthwave", {"sidechain_duck_db": 2.0, "level_lu": {"piano": -9}})
    assert styled.sidechain_duck_db == 2.0 and styled.level_lu["keys"] == -9
    result = mix([Stem("p", "Piano", np.zeros((2, SR), np.float32)),
                  Stem("v", "vox", 0.1 * np.ones((2, SR), np.float32))], sample_rate=SR)
    assert result.report["p"].role == "keys" and result.report["v"].role == "vocal"


# --------------------------------------------------------------------------- mix CLI


def _write(path: Path, audio: np.ndarray, sr: int) -> None:
    sf.write(path, audio.T if audio.ndim == 2 else audio, sr, subtype="PCM_24")


@pytest.fixture(scope="module")
def stem_folder(tmp_path_factory, stems) -> Path:
    """Stems as a musician would send them: mixed rates, mono and stereo, different lengths,
    a text file and a silent track."""
    import soxr

    folder = tmp_path_factory.mktemp("stems")
    _write(folder / "Drums.wav", np.stack([stems["drums"], stems["drums"]]), SR)
    _write(folder / "bass_DI.wav", stems["bass"], SR)
    _write(folder / "pad.flac", soxr.resample(np.stack([stems["pad"], np.roll(stems["pad"], 300)]).T,
                                              SR, 48000).T, 48000)
    _write(folder / "keys.wav", soxr.resample(stems["keys"][: 7 * SR], SR, 22050), 22050)
    _write(folder / "Lead.wav", stems["lead"], SR)
    _write(folder / "click.wav", np.zeros(2 * SR, np.float32), SR)
    (folder / "notes.txt").write_text("mix it loud")
    return folder


def test_mix_cli_on_a_folder_of_stems(stem_folder, tmp_path):
    out = tmp_path / "mix.wav"
    res = runner.invoke(app, ["mix", str(stem_folder), "-o", str(out), "--style", "pop"])
    assert res.exit_code == 0, res.output
    assert "notes.txt: not an audio file" in res.output
    assert "'click' is silent" in res.output
    audio, sr = sf.read(out, always_2d=True)
    assert sr == SR and audio.shape == (10 * SR, 2)  # the longest stem, at the common rate
    assert 20 * math.log10(np.abs(audio).max()) == pytest.approx(-6.0, abs=0.1)
    report = json.loads(out.with_suffix(".json").read_text())
    roles = {s["name"]: s["role"] for s in report["stems"]}
    assert roles == {"Drums": "drums", "bass_DI": "bass", "pad": "pad", "keys": "keys",
                     "Lead": "lead", "click": "other"}
    stems_by_name = {s["name"]: s for s in report["stems"]}
    assert stems_by_name["pad"]["source_sample_rate"] == 48000
    assert stems_by_name["click"]["silent"] and stems_by_name["click"]["role_source"] == "silent"
    assert stems_by_name["bass_DI"]["carving"][0]["gain_db"] < 0
    assert report["skipped_files"] == ["notes.txt: not an audio file"]
    for line in ("bass_DI", "gain dB", "LUFS"):
        assert line in res.output


def test_mix_cli_role_override_and_bypassed_stems_sum(stem_folder, tmp_path):
    out, stems_out = tmp_path / "mix.wav", tmp_path / "processed"
    res = runner.invoke(app, ["mix", str(stem_folder), "-o", str(out), "--role", "pad=strings",
                              "--bypass-bus", "--stems-out", str(stems_out), "--style", "rock"])
    assert res.exit_code == 0, res.output
    report = json.loads(out.with_suffix(".json").read_text())
    pad = next(s for s in report["stems"] if s["name"] == "pad")
    assert pad["role"] == "strings" and pad["role_source"] == "given"
    assert report["bus_bypassed"]
    mixed, _ = sf.read(out, always_2d=True)
    files = sorted(stems_out.glob("*.wav"))
    assert {f.stem for f in files} >= {"Drums", "Lead", "fx-reverb", "fx-delay"}
    total = sum(sf.read(f, always_2d=True)[0] for f in files)
    # float32 stems, 24-bit mix: the sum holds to SUM_TOLERANCE plus half a 24-bit step
    assert np.abs(total - mixed).max() <= SUM_TOLERANCE + 2.0**-23


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "no audio stems"),
        (lambda d: (d / "readme.txt").write_text("hi"), "no audio stems"),
        (lambda d: (d / "broken.wav").write_bytes(b"RIFF not really a wav"), "cannot read broken.wav"),
        (lambda d: _write(d / "quiet.wav", np.zeros(SR, np.float32), SR), "every stem is silent"),
    ],
)
def test_mix_cli_bad_input(tmp_path, make, message):
    folder = tmp_path / "in"
    folder.mkdir()
    make(folder)
    res = runner.invoke(app, ["mix", str(folder), "-o", str(tmp_path / "mix.wav")])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
    assert not (tmp_path / "mix.wav").exists()


def test_mix_cli_missing_folder_and_bad_role(tmp_path, stem_folder):
    res = runner.invoke(app, ["mix", str(tmp_path / "nope"), "-o", str(tmp_path / "m.wav")])
    assert res.exit_code == 2 and "cannot find the stems folder" in res.output
    res = runner.invoke(app, ["mix", str(stem_folder), "-o", str(tmp_path / "m.wav"),
                              "--role", "pad=kazoo"])
    assert res.exit_code == 2 and "unknown role 'kazoo'" in res.output


# --------------------------------------------------------------------------- master CLI


@pytest.fixture(scope="module")
def mix_file(tmp_path_factory, stems) -> Path:
    sources = [Stem(k, k if k != "lead" else "melody", v) for k, v in stems.items()]
    audio = mix(sources, sample_rate=SR).audio
    path = tmp_path_factory.mktemp("mix") / "mix.wav"
    _write(path, audio, SR)
    return path


@pytest.mark.parametrize("target", ["spotify", "apple", "youtube", "soundcloud", "cd", "club"])
def test_master_cli_meets_each_target(mix_file, tmp_path, target):
    out = tmp_path / f"{target}.wav"
    res = runner.invoke(app, ["master", str(mix_file), "--target", target, "-o", str(out)])
    assert res.exit_code == 0, res.output
    audio, sr = sf.read(out, always_2d=True)
    lufs_target, ceiling = TARGET_PRESETS[target]
    assert ref_lufs(audio.T, sr) == pytest.approx(lufs_target, abs=0.5)
    assert ref_true_peak_db(audio.T) <= ceiling
    report = json.loads(out.with_suffix(".json").read_text())["master"]
    for key in ("integrated_lufs", "short_term_max_lufs", "loudness_range_lu", "true_peak_dbtp",
                "crest_factor_db"):
        assert report[key] is not None
    for label in ("integrated", "short-term max", "loudness range", "true peak", "crest factor"):
        assert label in res.output
    assert report["multiband"] == (target in ("cd", "club"))


def test_reference_matching_moves_the_spectrum_toward_the_reference(mix_file, tmp_path, stems):
    # a reference with a very different balance: bass-light and bright
    rng = np.random.default_rng(9)
    noise = rng.standard_normal((2, 8 * SR))
    bright = sosfilt(butter(2, 400, "highpass", fs=SR, output="sos"), noise)
    bright += 2.0 * sosfilt(butter(2, 4000, "highpass", fs=SR, output="sos"), noise)
    reference = tmp_path / "reference.wav"
    _write(reference, (0.1 * bright).astype(np.float32), SR)
    out = tmp_path / "matched.wav"
    res = runner.invoke(app, ["master", str(mix_file), "-r", str(reference), "-o", str(out)])
    assert res.exit_code == 0, res.output
    ref_bands = third_octave_db(sf.read(reference, always_2d=True)[0].T, SR)
    before = shape_distance_db(third_octave_db(sf.read(mix_file, always_2d=True)[0].T, SR), ref_bands)
    after = shape_distance_db(third_octave_db(sf.read(out, always_2d=True)[0].T, SR), ref_bands)
    assert after < 0.7 * before, (before, after)
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["reference"]["spectral_distance_db_after"] < report["reference"]["spectral_distance_db_before"]
    plain = tmp_path / "plain.wav"
    assert runner.invoke(app, ["master", str(mix_file), "-o", str(plain)]).exit_code == 0
    unmatched = shape_distance_db(third_octave_db(sf.read(plain, always_2d=True)[0].T, SR), ref_bands)
    assert after < unmatched


def test_master_cli_bad_input(mix_file, tmp_path):
    res = runner.invoke(app, ["master", str(mix_file), "--target", "radio", "-o", str(tmp_path / "o.wav")])
    assert res.exit_code == 2 and "unknown loudness target" in res.output
    silent = tmp_path / "silent.wav"
    _write(silent, np.zeros(3 * SR, np.float32), SR)
    res = runner.invoke(app, ["master", str(silent), "-o", str(tmp_path / "o.wav")])
    assert res.exit_code == 2 and "silent" in res.output
    res = runner.invoke(app, ["master", str(mix_file), "-o", str(tmp_path / "o.mp4")])
    assert res.exit_code == 2 and ".wav or .flac" in res.output


def test_multiband_bands_sum_flat():
    rng = np.random.default_rng(3)
    x = (0.1 * rng.standard_normal((2, 4 * SR))).astype(np.float32)
    total = sum(MultibandCompressor().split(x, SR))
    f, p_in = welch(x[0], fs=SR, nperseg=4096)
    _, p_out = welch(total[0], fs=SR, nperseg=4096)
    band = (f > 30) & (f < 16000)
    assert np.abs(10 * np.log10(p_out[band] / p_in[band])).max() < 0.2


def test_loud_targets_are_louder_than_streaming():
    assert MasterTarget.named("cd").integrated_lufs > MasterTarget.named("spotify").integrated_lufs
    assert MasterTarget.named("club").integrated_lufs > MasterTarget.named("cd").integrated_lufs
    assert MasterTarget.named("club").true_peak_dbtp <= 0.0
