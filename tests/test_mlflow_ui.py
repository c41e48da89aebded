"""The MLflow UI where a churn user looks, in a fresh headless Chromium.

MLflow 3's UI opens an experiment in its GenAI view (traces, latency, token usage: all empty for
churnkit). The URLs churnkit prints carry `workflowType=machine_learning`, which opens the
model-training view: the runs table with the Datasets column, and the run page with its
datasets, metrics and model. Screenshots go to ~/.cache/churnkit/browser/.
"""
import os
import pathlib
import re
import time

import pytest
from conftest import headless_chromium, run_churnkit

SHOTS = pathlib.Path.home() / ".cache/churnkit/browser"


@pytest.fixture(scope="module")
def browser():
    driver = headless_chromium("1500,1000")
    yield driver
    driver.quit()


def page_text(driver, url, until, shot, timeout=60):
    """Open `url` and wait until the page's text matches every regex in `until`; save a
    screenshot; return the text."""
    driver.get(url)
    deadline, text = time.time() + timeout, ""
    while time.time() < deadline:
        text = driver.execute_script("return document.body.innerText")
        if all(re.search(u, text) for u in until):
            break
        time.sleep(0.5)
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / shot))
    return text


def test_the_printed_urls_open_the_runs_metrics_and_datasets(browser, churnkit_bin, mlflow_uri, workdir):
    exp = f"ui-{os.getpid()}-{time.time_ns()}"
    out = run_churnkit(churnkit_bin, workdir, "pipeline", "--experiment-name", exp, uri=mlflow_uri).stdout
    run_url = re.search(r"tracked training run on MLflow: (\S+)", out)
    exp_url = re.search(r"the experiment's runs: (\S+)", out)
    assert run_url and exp_url, out
    run_url, exp_url = run_url.group(1), exp_url.group(1)
    assert "workflowType=machine_learning" in run_url and "workflowType=machine_learning" in exp_url

    # The experiment: the runs table, with both runs and the training run's datasets.
    text = page_text(browser, exp_url, [r"train-random-forest", r"sample_data-train"], "mlflow-experiment.png")
    assert "train-random-forest-d10-n100" in text and "Dataset" in text, text[:1500]
    assert "evaluate-random-forest" in text or "+1" in text or "Expand" in text, text[:1500]
    assert "Latency" not in text, "the GenAI overview, not the runs"

    # The run: its datasets (with their context), params and metrics.
    text = page_text(browser, run_url, [r"Datasets", r"sample_data-train", r"Metrics"], "mlflow-run.png")
    assert "train-random-forest-d10-n100" in text and "Training" in text, text[:1500]
    assert "Model training" in text, text[:1500]

    # Without the query the same experiment opens in the GenAI view: the reason for it.
    plain = exp_url.split("?")[0]
    text = page_text(browser, plain, [r"Traces|Latency"], "mlflow-experiment-genai.png", timeout=30)
    assert "sample_data-train" not in text, "MLflow's default view changed: revisit the URLs"
