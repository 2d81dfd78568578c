"""The page's own styling: the transcript large and first, tables whose numbers never wrap, a
phone's one column, and figures that follow the light or dark theme.

Gradio 6 takes ``css`` at ``launch()``, not in ``gr.Blocks()``; ``Page`` brings its CSS to
whichever ``launch()`` serves it (the app, a Space, a test), so no caller can forget it.
"""

from __future__ import annotations

import gradio as gr

NARROW_CSS_PX = 700  # the width below which the page is laid out for a phone

CSS = f"""
#transcript textarea {{ font-size: 1.4rem; line-height: 1.45; font-weight: 500; }}
#words p, #verdict p {{ margin: 0.2em 0; }}
/* A number never breaks over two lines ("1.0 / 4"); a wide table scrolls instead. */
#stats td, #stats td *, #trace td, #trace td *, #gap td {{ white-space: nowrap; }}
#gap table {{ display: block; overflow-x: auto; }}
@media (max-width: {NARROW_CSS_PX}px) {{
  /* Plotly's toolbar sits over a figure's title on a narrow screen; pinch-zoom does its work. */
  .js-plotly-plot .modebar-container {{ display: none !important; }}
  .gradio-container {{ padding-left: 6px !important; padding-right: 6px !important; }}
  #examples, #examples table {{ display: block; overflow-x: auto; max-width: 100%; }}
}}
/* Figures are drawn on a transparent ground; in the dark theme their text takes the theme's colour
   (every subplot's ticks and titles too: x2tick, y3title, …). Text inside the data keeps its own. */
.dark .js-plotly-plot .main-svg g[class*="tick"] text, .dark .js-plotly-plot .main-svg g[class*="title"] text,
.dark .js-plotly-plot .main-svg .gtitle, .dark .js-plotly-plot .main-svg .legendtext,
.dark .js-plotly-plot .main-svg .annotation-text, .dark .js-plotly-plot .main-svg .cbaxis text {{
  fill: var(--body-text-color) !important;
}}
"""

# The page's width, read once it has loaded: figures for a phone are laid out differently.
PAGE_WIDTH_JS = "() => window.innerWidth"


class Page(gr.Blocks):
    """``gr.Blocks`` that launches with the page's CSS unless the caller brings its own."""

    def launch(self, *args, css: str | None = None, **kwargs):
        return super().launch(*args, css=CSS if css is None else css, **kwargs)
