"""The verdict on one clip: does the projector's output look like the LLM's own token
embeddings? Each number beside the same number for an untrained projector of the same shape
(seeded) on the same encoder frames, with what the number means and what good is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tiny_audio.report.table import Table

if TYPE_CHECKING:
    from tiny_audio.pipeline.baseline import Baseline

# How close counts as "close": a scale within 25% of the embeddings', under a third of the
# histogram mass misplaced, and most dimensions in range.
GOOD_RMS = (0.8, 1.25)
GOOD_TOTAL_VARIATION = 0.3
GOOD_AGREEMENT = 0.5


def verdict_line(baseline: Baseline) -> str:
    """One sentence: close or not, and the untrained projector's figure for scale."""
    trained, untrained = baseline.trained, baseline.untrained
    c = trained.comparison
    close = (GOOD_RMS[0] <= c.rms_ratio <= GOOD_RMS[1] and c.total_variation <= GOOD_TOTAL_VARIATION
             and trained.agreement >= GOOD_AGREEMENT)
    head = ("**Verdict: the projector's output looks like the LLM's own token embeddings.**" if close else
            "**Verdict: the projector's output does not yet look like the LLM's own token embeddings.**")
    return (f"{head} Its values are {c.rms_ratio:.2f}× as loud as the embeddings' (untrained: "
            f"{untrained.comparison.rms_ratio:.1f}×), its histogram is {c.total_variation:.2f} away from theirs "
            f"(untrained: {untrained.comparison.total_variation:.2f}; 0 = identical, 1 = no overlap), and "
            f"{trained.agreement:.0%} of its dimensions sit where theirs do (untrained: {untrained.agreement:.0%}).")


def verdict_table(baseline: Baseline) -> Table:
    """The numbers side by side, each with what it measures and what good is."""
    t, u = baseline.trained, baseline.untrained
    rows = [
        ["loudness: RMS ÷ embeddings' RMS", f"{t.comparison.rms_ratio:.2f}×", f"{u.comparison.rms_ratio:.2f}×",
         "1.00× (0.8–1.25 is close)"],
        ["spread: σ ÷ embeddings' σ", f"{t.comparison.std_ratio:.2f}×", f"{u.comparison.std_ratio:.2f}×", "1.00×"],
        ["histogram distance (total variation)", f"{t.comparison.total_variation:.2f}",
         f"{u.comparison.total_variation:.2f}", f"0 = identical, 1 = disjoint (≤ {GOOD_TOTAL_VARIATION} is close)"],
        ["values outside the embeddings' range", f"{t.comparison.outside_fraction:.1%}",
         f"{u.comparison.outside_fraction:.1%}", "0%"],
        ["dimensions in range (mean within 1 σ, σ within 2×)", f"{t.agreement:.0%}", f"{u.agreement:.0%}",
         f"100% (≥ {GOOD_AGREEMENT:.0%} is close)"],
    ]
    return Table(["measure", "trained", f"untrained (seed {baseline.seed})", "good is"], rows, align="lrrl")
