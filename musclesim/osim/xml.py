"""Reading OpenSim ``.osim`` files without OpenSim.

The parser refuses DTDs and entity declarations (``defusedxml``), so a hostile or broken file
cannot make it read other files or expand entities. Everything here returns plain Python
values; JAX objects are built by the callers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from ..core.errors import InputError

#: Muscle classes whose parameters musclesim can read, mapped the way OpenSim's own
#: ``DeGrooteFregly2016Muscle::replaceMuscles`` maps them.
SUPPORTED_MUSCLE_CLASSES = (
    "DeGrooteFregly2016Muscle",
    "Millard2012EquilibriumMuscle",
    "Thelen2003Muscle",
)


def parse_osim(path: str | Path) -> ET.Element:
    """Parse an ``.osim`` file safely and return the root ``<OpenSimDocument>`` element.

    Raises :class:`InputError` naming the file when it is missing, not XML, truncated, or not
    an OpenSim model.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", path=path, expected="an OpenSim .osim model file")
    try:
        tree = DET.parse(path, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InputError(
            f"refused unsafe XML ({exc.__class__.__name__})",
            path=path,
            expected="an .osim file without DTD or entity declarations",
        ) from exc
    except ET.ParseError as exc:
        raise InputError(
            f"malformed or truncated XML ({exc})", path=path, expected="a complete .osim file"
        ) from exc
    root = tree.getroot()
    if root.tag != "OpenSimDocument" or root.find("Model") is None:
        raise InputError(
            f"root element is <{root.tag}>", path=path, expected="<OpenSimDocument><Model ...>"
        )
    return root


def model_element(root: ET.Element) -> ET.Element:
    """The ``<Model>`` element of a parsed document."""
    return root.find("Model")


def muscle_elements(root: ET.Element) -> dict[str, ET.Element]:
    """All muscle elements of the model's ForceSet, by name, in file order.

    Every class whose tag ends in ``Muscle`` is listed, supported or not, so that callers can
    say which class an unsupported muscle has.
    """
    out: dict[str, ET.Element] = {}
    forceset = model_element(root).find("ForceSet/objects")
    if forceset is None:
        return out
    for element in forceset:
        if element.tag.endswith("Muscle") and element.get("name"):
            out[element.get("name")] = element
    return out


def child_text(element: ET.Element, tag: str) -> str | None:
    """Text of the first direct child called ``tag`` (searching one level of nested curve
    elements as well, e.g. ``<FiberForceLengthCurve><strain_at_one_norm_force>``), or None."""
    found = element.find(tag)
    return None if found is None or found.text is None else found.text.strip()


def child_float(element: ET.Element, tag: str, *, path: str | Path, context: str) -> float | None:
    """A child's text as a float, None when absent; a clear error when it is not a number."""
    text = child_text(element, tag)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(
            f"value {text!r} is not a number",
            path=path,
            field=f"{context}/{tag}",
            expected="a real number",
        ) from exc
    return value


def child_bool(element: ET.Element, tag: str) -> bool | None:
    """A child's text as a bool (OpenSim writes ``true``/``false``), None when absent."""
    text = child_text(element, tag)
    if text is None:
        return None
    return text.lower() in ("true", "1")
