"""The MLflow pyfunc loader (churnkit/tracking/pyfunc/churnkit_pyfunc.py) against `churnkit predict`.

The CLI trains a model (`pipeline`) and scores a CSV (`predict`); the loader, pure Python, reads
the same two JSON files and scores the same rows given as a pandas DataFrame: typed as
`pd.read_csv` makes it, all-string columns, and records of Python numbers. Probabilities must
agree to 1e-9 (they agree bitwise) and predictions exactly: on the guide's sample, a messy
generated table (forest, isotonic and Platt calibration, decision tree), Telco, and rows with
blanks, markers, impossible values and unseen categories.
"""
import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, run_churnkit

sys.path.insert(0, str(REPO / "churnkit/tracking/pyfunc"))
import churnkit_pyfunc  # noqa: E402

TOL = 1e-9
COLUMNS = ["churn_probability", "churn_prediction"]


def pipeline(bin, root, data, *args):
    """Train with `churnkit pipeline` in `root`; returns the model directory the loader reads."""
    run_churnkit(bin, root, "-q", "--no-track", "pipeline", "--data", data, *args)
    model = root / "model"
    model.mkdir()
    shutil.copy(root / "models/churn_model.json", model)
    shutil.copy(root / "data/processed/preprocessor.json", model)
    return model


def cli(bin, root, csv, *args, model=None):
    """`churnkit predict`'s (probabilities, predictions) for `csv` (a path or a DataFrame)."""
    if isinstance(csv, pd.DataFrame):
        path = root / "input.csv"
        csv.to_csv(path, index=False)
        csv = path
    dirs = ["--models-dir", model, "--processed-dir", model] if model else []
    out = root / "scored.csv"
    run_churnkit(bin, root, "-q", "--no-track", "predict", "--input", csv, "--output", out, *dirs, *args)
    s = pd.read_csv(out, dtype=str, keep_default_na=False)
    return s["churn_probability"].map(float).to_numpy(), s["churn_prediction"].map(int).to_numpy()


def check(model, rows, expected, params=None):
    """Score `rows` with the loader and compare with `expected`; returns the largest difference."""
    got = churnkit_pyfunc._load_pyfunc(str(model)).predict(rows, params)
    assert list(got.columns) == COLUMNS and len(got) == len(expected[0])
    assert got.dtypes.tolist() == [np.float64, np.int64]
    diff = float(np.abs(got["churn_probability"].to_numpy() - expected[0]).max())
    assert diff <= TOL, diff
    assert (got["churn_prediction"].to_numpy() == expected[1]).all()
    return diff


def records(df):
    """Rows as dicts of Python values (int, float, str, None): what a JSON request holds."""
    return [{k: (None if pd.isna(v) else v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def all_forms(model, csv, expected, params=None):
    """The loader on `csv` read typed, as all strings, and as records (a list and an object frame)."""
    typed = pd.read_csv(csv)
    text = pd.read_csv(csv, dtype=str, keep_default_na=False)
    recs = records(typed)
    for rows in (typed, text, recs, pd.DataFrame(recs, dtype=object)):
        check(model, rows, expected, params)


@pytest.fixture(scope="module")
def messy(churnkit_bin, tmp_path_factory):
    """The messy generated table and a forest trained on it: (dir, csv, model dir)."""
    root = tmp_path_factory.mktemp("messy")
    run_churnkit(churnkit_bin, root, "-q", "--no-track", "generate", "--rows", 3000, "--shape", "messy",
                 "--seed", 5, "--output", "messy.csv")
    return root, root / "messy.csv", pipeline(churnkit_bin, root, "messy.csv", "--target", "Churn")


def test_sample_data(churnkit_bin, workdir):
    model = pipeline(churnkit_bin, workdir, "data/sample_data.csv")
    csv = workdir / "data/sample_data.csv"
    all_forms(model, csv, cli(churnkit_bin, workdir, csv))
    all_forms(model, csv, cli(churnkit_bin, workdir, csv, "--threshold", "0.3"), {"threshold": 0.3})


@pytest.mark.parametrize("variant,args", [
    ("forest", []),
    ("isotonic", ["--calibrate", "isotonic"]),
    ("platt", ["--calibrate", "platt"]),
    ("decision-tree", ["--model", "decision-tree"]),
])
def test_messy_table(churnkit_bin, messy, tmp_path, variant, args):
    src, csv, model = messy
    if args:
        shutil.copy(csv, tmp_path / "messy.csv")
        model = pipeline(churnkit_bin, tmp_path, "messy.csv", "--target", "Churn", *args)
    saved = json.loads((model / "churn_model.json").read_text())
    assert saved.get("calibration", {}).get("method") == {"isotonic": "isotonic", "platt": "platt"}.get(variant)
    assert saved["kind"] == ("decision-tree" if variant == "decision-tree" else "random-forest")
    expected = cli(churnkit_bin, tmp_path, csv, model=model)
    all_forms(model, csv, expected)
    # The table has blanks and markers in several columns: some rows are scored with missing values.
    assert pd.read_csv(csv)[["Age", "Tenure", "MonthlyCharges", "TotalCharges"]].isna().any(axis=1).sum() > 10


def test_telco(churnkit_bin, telco, tmp_path):
    model = pipeline(churnkit_bin, tmp_path, telco, "--target", "Churn")
    all_forms(model, telco, cli(churnkit_bin, tmp_path, telco))


def awkward(csv):
    """Rows of the messy table with every kind of missing, impossible, unseen and odd value."""
    df = pd.read_csv(csv, nrows=24).astype(object)
    edits = [
        ("Age", None), ("Age", 150), ("Age", " 42 "), ("Age", "?"), ("Age", "30."), ("Age", -1.0),
        ("Tenure", float("nan")), ("Tenure", "N/A"), ("Tenure", "+12"), ("TotalCharges", None),
        ("TotalCharges", " "), ("MonthlyCharges", "1e2"), ("MonthlyCharges", ".5"),
        ("Contract", "Weekly"), ("Contract", " Two year "), ("PaymentMethod", None), ("Gender", ""),
        ("Gender", "null"), ("PaperlessBilling", "maybe"), ("PaperlessBilling", False), ("SeniorCitizen", 1),
    ]
    for i, (col, value) in enumerate(edits):
        df.loc[i, col] = value
    df.loc[22, ["Tenure", "TotalCharges", "Contract"]] = [None, None, "Daily"]  # nothing to fill from
    df.loc[23, ["Age", "Tenure", "MonthlyCharges", "TotalCharges", "Contract", "PaymentMethod"]] = None
    return df


@pytest.mark.parametrize("policy", ["missing", "most-frequent"])
def test_missing_values_and_unseen_categories(churnkit_bin, messy, tmp_path, policy):
    _, csv, model = messy
    df = awkward(csv)
    expected = cli(churnkit_bin, tmp_path, df, "--unknown-category", policy, model=model)
    params = {"unknown_category": policy}
    check(model, df, expected, params)
    check(model, pd.read_csv(tmp_path / "input.csv", dtype=str, keep_default_na=False), expected, params)
    check(model, records(pd.read_csv(tmp_path / "input.csv")), expected, params)
    # An unseen category scores as a missing one by default (params or not).
    if policy == "missing":
        check(model, df, expected)
        blank = df.copy()
        blank.loc[13, "Contract"] = None
        m = churnkit_pyfunc._load_pyfunc(str(model))
        assert m.predict(blank)["churn_probability"][13] == expected[0][13]


def test_bad_input_and_files_are_refused(messy, tmp_path):
    _, csv, model = messy
    m = churnkit_pyfunc._load_pyfunc(str(model))
    df = pd.read_csv(csv, nrows=5)
    with pytest.raises(ValueError, match="'Contract'"):
        m.predict(df.drop(columns=["Contract"]))
    assert len(m.predict(df.drop(columns=["Churn", "Surname"]))) == 5  # the target may be absent
    with pytest.raises(ValueError, match=r"column 'Age', row 1: 'abc' is not a number"):
        m.predict(df.astype({"Age": object}).assign(Age=[40, "abc", 1, 2, 3]))
    with pytest.raises(ValueError, match="not a finite number"):
        m.predict(df.assign(MonthlyCharges=[1.0, np.inf, 1, 2, 3]))
    with pytest.raises(ValueError, match="threshold"):
        m.predict(df, {"threshold": 1.5})
    saved = json.loads((model / "churn_model.json").read_text())
    for key, value, message in [("format", "other", "not a churnkit model"),
                                ("format_version", 9, "format_version 9")]:
        bad = tmp_path / key
        shutil.copytree(model, bad)
        (bad / "churn_model.json").write_text(json.dumps(dict(saved, **{key: value})))
        with pytest.raises(ValueError, match=message):
            churnkit_pyfunc._load_pyfunc(str(bad))
    pre = json.loads((model / "preprocessor.json").read_text())
    (bad / "preprocessor.json").write_text(json.dumps(dict(pre, format_version=1)))
    with pytest.raises(ValueError, match="preprocessor format_version 1"):
        churnkit_pyfunc._load_pyfunc(str(bad))


def test_format_version_2_models_load(churnkit_bin, messy, tmp_path):
    _, csv, model = messy
    saved = json.loads((model / "churn_model.json").read_text())
    v2 = tmp_path / "v2"
    shutil.copytree(model, v2)
    trees = [{k: v for k, v in t.items() if k != "cover"} for t in saved["trees"]]
    (v2 / "churn_model.json").write_text(json.dumps(dict(saved, format_version=2, trees=trees)))
    expected = cli(churnkit_bin, tmp_path, csv, model=v2)  # the CLI still reads it, too
    check(v2, pd.read_csv(csv), expected)


def test_through_mlflow(churnkit_bin, messy, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.models import Model, ModelSignature
    from mlflow.types import ParamSchema, ParamSpec

    _, csv, model = messy
    path = tmp_path / "mlmodel"
    shutil.copytree(model, path)
    (path / "code").mkdir()
    shutil.copy(churnkit_pyfunc.__file__, path / "code")
    m = Model(signature=ModelSignature(inputs=None, params=ParamSchema([ParamSpec("threshold", "double", 0.5)])))
    m.add_flavor("python_function", loader_module="churnkit_pyfunc", code="code",
                 python_version=".".join(map(str, sys.version_info[:3])))
    m.save(str(path / "MLmodel"))
    loaded = mlflow.pyfunc.load_model(str(path))
    rows = pd.read_csv(csv)
    for t in (0.5, 0.3):
        expected = cli(churnkit_bin, tmp_path, csv, "--threshold", t, model=model)
        got = loaded.predict(rows, params={"threshold": t})
        assert np.abs(got["churn_probability"].to_numpy() - expected[0]).max() <= TOL
        assert (got["churn_prediction"].to_numpy() == expected[1]).all()


def test_booleans_spelled_in_lower_case_are_the_trained_categories(churnkit_bin, tmp_path):
    """A table trained with True/False and scored with true/false (as Parquet and DataFrames
    write them): the same category for the CLI and the loader, not an unseen one."""
    rng = np.random.default_rng(3)
    n = 600
    flag = rng.random(n) < 0.4
    x = rng.normal(size=n)
    y = np.where(rng.random(n) < np.where(flag, 0.7, 0.2), "Yes", "No")
    data = tmp_path / "flags.csv"
    pd.DataFrame({"x": x.round(4), "flag": np.where(flag, "True", "False"), "Churn": y}).to_csv(data, index=False)
    model = pipeline(churnkit_bin, tmp_path, data, "--target", "Churn")
    lower = pd.DataFrame({"x": x[:50].round(4), "flag": np.where(flag[:50], "true", "false")})
    capital = lower.assign(flag=np.where(flag[:50], "True", "False"))
    expected = cli(churnkit_bin, tmp_path, capital, model=model)
    assert (cli(churnkit_bin, tmp_path, lower, model=model)[0] == expected[0]).all()
    check(model, lower, expected)
    check(model, lower.assign(flag=flag[:50]), expected)
