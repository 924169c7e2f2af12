//! The public API as a command-line front end uses it: reference values
//! through the re-exports, and the JSON keys of each result.

use gen_core::Matrix;
use gen_eval::*;
use serde_json::Value;

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serializable")
}

#[test]
fn json_keys_for_the_cli() {
    let real = Matrix::new(5, 1, vec![0.0, 1.0, 2.0, 3.0, 10.0]).unwrap();
    let fake = Matrix::new(4, 1, vec![0.5, 2.6, 4.0, 20.0]).unwrap();
    let p = json(&prdc(&real, &fake, 1).unwrap());
    for key in ["precision", "recall", "density", "coverage"] {
        assert!(p[key].is_number(), "prdc lacks {key}: {p}");
    }
    assert_eq!(p["density"], 1.25);

    let x = Matrix::from_rows(&[[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]).unwrap();
    let y = Matrix::from_rows(&[[0.0, 0.0], [2.0, 1.0], [1.0, 2.0]]).unwrap();
    let k = json(
        &kid(
            &x,
            &y,
            &KidOptions {
                subsets: 1,
                subset_size: 3,
                ..KidOptions::default()
            },
        )
        .unwrap(),
    );
    assert!(
        (k["mean"].as_f64().unwrap() + 0.4166667).abs() < 1e-7,
        "{k}"
    );
    assert_eq!(k["std"], 0.0);
    assert_eq!(k["estimator"], "unbiased");
    assert_eq!(k["kernel"]["kind"], "polynomial");

    let m = json(&mmd2(&x, &y, &Kernel::rbf(1.0), "u-statistic".parse().unwrap()).unwrap());
    assert!((m["value"].as_f64().unwrap() + 0.0355002).abs() < 1e-7);
    assert_eq!(m["estimator"], "u-statistic");
    assert_eq!(m["kernel"]["sigma"], 1.0);

    let probs = Matrix::from_rows(&[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5], [0.6, 0.4]]).unwrap();
    let is = json(&inception_score(&probs, 1).unwrap());
    assert!(is["mean"].is_number() && is["std"].is_number());

    let f = json(&frechet_distance(&x, &y).unwrap());
    assert!(f["value"].is_number());
    assert!(f.get("warning").is_none(), "N = 3 > d = 2: no warning: {f}");
    let two = x.select_rows(&[0, 1]).unwrap();
    let f = json(&frechet_distance(&two, &y).unwrap());
    assert!(f["warning"].is_string(), "N = 2 ≤ d = 2 must warn: {f}");

    for v in [
        json(&energy_distance_1d(&[0.0, 1.0, 3.0], &[5.0, 6.0, 10.0]).unwrap()),
        json(&wasserstein_1d(&[0.0, 1.0, 3.0], &[5.0, 6.0, 10.0]).unwrap()),
        json(&energy_distance(&x, &y).unwrap()),
        json(&sliced_wasserstein(&x, &y, &SlicedOptions::default()).unwrap()),
        json(&authenticity(&x, &y).unwrap()),
        json(&exact_copy_rate(&x, &y, 0.0).unwrap()),
        json(&nll(&[-1.0, -2.0]).unwrap()),
    ] {
        assert!(v["value"].is_number(), "{v}");
    }
}

#[test]
fn errors_carry_a_fix() {
    let a = Matrix::new(3, 2, vec![0.0; 6]).unwrap();
    let b = Matrix::new(3, 3, vec![0.0; 9]).unwrap();
    let msg = prdc(&a, &b, 1).unwrap_err().to_string();
    assert!(msg.contains("Fix:"), "{msg}");
    let msg = prdc(&a, &a, 3).unwrap_err().to_string();
    assert!(msg.contains("k = 3") && msg.contains("Fix:"), "{msg}");
    let msg = kid(&a, &a, &KidOptions::default()).unwrap_err().to_string();
    assert!(msg.contains("subset-size"), "{msg}");
}
