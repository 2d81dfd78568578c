"""Projector Lab — the Gradio app (also the Hugging Face Space entry point).

    python app.py            # http://127.0.0.1:7860
"""

import os

import gradio as gr

from tiny_audio.app.blocks import build_demo
from tiny_audio.app.store import DEFAULT_MODEL, ModelStore

store = ModelStore()
# Load the default model at start-up, not on the first request.
store.get(DEFAULT_MODEL)
demo = build_demo(store)

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        theme=gr.themes.Soft(),
        footer_links=["gradio", "settings"],
    )
