"""Which files of a Hub checkpoint are fetched, and in what order: config.json alone and checked
first, then the settings files, then only the weights that the layout applies. The Hub is never
reached: each step's patterns are matched against a repository's file list with huggingface_hub's
own filter (the one snapshot_download applies), and the files it selects are copied from a
checkpoint directory into the snapshot folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from huggingface_hub.utils import filter_repo_objects
from test_checkpoints import CLIP, parts, write  # noqa: F401 - parts is a fixture

from tiny_audio import load_model
from tiny_audio.loading.checkpoint import check_config
from tiny_audio.loading.hub import fetch_checkpoint

TOKENIZER = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
             "vocab.json", "merges.txt", "chat_template.jinja"]
# What Tiny Audio copies into every checkpoint beside the weights, and what else a repository
# may hold: none of it is ever fetched.
CODE = ["asr_config.py", "asr_modeling.py", "asr_processing.py", "asr_pipeline.py", "projectors.py"]
DECOYS = [".gitattributes", "README.md", "preprocessor_config.json", "generation_config.json", "training_args.bin",
          "optimizer.pt", "pytorch_model.bin", "checkpoint-500/config.json", "checkpoint-500/model.safetensors",
          "checkpoint-500/adapter_model.safetensors", "merged/model-00001-of-00002.safetensors",
          "merged/model-00002-of-00002.safetensors", "runs/decoder.safetensors", "extra.safetensors"]
CURRENT = {"audio_model_id": "zai-org/GLM-ASR-Nano-2512", "text_model_id": "Qwen/Qwen3-0.6B",
           "projector_type": "mlp", "projector_pool_stride": 4}
COURSE = {"audio_model_id": "facebook/hubert-xlarge-ls960-ft", "text_model_id": "HuggingFaceTB/SmolLM3-3B",
          "audio_downsample_rate": 5}
DECODER_LORA = {"peft_method": "lora", "r": 8, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"]}
ENCODER_LORA = {"r": 8, "lora_alpha": 8, "target_modules": ["q_proj", "k_proj"]}


class Repository:
    """A Hub repository as a file list (and the text of its JSON files); fetching writes the
    selected files into one snapshot folder and records each step."""

    def __init__(self, folder: Path, files: dict[str, object]):
        self.folder, self.files, self.steps = folder, files, []
        folder.mkdir(parents=True)

    def __call__(self, patterns: list[str]) -> Path:
        selected = sorted(filter_repo_objects(self.files, allow_patterns=patterns))
        self.steps.append(selected)
        for name in selected:
            path = self.folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            content = self.files[name]
            path.write_text(json.dumps(content)) if isinstance(content, (dict, list)) else path.write_bytes(b"")
        return self.folder

    @property
    def fetched(self) -> set[str]:
        return {name for step in self.steps for name in step}


def repository(tmp_path, config, weights, settings=None) -> Repository:
    files = {name: b"" for name in TOKENIZER + CODE + DECOYS + weights}
    files.update({"config.json": config, **(settings or {})})
    return Repository(tmp_path / "snapshot", files)


LAYOUTS = {
    # DESIGN.md, "Current Tiny Audio": projector (and a fine-tuned decoder) in model.safetensors,
    # decoder training as a PEFT adapter.
    "current, adapter": (CURRENT, ["model.safetensors", "adapter_model.safetensors"],
                         {"adapter_config.json": {"peft_type": "LORA", "r": 8}},
                         {"model.safetensors", "adapter_model.safetensors", "adapter_config.json"}),
    "current, use_lora false": ({**CURRENT, "use_lora": False}, ["model.safetensors", "adapter_model.safetensors"],
                                {"adapter_config.json": {"peft_type": "LORA", "r": 8}},
                                {"model.safetensors", "adapter_config.json"}),
    "current, fine-tuned decoder": ({**CURRENT, "freeze_language_model": False}, ["model.safetensors"], {},
                                    {"model.safetensors"}),
    "conv (2025-12)": ({**CURRENT, "projector_pool_stride": 2}, ["model.safetensors"], {}, {"model.safetensors"}),
    # "Course-era": projector.safetensors (bare keys), LoRA weights with their *_lora_config.json.
    "course": (COURSE, ["projector.safetensors", "encoder.safetensors", "decoder.safetensors"],
               {"encoder_lora_config.json": ENCODER_LORA, "decoder_lora_config.json": DECODER_LORA},
               {"projector.safetensors", "encoder.safetensors", "decoder.safetensors", "encoder_lora_config.json",
                "decoder_lora_config.json"}),
    "course, decoder LoRA off": (COURSE, ["projector.safetensors", "encoder.safetensors", "decoder.safetensors"],
                                 {"encoder_lora_config.json": ENCODER_LORA,
                                  "decoder_lora_config.json": {**DECODER_LORA, "r": 0}},
                                 {"projector.safetensors", "encoder.safetensors", "encoder_lora_config.json",
                                  "decoder_lora_config.json"}),
    "course, projector in model.safetensors": (COURSE, ["model.safetensors"], {}, {"model.safetensors"}),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_layout_fetches_config_first_then_only_what_it_applies(tmp_path, layout):
    config, weights, settings, expected = LAYOUTS[layout]
    repo = repository(tmp_path, config, weights, settings)
    assert fetch_checkpoint(repo, check_config) == repo.folder
    assert repo.steps[0] == ["config.json"]
    assert repo.steps[1] == sorted(set(TOKENIZER) | (set(settings) & repo.fetched))  # small files only
    assert repo.fetched == {"config.json", *TOKENIZER, *expected}
    assert not any(name.endswith(".py") or "/" in name for name in repo.fetched)


@pytest.mark.parametrize("config, message", [
    ({"text_model_id": "Qwen/Qwen3-0.6B"}, "lacks 'audio_model_id'"),
    ({**CURRENT, "projector_type": "qformer"}, "projector_type 'qformer'"),
    (["not", "an", "object"], "not a JSON object"),
])
def test_a_config_this_app_cannot_load_stops_before_anything_else_is_fetched(tmp_path, config, message):
    repo = repository(tmp_path, config, ["model.safetensors", "adapter_model.safetensors"])
    with pytest.raises(ValueError, match=message):
        fetch_checkpoint(repo, check_config)
    assert repo.steps == [["config.json"]]


def test_a_repository_without_config_json_fetches_nothing_else(tmp_path):
    repo = repository(tmp_path, {}, ["model.safetensors"])
    del repo.files["config.json"]
    with pytest.raises(ValueError, match="has no config.json"):
        fetch_checkpoint(repo, check_config)
    assert repo.steps == [[]]


@pytest.mark.parametrize("layout", ["today", "whisper, fine-tuned decoder", "conv", "course"])
def test_the_fetched_files_alone_load_the_same_model(parts, tmp_path, layout):  # noqa: F811
    """Each layout as Tiny Audio's save path writes it (tests/loading/tiny_checkpoints.py): the
    files the three steps select from its real file list, copied alone into a snapshot folder,
    load to the same model as the whole directory."""
    checkpoint = write(layout, parts, tmp_path / "checkpoint")
    source = checkpoint.directory
    listing = sorted(str(p.relative_to(source)) for p in source.rglob("*") if p.is_file())
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    fetched = []

    def fetch(patterns):
        for name in filter_repo_objects(listing, allow_patterns=patterns):
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / name, snapshot / name)
            fetched.append(name)
        return snapshot

    assert fetch_checkpoint(fetch, check_config) == snapshot
    assert not any(name.endswith(".py") or name == "preprocessor_config.json" for name in fetched)
    whole, selected = load_model(str(source), device="cpu"), load_model(str(snapshot), device="cpu")
    assert selected.name.replace(str(snapshot), "") == whole.name.replace(str(source), "")
    assert selected.notice == whole.notice
    for mine, theirs in zip(selected.projector.state_dict().values(), whole.projector.state_dict().values()):
        assert torch.equal(mine, theirs)
    assert selected.transcribe(CLIP, trace=False).token_ids == whole.transcribe(CLIP, trace=False).token_ids
