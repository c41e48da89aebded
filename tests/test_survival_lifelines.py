"""`churnkit survival` against lifelines, the reference implementation of the same estimators:
Kaplan-Meier curves and their log-log bands, the log-rank test, and Cox proportional hazards
(Efron ties, L2 penalty) with its concordance, on Telco and on a generated table whose true
hazard is known.

The Cox design is read back from the model churnkit saved (models/survival_model.json), so both
fit exactly the same covariate matrix.
"""
import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from conftest import run_churnkit

lifelines = pytest.importorskip("lifelines")
from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402
from lifelines.statistics import multivariate_logrank_test  # noqa: E402


def survival(bin, cwd, *args):
    run_churnkit(bin, cwd, "-q", "--no-track", "survival", *args)
    out = cwd / "metrics/survival"
    model = json.loads((cwd / "models/survival_model.json").read_text())
    return out, model


def design(df, model):
    """The covariate matrix the saved model describes, built with pandas."""
    cols = {}
    for c in model["design"]["covariates"]:
        if c["kind"] == "numeric":
            v = pd.to_numeric(df[c["column"]].replace(r"^\s*$", np.nan, regex=True), errors="coerce")
            cols[f'{c["column"]}'] = v.fillna(c["fill"]).astype(float)
        else:
            cols[f'{c["column"]}={c["level"]}'] = (df[c["column"]].astype(str) == c["level"]).astype(float)
    return pd.DataFrame(cols)


def check_kaplan_meier(km_csv, df, duration, event, by):
    ours = pd.read_csv(km_csv, dtype={"group": str}, keep_default_na=False)
    groups = [("all", df)] + [(str(g), part) for g, part in df.groupby(by)] if by else [("all", df)]
    assert list(dict.fromkeys(ours["group"])) == [g for g, _ in groups]
    for name, part in groups:
        kmf = KaplanMeierFitter().fit(part[duration], part[event])
        mine = ours[ours["group"] == name].reset_index(drop=True)
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_
        table = kmf.event_table
        assert np.array_equal(mine["time"].to_numpy(), sf.index.to_numpy(dtype=float)), name
        np.testing.assert_allclose(mine["survival"], sf.to_numpy(), rtol=0, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(mine["ci_lower"], ci.iloc[:, 0].to_numpy(), rtol=0, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(mine["ci_upper"], ci.iloc[:, 1].to_numpy(), rtol=0, atol=1e-9, err_msg=name)
        assert mine["at_risk"].tolist() == table["at_risk"].astype(int).tolist(), name
        assert mine["events"].tolist() == table["observed"].astype(int).tolist(), name
        assert mine["censored"].tolist() == table["censored"].astype(int).tolist(), name
    return ours


def check_logrank(logrank_json, df, duration, event, by):
    ours = json.loads(logrank_json.read_text())
    theirs = multivariate_logrank_test(df[duration], df[by], df[event])
    assert ours["df"] == theirs.degrees_of_freedom
    assert abs(ours["statistic"] - theirs.test_statistic) <= 1e-6 * max(1.0, theirs.test_statistic)
    assert abs(ours["p_value"] - theirs.p_value) <= 1e-6
    return ours, theirs


def check_cox(out, model, df, duration, event, penalizer):
    X = design(df, model)
    X["T"], X["E"] = df[duration].to_numpy(float), df[event].to_numpy(int)
    cph = CoxPHFitter(penalizer=penalizer).fit(X, "T", "E")
    ours = pd.read_csv(out / "cox.csv").set_index("feature")
    theirs = cph.summary
    assert list(ours.index) == list(theirs.index)
    np.testing.assert_allclose(ours["coef"], theirs["coef"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours["se"], theirs["se(coef)"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(ours["p"], theirs["p"], rtol=1e-2, atol=1e-6)
    summary = json.loads((out / "summary.json").read_text())
    assert abs(summary["cox"]["concordance"] - cph.concordance_index_) <= 1e-6
    assert abs(summary["cox"]["log_likelihood"] - cph.log_likelihood_) <= 1e-4 * abs(cph.log_likelihood_) or penalizer > 0
    return cph


@pytest.fixture(scope="module")
def telco_df(telco):
    df = pd.read_csv(telco)
    df["E"] = (df["Churn"] == "Yes").astype(int)
    return df


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_telco_matches_lifelines(tmp_path, churnkit_bin, telco, telco_df, penalizer):
    out, model = survival(churnkit_bin, tmp_path, "--data", telco, "--event", "Churn", "--by", "Contract",
                          "--penalizer", penalizer)
    check_kaplan_meier(out / "kaplan_meier.csv", telco_df, "tenure", "E", "Contract")
    ours, _ = check_logrank(out / "logrank.json", telco_df, "tenure", "E", "Contract")
    assert ours["statistic"] > 1000  # contracts differ enormously
    # The running total of the tenure is left out, and said.
    notes = json.loads((out / "summary.json").read_text())["cox"]["left_out"]
    assert any(n.startswith("TotalCharges: left out, it follows tenure") for n in notes), notes
    check_cox(out, model, telco_df, "tenure", "E", penalizer)


def test_telco_logrank_p_value_in_its_range(tmp_path, churnkit_bin, telco, telco_df):
    # gender barely matters: a p-value far from 0 and 1 checks the chi-square tail itself.
    out, _ = survival(churnkit_bin, tmp_path, "--data", telco, "--event", "Churn", "--by", "gender")
    ours, theirs = check_logrank(out / "logrank.json", telco_df, "tenure", "E", "gender")
    assert 0.05 < theirs.p_value < 0.95, theirs.p_value
    summary = json.loads((out / "summary.json").read_text())
    kmf = KaplanMeierFitter().fit(telco_df["tenure"], telco_df["E"])
    for t, s in summary["survival_at"]["all"].items():
        assert abs(s - float(kmf.survival_function_at_times(float(t)).iloc[0])) < 1e-9


def generated(n, seed):
    """Exponential lifetimes with hazard 0.02 x exp(0.6 x - 0.4 y + 0.8 [plan = b]), censored
    at a uniform time up to 60 months: the true log hazard ratios are 0.6, -0.4 and 0.8."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = rng.uniform(0, 3, size=n)
    plan = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    lp = 0.6 * x - 0.4 * y + 0.8 * (plan == "b")
    t = rng.exponential(1 / (0.02 * np.exp(lp)))
    c = rng.uniform(0, 60, size=n)
    months = np.ceil(np.minimum(t, c))  # whole months: many ties, as a real tenure has
    left = np.where(t <= c, "Yes", "No")
    charge = np.round(rng.uniform(20, 110, size=n), 2)
    return pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(n)], "months": months.astype(int),
                         "x": np.round(x, 6), "y": np.round(y, 6), "plan": plan,
                         "MonthlyCharge": charge, "Churn": left})


def test_generated_known_hazard(tmp_path, churnkit_bin):
    df = generated(20000, 5)
    df.to_csv(tmp_path / "gen.csv", index=False)
    out, model = survival(churnkit_bin, tmp_path, "--data", "gen.csv", "--event", "Churn", "--by", "plan",
                          "--drop", "MonthlyCharge")
    assert model["duration"] == "months"  # proposed from the name
    df["E"] = (df["Churn"] == "Yes").astype(int)
    check_kaplan_meier(out / "kaplan_meier.csv", df, "months", "E", "plan")
    check_logrank(out / "logrank.json", df, "months", "E", "plan")
    check_cox(out, model, df, "months", "E", 0.0)
    cox = pd.read_csv(out / "cox.csv").set_index("feature")
    truth = {"x": 0.6, "y": -0.4, "plan=b": 0.8, "plan=c": 0.0}
    for name, beta in truth.items():
        # Whole-month ties bias Efron slightly towards 0; 4 standard errors + 5% covers it.
        assert abs(cox.loc[name, "coef"] - beta) < 4 * cox.loc[name, "se"] + 0.05 * abs(beta), (name, cox.loc[name])


def lifetime_values_by_hand(model, df, charge, horizon=36, margin=0.3, rate=0.10):
    """docs/survival.md's formula, in numpy, from the saved model's coefficients and baseline."""
    cox = model["cox"]
    X = design(df, model).to_numpy()
    lp = (X - np.array(cox["means"])) @ np.array(cox["coef"])
    times, H = np.array(cox["baseline_times"]), np.array(cox["baseline_cumulative_hazard"])

    def H0(t):
        i = np.searchsorted(times, t, side="right")
        return np.where(i == 0, 0.0, H[np.maximum(i - 1, 0)])

    tenure = df[model["duration"]].to_numpy(float)
    monthly = (1 + rate) ** (1 / 12) - 1
    total = np.zeros(len(df))
    now = np.exp(-H0(tenure) * np.exp(lp))
    for m in range(horizon):
        stay = np.minimum(np.exp(-H0(tenure + m) * np.exp(lp)) / now, 1.0)
        total += stay / (1 + monthly) ** m
    return margin * df[charge].to_numpy(float) * total


def test_value_columns_and_value_aware_targeting(tmp_path, churnkit_bin, telco, telco_df):
    run_churnkit(churnkit_bin, tmp_path, "-q", "--no-track", "pipeline", "--data", telco, "--target", "Churn")
    _, model = survival(churnkit_bin, tmp_path, "--data", telco, "--event", "Churn")
    run_churnkit(churnkit_bin, tmp_path, "-q", "--no-track", "evaluate", "--threshold", "optimal",
                 "--survival-model", "models/survival_model.json")
    run_churnkit(churnkit_bin, tmp_path, "-q", "--no-track", "predict", "--input", telco, "--output", "scored.csv",
                 "--survival-model", "models/survival_model.json")
    scored = pd.read_csv(tmp_path / "scored.csv")
    ltv = lifetime_values_by_hand(model, telco_df, "MonthlyCharges")
    np.testing.assert_allclose(scored["lifetime_value"], ltv, rtol=1e-9, atol=1e-9)
    p = scored["churn_probability"].to_numpy()
    np.testing.assert_allclose(scored["value_at_risk"], p * ltv, rtol=1e-9)
    np.testing.assert_allclose(scored["expected_gain"], p * 0.3 * ltv - 50, rtol=1e-9, atol=1e-9)

    t = json.loads((tmp_path / "metrics/value_targeting.json").read_text())
    decisions = json.loads((tmp_path / "metrics/decisions.json").read_text())
    same, single = t["value_ranked"], t["single_threshold"]
    assert same["offers"] == single["offers"]
    # Ranking by expected gain can only reach more value per offer than ranking by score alone
    # when values differ; on Telco it finds more expected profit with the same offers.
    assert same["expected_profit"] > single["expected_profit"], t
    assert abs(t["gain_same_offers"] - (same["expected_profit"] - single["expected_profit"])) < 1e-6
    # The single threshold is the one the evaluation chose out of bag.
    assert single["rule"] == f'score >= {decisions["threshold"]["threshold"]:.4f}', single["rule"]


def test_survival_run_on_mlflow_loads_back(tmp_path, churnkit_bin, workdir, mlflow_uri):
    import mlflow
    from mlflow.tracking import MlflowClient

    run_churnkit(churnkit_bin, workdir, "-q", "survival", "--by", "Contract", "--experiment-name", "survival-test",
                 uri=mlflow_uri)
    client = MlflowClient(mlflow_uri)
    exp = client.get_experiment_by_name("survival-test")
    runs = client.search_runs([exp.experiment_id], "tags.`churnkit.step` = 'survival'")
    assert runs, "no survival run on the server"
    run = runs[0]
    ours = json.loads((workdir / "metrics/survival/summary.json").read_text())
    assert run.data.metrics["concordance"] == pytest.approx(ours["cox"]["concordance"], abs=1e-12)
    assert run.data.metrics["logrank_p_value"] == pytest.approx(ours["logrank"]["p_value"], rel=1e-9)
    assert run.data.params["by"] == "Contract"
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"kaplan_meier.csv", "cox.csv", "summary.json", "survival_curves.png", "hazard_ratios.png",
            "logrank.json", "model"} <= names, names
    local = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="model",
                                                dst_path=str(tmp_path / "dl"), tracking_uri=mlflow_uri)
    # A logged model MLflow knows by its MLmodel file and flavor.
    assert "churnkit_survival:" in (pathlib.Path(local) / "MLmodel").read_text()
    logged = pathlib.Path(local) / "survival_model.json"
    assert logged.read_bytes() == (workdir / "models/survival_model.json").read_bytes()
    # churnkit loads the logged model back and scores with it.
    run_churnkit(churnkit_bin, workdir, "-q", "--no-track", "pipeline")
    run_churnkit(churnkit_bin, workdir, "-q", "--no-track", "predict", "--input", "data/sample_data.csv",
                 "--output", "scored.csv", "--survival-model", logged)
    scored = pd.read_csv(workdir / "scored.csv")
    assert scored["lifetime_value"].gt(0).all()
