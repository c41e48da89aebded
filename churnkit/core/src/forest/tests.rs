use super::binning::MISSING_CODE;
use super::oob::walk_rows;
use super::*;
use crate::rng::Rng;
use linfa::prelude::*;
use ndarray::Array2;

#[test]
fn carrying_the_codes_grows_the_same_trees() {
    let (x, y) = data(3000, 11);
    let mut xm = x.clone();
    xm[[5, 1]] = f64::NAN;
    xm[[9, 2]] = f64::NAN;
    let p = RandomForestParams::new().n_estimators(4).check().unwrap();
    let mut binned = BinnedFeatures::new(&xm.view(), p.max_bins).unwrap();
    binned.fill_by_row();
    let view = xm.view();
    let raw = || Some((&view, Vec::new()));
    for t in 0..4 {
        let (a, ia, ra) = p.grow_tree_carrying(&binned, &y, t, false, raw());
        let (b, ib, rb) = p.grow_tree_carrying(&binned, &y, t, true, raw());
        assert!(a.n_nodes() > 3);
        assert_eq!((a, ia), (b, ib), "tree {t}");
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!((ra.value, ra.in_bag), (rb.value, rb.in_bag), "tree {t}");
    }
}

#[test]
fn walking_codes_reads_the_raw_value_in_a_straddling_bin() {
    // 1000 distinct values in 4 bins of 250: a threshold inside a bin cannot be decided by
    // the code alone.
    let x = Array2::from_shape_fn((1000, 1), |(i, _)| i as f64);
    let mut binned = BinnedFeatures::new(&x.view(), 4).unwrap();
    binned.fill_by_row();
    for t in [-1.0, 100.5, 249.0, 249.5, 250.0, 600.25, 999.0, f64::MAX] {
        let tree = Tree {
            feature: vec![0, -1, -1],
            threshold: vec![t, 0.0, 0.0],
            left: vec![1, 0, 0],
            right: vec![2, 0, 0],
            value: vec![0.5, 0.0, 1.0],
            missing_left: vec![false; 3],
            cover: vec![],
        };
        let rows: Vec<u32> = (0..1000).collect();
        let mut value = vec![f64::NAN; 1000];
        walk_rows(&tree, &binned, &x.view(), &rows, &mut value);
        for (i, v) in value.iter().enumerate() {
            assert_eq!(*v, tree.predict_row(|_| i as f64), "row {i}, threshold {t}");
        }
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn scores_from_the_fit_equal_a_walk_afterwards_bit_for_bit() {
    let (mut x, y) = data(4000, 5);
    for i in (0..4000).step_by(7) {
        x[[i, i % 3]] = f64::NAN;
    }
    for bootstrap in [true, false] {
        let mut seen = Vec::new();
        for threads in [1, 2] {
            let p = RandomForestParams::new()
                .n_estimators(12)
                .max_depth(Some(6))
                .bootstrap(bootstrap)
                .n_threads(Some(threads))
                .check()
                .unwrap();
            let (forest, scores) = p.fit_scored(&x.view(), &y, &|| {}).unwrap();
            assert_eq!(forest, p.fit_observed(&x.view(), &y, &|| {}).unwrap());
            assert_eq!(
                bits(&scores.all),
                bits(&predict_rows(&forest.trees, &x.view()))
            );
            match predict_rows_with_oob(&p, &forest.trees, &x.view()) {
                Ok((_, oob)) => {
                    let got = scores.oob.as_deref().expect("out-of-bag scores");
                    assert_eq!(bits(got), bits(&oob));
                    assert!(got.iter().filter(|v| v.is_finite()).count() > 3900);
                }
                Err(_) => assert!(!bootstrap && scores.oob.is_none()),
            }
            // The same from the columns a frame holds.
            let cols: Vec<Vec<f64>> = (0..x.ncols()).map(|j| x.column(j).to_vec()).collect();
            let (f2, s2) = p.fit_scored(&Columns(&cols), &y, &|| {}).unwrap();
            assert_eq!((&f2, &bits(&s2.all)), (&forest, &bits(&scores.all)));
            seen.push((bits(&scores.all), scores.oob.as_deref().map(bits)));
        }
        assert_eq!(seen[0], seen[1], "1 and 2 threads");
    }
}

fn data(n: usize, seed: u64) -> (Array2<f64>, Vec<u8>) {
    let mut r = Rng::new(seed);
    let x = Array2::from_shape_fn((n, 4), |_| r.normal());
    let y = (0..n)
        .map(|i| {
            let z = 1.5 * x[[i, 0]] - x[[i, 1]] + 0.5 * r.normal();
            u8::from(z > 0.0)
        })
        .collect();
    (x, y)
}

#[test]
fn params_are_checked() {
    let e = RandomForestParams::new()
        .n_estimators(0)
        .check()
        .unwrap_err();
    assert!(e.to_string().contains("n_estimators"));
    assert!(RandomForestParams::new()
        .min_samples_split(1)
        .check()
        .is_err());
    assert!(RandomForestParams::new()
        .max_depth(Some(0))
        .check()
        .is_err());
    assert!(RandomForestParams::new()
        .max_features(MaxFeatures::Fraction(1.5))
        .check()
        .is_err());
    assert_eq!("sqrt".parse::<MaxFeatures>().unwrap(), MaxFeatures::Sqrt);
    assert_eq!(
        "0.5".parse::<MaxFeatures>().unwrap(),
        MaxFeatures::Fraction(0.5)
    );
    assert!("0".parse::<MaxFeatures>().is_err());
    assert_eq!(MaxFeatures::Sqrt.resolve(19), 4);
}

#[test]
fn same_result_for_any_thread_count() {
    let (x, y) = data(2_000, 1);
    let fit = |t| {
        RandomForestParams::new()
            .n_estimators(16)
            .n_threads(Some(t))
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap()
    };
    let (a, b) = (fit(1), fit(2));
    assert!(a.trees == b.trees, "trees differ between 1 and 2 threads");
    assert_eq!(a.feature_importances, b.feature_importances);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn learns_the_signal_and_ranks_importances() {
    let (x, y) = data(4_000, 2);
    let (xt, yt) = data(2_000, 3);
    let f = RandomForestParams::new()
        .n_estimators(50)
        .check()
        .unwrap()
        .fit_observed(&x.view(), &y, &|| {})
        .unwrap();
    let p = f.predict_proba(&xt.view());
    let acc = p
        .iter()
        .zip(&yt)
        .filter(|(p, &y)| u8::from(**p > 0.5) == y)
        .count() as f64
        / yt.len() as f64;
    assert!(acc > 0.85, "accuracy {acc}");
    let imp = &f.feature_importances;
    assert!((imp.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(
        imp[0] > imp[1] && imp[1] > imp[2] && imp[1] > imp[3],
        "{imp:?}"
    );
    for t in &f.trees {
        t.validate(4).unwrap();
        assert!(t.depth() <= 10);
    }
}

#[test]
fn thresholds_reproduce_the_binned_partition() {
    // Few distinct values: every split must separate exactly the same rows in raw space.
    let x = Array2::from_shape_fn((300, 1), |(i, _)| (i % 7) as f64 * 0.1);
    let y: Vec<u8> = (0..300).map(|i| u8::from(i % 7 >= 4)).collect();
    let f = RandomForestParams::new()
        .n_estimators(3)
        .max_features(MaxFeatures::All)
        .check()
        .unwrap()
        .fit_observed(&x.view(), &y, &|| {})
        .unwrap();
    let p = f.predict_proba(&x.view());
    assert!(p.iter().zip(&y).all(|(p, &y)| (*p > 0.5) == (y == 1)));
}

#[test]
fn many_distinct_values_are_binned_to_255_and_nan_gets_its_own_code() {
    let mut x = Array2::from_shape_fn((10_000, 1), |(i, _)| i as f64);
    x[[5, 0]] = f64::NAN;
    let b = BinnedFeatures::new(&x.view(), 255).unwrap();
    assert_eq!(b.n_bins(0), 255);
    assert_eq!(*b.codes.last().unwrap(), 254);
    assert_eq!(b.codes[5], MISSING_CODE);
    let all_missing = Array2::from_elem((3, 1), f64::NAN);
    assert_eq!(
        BinnedFeatures::new(&all_missing.view(), 255)
            .unwrap()
            .n_bins(0),
        0
    );
    let bad = Array2::from_elem((3, 1), f64::INFINITY);
    assert!(BinnedFeatures::new(&bad.view(), 255).is_err());
}

/// Labels follow x0; a share of x0 is missing, and missing rows churn more than others.
fn data_with_missing(n: usize, seed: u64) -> (Array2<f64>, Vec<u8>) {
    let (mut x, mut y) = data(n, seed);
    let mut r = Rng::new(seed ^ 0xABCD);
    for i in 0..n {
        if r.uniform() < 0.3 {
            x[[i, 0]] = f64::NAN;
            y[i] = u8::from(r.uniform() < 0.8);
        }
    }
    (x, y)
}

fn auc(p: &[f64], y: &[u8]) -> f64 {
    crate::metrics::classification::roc_auc(y, p).unwrap()
}

#[test]
fn missing_values_are_learned_not_guessed() {
    let (x, y) = data_with_missing(4_000, 5);
    let (xt, yt) = data_with_missing(2_000, 6);
    let fit = |x: &Array2<f64>| {
        RandomForestParams::new()
            .n_estimators(40)
            .check()
            .unwrap()
            .fit_observed(&x.view(), &y, &|| {})
            .unwrap()
    };
    let native = fit(&x);
    let p_native = native.predict_proba(&xt.view());
    // The single-row walk and the packed batch walk agree, NaN rows included.
    for (i, p) in p_native.iter().enumerate().take(300) {
        let row = xt.row(i);
        let mean = native
            .trees
            .iter()
            .map(|t| t.predict_row(|f| row[f]))
            .sum::<f64>()
            / native.trees.len() as f64;
        assert!((mean - p).abs() < 1e-12, "row {i}: {mean} vs {p}");
    }
    // Filling with the median hides what missingness says; the native forest sees it.
    let median = {
        let mut v: Vec<f64> = x
            .column(0)
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let fill = |x: &Array2<f64>| x.mapv(|v| if v.is_nan() { median } else { v });
    let p_filled = fit(&fill(&x)).predict_proba(&fill(&xt).view());
    let (a_native, a_filled) = (auc(&p_native, &yt), auc(&p_filled, &yt));
    assert!(
        a_native > a_filled + 0.002,
        "native {a_native} filled {a_filled}"
    );
    // Rows with x0 missing churn 80% of the time, and the forest says about that.
    let nan_rows: Vec<usize> = (0..yt.len()).filter(|&i| xt[[i, 0]].is_nan()).collect();
    let mean = nan_rows.iter().map(|&i| p_native[i]).sum::<f64>() / nan_rows.len() as f64;
    assert!(
        (mean - 0.8).abs() < 0.08,
        "mean score of missing rows {mean}"
    );
    assert!(native
        .trees
        .iter()
        .any(|t| t.missing_left.iter().any(|&m| m)));
    for t in &native.trees {
        t.validate(4).unwrap();
    }
}

#[test]
fn a_node_without_missing_training_values_sends_them_to_the_bigger_child() {
    // x0 < 3 (30% of rows) is class 1; no value is missing in training.
    let x = Array2::from_shape_fn((100, 1), |(i, _)| (i % 10) as f64);
    let y: Vec<u8> = (0..100).map(|i| u8::from(i % 10 < 3)).collect();
    let f = RandomForestParams::new()
        .n_estimators(1)
        .bootstrap(false)
        .check()
        .unwrap()
        .fit_observed(&x.view(), &y, &|| {})
        .unwrap();
    let t = &f.trees[0];
    assert_eq!(t.n_nodes(), 3);
    assert!(!t.missing_left[0], "7 of 10 rows went right");
    let nan = ndarray::array![[f64::NAN]];
    assert_eq!(f.predict_proba(&nan.view()), vec![0.0]);
}

#[test]
fn out_of_bag_scores_use_only_trees_that_did_not_draw_the_row() {
    // Pure-noise labels: deep trees memorise the training rows, so scores that leaked the
    // row's own label would be far better than chance; out-of-bag ones are not.
    let mut r = Rng::new(11);
    let x = Array2::from_shape_fn((2000, 5), |_| r.uniform());
    let y: Vec<u8> = (0..2000).map(|_| u8::from(r.uniform() < 0.5)).collect();
    let f = RandomForestParams::new()
        .n_estimators(30)
        .max_depth(None)
        .check()
        .unwrap()
        .fit_observed(&x.view(), &y, &|| {})
        .unwrap();
    let acc = |p: &[f64]| {
        let ok = p
            .iter()
            .zip(&y)
            .filter(|(p, y)| p.is_finite() && u8::from(**p > 0.5) == **y)
            .count();
        ok as f64 / p.iter().filter(|p| p.is_finite()).count() as f64
    };
    assert!(
        acc(&f.predict_proba(&x.view())) > 0.9,
        "in-bag scores memorise"
    );
    let oob = f.oob_proba(&x.view()).unwrap();
    assert!((acc(&oob) - 0.5).abs() < 0.05, "oob accuracy {}", acc(&oob));
    assert!(
        oob.iter().all(|p| p.is_finite()),
        "30 trees leave every row out somewhere"
    );
    // One tree: its out-of-bag rows get its prediction; the rows it drew get NaN.
    let one = RandomForestParams::new()
        .n_estimators(1)
        .check()
        .unwrap()
        .fit_observed(&x.view(), &y, &|| {})
        .unwrap();
    let oob = one.oob_proba(&x.view()).unwrap();
    let missing = oob.iter().filter(|p| p.is_nan()).count() as f64 / 2000.0;
    assert!((missing - 0.632).abs() < 0.03, "share drawn {missing}");
    let p = one.predict_proba(&x.view());
    assert!(oob.iter().zip(&p).all(|(o, p)| o.is_nan() || o == p));
    let no_bag = RandomForestParams::new()
        .bootstrap(false)
        .n_estimators(2)
        .check()
        .unwrap()
        .fit_observed(&x.view(), &y, &|| {})
        .unwrap();
    assert!(no_bag.oob_proba(&x.view()).is_err());
}

#[test]
fn validate_catches_corrupt_trees() {
    let t = Tree {
        feature: vec![0, -1, -1],
        threshold: vec![0.5, 0.0, 0.0],
        left: vec![1, 0, 0],
        right: vec![2, 0, 0],
        value: vec![0.5, 0.0, 1.0],
        missing_left: vec![true, false, false],
        cover: vec![4, 1, 3],
    };
    t.validate(1).unwrap();
    assert!(t.validate(0).is_err());
    let mut cyc = t.clone();
    cyc.left[0] = 0;
    assert!(cyc.validate(1).is_err());
    let mut p = t.clone();
    p.value[2] = 1.5;
    assert!(p.validate(1).is_err());
}
