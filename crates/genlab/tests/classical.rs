//! End-to-end tests of `genlab train|sample|score|models|datasets|km` on the
//! classical baselines, through the real binary.

mod common;
use common::genlab;

use std::path::{Path, PathBuf};

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genlab-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn is_png(p: &Path) -> bool {
    std::fs::read(p)
        .map(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
        .unwrap_or(false)
}

/// A little-endian f64 .npy file (format 1.0), written independently of gen-data.
fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f64]) {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn gmm_on_eight_gaussians_trains_scores_and_samples() {
    let dir = tmp("gmm");
    let d = dir.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "gmm",
        "--data",
        "eight-gaussians",
        "--components",
        "8",
        "--steps",
        "80",
        "--seed",
        "1",
        "--out",
        d,
    ]);
    assert!(ok, "{err}");
    let s = json(&out);
    // Eight isotropic Gaussians are in the model class: the test KL gap must be tiny.
    let gap = s["kl_gap_nats"].as_f64().unwrap();
    assert!(gap.abs() < 0.05, "KL gap {gap}: {s}");
    for f in ["samples.png", "density.png", "loss.png"] {
        assert!(is_png(&dir.join(f)), "{f} missing");
    }
    assert!(dir.join("summary.json").exists() && dir.join("metrics.jsonl").exists());

    // Score an .npy of points: exact per-row log-densities and their mean.
    let pts = dir.join("pts.npy");
    let c = 4.0 / 1.414;
    write_npy(&pts, 3, 2, &[c, 0.0, 0.0, -c, 0.0, 0.0]);
    let (ok, out, err) = genlab(&["score", "--checkpoint", d, "--input", pts.to_str().unwrap()]);
    assert!(ok, "{err}");
    let sc = json(&out);
    assert_eq!(sc["kind"], "exact");
    let v: Vec<f64> = sc["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(v.len(), 3);
    // At a mode the density is about (1/8) N(0; 0, 0.125 I) → log ≈ −2.079 − 1.838 + 2.079 = −1.84;
    // at the origin, five standard deviations from every mode, it is far lower.
    assert!(
        (v[0] + 1.84).abs() < 0.15 && (v[1] + 1.84).abs() < 0.15,
        "{v:?}"
    );
    assert!(v[2] < -20.0, "{v:?}");
    assert!((sc["mean"].as_f64().unwrap() - v.iter().sum::<f64>() / 3.0).abs() < 1e-9);

    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        d,
        "--data",
        "eight-gaussians",
        "--split",
        "test",
    ]);
    assert!(ok, "{err}");
    let test_nll = -json(&out)["mean"].as_f64().unwrap();
    assert!((test_nll - s["test_nll"].as_f64().unwrap()).abs() < 1e-9);

    let samples = dir.join("samples.npy");
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        d,
        "--n",
        "50",
        "--out",
        samples.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let bytes = std::fs::read(&samples).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ngram_on_shakespeare_beats_the_unigram_on_held_out_text() {
    let dir = tmp("ngram");
    let d = dir.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "ngram",
        "--data",
        "shakespeare",
        "--order",
        "4",
        "--out",
        d,
    ]);
    assert!(ok, "{err}");
    let s = json(&out);
    let (ppl, uni) = (
        s["test_perplexity"].as_f64().unwrap(),
        s["unigram_test_perplexity"].as_f64().unwrap(),
    );
    assert!(ppl < 0.5 * uni, "4-gram perplexity {ppl} vs unigram {uni}");
    assert!(
        std::fs::read_to_string(dir.join("samples.txt"))
            .unwrap()
            .len()
            > 100
    );
    assert!(is_png(&dir.join("nll_by_order.png")));
    let by_order: Vec<f64> = s["test_nll_per_char_by_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(by_order.len(), 4);
    assert!(
        by_order.windows(2).all(|w| w[1] < w[0]),
        "held-out NLL must fall with order: {by_order:?}"
    );
    let words = dir.join("w.txt");
    // Equal lengths, so total log-probabilities compare fairly.
    std::fs::write(&words, "to be or not\nqzxqjvkqzxjq\n").unwrap();
    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        d,
        "--input",
        words.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v = json(&out)["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect::<Vec<_>>();
    assert!(v[0] > v[1], "English must score above gibberish: {v:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ngram_smoothing_option_and_run_dirs_from_before_it() {
    let dir = tmp("ngram-kn");
    let d = dir.to_str().unwrap();
    let train = |smoothing: &str| {
        let (ok, out, err) = genlab(&[
            "train",
            "ngram",
            "--data",
            "first-names",
            "--order",
            "3",
            "--smoothing",
            smoothing,
            "--out",
            d,
            "--overwrite",
        ]);
        assert!(ok, "{err}");
        json(&out)
    };
    let kn = train("kneser-ney");
    assert_eq!(kn["smoothing"], "kneser-ney");
    assert_eq!(kn["kneser_ney_discounts"].as_array().unwrap().len(), 3);
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["options"]["smoothing"], "kneser-ney");
    let (ok, out, err) = genlab(&["sample", "--checkpoint", d, "--n", "5"]);
    assert!(ok && !out.trim().is_empty(), "{err}");
    // A run written before --smoothing existed has no "smoothing" in run.json
    // (and an add-k checkpoint): it still loads, as add-k.
    let add_k = train("add-k");
    assert_eq!(add_k["smoothing"], "add-k");
    let mut run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    run["options"].as_object_mut().unwrap().remove("smoothing");
    std::fs::write(dir.join("run.json"), run.to_string()).unwrap();
    let (ok, _, err) = genlab(&["sample", "--checkpoint", d, "--n", "5"]);
    assert!(ok, "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "ngram",
        "--data",
        "first-names",
        "--smoothing",
        "witten-bell",
        "--out",
        d,
    ]);
    assert!(
        !ok && err.contains("add-k") && err.contains("kneser-ney"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_requests_fail_with_a_message_that_says_what_to_do() {
    let out = tmp("bad-requests");
    let x = out.to_str().unwrap();
    let (ok, _, err) = genlab(&[
        "train",
        "nosuchmodel",
        "--data",
        "eight-gaussians",
        "--out",
        x,
    ]);
    assert!(!ok && err.contains("genlab models"), "{err}");
    let (ok, _, err) = genlab(&["train", "gmm", "--data", "nosuchdata", "--out", x]);
    assert!(!ok && err.contains("genlab datasets"), "{err}");
    let (ok, _, err) = genlab(&["train", "gmm", "--data", "shakespeare", "--out", x]);
    assert!(!ok && err.contains("continuous"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "gmm",
        "--data",
        "eight-gaussians",
        "--backend",
        "tpu",
        "--out",
        x,
    ]);
    assert!(!ok && err.contains("ndarray, flex, wgpu"), "{err}");
    let (ok, _, err) = genlab(&["score", "--checkpoint", "/nonexistent"]);
    assert!(!ok && err.contains("run.json"), "{err}");
    let (ok, _, err) = genlab(&["km", "run", "--collection", "nope", "--target", "1"]);
    assert!(!ok && err.contains("unknown collection"), "{err}");
    let (ok, _, err) = genlab(&[
        "km",
        "run",
        "--collection",
        "multiples",
        "--target",
        "1",
        "--horizon",
        "0",
    ]);
    assert!(!ok && err.contains("horizon"), "{err}");
}

#[test]
fn listing_commands_print_tables() {
    let (ok, out, _) = genlab(&["models"]);
    assert!(
        ok && out.contains("| gmm | classical |") && out.contains("exact, chain rule"),
        "{out}"
    );
    let (ok, out, _) = genlab(&["datasets"]);
    assert!(
        ok && out.contains("mnist5k") && out.contains("shakespeare"),
        "{out}"
    );
    let (ok, out, _) = genlab(&["km", "list"]);
    assert!(ok && out.contains("progressions"), "{out}");
}

#[test]
fn km_run_prints_a_summary_and_writes_a_picture() {
    let dir = tmp("km");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("run.png");
    let (ok, out, err) = genlab(&[
        "km",
        "run",
        "--collection",
        "progressions",
        "--target",
        "4",
        "--adversary",
        "staged",
        "--learner",
        "km",
        "--horizon",
        "150",
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let s = json(&out);
    for k in ["last_error", "hallucinations", "non_novel", "queries"] {
        assert!(s.get(k).is_some(), "missing {k}: {s}");
    }
    assert!(
        s["last_error"].as_u64().unwrap() < 150,
        "KM must settle: {s}"
    );
    assert!(is_png(&png));
    let _ = std::fs::remove_dir_all(&dir);
}
