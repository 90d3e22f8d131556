"""``musclesim --precision float32 simulate`` runs without warnings, stays float32, and stays
close to float64 along the 9 m/s sprint (the bounds of the fixed-step solver's own accuracy
check, 2e-4 fibre strain and 0.1 % of peak tendon force, plus float32 rounding)."""

from __future__ import annotations

from experiments import float32_simulate


def test_float32_simulate_matches_float64_without_warnings(tmp_path, capsys):
    code = float32_simulate.main(["--out", str(tmp_path), "--muscles", "bflh_r", "soleus_r"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "float32 warnings: 0" in printed
    rows = {line.split()[0]: line.split() for line in printed.splitlines()[2:4]}
    assert set(rows) == {"bflh_r", "soleus_r"}
    for row in rows.values():
        strain, of_peak, dtype = float(row[1]), float(row[3]), row[4]
        assert dtype == "float32"
        assert 0 < strain < 5e-4  # float32 does differ, by little
        assert of_peak < 2e-3


def test_warnings_are_found_in_stderr():
    text = "compiling\nUserWarning: something\nfine\nRuntimeWarning: overflow"
    assert len(float32_simulate.warnings_in(text)) == 2
