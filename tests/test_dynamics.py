"""Inverse dynamics (musclesim.dynamics.inverse): analytic double pendulum, virtual work through a
coordinate coupler, gradients against finite differences, vmap consistency, bad inputs, and
OpenSim's InverseDynamicsSolver on the same q, q̇, q̈ (9 m/s sprint)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from musclesim import InputError
from musclesim.dynamics.inverse import (
    ExternalLoads,
    apply_couplers,
    batched_generalized_forces,
    external_loads_at,
    generalized_forces as _generalized_forces,
    inverse_dynamics,
    joint_moments as _joint_moments,
    read_external_loads,
)
from musclesim.osim.model import body_poses, load_dynamics_model

# compiled once per model (eager dispatch of the small ops is slower than compiling)
generalized_forces = eqx.filter_jit(_generalized_forces)
joint_moments = eqx.filter_jit(_joint_moments)

# Double pendulum (arbitrary test values, SI): link lengths, mass-centre distances, masses,
# inertias about the mass centre, gravity.
L1, C1, C2 = 0.45, 0.2, 0.25
M1, M2 = 7.0, 3.5
I1, I2 = 0.11, 0.05
G = 9.80665

_PIN = """
<PinJoint name="{name}">
  <socket_parent_frame>{parent}_offset</socket_parent_frame>
  <socket_child_frame>{child}_offset</socket_child_frame>
  <coordinates><Coordinate name="{coord}"><default_value>0</default_value>
    <locked>false</locked></Coordinate></coordinates>
  <frames>
    <PhysicalOffsetFrame name="{parent}_offset"><socket_parent>{parent_path}</socket_parent>
      <translation>{offset}</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame>
    <PhysicalOffsetFrame name="{child}_offset"><socket_parent>/bodyset/{child}</socket_parent>
      <translation>0 0 0</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame>
  </frames>
</PinJoint>"""

_CUSTOM = """
<CustomJoint name="{name}">
  <socket_parent_frame>{parent}_offset</socket_parent_frame>
  <socket_child_frame>{child}_offset</socket_child_frame>
  <coordinates><Coordinate name="{coord}"><default_value>0</default_value>
    <locked>false</locked></Coordinate></coordinates>
  <frames>
    <PhysicalOffsetFrame name="{parent}_offset"><socket_parent>{parent_path}</socket_parent>
      <translation>{offset}</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame>
    <PhysicalOffsetFrame name="{child}_offset"><socket_parent>/bodyset/{child}</socket_parent>
      <translation>0 0 0</translation><orientation>0 0 0</orientation></PhysicalOffsetFrame>
  </frames>
  <SpatialTransform>
    <TransformAxis name="rotation1"><coordinates>{coord}</coordinates><axis>0 0 1</axis>
      {function}</TransformAxis>
    <TransformAxis name="rotation2"><coordinates /><axis>1 0 0</axis>
      <Constant name="function"><value>0</value></Constant></TransformAxis>
    <TransformAxis name="rotation3"><coordinates /><axis>0 1 0</axis>
      <Constant name="function"><value>0</value></Constant></TransformAxis>
    <TransformAxis name="translation1"><coordinates /><axis>1 0 0</axis>
      <Constant name="function"><value>0</value></Constant></TransformAxis>
    <TransformAxis name="translation2"><coordinates /><axis>0 1 0</axis>
      <Constant name="function"><value>0</value></Constant></TransformAxis>
    <TransformAxis name="translation3"><coordinates /><axis>0 0 1</axis>
      <Constant name="function"><value>0</value></Constant></TransformAxis>
  </SpatialTransform>
</CustomJoint>"""

_BODY = """
<Body name="{name}"><mass>{mass}</mass><mass_center>{com}</mass_center>
  <inertia>{inertia}</inertia></Body>"""

_COUPLER = """
<ConstraintSet><objects>
<CoordinateCouplerConstraint name="coupler">
  <isEnforced>true</isEnforced>
  <coupled_coordinates_function>{function}</coupled_coordinates_function>
  <independent_coordinate_names>theta2</independent_coordinate_names>
  <dependent_coordinate_name>beta</dependent_coordinate_name>
  <scale_factor>1</scale_factor>
</CoordinateCouplerConstraint></objects></ConstraintSet>"""


def _write_model(
    path,
    *,
    custom_first: bool = False,
    patella: bool = False,
    joint_tag: str | None = None,
):
    """A planar double pendulum about z (+ optionally a third body coupled to theta2)."""
    bodies = [
        _BODY.format(name="link1", mass=M1, com=f"0 {-C1} 0", inertia=f"0.02 0.03 {I1} 0 0 0"),
        _BODY.format(name="link2", mass=M2, com=f"0 {-C2} 0", inertia=f"0.01 0.02 {I2} 0 0 0"),
    ]
    first = _CUSTOM if custom_first else _PIN
    joints = [
        first.format(
            name="j1",
            parent="ground",
            parent_path="/ground",
            child="link1",
            coord="theta1",
            offset="0 0 0",
            function='<LinearFunction name="function"><coefficients>1 0</coefficients>'
            "</LinearFunction>",
        ),
        _PIN.format(
            name="j2",
            parent="link1",
            parent_path="/bodyset/link1",
            child="link2",
            coord="theta2",
            offset=f"0 {-L1} 0",
        ),
    ]
    constraints = ""
    if patella:
        bodies.append(
            _BODY.format(
                name="cap", mass=0.8, com="0.05 -0.03 0.01", inertia="1e-3 2e-3 3e-3 0 0 0"
            )
        )
        joints.append(
            _CUSTOM.format(
                name="j3",
                parent="link1",
                parent_path="/bodyset/link1",
                child="cap",
                coord="beta",
                offset="0.04 -0.4 0",
                function='<SimmSpline name="function"><x>0 0.5 1 1.5 2</x>'
                "<y>0 -0.3 -0.55 -0.7 -0.8</y></SimmSpline>",
            )
        )
        constraints = _COUPLER.format(
            function="<LinearFunction><coefficients>0.9 0.05</coefficients></LinearFunction>"
        )
    text = (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<OpenSimDocument Version="40000">'
        '<Model name="pendulum"><gravity>0 -9.80665 0</gravity><Ground name="ground" />'
        f"<BodySet><objects>{''.join(bodies)}</objects></BodySet>"
        f"<JointSet><objects>{''.join(joints)}</objects></JointSet>{constraints}"
        "</Model></OpenSimDocument>"
    )
    if joint_tag is not None:
        text = text.replace("PinJoint", joint_tag)
    path.write_text(text)
    return path


def _analytic(q, qd, qdd):
    """Double pendulum, relative second angle: tau = M(q) q̈ + C(q, q̇) + G(q)."""
    t1, t2 = q
    d1, d2 = qd
    a1, a2 = qdd
    c, s = math.cos(t2), math.sin(t2)
    m11 = I1 + I2 + M1 * C1**2 + M2 * (L1**2 + C2**2 + 2 * L1 * C2 * c)
    m12 = I2 + M2 * (C2**2 + L1 * C2 * c)
    m22 = I2 + M2 * C2**2
    h = M2 * L1 * C2 * s
    g1 = (M1 * C1 + M2 * L1) * G * math.sin(t1) + M2 * C2 * G * math.sin(t1 + t2)
    g2 = M2 * C2 * G * math.sin(t1 + t2)
    return np.array(
        [
            m11 * a1 + m12 * a2 - h * (2 * d1 * d2 + d2**2) + g1,
            m12 * a1 + m22 * a2 + h * d1**2 + g2,
        ]
    )


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    return load_dynamics_model(_write_model(tmp_path_factory.mktemp("pend") / "pendulum.osim"))


STATES = [
    ((0.3, 0.9), (1.5, -2.0), (4.0, 3.0)),
    ((-1.2, 2.1), (-3.0, 5.0), (-10.0, 20.0)),
    ((0.0, 0.0), (0.0, 0.0), (0.0, 0.0)),
]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("convention", ["opensim", "exact"])
def test_double_pendulum_analytic(pendulum, state, convention):
    q, qd, qdd = (jnp.asarray(np.array(v, dtype=np.float64)) for v in state)
    tau = generalized_forces(pendulum, q, qd, qdd, convention=convention)
    np.testing.assert_allclose(np.asarray(tau), _analytic(*state), rtol=1e-12, atol=1e-12)


def test_custom_joint_equals_pin_joint(pendulum, tmp_path):
    custom = load_dynamics_model(_write_model(tmp_path / "c.osim", custom_first=True))
    q, qd, qdd = (jnp.asarray(np.array(v, dtype=np.float64)) for v in STATES[0])
    np.testing.assert_allclose(
        np.asarray(generalized_forces(custom, q, qd, qdd)),
        np.asarray(generalized_forces(pendulum, q, qd, qdd)),
        rtol=1e-13,
        atol=1e-13,
    )


def test_external_force_at_mass_centre_cancels_gravity(pendulum):
    """F = (0, m2 g, 0) at link2's mass centre removes link2's weight from both moments."""
    q = jnp.asarray(np.array([0.4, -0.7]))
    zero = jnp.zeros(2)
    rot, pos = body_poses(pendulum, q)
    com2 = pos[1] + rot[1] @ pendulum.mass_center[1]
    loads = ExternalLoads(
        bodies=(1,),
        force=jnp.asarray(np.array([[0.0, M2 * G, 0.0]])),
        point=com2[None, :],
        torque=jnp.zeros((1, 3)),
    )
    tau = np.asarray(generalized_forces(pendulum, q, zero, zero, loads))
    expected = np.array([M1 * C1 * G * math.sin(0.4), 0.0])
    np.testing.assert_allclose(tau, expected, atol=1e-12)


def test_coupler_chain_rule_is_virtual_work(tmp_path):
    """Static pose: the reduced moment equals dV/dq of the potential with beta = f(theta2)."""
    model = load_dynamics_model(_write_model(tmp_path / "p.osim", patella=True))
    assert model.motion_types == ("rotational", "rotational", "coupled")
    zero = jnp.zeros(3)

    def potential(indep):
        q = jnp.concatenate([indep, jnp.zeros(1)])
        q, _, _ = apply_couplers(model, q, zero, zero)
        rot, pos = body_poses(model, q)
        com = pos + jnp.einsum("bij,bj->bi", rot, model.mass_center)
        return -jnp.sum(model.mass * (com @ model.gravity))

    indep = jnp.asarray(np.array([0.3, 1.1]))
    tau = joint_moments(model, jnp.concatenate([indep, jnp.zeros(1)]), zero, zero)
    np.testing.assert_allclose(
        np.asarray(tau[:2]), np.asarray(jax.jit(jax.grad(potential))(indep)), rtol=1e-12
    )
    assert float(tau[2]) == 0.0


def test_gradient_matches_finite_differences(pendulum):
    q0 = np.array([0.3, 0.9])
    qd, qdd = jnp.asarray(np.array([1.5, -2.0])), jnp.asarray(np.array([4.0, 3.0]))

    def f(q):
        tau = generalized_forces(pendulum, q, qd, qdd)
        return tau[0] + 2.0 * tau[1]

    grad = np.asarray(jax.jit(jax.grad(f))(jnp.asarray(q0)))
    h = 1e-6
    fd = [
        (float(f(jnp.asarray(q0 + h * e))) - float(f(jnp.asarray(q0 - h * e)))) / (2 * h)
        for e in np.eye(2)
    ]
    np.testing.assert_allclose(grad, fd, rtol=1e-7)
    # and with respect to a body mass (model parameters are differentiable too):
    # tau_2 is affine in m2, d tau_2 / d m2 = (tau_2 - I2 (a1 + a2)) / m2
    g_mass = jax.grad(
        lambda m: generalized_forces(_with_mass(pendulum, m), jnp.asarray(q0), qd, qdd)[1]
    )(pendulum.mass)
    tau2 = _analytic(q0, np.asarray(qd), np.asarray(qdd))[1]
    expected = (tau2 - I2 * float(qdd[0] + qdd[1])) / M2
    np.testing.assert_allclose(float(g_mass[1]), expected, rtol=1e-12)


def _with_mass(model, mass):
    import equinox as eqx

    return eqx.tree_at(lambda m: m.mass, model, mass)


def test_vmap_equals_frame_by_frame(pendulum):
    rng = np.random.default_rng(1)
    q, qd, qdd = (jnp.asarray(rng.normal(size=(5, 2))) for _ in range(3))
    batched = np.asarray(batched_generalized_forces(pendulum, q, qd, qdd))
    single = np.stack(
        [np.asarray(generalized_forces(pendulum, q[i], qd[i], qdd[i])) for i in range(5)]
    )
    np.testing.assert_allclose(batched, single, rtol=1e-13, atol=1e-12)
    for i in range(5):
        np.testing.assert_allclose(
            single[i], _analytic(*(np.asarray(a[i]) for a in (q, qd, qdd))), rtol=1e-11, atol=1e-11
        )


# ----------------------------------------------------------------------------------------------
# bad inputs
# ----------------------------------------------------------------------------------------------


def test_unknown_joint_type_names_file_and_joint(tmp_path):
    path = _write_model(tmp_path / "ball.osim", joint_tag="BallJoint")
    with pytest.raises(InputError, match=r"ball\.osim.*BallJoint.*j1"):
        load_dynamics_model(path)


def test_unknown_convention(pendulum):
    z = jnp.zeros(2)
    with pytest.raises(InputError, match="convention"):
        generalized_forces(pendulum, z, z, z, convention="simbody?")


def _motion(names, q):
    t = np.arange(q.shape[0]) * 0.01
    return xr.Dataset(
        {"q": (("time", "coordinate"), q)},
        coords={"time": t, "coordinate": np.asarray(names, dtype=object)},
        attrs={"source_path": "trial.mot"},
    )


def test_missing_coordinate_in_motion(pendulum):
    motion = _motion(["theta1"], np.zeros((20, 1)))
    with pytest.raises(InputError, match=r"trial\.mot.*theta2"):
        inverse_dynamics(pendulum, motion, sides=("r",))


def test_nan_in_motion(pendulum):
    q = np.zeros((20, 2))
    q[7, 1] = np.nan
    with pytest.raises(InputError, match=r"trial\.mot.*theta2.*NaN"):
        inverse_dynamics(pendulum, _motion(["theta1", "theta2"], q), sides=("r",))


_LOADS = """<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="30000"><ExternalLoads name="grf"><objects>
<ExternalForce name="F"><applied_to_body>link2</applied_to_body>
<force_expressed_in_body>ground</force_expressed_in_body>
<point_expressed_in_body>ground</point_expressed_in_body>
<force_identifier>ground_force_v</force_identifier>
<point_identifier>ground_force_p</point_identifier>
<torque_identifier>ground_torque_</torque_identifier></ExternalForce>
</objects><datafile>../elsewhere/grf.mot</datafile></ExternalLoads></OpenSimDocument>"""


def _grf_file(path, columns):
    t = np.linspace(0.0, 0.2, 21)
    rows = [["time", *columns]] + [[f"{v:.4f}"] + ["1.0"] * len(columns) for v in t]
    header = f"grf.mot\nversion=1\nnRows={t.size}\nnColumns={len(columns) + 1}\ninDegrees=no\n"
    path.write_text(header + "endheader\n" + "\n".join("\t".join(r) for r in rows) + "\n")
    return path


def test_external_loads_read_and_missing_columns(pendulum, tmp_path):
    full = [f"ground_force_v{a}" for a in "xyz"] + [f"ground_force_p{a}" for a in "xyz"]
    full += [f"ground_torque_{a}" for a in "xyz"]
    xml = tmp_path / "loads.xml"
    xml.write_text(_LOADS)
    _grf_file(tmp_path / "grf.mot", full)  # beside the xml: the xml's ../elsewhere is absent
    specs, data = read_external_loads(xml)
    assert specs[0].body == "link2"
    loads = external_loads_at(pendulum, specs, data, np.array([0.05, 0.1]))
    assert loads.bodies == (1,)
    np.testing.assert_allclose(np.asarray(loads.force), 1.0)
    with pytest.raises(InputError, match="outside the load data"):
        external_loads_at(pendulum, specs, data, np.array([0.1, 0.5]))
    _grf_file(tmp_path / "grf.mot", full[:-1])
    with pytest.raises(InputError, match=r"grf\.mot.*ground_torque_.*2 columns"):
        read_external_loads(xml)


# ----------------------------------------------------------------------------------------------
# OpenSim on the sprint (same q, q̇, q̈)
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sprint_slice(data_dir):
    from musclesim.dynamics.inverse import motion_arrays
    from musclesim.motion.processing import filter_motion, motion_derivatives
    from musclesim.motion.read import read_motion

    model_path = data_dir / "models" / "Sprinter_JA1_scaled.osim"
    model = load_dynamics_model(model_path)
    motion = read_motion(
        data_dir / "kinematics" / "nimblephysics_dorn2012_sprinter" / "run0900cms.mot",
        model=model_path,
    )
    motion = motion_derivatives(filter_motion(motion, 12.0, variables=["q"]))
    q, qd, qdd = motion_arrays(model, motion)
    sl = slice(150, 166)
    arrays = jax.vmap(lambda a, b, c: apply_couplers(model, a, b, c))(
        jnp.asarray(q[sl]), jnp.asarray(qd[sl]), jnp.asarray(qdd[sl])
    )
    return model_path, model, [np.asarray(a) for a in arrays]


@pytest.mark.opensim
@pytest.mark.slow
def test_forward_kinematics_equals_opensim(sprint_slice):
    import opensim as osim

    model_path, model, (q, _, _) = sprint_slice
    osim_model = osim.Model(str(model_path))
    state = osim_model.initSystem()
    coords = osim_model.getCoordinateSet()
    for i, name in enumerate(model.coordinate_names):
        coords.get(name).setValue(state, float(q[0, i]), False)
    osim_model.realizePosition(state)
    rot, pos = body_poses(model, jnp.asarray(q[0]))
    for b, name in enumerate(model.body_names):
        x = osim_model.getBodySet().get(name).getTransformInGround(state)
        r = np.array([[x.R().get(i, j) for j in range(3)] for i in range(3)])
        p = np.array([x.p().get(i) for i in range(3)])
        np.testing.assert_allclose(np.asarray(rot[b]), r, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(np.asarray(pos[b]), p, atol=1e-12, err_msg=name)


@pytest.mark.opensim
@pytest.mark.slow
def test_generalized_forces_equal_opensim_solver(sprint_slice):
    """Same q, q̇, q̈ (12 Hz filtered 9 m/s sprint, 16 frames): every coordinate's generalized
    force within 1e-8 of OpenSim's peak over the slice (rounding only), and the exact
    convention differs from OpenSim only at coordinates the walker knee's chain reaches."""
    from musclesim.twins.dynamics import opensim_inverse_dynamics

    model_path, model, (q, qd, qdd) = sprint_slice
    ours = np.asarray(batched_generalized_forces(model, q, qd, qdd))
    ref = opensim_inverse_dynamics(model_path, q, qd, qdd, model.coordinate_names)
    scale = np.maximum(np.abs(ref).max(axis=0), 1.0)
    assert np.all(np.abs(ours - ref).max(axis=0) <= 1e-8 * scale)
    exact = np.asarray(batched_generalized_forces(model, q, qd, qdd, convention="exact"))
    arm = model.coordinate_names.index("arm_flex_r")
    np.testing.assert_allclose(exact[:, arm], ref[:, arm], rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------------------------
# the public entry point, with external loads (pendulum renamed as a leg)
# ----------------------------------------------------------------------------------------------


def _leg_pendulum(tmp_path):
    """The pendulum with leg names (hip_flexion_r, knee_angle_r, body calcn_r) and loads."""
    path = _write_model(tmp_path / "leg.osim")
    text = path.read_text().replace("theta1", "hip_flexion_r").replace("theta2", "knee_angle_r")
    path.write_text(text.replace("link2", "calcn_r"))
    full = [f"ground_force_v{a}" for a in "xyz"] + [f"ground_force_p{a}" for a in "xyz"]
    full += [f"ground_torque_{a}" for a in "xyz"]
    (tmp_path / "loads.xml").write_text(_LOADS.replace("link2", "calcn_r"))
    _grf_file(tmp_path / "grf.mot", full)
    return path, tmp_path / "loads.xml"


def _swing_motion(t):
    w = 2.0 * math.pi
    q = np.stack([0.3 * np.sin(w * t), 0.8 + 0.4 * np.cos(w * t)], axis=1)
    qd = np.stack([0.3 * w * np.cos(w * t), -0.4 * w * np.sin(w * t)], axis=1)
    qdd = np.stack([-0.3 * w**2 * np.sin(w * t), -0.4 * w**2 * np.cos(w * t)], axis=1)
    return q, qd, qdd


def test_inverse_dynamics_entry_point_with_loads(tmp_path):
    model_path, loads = _leg_pendulum(tmp_path)
    t = np.linspace(0.0, 0.2, 21)
    q, qd, qdd = _swing_motion(t)
    names = ["hip_flexion_r", "knee_angle_r"]
    motion = _motion(names, q).assign_coords(time=t)
    motion["qdot"] = (("time", "coordinate"), qd)
    motion["qddot"] = (("time", "coordinate"), qdd)
    ds = inverse_dynamics(model_path, motion, external_loads=loads, sides=("r",))
    # load: F = (1, 1, 1) N at P = (1, 1, 1) m, free torque (1, 1, 1) N*m on calcn_r (link2)
    force, point, torque = np.ones(3), np.ones(3), np.ones(3)
    expected = np.empty_like(q)
    for i in range(t.size):
        joint2 = L1 * np.array([math.sin(q[i, 0]), -math.cos(q[i, 0]), 0.0])
        ext = [np.cross(point - origin, force)[2] + torque[2] for origin in (np.zeros(3), joint2)]
        expected[i] = _analytic(q[i], qd[i], qdd[i]) - np.array(ext)
    np.testing.assert_allclose(ds["moment"].sel(coordinate=names).values, expected, atol=1e-10)
    assert ds["moment"].attrs["units"] == "N*m"
    assert list(ds["unit"].values) == ["N*m", "N*m"]
    assert not ds["stance"].values.any()  # 1 N vertical is below the 20 N contact threshold
    assert ds["valid"].values.all()
    assert ds.attrs["model_sha256"] and ds.attrs["grf_sha256"]
    assert ds.attrs["external_loads_applied"] == 1


@pytest.mark.opensim
def test_opensim_tool_with_loads_matches_jax(tmp_path):
    """OpenSim's InverseDynamicsTool (its own GCV-spline derivatives and load splines) against
    the JAX entry point on a smooth swing motion of the leg pendulum; inputs unchanged."""
    from musclesim.core.io import sha256_file
    from musclesim.motion.read import read_motion
    from musclesim.twins.dynamics import opensim_inverse_dynamics_tool

    model_path, loads = _leg_pendulum(tmp_path)
    t = np.linspace(0.0, 0.2, 21)
    q, _, _ = _swing_motion(t)
    mot = tmp_path / "swing.mot"
    rows = "\n".join(f"{a:.6f}\t{b:.17g}\t{c:.17g}" for a, (b, c) in zip(t, q, strict=True))
    mot.write_text(
        "swing\nversion=1\nnRows=21\nnColumns=3\ninDegrees=no\nendheader\n"
        f"time\thip_flexion_r\tknee_angle_r\n{rows}\n"
    )
    before = {p: sha256_file(p) for p in (model_path, loads, mot, tmp_path / "grf.mot")}
    out = tmp_path / "out"
    ref = opensim_inverse_dynamics_tool(model_path, mot, external_loads=loads, output_dir=out)
    assert (out / "inverse_dynamics.sto").is_file()
    assert {p: sha256_file(p) for p in before} == before
    ours = inverse_dynamics(model_path, read_motion(mot), external_loads=loads, sides=("r",))
    for name in ("hip_flexion_r", "knee_angle_r"):
        a = ours["generalized_force"].sel(model_coordinate=name).values
        b = ref["generalized_force"].sel(coordinate=name).values
        assert ref.sel(coordinate=name)["unit"].item() == "N*m"
        # interior samples: both interpolate the same smooth record (quintic splines); the
        # end samples differ more because the splines' end conditions differ
        np.testing.assert_allclose(a[3:-3], b[3:-3], atol=2e-3 * np.abs(b).max())


@pytest.mark.opensim
@pytest.mark.parametrize(
    "model_file",
    [
        pytest.param("gait2392_subject01_scaled.osim", marks=pytest.mark.slow),
        pytest.param("Rajagopal2016.osim", marks=pytest.mark.heavy),
        pytest.param("Hamner2010_subject02_registered.osim", marks=pytest.mark.heavy),
        pytest.param("RajagopalLaiUhlrich2023.osim", marks=pytest.mark.heavy),
        pytest.param("OpenCap_LaiUhlrich2022_jump_subject_scaled.osim", marks=pytest.mark.heavy),
    ],
)
def test_other_model_families_equal_opensim_solver(data_dir, model_file):
    """Random states (knee flexed in the model's own sign): every joint type and function in
    the shared models (Pin, Universal, Weld, Custom with Linear, Polynomial, SimmSpline,
    Multiplier functions) gives OpenSim's generalized forces to rounding."""
    from musclesim.twins.dynamics import opensim_inverse_dynamics

    model_path = data_dir / "models" / model_file
    model = load_dynamics_model(model_path)
    rng = np.random.default_rng(3)
    n = len(model.coordinate_names)
    q = np.asarray(model.default_q)[None] + rng.uniform(-0.4, 0.4, size=(4, n))
    sign = -1.0 if model_file.startswith(("gait2392", "Hamner")) else 1.0
    for i, name in enumerate(model.coordinate_names):
        if name in ("knee_angle_r", "knee_angle_l"):
            q[:, i] = sign * rng.uniform(0.2, 1.5, 4)
    qd, qdd = rng.normal(0, 3, size=(4, n)), rng.normal(0, 20, size=(4, n))
    q, qd, qdd = (
        np.asarray(a) for a in jax.vmap(lambda a, b, c: apply_couplers(model, a, b, c))(q, qd, qdd)
    )
    ours = np.asarray(batched_generalized_forces(model, q, qd, qdd))
    ref = opensim_inverse_dynamics(model_path, q, qd, qdd, model.coordinate_names)
    np.testing.assert_allclose(ours, ref, atol=1e-9 * max(1.0, float(np.abs(ref).max())))
