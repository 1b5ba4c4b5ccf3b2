"""A picture of the whole arrangement: one colour per track, section boundaries marked."""

from __future__ import annotations

from pathlib import Path

from tunesmith.score import Score

_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
            "#bfef45", "#469990", "#9a6324")


def draw_pianoroll(score: Score, path: Path, *, title: str = "") -> None:
    """Pitched tracks on top (pitch vs seconds), drums in a lane below, sections labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    spb = score.seconds_per_beat
    pitched = [t for t in score.tracks if not t.is_drum and t.notes]
    drums = [t for t in score.tracks if t.is_drum and t.notes]
    fig, axes = plt.subplots(2 if drums else 1, 1, figsize=(18, 8 if drums else 6), dpi=100,
                             sharex=True, gridspec_kw={"height_ratios": [4, 1]} if drums else None,
                             squeeze=False)
    ax = axes[0][0]
    handles = []
    for i, t in enumerate(pitched):
        colour = _COLOURS[i % len(_COLOURS)]
        polys = [[(n.start_beat * spb, n.pitch - 0.4), (n.end_beat * spb, n.pitch - 0.4),
                  (n.end_beat * spb, n.pitch + 0.4), (n.start_beat * spb, n.pitch + 0.4)]
                 for n in t.notes]
        on_top = t.role == "melody"
        coll = PolyCollection(polys, facecolors=colour, alpha=1.0 if on_top else 0.75,
                              edgecolors="black" if on_top else "none", linewidths=0.6,
                              zorder=3 if on_top else 2,
                              label=f"{t.name} ({t.instrument})" if t.instrument else t.name)
        ax.add_collection(coll)
        handles.append(coll)
    pitches = [n.pitch for t in pitched for n in t.notes] or [60]
    ax.set_ylim(min(pitches) - 2, max(pitches) + 4)
    ax.set_xlim(0, score.duration_s + 0.5)
    ax.set_ylabel("MIDI pitch")
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8, ncol=min(len(handles), 6))
    axes_all = [a[0] for a in axes]
    if drums:
        dax = axes[1][0]
        for t in drums:
            dax.scatter([n.start_beat * spb for n in t.notes], [n.pitch for n in t.notes],
                        s=6, c=_COLOURS[(len(pitched)) % len(_COLOURS)], marker="|")
        dax.set_ylabel("drums")
        dax.set_yticks([36, 38, 42, 49, 51], ["kick", "snare", "hat", "crash", "ride"], fontsize=7)
    for a in axes_all:
        for s in score.sections:
            a.axvline(s.start_beat * spb, color="black", lw=0.8, alpha=0.6)
    for s in score.sections:
        ax.text(s.start_beat * spb + 0.3, max(pitches) + 2.5, s.label, fontsize=8, va="center")
    axes_all[-1].set_xlabel("time (s)")
    ax.set_title(title or f"{score.key.name}, {score.tempo_bpm:g} bpm")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
