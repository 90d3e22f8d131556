"""The Dorn 2012 sprint trials of subject JA1 in the shared data (paths relative to it), and
the scaled model they pair with (``../shared/data/SOURCES.md``, section 2)."""

SPRINTER_MODEL = "models/Sprinter_JA1_scaled.osim"
#: Nominal speed (m/s) → IK motion file.
SPRINT_TRIALS = {
    3.5: "kinematics/nimblephysics_dorn2012_sprinter/run0350cms.mot",
    5.0: "kinematics/nimblephysics_dorn2012_sprinter/run0500cms.mot",
    7.0: "kinematics/nimblephysics_dorn2012_sprinter/run0700cms.mot",
    9.0: "kinematics/nimblephysics_dorn2012_sprinter/run0900cms.mot",
}
