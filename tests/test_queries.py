"""The cells' queries, through the real engine, against pandas computing the same thing.

The engine library is loaded with ctypes and spoken to on its wire (`method\\n{json}` in,
`ok\\n{json}` or `err\\n{message}` out), exactly as churnkit-cells does. The fixture is a messy,
bank-like table (ids, free text, missing markers, skew) that is not the sample.
"""
import ctypes
import json
import math
import pathlib

import numpy as np
import pandas as pd
import pytest


class Engine:
    def __init__(self, path):
        self.lib = ctypes.CDLL(str(path))
        self.lib.churnkit_engine_call.restype = ctypes.c_void_p
        self.lib.churnkit_engine_call.argtypes = [ctypes.c_char_p, ctypes.c_size_t,
                                                  ctypes.POINTER(ctypes.c_size_t)]
        self.lib.churnkit_engine_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

    def ask(self, method, **fields):
        req = f"{method}\n{json.dumps(fields)}".encode()
        n = ctypes.c_size_t()
        ptr = self.lib.churnkit_engine_call(req, len(req), ctypes.byref(n))
        text = ctypes.string_at(ptr, n.value).decode()
        self.lib.churnkit_engine_free(ptr, n.value)
        status, body = text.split("\n", 1)
        return status, body

    def __call__(self, method, **fields):
        status, body = self.ask(method, **fields)
        assert status == "ok", f"{method}: {body}"
        return json.loads(body)

    def error(self, method, **fields):
        status, body = self.ask(method, **fields)
        assert status == "err", f"{method} answered {body[:200]}"
        return body

    def frame(self, info):
        """An engine table as pandas (numbers where the engine has numbers)."""
        cols = {}
        for c in info["columns"]:
            nums = self("numbers", frame=info["h"], column=c)
            texts = self("strings", frame=info["h"], column=c)
            numeric = all(t is None or n is not None for n, t in zip(nums, texts))
            cols[c] = [np.nan if v is None else v for v in nums] if numeric else texts
        return pd.DataFrame(cols)


@pytest.fixture(scope="module")
def engine(target_dir):
    path = pathlib.Path(target_dir) / "release/libchurnkit_engine.so"
    if not path.is_file():
        pytest.skip(f"no engine at {path} (scripts/test.sh builds it)")
    return Engine(path)


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    rng = np.random.default_rng(11)
    n = 3000
    geo = rng.choice(["France", "Germany", "Spain"], n, p=[0.5, 0.25, 0.25])
    age = np.round(rng.gamma(6, 7, n) + 18)
    balance = np.where(rng.random(n) < 0.35, 0.0, np.round(rng.lognormal(11, 0.6, n), 2))
    products = rng.choice([1, 2, 3, 4], n, p=[0.5, 0.45, 0.04, 0.01])
    logit = -2 + 0.05 * (age - 40) + (geo == "Germany") * 0.8 + (products >= 3) * 2
    exited = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    df = pd.DataFrame({
        "CustomerId": np.arange(15_600_000, 15_600_000 + n),
        "Surname": [f"Name{i % 977} of {i}" for i in range(n)],
        "Geography": geo,
        "Age": age,
        "Balance": balance,
        "NumOfProducts": products,
        "EstimatedSalary": np.round(rng.uniform(10, 200_000, n), 2),
        "Exited": exited,
    })
    df.loc[rng.choice(n, 60, replace=False), "Age"] = np.nan
    path = tmp_path_factory.mktemp("bank") / "bank.csv"
    text = df.to_csv(index=False, float_format="%.10g").replace(",,", ",NA,")
    path.write_text(text)
    return path, pd.read_csv(path, na_values=["NA"])


@pytest.fixture(scope="module")
def loaded(engine, bank):
    return engine("load_csv", path=str(bank[0]))


def test_filter_and_sql_select_the_rows_pandas_selects(engine, bank, loaded):
    _, pdf = bank
    got = engine.frame(engine("filter", frame=loaded["h"], condition="Age > 50 AND Geography = 'Germany'"))
    want = pdf[(pdf.Age > 50) & (pdf.Geography == "Germany")]
    assert len(want) > 50
    assert got.CustomerId.tolist() == want.CustomerId.tolist()
    both = engine("sql", tables=[["self", loaded["h"]]],
                  query="SELECT CustomerId FROM self WHERE Age > 50 AND Geography = 'Germany'")
    assert engine.frame(both).CustomerId.tolist() == want.CustomerId.tolist()


def test_group_by_value_counts_and_crosstab_match_pandas(engine, bank, loaded):
    _, pdf = bank
    g = engine.frame(engine("group_by", frame=loaded["h"], keys=["Geography", "NumOfProducts"],
                            aggs=["avg(Exited) AS churn_rate", "count(*) AS customers"]))
    want = (pdf.groupby(["Geography", "NumOfProducts"]).agg(churn_rate=("Exited", "mean"),
                                                           customers=("Exited", "size")).reset_index())
    assert g.Geography.tolist() == want.Geography.tolist()
    assert g.NumOfProducts.tolist() == want.NumOfProducts.astype(float).tolist()
    np.testing.assert_allclose(g.churn_rate, want.churn_rate, rtol=1e-12)
    assert g.customers.tolist() == want.customers.tolist()

    vc = engine.frame(engine("value_counts", frame=loaded["h"], column="Geography"))
    want = pdf.Geography.value_counts()
    assert vc.Geography.tolist() == want.index.tolist()
    assert vc["count"].tolist() == want.tolist()
    np.testing.assert_allclose(vc.share, want / len(pdf))

    ct = engine.frame(engine("crosstab", frame=loaded["h"], row="Geography", column="NumOfProducts"))
    want = pd.crosstab(pdf.Geography, pdf.NumOfProducts)
    assert ct.Geography.tolist() == want.index.tolist()
    for p in want.columns:
        assert ct[str(p)].tolist() == want[p].tolist()


def test_cut_and_qcut_band_rows_as_pandas(engine, bank, loaded):
    _, pdf = bank
    edges = [18, 30, 40, 50, 60, 120]
    cut = engine.frame(engine("cut", frame=loaded["h"], column="Age", edges=edges, name=None))
    want = pd.cut(pdf.Age, edges)
    # Each row's band is pandas' interval; missing ages (and ages outside) are missing in both.
    for got, w in zip(cut.Age_band, want):
        if isinstance(w, float) or w is None or (not isinstance(w, pd.Interval) and pd.isna(w)):
            assert got is None
        else:
            lo, hi = got.strip("([]").split(", ")
            assert (float(lo), float(hi)) == (w.left, w.right) and got.startswith("(")
    q = engine.frame(engine("qcut", frame=loaded["h"], column="Balance", q=4, name="band"))
    want = pd.qcut(pdf.Balance, 4, duplicates="drop")
    # Balance is 35% zeros: pandas merges the equal edges too; the bands hold the same rows.
    got_codes = q.band.map({b: i for i, b in enumerate(sorted(q.band.dropna().unique(),
                                                              key=lambda s: float(s[1:].split(",")[0])))})
    assert got_codes.tolist() == want.cat.codes.tolist()
    uppers = sorted(float(b.split(", ")[1].rstrip("]")) for b in q.band.dropna().unique())
    np.testing.assert_allclose(uppers, [iv.right for iv in want.cat.categories], rtol=1e-12)


def test_join_with_columns_sort_describe_corr_match_pandas(engine, bank, loaded):
    _, pdf = bank
    seg = pd.DataFrame({"CustomerId": pdf.CustomerId[::3].to_numpy()[::-1],
                        "segment": [f"s{i % 4}" for i in range(len(pdf.CustomerId[::3]))]})
    engine_seg = engine("sql", tables=[["c", loaded["h"]]],
                        query="SELECT CustomerId, CONCAT('s', CAST(MOD(ROW_NUMBER() OVER (ORDER BY CustomerId DESC) - 1, 4) AS VARCHAR)) AS segment "
                              "FROM c WHERE MOD(CustomerId - 15600000, 3) = 0 ORDER BY CustomerId DESC")
    assert engine.frame(engine_seg).segment.tolist() == seg.segment.tolist()
    j = engine.frame(engine("join", frame=loaded["h"], other=engine_seg["h"], on=["CustomerId"], how="left"))
    want = pdf.merge(seg, on="CustomerId", how="left")
    assert j.CustomerId.tolist() == want.CustomerId.tolist()
    assert j.segment.tolist() == [None if pd.isna(s) else s for s in want.segment]

    w = engine.frame(engine("with_columns", frame=loaded["h"],
                            exprs=["Balance / EstimatedSalary AS balance_ratio", "Age * 12 AS Age"]))
    np.testing.assert_allclose(w.balance_ratio, pdf.Balance / pdf.EstimatedSalary, rtol=1e-12)
    np.testing.assert_allclose(w.Age, pdf.Age * 12)
    assert list(w.columns) == list(pdf.columns) + ["balance_ratio"]

    s = engine.frame(engine("sort", frame=loaded["h"], column="Age", descending=True))
    want = pdf.sort_values("Age", ascending=False, kind="stable", na_position="last")
    assert s.CustomerId.tolist() == want.CustomerId.tolist()

    d = engine.frame(engine("describe", frame=loaded["h"]))
    want = pdf.describe()
    for c in ["Age", "Balance", "EstimatedSalary"]:
        np.testing.assert_allclose(d[c], want[c], rtol=1e-9)

    c = engine.frame(engine("corr", frame=loaded["h"]))
    want = pdf.select_dtypes("number").corr()
    assert c.column.tolist() == want.columns.tolist()
    np.testing.assert_allclose(c[want.columns].to_numpy(), want.to_numpy(), rtol=1e-9, atol=1e-12)


def test_a_typo_is_one_line_and_the_engine_keeps_working(engine, loaded):
    e = engine.error("filter", frame=loaded["h"], condition="Agee > 50 AND Geography = 'Germany'")
    assert e == "no column 'Agee'; closest: 'Age'"
    e = engine.error("group_by", frame=loaded["h"], keys=["geography"], aggs=["count(*) AS n"])
    assert e == "no column 'geography'; closest: 'Geography'"
    e = engine.error("sql", tables=[["self", loaded["h"]]], query="SELECT Age FROM self WHERE Age >> 50")
    assert e.startswith("SQL: ") and "\n" not in e and len(e) < 300, e
    e = engine.error("with_columns", frame=loaded["h"], exprs=["Balance / EstimatedSalery AS r"])
    assert "closest: 'EstimatedSalary'" in e, e
    e = engine.error("join", frame=loaded["h"], other=loaded["h"], on=["CustomerID"], how="left")
    assert "closest: 'CustomerId'" in e, e
    e = engine.error("filter", frame=loaded["h"], unknown="x", condition="Age > 1")
    assert "unknown key `unknown`" in e, e
    assert engine("head", frame=loaded["h"], n=3)["height"] == 3


def test_sample_concat_and_atomic_writes(engine, bank, loaded, tmp_path):
    _, pdf = bank
    a = engine.frame(engine("sample", frame=loaded["h"], n=100, seed=5))
    b = engine.frame(engine("sample", frame=loaded["h"], n=100, seed=5))
    assert a.CustomerId.tolist() == b.CustomerId.tolist() and a.CustomerId.is_unique
    both = engine("concat", frames=[loaded["h"], loaded["h"]])
    assert both["height"] == 2 * len(pdf)
    out = tmp_path / "x.csv"
    engine("write_csv", frame=loaded["h"], path=str(out))
    back = pd.read_csv(out)
    assert back.CustomerId.tolist() == pdf.CustomerId.tolist()
    engine("write_parquet", frame=loaded["h"], path=str(tmp_path / "x.parquet"))
    assert pd.read_parquet(tmp_path / "x.parquet").CustomerId.tolist() == pdf.CustomerId.tolist()
    e = engine.error("write_csv", frame=loaded["h"], path=str(tmp_path / "missing/dir/x.csv"))
    assert "missing/dir" in e
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.parquet"]


def test_prepare_with_every_choice(engine, loaded):
    spec = {"target": "Exited", "test_size": 0.25, "seed": 7, "positive": "1", "drop": ["Balance"],
            "keep": [], "categorical": ["NumOfProducts"], "na_values": None}
    d = engine("prepare", frame=loaded["h"], spec=spec)
    assert "NumOfProducts" in d["categorical"] and "Balance" not in d["numeric"]
    reasons = dict(d["excluded"])
    assert "drop" in reasons["Balance"] and "CustomerId" in reasons and "Surname" in reasons
    assert d["test_rows"] == pytest.approx(3000 * 0.25, abs=2)
    e = engine.error("prepare", frame=loaded["h"], spec={**spec, "drop": ["Balanse"]})
    assert "closest: 'Balance'" in e


def test_cross_validation_folds_hold_the_classes_as_sklearn_stratified_kfold(engine, bank, loaded):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    _, pdf = bank
    spec = {"target": "Exited", "test_size": None, "seed": 3, "positive": None, "drop": [], "keep": [],
            "categorical": [], "na_values": None}
    params = {"n_estimators": 100, "max_depth": 10, "min_samples_split": None, "min_samples_leaf": None,
              "max_features": None, "bootstrap": None, "max_bins": None, "seed": None}
    cv = engine("cross_validate", frame=loaded["h"], spec=spec, params=params, folds=5)
    t = engine.frame(cv["table"])
    assert t.fold.tolist() == ["1", "2", "3", "4", "5", "mean", "sd"]
    folds = t.iloc[:5]
    y = pdf.Exited.to_numpy()
    want = [(len(test), int(y[test].sum()))
            for _, test in StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(len(y)), y)]
    assert list(zip(folds.test_rows.astype(int), folds.test_churners.astype(int))) == want
    assert (folds.train_rows + folds.test_rows == len(pdf)).all()
    np.testing.assert_allclose(t.roc_auc.iloc[5], folds.roc_auc.mean(), rtol=1e-12)
    np.testing.assert_allclose(t.roc_auc.iloc[6], folds.roc_auc.std(ddof=1), rtol=1e-9)
    assert cv["roc_auc_mean"] == pytest.approx(t.roc_auc.iloc[5])
    # The same question asked of scikit-learn's forest on the same rows: a close answer (two
    # forests, two sets of folds; the spread between folds is larger than the gap).
    x = pd.get_dummies(pdf.drop(columns=["CustomerId", "Surname", "Exited"]), dtype=float).fillna(-1)
    sk = cross_val_score(RandomForestClassifier(100, max_depth=10, max_features="sqrt", random_state=0, n_jobs=2),
                         x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0), scoring="roc_auc")
    assert abs(cv["roc_auc_mean"] - sk.mean()) < 0.03, (cv["roc_auc_mean"], sk.mean())
    # Too many folds for a class: one line naming the need.
    e = engine.error("cross_validate", frame=loaded["h"], spec=spec, params=params, folds=5000)
    assert "5000 folds need at least 5000 rows of each class" in e, e
