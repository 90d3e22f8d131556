"""``python -m validation.uncertainty`` at a reduced size: every section passes (Monte Carlo
mean against the deterministic run, sprint spread against the published values, sensitivity
ranking against the published studies, the 5-degree what-if against re-simulation) and the
report names each with its figures."""

from __future__ import annotations

from validation import uncertainty


def test_uncertainty_validation_passes_at_a_reduced_size(tmp_path):
    code = uncertainty.main(
        ["--out", str(tmp_path), "--samples", "40", "--sobol-samples", "16", "--seed", "1"]
    )
    report = (tmp_path / "uncertainty.md").read_text()
    assert code == 0, report
    for title in ("near-linear", "maximal sprinting", "Sensitivities", "what-if"):
        assert title in report
    assert "MISS" not in report
    for png in ("uncertainty_linear.png", "uncertainty_sprint.png", "uncertainty_whatif.png"):
        assert (tmp_path / png).is_file()
