//! What every run record of the workflow shares: the split as MLflow datasets, metric maps.

use churnkit_core::io::sha256_bytes;
use churnkit_core::preprocess::Processed;
use std::collections::BTreeMap;

/// The two sides of the split as MLflow datasets: `<file stem>-train` (context `training`) and
/// `<file stem>-test` (`evaluation`). The digest identifies the rows: the input's SHA-256, the
/// schema and the split settings determine them.
pub fn dataset_inputs(data: &Processed, sides: &[&str]) -> Vec<churnkit_tracking::DatasetInput> {
    let st = &data.state;
    let stem = std::path::Path::new(&st.input.file)
        .file_stem()
        .map_or("data".to_string(), |s| s.to_string_lossy().into_owned());
    let source = if st.input.file.starts_with('(') {
        serde_json::json!({"uri": format!("memory:{}", st.input.sha256)})
    } else {
        let abs = std::fs::canonicalize(&st.input.file)
            .map_or_else(|_| st.input.file.clone(), |p| p.display().to_string());
        serde_json::json!({"uri": abs})
    };
    let mut cols: Vec<serde_json::Value> = Vec::new();
    for f in &st.features {
        let t = match f {
            churnkit_core::preprocess::FeatureTransform::Numeric { .. } => "double",
            _ => "string",
        };
        cols.push(serde_json::json!({"type": t, "name": f.name(), "required": true}));
    }
    cols.push(serde_json::json!({"type": "string", "name": st.target.column, "required": true}));
    let schema = serde_json::json!({ "mlflow_colspec": cols }).to_string();
    let split = serde_json::to_string(&st.split.options).unwrap_or_default();
    let features = serde_json::to_string(&st.features).unwrap_or_default();
    sides
        .iter()
        .map(|&side| {
            let (rows, positive, context) = match side {
                "train" => (st.split.train_rows, st.split.train_positive, "training"),
                _ => (st.split.test_rows, st.split.test_positive, "evaluation"),
            };
            let digest = sha256_bytes(
                format!("{}\n{split}\n{features}\n{side}", st.input.sha256).as_bytes(),
            );
            churnkit_tracking::DatasetInput {
                name: format!("{stem}-{side}"),
                digest: digest[..16].to_string(),
                source_type: "local".into(),
                source: source.to_string(),
                schema: schema.clone(),
                profile: serde_json::json!({
                    "num_rows": rows,
                    "num_elements": rows * (cols.len()),
                    "churners": positive,
                    "churn_rate": if rows > 0 { positive as f64 / rows as f64 } else { 0.0 },
                })
                .to_string(),
                context: context.into(),
            }
        })
        .collect()
}

pub(super) fn insert_metrics(
    into: &mut BTreeMap<String, Option<f64>>,
    pairs: &[(&str, Option<f64>)],
) {
    for (k, v) in pairs {
        into.insert((*k).to_string(), *v);
    }
}
