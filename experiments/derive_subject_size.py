"""Derive each shipped model's body mass and standing height (needs OpenSim and ../shared/data).

Mass: ``Model.getTotalMass`` (exact). Height: not stored in an ``.osim``; estimated from the
default (upright) pose as (height of the C7 marker - height of the lowest foot marker) / 0.818,
the C7 (shoulder-level) fraction of stature in Drillis & Contini's segment proportions (Drillis R,
Contini R, 1966, Body segment parameters, Report 1166-03, New York University; as tabulated in
Winter DA, Biomechanics and Motor Control of Human Movement, 4th ed. 2009, fig. 4.1,
DOI 10.1002/9780470549148). Used as the reference size when musclesim scales a model's muscle
parameters to an athlete. Writes ``models/subjects/<name>.toml``.
Run: ``python -m experiments.derive_subject_size``.
"""

from __future__ import annotations

from pathlib import Path

C7_FRACTION_OF_STATURE = 0.818  # Drillis & Contini 1966 (Winter 2009, fig. 4.1)
MODELS = {
    "sprinter_ja1": "models/Sprinter_JA1_scaled.osim",
    "rajagopal2016": "models/Rajagopal2016.osim",
}
OUT = Path(__file__).resolve().parent.parent / "models/subjects"


def build(data_dir: Path, rel: str) -> dict:
    import opensim as osim

    osim.Logger.setLevelString("warn")
    model = osim.Model(str(data_dir / rel))
    state = model.initSystem()
    model.realizePosition(state)
    markers = model.getMarkerSet()
    heights = {
        markers.get(i).getName(): markers.get(i).getLocationInGround(state).get(1)
        for i in range(markers.getSize())
    }
    lowest = min(heights.values())
    return {
        "mass_kg": model.getTotalMass(state),
        "height_m": (heights["C7"] - lowest) / C7_FRACTION_OF_STATURE,
    }


def run(data_dir: Path) -> list[Path]:
    from musclesim.core.io import sha256_file, write_text_atomic

    written = []
    for name, rel in MODELS.items():
        size = build(data_dir, rel)
        text = (
            f"# Reference body size of the shipped model {name!r}, derived by "
            "experiments/derive_subject_size.py\n"
            f'source = "{rel}"\nsource_sha256 = "{sha256_file(data_dir / rel)}"\n'
            f"mass_kg = {size['mass_kg']:.3f}  # OpenSim Model.getTotalMass\n"
            f"height_m = {size['height_m']:.3f}  # estimate: C7 height above the lowest foot "
            f"marker / {C7_FRACTION_OF_STATURE} (Drillis & Contini 1966)\n"
        )
        written.append(write_text_atomic(OUT / f"{name}.toml", text))
    return written


def main(argv=None) -> int:
    from musclesim.core.io import shared_data_dir

    for path in run(shared_data_dir()):
        print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
