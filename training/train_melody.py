"""Train the melody model on POP909 and rebuild the originality index.

    python training/train_melody.py [DATA_DIR] [--epochs 20] [--limit N]

Songs 001-800 train, 801-850 validate (model selection: the epoch with the lowest validation
negative log-likelihood per note is kept); 851-909 (test) are never read here. Writes
`src/tunesmith/models/melody.npz` (weights, float32) and `src/tunesmith/models/melody-ngrams.npz`
(hashes of every 8-note window of the training melodies). Needs torch (CPU) for training only:
`pip install torch==2.13.0`. Under an hour on 2 cores (see MODEL_CARD.md for the last run).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from tunesmith.compose.melody_model import (
    N_COND_DUR,
    N_COND_GAP,
    N_COND_PITCH,
    N_DUR,
    N_GAP,
    N_INPUT,
    N_INT,
    N_PHI_PITCH,
    N_PHI_TIME,
    EncodedMelody,
    encode,
)
from tunesmith.compose.meter import Meter
from tunesmith.compose.originality import build_index
from tunesmith.compose.pop909 import LeadSheet, default_data_dir, load_split, sheet_contexts

MODELS = Path(__file__).resolve().parents[1] / "src" / "tunesmith" / "models"
CACHE = Path(__file__).resolve().parents[1] / ".bench-cache"
HIDDEN = 128
HEAD_HIDDEN = 96


def encode_sheet(sheet: LeadSheet) -> EncodedMelody:
    return encode(sheet.notes, sheet_contexts(sheet), Meter(sheet.beats_per_bar, sheet.compound))


def _stack(encs: list[EncodedMelody]) -> dict[str, np.ndarray]:
    """Concatenate songs; `offsets` marks where each song starts."""
    out = {f: np.concatenate([getattr(e, f) for e in encs]) for f in (
        "inputs", "gap_cond", "gap_phi", "dur_cond", "dur_phi", "pitch_cond", "pitch_phi",
        "gap", "dur", "interval", "mask")}
    out["offsets"] = np.cumsum([0] + [len(e.inputs) for e in encs])
    return out


def load_encoded(split: str, data: Path, limit: int | None) -> dict[str, np.ndarray]:
    tag = f"{split}-{limit or 'all'}-{N_INPUT}-{N_PHI_TIME}-{N_PHI_PITCH}"  # features changed: new cache
    cache = CACHE / f"melody-encoded-{tag}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    t0 = time.perf_counter()
    sheets = load_split(split, data, limit=limit)
    arrays = _stack([encode_sheet(s) for s in sheets if len(s.notes) > 8])
    CACHE.mkdir(exist_ok=True)
    arrays = {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in arrays.items()}
    np.savez(cache, **arrays)
    print(f"encoded {split}: {len(arrays['offsets']) - 1} songs, {len(arrays['gap'])} notes "
          f"in {time.perf_counter() - t0:.0f} s")
    return arrays


def build_torch_model(hidden: int = HIDDEN, head_hidden: int = HEAD_HIDDEN):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    class Head(nn.Module):
        def __init__(self, cond: int, k: int, f: int) -> None:
            super().__init__()
            self.fc = nn.Linear(hidden + cond, head_hidden)
            self.out = nn.Linear(head_hidden, k)
            self.gate = nn.Linear(head_hidden, f)
            self.drop = nn.Dropout(0.1)

        def forward(self, h, cond, phi):  # type: ignore[no-untyped-def]
            hid = self.drop(torch.relu(self.fc(torch.cat([h, cond], -1))))
            return self.out(hid) + torch.einsum("nf,nkf->nk", self.gate(hid), phi)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(N_INPUT, hidden, batch_first=True)
            self.gap = Head(N_COND_GAP, N_GAP, N_PHI_TIME)
            self.dur = Head(N_COND_DUR, N_DUR, N_PHI_TIME)
            self.pitch = Head(N_COND_PITCH, N_INT, N_PHI_PITCH)

    return Net()


def _batches(arrays: dict[str, np.ndarray], batch_songs: int, rng: np.random.Generator | None):
    """Yield (padded inputs [B, T, D], flat row index of each valid step, batch row/time)."""
    off = arrays["offsets"]
    songs = np.arange(len(off) - 1)
    lengths = np.diff(off)
    if rng is not None:
        # Shuffle, then sort within chunks so a batch holds songs of similar length.
        songs = rng.permutation(songs)
        chunks = [sorted(songs[i:i + batch_songs * 8], key=lambda s: lengths[s])
                  for i in range(0, len(songs), batch_songs * 8)]
        groups = [c[i:i + batch_songs] for c in chunks for i in range(0, len(c), batch_songs)]
        groups = [groups[i] for i in rng.permutation(len(groups))]
    else:
        songs = sorted(songs, key=lambda s: lengths[s])
        groups = [songs[i:i + batch_songs] for i in range(0, len(songs), batch_songs)]
    for g in groups:
        t_max = int(max(lengths[s] for s in g))
        x = np.zeros((len(g), t_max, N_INPUT), np.float32)
        rows, bi, ti = [], [], []
        for b, s in enumerate(g):
            a, e = off[s], off[s + 1]
            x[b, :e - a] = arrays["inputs"][a:e].astype(np.float32)
            valid = np.flatnonzero(arrays["mask"][a:e])
            rows.append(a + valid)
            bi.append(np.full(len(valid), b))
            ti.append(valid)
        yield x, np.concatenate(rows), np.concatenate(bi), np.concatenate(ti)


def _losses(net, arrays, x, rows, bi, ti):  # type: ignore[no-untyped-def]
    import torch
    from torch.nn.functional import cross_entropy

    states, _ = net.gru(torch.from_numpy(x))
    h = states[torch.from_numpy(bi), torch.from_numpy(ti)]

    def t(name: str) -> torch.Tensor:
        a = arrays[name][rows]
        return torch.from_numpy(a.astype(np.float32) if a.dtype == np.float16 else a)

    out = []
    for head, cond, phi, target in ((net.gap, "gap_cond", "gap_phi", "gap"),
                                    (net.dur, "dur_cond", "dur_phi", "dur"),
                                    (net.pitch, "pitch_cond", "pitch_phi", "interval")):
        logits = head(h, t(cond), t(phi))
        out.append(cross_entropy(logits, t(target).long(), reduction="sum"))
    return out


def evaluate(net, arrays) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    import torch

    net.eval()
    totals = [0.0, 0.0, 0.0]
    n = 0
    with torch.no_grad():
        for x, rows, bi, ti in _batches(arrays, 32, None):
            for k, loss in enumerate(_losses(net, arrays, x, rows, bi, ti)):
                totals[k] += float(loss)
            n += len(rows)
    net.train()
    per = [v / n / math.log(2) for v in totals]
    return sum(per), per


def export(net, path: Path) -> None:  # type: ignore[no-untyped-def]
    weights = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    np.savez_compressed(path, **weights)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=default_data_dir())
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-songs", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N songs of each split")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hidden", type=int, default=HIDDEN, help="GRU units")
    ap.add_argument("--head-hidden", type=int, default=HEAD_HIDDEN, help="units per head")
    ap.add_argument("--out", type=Path, default=MODELS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.perf_counter()
    train = load_encoded("train", args.data, args.limit)
    valid = load_encoded("validation", args.data, args.limit)

    # The originality index: every 8-note window of the training melodies.
    sheets = load_split("train", args.data, limit=args.limit)
    index = build_index(s.notes for s in sheets)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "melody-ngrams.npz", hashes=index)  # hashes do not compress
    print(f"originality index: {len(index)} distinct 8-note windows from {len(sheets)} songs")

    net = build_torch_model(args.hidden, args.head_hidden)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, weight_decay=1e-6)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    rng = np.random.default_rng(args.seed)
    best = math.inf
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        total, n = 0.0, 0
        for x, rows, bi, ti in _batches(train, args.batch_songs, rng):
            losses = _losses(net, train, x, rows, bi, ti)
            loss = sum(losses) / len(rows)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(rows)
            n += len(rows)
        sched.step()
        v_bits, parts = evaluate(net, valid)
        mark = ""
        if v_bits < best:
            best = v_bits
            export(net, args.out / "melody.npz")
            mark = "  (saved)"
        print(f"epoch {epoch + 1:2d}: train {total / n / math.log(2):.3f} bits/note, validation "
              f"{v_bits:.3f} (gap {parts[0]:.3f}, duration {parts[1]:.3f}, interval {parts[2]:.3f})"
              f" {time.perf_counter() - t0:.0f} s{mark}")
    print(f"best validation {best:.3f} bits/note; total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
