"""Projector Lab — the Gradio app (also the Hugging Face Space entry point).

    python app.py            # http://127.0.0.1:7860

Served beyond localhost (GRADIO_SERVER_NAME=0.0.0.0) or on a Space it runs in public mode: only
the models named in TINY_AUDIO_ALLOWED_MODELS (and nano, and TINY_AUDIO_MODEL) can be chosen.
See tiny_audio/app/serving.py.
"""

import logging
import os
import sys
import tempfile
from pathlib import Path

# Gradio's cache (uploads, returned files) in a folder of this app's own, read when gradio is
# imported: what a killed earlier run left there can then be swept at start-up.
OWN_CACHE = Path(tempfile.gettempdir()) / "projector-lab-gradio"
owns_cache = "GRADIO_TEMP_DIR" not in os.environ
os.environ.setdefault("GRADIO_TEMP_DIR", str(OWN_CACHE))

import gradio as gr

from tiny_audio.app.blocks import build_demo
from tiny_audio.app.run import load_problem
from tiny_audio.app.serving import launch, serving_from_env, sweep_stale_files
from tiny_audio.app.store import DEFAULT_MODEL, ModelStore
from tiny_audio.app.views import remove_orphaned_downloads

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request Gradio makes to itself
if owns_cache:
    sweep_stale_files(OWN_CACHE)
remove_orphaned_downloads()

serving = serving_from_env(DEFAULT_MODEL)
store = ModelStore(allowed=serving.allowed)
try:  # load the default model at start-up, not on the first request
    store.get(DEFAULT_MODEL)
except Exception as error:
    reason = load_problem(error)
    if reason is None:
        raise
    sys.exit(f"Projector Lab cannot start: the model '{DEFAULT_MODEL}' did not load: {reason}")
demo = build_demo(store, quota=serving.quota, slots=serving.slots)

if __name__ == "__main__":
    if serving.public:
        logging.getLogger("tiny_audio.app").info("public mode: visitors may choose %s", ", ".join(serving.offered))
    launch(demo, serving, theme=gr.themes.Soft(), footer_links=["gradio", "settings"])
