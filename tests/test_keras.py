"""gumbelxp.keras on every Keras backend: training repeats under
keras.utils.set_random_seed, inference draws no noise, and the layers save
and load with the model. Each backend runs in its own process (Keras picks
its backend once, at import)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

keras = pytest.importorskip("keras")
BACKENDS = [b for b in ("tensorflow", "jax", "torch")
            if __import__("importlib").util.find_spec(b) is not None]

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import keras, numpy as np
    import gumbelxp.keras as gxk

    def train(layer):
        keras.utils.set_random_seed(0)
        x = np.random.default_rng(0).normal(size=(512, 8)).astype("float32")
        target = np.eye(4, dtype="float32")[x[:, :4].argmax(1)]
        model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4), layer()])
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
        losses = model.fit(x, target, epochs=3, batch_size=64, verbose=0).history["loss"]
        return model, losses, x

    out = {}
    for name, layer in [("softmax", lambda: gxk.GumbelSoftmax(tau=0.5, hard=True)),
                        ("sigmoid", lambda: gxk.GumbelSigmoid(tau=0.5))]:
        m, a, x = train(layer)
        _, b, _ = train(layer)
        path = os.path.join(sys.argv[1], name + ".keras")
        m.save(path)
        m2 = keras.models.load_model(path)
        p1 = keras.ops.convert_to_numpy(m.predict(x[:16], verbose=0))
        p2 = keras.ops.convert_to_numpy(m2.predict(x[:16], verbose=0))
        z = keras.ops.convert_to_numpy(m.layers[0](x[:16]))  # the logits
        out[name] = {"a": [float(v) for v in a], "b": [float(v) for v in b],
                     "loaded_equal": bool(np.array_equal(p1, p2)),
                     "pred": p1.tolist(), "logits": z.tolist(),
                     "config": m2.layers[-1].get_config()}
    print("RESULT" + json.dumps(out))
""")


@pytest.fixture(scope="module", params=BACKENDS)
def run(request, tmp_path_factory):
    env = dict(os.environ, KERAS_BACKEND=request.param, TF_CPP_MIN_LOG_LEVEL="3")
    d = tmp_path_factory.mktemp(request.param)
    p = subprocess.run([sys.executable, "-c", SCRIPT, str(d)], capture_output=True,
                       text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


@pytest.mark.slow
def test_training_repeats_and_learns(run):
    for name in ("softmax", "sigmoid"):
        r = run[name]
        assert r["a"] == r["b"], name  # set_random_seed makes the noise repeat
        assert r["a"][-1] < r["a"][0], name  # and the model learns


@pytest.mark.slow
def test_inference_is_deterministic_and_saved(run):
    import numpy as np

    sm, sg = run["softmax"], run["sigmoid"]
    assert sm["loaded_equal"] and sg["loaded_equal"]
    assert sm["config"]["tau"] == 0.5 and sm["config"]["hard"] is True
    assert sm["config"]["axis"] == -1 and sg["config"]["tau"] == 0.5
    # no noise in inference: the one-hot of argmax(logits), sigmoid(logits / tau)
    z = np.asarray(sm["logits"])
    np.testing.assert_array_equal(np.asarray(sm["pred"]), np.eye(4)[z.argmax(-1)])
    z = np.asarray(sg["logits"])
    np.testing.assert_allclose(np.asarray(sg["pred"]), 1 / (1 + np.exp(-z / 0.5)), rtol=1e-5)


def test_bad_tau_is_rejected():
    import gumbelxp.keras as gxk

    for tau in (0, -1, float("inf")):
        with pytest.raises(ValueError):
            gxk.GumbelSoftmax(tau=tau)
