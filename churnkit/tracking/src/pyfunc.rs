//! What makes a logged churnkit model loadable by MLflow's Python side: a `python_function`
//! flavor whose loader (`code/churnkit_pyfunc.py`, numpy and pandas only) reads the model's two
//! JSON files and scores raw customer rows exactly as `churnkit predict` does; the environment
//! files `mlflow models serve` reads; a signature; and an input example.
//!
//! The signature types every input column `any`: raw customer rows arrive as a CSV export
//! has them (numbers stored as text, blanks, `True`/`False`, missing markers), and the loader
//! parses them as churnkit does. A typed signature would make MLflow reject, before the loader
//! sees them, exactly the rows churnkit's preprocessing exists to handle.

use crate::record::{Artifact, PythonFunction, MODEL_DIR};
use churnkit_core::frame::Frame;
use churnkit_core::preprocess::{FeatureTransform, Preprocessor};
use serde_json::{json, Value};

/// The loader module's name.
pub const LOADER_MODULE: &str = "churnkit_pyfunc";
/// Its source.
pub const LOADER: &str = include_str!("../pyfunc/churnkit_pyfunc.py");
/// The Python version the loader is written for (3.9 or later works).
pub const PYTHON_VERSION: &str = "3.11";
/// Rows in the input example.
pub const EXAMPLE_ROWS: usize = 5;

const REQUIREMENTS: &str = "mlflow>=2.9\nnumpy>=1.21\npandas>=1.3\n";

/// The `python_function` flavor and the files it needs under the model folder (`model/`):
/// the loader, `requirements.txt`, `python_env.yaml`, `conda.yaml` and `input_example.json`
/// (the first [`EXAMPLE_ROWS`] rows of `x`, the encoded training rows, turned back into
/// customer values).
pub fn python_function(pre: &Preprocessor, x: &Frame) -> (PythonFunction, Vec<Artifact>) {
    let inputs: Vec<Value> = pre
        .features
        .iter()
        .map(|f| json!({"type": "any", "name": f.name(), "required": true}))
        .collect();
    let outputs = json!([
        {"type": "double", "name": "churn_probability", "required": true},
        {"type": "long", "name": "churn_prediction", "required": true},
    ]);
    let example = input_example(pre, x, EXAMPLE_ROWS);
    let file = |name: &str, body: Vec<u8>| Artifact::new(format!("{MODEL_DIR}/{name}"), body);
    let files = vec![
        file(&format!("code/{LOADER_MODULE}.py"), LOADER.into()),
        file("requirements.txt", REQUIREMENTS.into()),
        file(
            "python_env.yaml",
            format!(
                "python: {PYTHON_VERSION}\nbuild_dependencies:\n  - pip\ndependencies:\n  - -r requirements.txt\n"
            )
            .into_bytes(),
        ),
        file(
            "conda.yaml",
            format!(
                "channels:\n  - conda-forge\ndependencies:\n  - python={PYTHON_VERSION}\n  - pip\n  - pip:\n{}name: churnkit-env\n",
                REQUIREMENTS
                    .lines()
                    .map(|l| format!("    - {l}\n"))
                    .collect::<String>()
            )
            .into_bytes(),
        ),
        file(
            "input_example.json",
            serde_json::to_vec(&example).expect("example serializes"),
        ),
    ];
    let flavor = PythonFunction {
        loader_module: LOADER_MODULE.into(),
        code: "code".into(),
        python_version: PYTHON_VERSION.into(),
        inputs: Value::Array(inputs),
        outputs,
        // What `predict(df, params={"threshold": 0.3})` may change.
        params: json!([{"name": "threshold", "type": "double", "default": 0.5, "shape": null}]),
        input_example: Some("input_example.json".into()),
    };
    (flavor, files)
}

/// Up to `n` rows of `x` (encoded features) as customer values in MLflow's split orient:
/// numeric values unscaled (to 10 significant digits, so 29.85 reads 29.85 and not
/// 29.849999999999998), categories by name, missing values as null.
pub fn input_example(pre: &Preprocessor, x: &Frame, n: usize) -> Value {
    let rows = x.n_rows().min(n);
    let columns: Vec<&str> = pre.features.iter().map(FeatureTransform::name).collect();
    let data: Vec<Vec<Value>> = (0..rows)
        .map(|i| {
            pre.features
                .iter()
                .zip(&x.columns)
                .map(|(f, col)| {
                    let v = col[i];
                    if v.is_nan() {
                        return Value::Null;
                    }
                    match f {
                        FeatureTransform::Numeric { mean, std, .. } => {
                            let raw: f64 = format!("{:.9e}", v * std + mean).parse().unwrap_or(v);
                            json!(raw)
                        }
                        FeatureTransform::Categorical { categories, .. } => {
                            categories.get(v as usize).map_or(Value::Null, |c| json!(c))
                        }
                        _ => Value::Null,
                    }
                })
                .collect()
        })
        .collect();
    json!({"columns": columns, "data": data})
}
