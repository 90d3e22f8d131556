"""musclesim's shipped data, installed as the package ``musclesim.models``: fitted geometry and
muscle parameters per model (``*.nc``), drill definitions, derived kinematic templates, the
example athlete and tolerance policies. Only data lives here; the library finds the folder
through :data:`musclesim.core.io.MODELS_DIR`."""
