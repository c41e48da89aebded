"""Parquet input: the same table as CSV and as Parquet (all text, or typed as pandas writes it)
gives the same processed features and metrics; a broken file gets a one-line error."""
import json

import pandas as pd
from conftest import run_churnkit


def _pipeline(bin, cwd, data):
    run_churnkit(bin, cwd, "-q", "--no-track", "pipeline", "--data", data, "--target", "Churn")
    files = {f: (cwd / "data/processed" / f).read_bytes() for f in ["X_train.csv", "X_test.csv", "y_test.csv"]}
    auc = json.loads((cwd / "models/train_run.json").read_text())["metrics"]["roc_auc"]
    return files, auc


def test_parquet_and_csv_give_the_same_features(tmp_path, churnkit_bin):
    run_churnkit(churnkit_bin, tmp_path, "-q", "generate", "--rows", "3000", "--shape", "messy", "--output", "m.csv")
    text = pd.read_csv(tmp_path / "m.csv", dtype=str, keep_default_na=False)
    text.to_parquet(tmp_path / "text.parquet")
    typed = pd.read_csv(tmp_path / "m.csv", na_values=["?"])
    assert typed["Tenure"].dtype == float and typed["PaperlessBilling"].dtype == bool
    typed.to_parquet(tmp_path / "typed.parquet")
    runs = {}
    for name in ["m.csv", "text.parquet", "typed.parquet"]:
        d = tmp_path / name.replace(".", "_")
        d.mkdir()
        runs[name] = _pipeline(churnkit_bin, d, tmp_path / name)
    assert runs["text.parquet"] == runs["m.csv"]
    assert runs["typed.parquet"] == runs["m.csv"]


def test_a_broken_parquet_file_is_a_data_error(tmp_path, churnkit_bin):
    run_churnkit(churnkit_bin, tmp_path, "-q", "generate", "--rows", "200", "--output", "g.csv")
    pd.read_csv(tmp_path / "g.csv").to_parquet(tmp_path / "g.parquet")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes((tmp_path / "g.parquet").read_bytes()[:300])
    r = run_churnkit(churnkit_bin, tmp_path, "--no-track", "pipeline", "--data", broken, "--target", "Churn", check=False)
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith(f"churnkit: error: {broken}: not readable as Parquet"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = run_churnkit(churnkit_bin, tmp_path, "--no-track", "pipeline", "--data", tmp_path / "g.parquet",
                     "--target", "Exited", check=False)
    assert r.returncode == 3 and "missing required column 'Exited'" in r.stderr, r.stderr
    assert str(tmp_path / "g.parquet") in r.stderr
    assert not (tmp_path / "data/processed").exists()
