"""Table cells: verdict labels keyed by the verdict words of pipeline.core.site_row."""

from __future__ import annotations

from pipeline.core.site_row import VERDICTS
from pipeline.report.tables import _SHORT_VERDICT, verdict_cell, verdict_evidence_cells


def test_every_verdict_word_has_a_short_label_or_passes_through() -> None:
    # the labels the tables have always shown (written out here, not read from the code)
    assert {v: verdict_cell(v) for v in VERDICTS} == {
        "not refuted": "not refuted", "inconclusive": "inconclusive",
        "refuted: under-reported": "refuted: under", "refuted: over-declared": "refuted: over"}
    # a label is the start of its word, and no label stands for a word site_row lacks
    assert set(_SHORT_VERDICT) <= set(VERDICTS)
    for word in VERDICTS:
        assert word.startswith(verdict_cell(word)), word
    assert len({verdict_cell(v) for v in VERDICTS}) == len(VERDICTS)  # still told apart


def test_missing_verdict_and_evidence_are_a_dash() -> None:
    nan = float("nan")  # what a data frame holds for a status stored without them
    assert verdict_cell(None) == verdict_cell(nan) == "-"
    assert verdict_evidence_cells({"verdict_margin": nan, "verdict_physics": nan}) == ["-", "-"]
    assert verdict_evidence_cells({"verdict_margin": 0.5, "verdict_physics": "not refuted"}) \
        == ["0.50", "not refuted"]
