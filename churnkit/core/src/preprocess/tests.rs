use super::split::*;
use super::transform::*;
use super::*;
use crate::data::schema::{MissingNumeric, Schema};
use crate::data::table::Table;
use polars::prelude::SerReader;
use std::collections::BTreeMap;

fn table(text: &str) -> Table {
    Table::from_csv_bytes(text.as_bytes().to_vec(), "in.csv").unwrap()
}

fn sample(rows: usize, seed: u64) -> Table {
    let (bytes, _) = crate::data::generate::generate_rows(rows, seed);
    Table::from_csv_bytes(bytes, "gen.csv").unwrap()
}

#[test]
fn by_default_missing_stays_missing_impossible_values_too_and_nothing_is_clipped() {
    let t = sample(400, 9);
    let p = Processed::fit(&t, &Schema::default(), SplitOptions::default()).unwrap();
    let s = &p.state;
    assert_eq!(
        s.split.train_rows + s.split.test_rows,
        400 - s.cleaning.duplicates_dropped
    );
    assert_eq!(s.cleaning.duplicates_dropped, 4);
    assert!(s.cleaning.filled_from_product["TotalCharges"] >= 1);
    // The generator writes a few impossible ages (-1, 0 is possible, 150, 199, 999).
    let ages = t.numeric_column("Age").unwrap();
    let impossible = ages
        .iter()
        .flatten()
        .filter(|a| **a < 0.0 || **a > 120.0)
        .count();
    assert!(impossible >= 1);
    assert_eq!(s.cleaning.out_of_range["Age"], impossible);
    assert!(s.cleaning.left_missing["Age"] >= 1);
    assert!(
        s.cleaning.clipped.values().all(|&c| c == 0),
        "{:?}",
        s.cleaning
    );
    let FeatureTransform::Numeric { clip, fill, .. } = &s.features[0] else {
        panic!()
    };
    assert_eq!((clip, fill.median), (&None, None));
    // Present training values are standardised (mean 0, population std 1); missing is NaN.
    for c in &p.x_train.columns[..4] {
        let v: Vec<f64> = c.iter().copied().filter(|x| !x.is_nan()).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(m.abs() < 1e-9 && (var - 1.0).abs() < 1e-9, "{m} {var}");
    }
    let nan_ages = p.x_train.columns[0].iter().chain(&p.x_test.columns[0]);
    assert_eq!(
        nan_ages.filter(|x| x.is_nan()).count(),
        s.cleaning.left_missing["Age"]
    );
    // Stratification keeps the class balance within a row.
    let rate = |y: &[u8]| y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
    assert!((rate(&p.y_train) - rate(&p.y_test)).abs() < 0.02);
    // Contract codes are sorted category order.
    let FeatureTransform::Categorical { categories, .. } = &s.features[4] else {
        panic!()
    };
    assert_eq!(categories, &["Month-to-month", "One year", "Two year"]);
    // The state survives its JSON form.
    assert_eq!(&Preprocessor::from_json(&s.to_json()).unwrap(), s);
}

#[test]
fn median_filling_and_clipping_are_options() {
    let t = sample(400, 9);
    let schema = Schema {
        missing_numeric: MissingNumeric::Median,
        outlier_iqr_k: 1.5,
        valid_ranges: BTreeMap::new(),
        ..Schema::default()
    };
    let p = Processed::fit(&t, &schema, SplitOptions::default()).unwrap();
    let c = &p.state.cleaning;
    assert!(c.clipped["Age"] >= 1, "{c:?}");
    assert!(c.left_missing.values().all(|&n| n == 0), "{c:?}");
    assert!(p.x_train.columns.iter().flatten().all(|v| v.is_finite()));
    let FeatureTransform::Numeric { clip, fill, .. } = &p.state.features[0] else {
        panic!()
    };
    let clip = clip.as_ref().unwrap();
    assert!(clip.upper < 120.0 && fill.median.is_some(), "{clip:?}");
}

#[test]
fn missing_markers_are_missing_and_configurable() {
    let rows: String = (0..40)
        .map(|i| {
            let age = match i % 10 {
                0 => "NA".to_string(),
                1 => "?".to_string(),
                2 => " null ".to_string(),
                _ => (20 + i).to_string(),
            };
            let plan = if i % 7 == 0 { "N/A" } else { ["a", "b"][i % 2] };
            format!("{age},{plan},{}\n", ["yes", "no"][i % 2])
        })
        .collect();
    let t = table(&format!("age,plan,left\n{rows}"));
    let schema = Schema::infer(&t, "left", None).unwrap();
    assert_eq!(schema.numeric, ["age"]);
    assert_eq!(schema.categorical, ["plan"]);
    let p = Processed::fit(&t, &schema, SplitOptions::default()).unwrap();
    assert_eq!(p.state.cleaning.missing["age"], 12);
    assert_eq!(p.state.cleaning.missing["plan"], 6);
    let FeatureTransform::Categorical { categories, .. } = &p.state.features[1] else {
        panic!()
    };
    assert_eq!(categories, &["a", "b"]);
    // With "?" no longer a marker the column is text, and an explicit numeric schema says
    // where.
    let custom = Schema {
        na_values: vec!["NA".into(), "null".into()],
        ..schema.clone()
    };
    let e = Split::stratified(&t, &custom, SplitOptions::default())
        .and_then(|sp| Preprocessor::fit(&t, &custom, &sp))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "in.csv: column 'age', line 3: '?' is not a number"
    );
    // A marker in the target is a missing target.
    let bad = table("x,y\n1,yes\n2,NA\n3,no\n");
    let e = Schema::infer(&bad, "y", None).unwrap_err();
    assert!(
        e.to_string()
            .contains("line 3: missing target value ('NA')"),
        "{e}"
    );
}

#[test]
fn a_data_frame_and_its_csv_give_the_same_features() {
    let (bytes, _) = crate::data::generate::generate_rows(300, 4);
    let from_csv = Table::from_csv_bytes(bytes.clone(), "gen.csv").unwrap();
    let df = polars::prelude::CsvReadOptions::default()
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()
        .unwrap();
    let from_frame = Table::from_frame(&df).unwrap();
    let a = Processed::fit(&from_csv, &Schema::default(), SplitOptions::default()).unwrap();
    let b = Processed::fit(&from_frame, &Schema::default(), SplitOptions::default()).unwrap();
    assert_eq!(a.x_train, b.x_train);
    assert_eq!(a.y_test, b.y_test);
    assert_eq!(b.state.input.file, "(DataFrame)");
}

#[test]
fn unseen_categories_are_missing_by_default_or_strict_or_most_frequent() {
    let t = sample(200, 2);
    let p = Processed::fit(&t, &Schema::default(), SplitOptions::default()).unwrap();
    let new = table(
        "CustomerID,Age,Tenure,MonthlyCharges,TotalCharges,Contract,PaymentMethod\n\
         X1,40,3,50.0,,Weekly,Mailed check\n\
         X2,41,4,51.0,,Daily,Pigeon\n\
         X3,42,5,52.0,,Weekly,Mailed check\n",
    );
    let (f, report) = p
        .state
        .transform_report(&new, UnknownCategory::default())
        .unwrap();
    assert!(f.columns[4].iter().all(|v| v.is_nan()));
    assert_eq!(f.columns[5][0], 3.0); // Mailed check
    assert!(f.columns[5][1].is_nan());
    assert_eq!(report.unseen["Contract"].count, 3);
    assert_eq!(report.unseen["Contract"].examples, ["Weekly", "Daily"]);
    assert_eq!(report.unseen["PaymentMethod"].count, 1);
    assert_eq!(report.missing["TotalCharges"], 3);

    let err = p.state.transform(&new, UnknownCategory::Error).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("'Contract', line 2") && msg.contains("'Weekly'"),
        "{msg}"
    );
    let f = p
        .state
        .transform(&new, UnknownCategory::MostFrequent)
        .unwrap();
    assert_eq!(f.columns[4][0], 0.0); // Month-to-month is the most frequent contract
}

#[test]
fn booleans_spelled_another_way_are_the_same_category() {
    assert_eq!(
        boolean_spelling(&["False".into(), "True".into()], "true"),
        Some(1)
    );
    assert_eq!(
        boolean_spelling(&["FALSE".into(), "TRUE".into()], "false"),
        Some(0)
    );
    assert_eq!(boolean_spelling(&["No".into(), "Yes".into()], "true"), None);
    assert_eq!(
        boolean_spelling(&["True".into(), "true".into()], "TRUE"),
        None
    );
    assert_eq!(boolean_spelling(&["Truex".into()], "truex"), None);
    // Through the transform: a table from a Parquet file or a DataFrame writes booleans in
    // lower case; the CSV the model was trained on had True/False.
    let rows: String = (0..200)
        .map(|i| {
            format!(
                "{},{},{}\n",
                i % 9,
                if i % 3 == 0 { "True" } else { "False" },
                i % 2
            )
        })
        .collect();
    let t = table(&format!("x,flag,y\n{rows}"));
    let schema = Schema::infer(&t, "y", None).unwrap();
    assert!(
        schema.categorical.contains(&"flag".to_string()),
        "{schema:?}"
    );
    let p = Processed::fit(&t, &schema, SplitOptions::default()).unwrap();
    let (a, ra) = p
        .state
        .transform_report(&table("x,flag\n1,True\n2,False\n"), UnknownCategory::Error)
        .unwrap();
    let (b, rb) = p
        .state
        .transform_report(&table("x,flag\n1,true\n2,false\n"), UnknownCategory::Error)
        .unwrap();
    assert_eq!(a, b);
    assert!(ra.unseen.is_empty() && rb.unseen.is_empty());
}

#[test]
fn an_error_listing_values_lists_at_most_ten() {
    let rows: String = (0..300)
        .map(|i| format!("{},name{},{}\n", i % 7, i % 60, i % 2))
        .collect();
    let t = table(&format!("x,name,y\n{rows}"));
    let p = Processed::fit(
        &t,
        &Schema::infer(&t, "y", None).unwrap(),
        SplitOptions::default(),
    )
    .unwrap();
    let e = p
        .state
        .transform(&table("x,name\n1,zed\n"), UnknownCategory::Error)
        .unwrap_err()
        .to_string();
    assert!(e.contains("(60 known: name0, name1, name10,"), "{e}");
    assert!(e.contains(", ... (50 more)"), "{e}");
    assert!(e.len() < 300, "{e}");
}

#[test]
fn of_several_bad_columns_the_first_is_reported() {
    let rows: String = (0..200)
        .map(|i| format!("{},{},{},{}\n", i % 13, i % 17, i % 19, i % 2))
        .collect();
    let t = table(&format!("a,b,c,y\n{rows}"));
    let p = Processed::fit(
        &t,
        &Schema::infer(&t, "y", None).unwrap(),
        SplitOptions::default(),
    )
    .unwrap();
    let first = p.state.schema.numeric[0].clone();
    assert_eq!(p.state.schema.numeric.len(), 3);
    // Every column is bad at some row: columns are parsed in parallel, the report must not
    // depend on which thread failed first.
    let bad = table("a,b,c\n1,2,x\n1,y,3\nz,2,3\n");
    for _ in 0..20 {
        let e = p
            .state
            .transform(&bad, UnknownCategory::Missing)
            .unwrap_err();
        assert!(e.to_string().contains(&format!("'{first}'")), "{e}");
    }
}

#[test]
fn a_split_only_serves_its_own_table() {
    let (a, b) = (sample(150, 1), sample(150, 2));
    let split = Split::stratified(&a, &Schema::default(), SplitOptions::default()).unwrap();
    let e = Preprocessor::fit(&b, &Schema::default(), &split).unwrap_err();
    assert!(e.to_string().contains("another table"), "{e}");
    let state = Preprocessor::fit(&a, &Schema::default(), &split).unwrap();
    assert!(Processed::from_split(&b, &split, state).is_err());
}

#[test]
fn bad_state_files_are_refused() {
    let t = sample(100, 3);
    let p = Processed::fit(&t, &Schema::default(), SplitOptions::default()).unwrap();
    let text = String::from_utf8(p.state.to_json()).unwrap();
    let v9 = text.replacen(
        &format!("\"format_version\": {FORMAT_VERSION}"),
        "\"format_version\": 9",
        1,
    );
    let e = Preprocessor::from_json(v9.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("format_version 9"), "{e}");
    assert!(Preprocessor::from_json(b"{").is_err());
    let wrong = Processed::from_parts(
        p.state.clone(),
        (p.x_test.clone(), p.y_train.clone()),
        (p.x_test.clone(), p.y_test.clone()),
    )
    .unwrap_err();
    assert!(wrong.to_string().contains("labels"), "{wrong}");
}
