"""The model card's account of a run chain: a run that started from shipped weights (a folder
with weights but no run of its own) ends the chain there and its table says where it started;
the shipped history names folders, never the training machine's paths."""

import json

from tiny_audio.training import model_card


def write_run(folder, init=None, steps=4):
    folder.mkdir(parents=True)
    args = {"lora_rank": 8, "lora_targets": "all", "lm_batch": 16, "lm_lr": 3e-4, "mask": True, "keep": "best",
            "init": str(init) if init else None}
    (folder / "args.json").write_text(json.dumps({"args": args, "machine": {}, "data": {"train_clips": 100}}))
    entries = [{"stage": "lm", "step": 0, "val_loss": 1.0}]
    entries += [{"stage": "lm", "step": s, "loss": 1.0 - s / 10, "seconds": 6.0 * s} for s in range(1, steps + 1)]
    entries += [{"stage": "lm", "step": steps, "val_loss": 0.8}]
    (folder / "loss.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return folder


def test_a_chain_ends_at_shipped_weights_and_its_table_says_it_started_there(tmp_path):
    shipped = tmp_path / "assets"
    shipped.mkdir()
    (shipped / "nano_projector.safetensors").write_bytes(b"")
    first = write_run(tmp_path / "runs" / "first", init=shipped)
    second = write_run(tmp_path / "runs" / "second", init=first)
    chain = model_card.run_chain(second)
    assert [run.name for run in chain] == ["first", "second"]
    rows = model_card.training_rows(chain)
    assert "from the weights then in assets/" in rows[0] and "from first step 4" in rows[1]


def test_the_shipped_history_names_folders_not_server_paths(tmp_path):
    run = write_run(tmp_path / "runs" / "run", init=tmp_path / "assets")
    lines = [{"type": "joined", "run": "run", "how": f"warm from {tmp_path}/assets/",
              "note": f"{tmp_path}/assets kept no training history"}]
    (run / "history.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    shipped = [json.loads(line) for line in model_card.shipped_history(run, model_card.run_chain(run)).splitlines()]
    assert shipped[0]["how"] == "warm from assets/" and shipped[0]["note"] == "assets kept no training history"
    assert [(line["type"], line["stage"]) for line in shipped[1:]] == [("loss", "lm")]
    assert str(tmp_path) not in json.dumps(shipped)
