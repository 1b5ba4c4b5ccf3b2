"""File-to-file mixing and mastering, as the `tunesmith mix` and `tunesmith master` commands
run them: read, process, write the audio and a JSON report next to it."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.produce.audio_io import read_audio, read_stem_folder, write_audio
from tunesmith.produce.automix import AutoMixResult, automix
from tunesmith.produce.common import ProduceError, as_stereo
from tunesmith.produce.loudness import LoudnessReport, loudness_report
from tunesmith.produce.mastering import MasterResult, MasterTarget, master
from tunesmith.produce.tonal import TonalBalance, spectral_distance_db

logger = logging.getLogger(__name__)


@dataclass
class MixJob:
    result: AutoMixResult
    report: dict[str, Any]
    audio_path: Path
    report_path: Path
    stems_dir: Path | None
    skipped: list[str]


@dataclass
class MasterJob:
    result: MasterResult
    report: dict[str, Any]
    input_report: LoudnessReport
    audio_path: Path
    report_path: Path


def report_path_for(audio_path: Path) -> Path:
    """`mix.wav` -> `mix.json`."""
    return audio_path.with_suffix(".json")


def _check_output(out: Path) -> Path:
    out = Path(out).expanduser()
    if out.is_dir():
        raise ProduceError(f"{out} is a folder; give a file name like mix.wav")
    if out.suffix.lower() not in (".wav", ".flac"):
        raise ProduceError(f"cannot write {out.name}: use a .wav or .flac file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ProduceError(f"cannot write to {parent}")
    return out


def write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def mix_folder(
    stems_dir: Path,
    out: Path,
    *,
    style: str | None = None,
    sample_rate: int | None = None,
    roles: dict[str, str] | None = None,
    bypass_bus: bool = False,
    stems_out: Path | None = None,
) -> MixJob:
    """Mix every audio file in `stems_dir` into `out` (24-bit), with the report in
    `out`'s .json twin. `stems_out` also writes each processed stem and the effect returns as
    32-bit float WAVs (with `bypass_bus` they sum to the mix)."""
    out = _check_output(out)
    folder = read_stem_folder(stems_dir)
    result = automix(
        folder.stems, style=style, sample_rate=sample_rate, roles=roles, bypass_bus=bypass_bus
    )
    rate = result.sample_rate
    report = result.to_dict()
    report["skipped_files"] = folder.skipped
    report["loudness"] = loudness_report(result.mix.audio, sample_rate=rate).to_dict()
    if stems_out is not None:
        stems_out = Path(stems_out)
        stems_out.mkdir(parents=True, exist_ok=True)
        tracks = {**result.mix.stems, **{f"fx-{k}": v for k, v in result.mix.returns.items()}}
        for name, audio in tracks.items():
            write_audio(stems_out / f"{name}.wav", audio, sample_rate=rate, subtype="FLOAT")
        report["stems_out"] = str(stems_out)
    write_audio(out, result.mix.audio, sample_rate=rate)
    json_path = report_path_for(out)
    write_json(json_path, report)
    return MixJob(result, report, out, json_path, stems_out, folder.skipped)


def master_file(
    input_path: Path,
    out: Path,
    *,
    target: str,
    reference: Path | None = None,
    genre: str | None = None,
) -> MasterJob:
    """Master an audio file to a delivery target, optionally matching a reference's tonal
    balance; writes `out` (24-bit) and its .json report."""
    tgt = MasterTarget.named(target)
    out = _check_output(out)
    audio, rate = read_audio(input_path)
    x = as_stereo(audio, what=Path(input_path).name)
    balance = None
    if reference is not None:
        ref_audio, ref_rate = read_audio(reference)
        balance = TonalBalance.from_audio(
            ref_audio, sample_rate=ref_rate, source=Path(reference).name
        )
    result = master(x, sample_rate=rate, target=tgt, reference=balance, genre=genre)
    input_report = loudness_report(x, sample_rate=rate)
    report: dict[str, Any] = {
        "input": str(input_path),
        "sample_rate": rate,
        "duration_s": round(x.shape[1] / rate, 3),
        "master": result.summary(),
        "input_loudness": input_report.to_dict(),
    }
    if balance is not None:
        before = TonalBalance.from_audio(x, sample_rate=rate)
        after = TonalBalance.from_audio(result.audio, sample_rate=rate)
        report["reference"] = {
            "file": str(reference),
            "spectral_distance_db_before": round(spectral_distance_db(before, balance), 2),
            "spectral_distance_db_after": round(spectral_distance_db(after, balance), 2),
        }
    write_audio(out, result.audio, sample_rate=rate)
    json_path = report_path_for(out)
    write_json(json_path, report)
    return MasterJob(result, report, input_report, out, json_path)


def _fmt(value: float | None, spec: str = ".1f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def mix_summary_lines(job: MixJob) -> list[str]:
    """What the mix engineer decided, one line per stem, for the command line."""
    r = job.report
    lines = [
        f"{'stem':<16} {'role':<8} {'conf':>4} {'gain dB':>8} {'pan':>5} {'HPF Hz':>7} "
        f"{'LUFS':>6}  EQ cuts (masking)"
    ]
    for s in r["stems"]:
        mixed = s.get("mix") or {}
        conf = s.get("detection", {}).get("confidence") if s["role_source"] == "detected" else None
        cuts = ", ".join(f"{c['gain_db']:+.1f} dB @ {c['freq_hz']:.0f} Hz" for c in s["carving"])
        lines.append(
            f"{s['name'][:16]:<16} {s['role']:<8} "
            f"{_fmt(conf, '.2f') if s['role_source'] == 'detected' else s['role_source']:>4} "
            f"{_fmt(mixed.get('gain_db'), '+.1f'):>8} {_fmt(mixed.get('pan'), '+.2f'):>5} "
            f"{_fmt(mixed.get('highpass_hz'), '.0f'):>7} {_fmt(mixed.get('output_lufs')):>6}  "
            f"{cuts if cuts else ('silent: left out' if s['silent'] else '-')}"
        )
    tempo = r["tempo_bpm"]
    bus = "bypassed" if r["bus_bypassed"] else f"glue {r['bus_change_lu']:+.2f} LU"
    lines.append(
        f"template {r['family']} (style {r['style'] or 'none'}), {r['sample_rate']} Hz, "
        f"{r['duration_s']:.1f} s, tempo {_fmt(tempo, '.0f')} bpm, delay {r['delay_ms']:.0f} ms, "
        f"mix bus {bus}"
    )
    loud = r["loudness"]
    lines.append(
        f"mix: {_fmt(loud['integrated_lufs'])} LUFS, peak {_fmt(loud['sample_peak_dbfs'])} dBFS "
        f"(headroom for mastering)"
    )
    return lines


def master_summary_lines(job: MasterJob) -> list[str]:
    """The meters before and after, and what the chain did, for the command line."""
    m = job.report["master"]
    i = job.report["input_loudness"]
    rows = (
        ("integrated", "integrated_lufs", "LUFS"),
        ("short-term max", "short_term_max_lufs", "LUFS"),
        ("loudness range", "loudness_range_lu", "LU"),
        ("true peak", "true_peak_dbtp", "dBTP"),
        ("crest factor", "crest_factor_db", "dB"),
    )
    lines = [f"{'':<16} {'input':>8} {'master':>8}"]
    for label, key, unit in rows:
        lines.append(f"{label:<16} {_fmt(i[key]):>8} {_fmt(m[key]):>8}  {unit}")
    ok_lufs = (
        m["integrated_lufs"] is not None and abs(m["integrated_lufs"] - m["target_lufs"]) <= 0.5
    )
    ok_tp = m["true_peak_dbtp"] is None or m["true_peak_dbtp"] <= m["ceiling_dbtp"]
    lines.append(
        f"target {m['target']}: {m['target_lufs']:g} LUFS {'ok' if ok_lufs else 'MISSED'}, "
        f"ceiling {m['ceiling_dbtp']:g} dBTP {'ok' if ok_tp else 'OVER'}; limiter up to "
        f"{m['limiter_max_reduction_db']:.1f} dB" + (", multiband" if m["multiband"] else "")
    )
    eq = m.get("eq")
    if eq:
        gains = " ".join(f"{hz}:{g:+.1f}" for hz, g in eq["octave_gains_db"].items())
        lines.append(f"EQ toward {eq['target']} (dB per octave band, Hz:dB): {gains}")
    ref = job.report.get("reference")
    if ref:
        lines.append(
            f"spectral distance to the reference: {ref['spectral_distance_db_before']:.2f} -> "
            f"{ref['spectral_distance_db_after']:.2f} dB"
        )
    return lines
