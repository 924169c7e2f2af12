//! End-to-end tests of the `genlab` binary: write small `.npy` files, run a
//! subcommand, check its JSON against values computed here by hand.

mod common;
use common::genlab;

use std::path::{Path, PathBuf};
use std::process::Command;

use gen_core::Matrix;
use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genlab-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn npy(dir: &Path, name: &str, rows: usize, cols: usize, data: &[f64]) -> String {
    let p = dir.join(name);
    let m = Matrix::new(rows, cols, data.to_vec()).unwrap();
    gen_data::io::npy::write_npy_f64(&p, &m).unwrap();
    p.display().to_string()
}

/// Runs `genlab eval ARGS` and parses its stdout as JSON.
fn eval(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_genlab"))
        .arg("eval")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "genlab eval {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number `{key}` in {v}"))
}

#[test]
fn prdc_reference_values() {
    let d = workdir("prdc");
    let r = npy(&d, "r.npy", 5, 1, &[0.0, 1.0, 2.0, 3.0, 10.0]);
    let f = npy(&d, "f.npy", 4, 1, &[0.5, 2.6, 4.0, 20.0]);
    let v = eval(&["prdc", "--real", &r, "--fake", &f, "--k", "1"]);
    // Real 1-NN radii: 1, 1, 1, 1, 7 (strict `<` balls, as clovaai). Fake 0.5, 2.6, 4 lie in
    // a real ball, 20 in none → P = 3/4. Fake radii 2.1, 1.4, 1.4, 16 cover every real
    // point → R = 1. Density = (1/(k·m)) Σ_j #{i : f_j ∈ B(r_i)} = (2 + 2 + 1 + 0)/4 = 1.25
    // (4 is at distance exactly 1 from 3: outside). Every real ball holds a fake → C = 1.
    assert!((num(&v, "precision") - 0.75).abs() < 1e-12, "{v}");
    assert!((num(&v, "recall") - 1.0).abs() < 1e-12, "{v}");
    assert!((num(&v, "density") - 1.25).abs() < 1e-12, "{v}");
    assert!((num(&v, "coverage") - 1.0).abs() < 1e-12, "{v}");
    assert_eq!(v["metric"], "prdc");
}

#[test]
fn fid_of_one_dimensional_gaussians() {
    let d = workdir("fid");
    let r = npy(&d, "r.npy", 4, 1, &[0.0, 1.0, 2.0, 3.0]);
    let f = npy(&d, "f.npy", 4, 1, &[1.0, 3.0, 5.0, 7.0]);
    let v = eval(&["fid", "--real", &r, "--fake", &f]);
    // 1-D: FID = (μ₁ − μ₂)² + (σ₁ − σ₂)², sample variances (ddof 1) 5/3 and 20/3.
    let expected =
        (1.5f64 - 4.0).powi(2) + ((5.0f64 / 3.0).sqrt() - (20.0f64 / 3.0).sqrt()).powi(2);
    assert!(
        (num(&v, "value") - expected).abs() < 1e-9,
        "{v} vs {expected}"
    );
}

#[test]
fn kid_with_one_full_subset_is_the_unbiased_mmd() {
    let d = workdir("kid");
    let x = [0.0, 1.0, -1.0, 0.5];
    let y = [2.0, 0.0, 1.5, 3.0];
    let r = npy(&d, "r.npy", 4, 1, &x);
    let f = npy(&d, "f.npy", 4, 1, &y);
    let v = eval(&[
        "kid",
        "--real",
        &r,
        "--fake",
        &f,
        "--subsets",
        "1",
        "--subset-size",
        "4",
    ]);
    // k(a, b) = (a·b/d + 1)³ with d = 1; unbiased MMD²: within-set means without the diagonal.
    let k = |a: f64, b: f64| (a * b + 1.0).powi(3);
    let within = |s: &[f64]| {
        let mut t = 0.0;
        for i in 0..4 {
            for j in 0..4 {
                if i != j {
                    t += k(s[i], s[j]);
                }
            }
        }
        t / 12.0
    };
    let cross: f64 = x
        .iter()
        .flat_map(|a| y.iter().map(move |b| k(*a, *b)))
        .sum::<f64>()
        / 16.0;
    let expected = within(&x) + within(&y) - 2.0 * cross;
    assert!(
        (num(&v, "mean") - expected).abs() < 1e-9,
        "{v} vs {expected}"
    );
    assert_eq!(num(&v, "std"), 0.0);
}

#[test]
fn inception_score_of_given_probabilities() {
    let d = workdir("is");
    let p = npy(&d, "p.npy", 2, 2, &[0.9, 0.1, 0.1, 0.9]);
    let v = eval(&["is", "--probs", &p, "--splits", "1"]);
    // p(y) = (½, ½); KL(p(y|x) ‖ p(y)) = 0.9 ln 1.8 + 0.1 ln 0.2 for both rows.
    let kl = 0.9 * (1.8f64).ln() + 0.1 * (0.2f64).ln();
    assert!((num(&v, "mean") - kl.exp()).abs() < 1e-9, "{v}");
    assert_eq!(num(&v, "std"), 0.0);
}

#[test]
fn scalar_metrics_and_errors() {
    let d = workdir("scalar");
    let r = npy(&d, "r.npy", 3, 1, &[0.0, 1.0, 3.0]);
    let f = npy(&d, "f.npy", 3, 1, &[5.0, 6.0, 8.0]);
    // A shift by 5 of a 1-D sample: W₁ = 5.
    let v = eval(&["wasserstein", "--real", &r, "--fake", &f]);
    assert!((num(&v, "value") - 5.0).abs() < 1e-12, "{v}");
    let v = eval(&["energy", "--real", &r, "--fake", &f]);
    assert!(num(&v, "value") > 0.0);
    let out = Command::new(env!("CARGO_BIN_EXE_genlab"))
        .args(["eval", "nope", "--real", &r, "--fake", &f])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown metric"));
}

#[test]
fn fid_on_raw_digit_images_uses_the_extractor() {
    let d = workdir("digits");
    let test = gen_data::digits8x8(gen_data::Split::Test).unwrap();
    let n = test.len();
    let half = n / 2;
    let a = test
        .images
        .select_rows(&(0..half).collect::<Vec<_>>())
        .unwrap();
    let b = test
        .images
        .select_rows(&(half..n).collect::<Vec<_>>())
        .unwrap();
    let r = npy(&d, "r.npy", a.rows(), 64, a.as_slice());
    let f = npy(&d, "f.npy", b.rows(), 64, b.as_slice());
    let v = eval(&["fid", "--real", &r, "--fake", &f, "--features", "digits"]);
    assert_eq!(v["dim"], 64);
    assert_eq!(v["pixel_scale"]["real"], "levels");
    assert!(num(&v, "value").is_finite());
    // The same images scaled to [0, 1] give the same value.
    let scaled: Vec<f64> = b.as_slice().iter().map(|x| x / 16.0).collect();
    let f2 = npy(&d, "f2.npy", b.rows(), 64, &scaled);
    let v2 = eval(&["fid", "--real", &r, "--fake", &f2, "--features", "digits"]);
    assert_eq!(v2["pixel_scale"]["fake"], "unit");
    assert!((num(&v, "value") - num(&v2, "value")).abs() < 1e-6 * num(&v, "value").max(1.0));
    // Inception-style score from the extractor's probabilities: ≈ 10 classes, confidently
    // predicted, so well above 1 and at most the number of classes.
    let s = eval(&["is", "--fake", &f, "--features", "digits", "--splits", "1"]);
    assert!(
        num(&s, "mean") > 5.0 && num(&s, "mean") <= 10.0 + 1e-9,
        "{s}"
    );
}

#[test]
fn c2st_separates_shifted_samples() {
    let d = workdir("c2st");
    // Real 0, 0.01, …; fake shifted by +10: a threshold separates them perfectly.
    let real: Vec<f64> = (0..100).map(|i| i as f64 * 0.01).collect();
    let fake: Vec<f64> = real.iter().map(|x| x + 10.0).collect();
    let r = npy(&d, "r.npy", 100, 1, &real);
    let f = npy(&d, "f.npy", 100, 1, &fake);
    let v = eval(&["c2st", "--real", &r, "--fake", &f, "--seed", "3"]);
    assert!(num(&v, "value") > 0.95, "{v}");
    // z = (acc − ½)·√(4·200) ≥ 0.45·28.3 ≈ 12.7 → p < 1e-30.
    assert!(num(&v, "p_value") < 1e-30, "{v}");
    assert_eq!(v["n_test"], 200);
}

/// Runs `genlab ARGS`; returns (success, stdout, stderr).

#[test]
fn vq_vae_trains_on_digits_and_its_run_dir_scores_samples_encodes_and_reconstructs() {
    let d = workdir("vqvae");
    let run = d.join("run");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "vq-vae",
        "--data",
        "digits",
        "--decoder",
        "bernoulli",
        "--steps",
        "40",
        "--vae-hidden",
        "64",
        "--codes",
        "4",
        "--code-dim",
        "8",
        "--codebook-size",
        "16",
        "--out",
        run_s,
    ]);
    assert!(ok, "train failed: {err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    for f in [
        "run.json",
        "metrics.jsonl",
        "summary.json",
        "samples.png",
        "reconstructions.png",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }
    // The bound is log p(x|z_q) − L log K with L = 4, K = 16; bits/dim = NLL / (64 ln 2).
    let prior = 4.0 * 16f64.ln();
    assert!((num(&s, "prior_nats") - prior).abs() < 1e-9, "{s}");
    assert!((num(&s, "test_vq_elbo") + num(&s, "test_recon_nll") + prior).abs() < 1e-6);
    let bpd = num(&s, "test_nll_bound") / (64.0 * std::f64::consts::LN_2);
    assert!((num(&s, "test_bits_per_dim_bound") - bpd).abs() < 1e-9);
    let used = num(&s, "codebook_used");
    assert!((1.0..=16.0).contains(&used) && num(&s, "codebook_perplexity") <= used + 1e-9);

    // `score` on the same (fixed-binarized) test split reproduces the summary's bound.
    let (ok, out, err) = genlab(&["score", "--checkpoint", run_s, "--data", "digits"]);
    assert!(ok, "score failed: {err}");
    let sc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sc["bound"], "vq-elbo", "{sc}");
    assert!((num(&sc, "mean") - num(&s, "test_vq_elbo")).abs() < 1e-6);
    let (ok, _, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--data",
        "digits",
        "--estimator",
        "iwae",
    ]);
    assert!(
        !ok && err.contains("one-hot") && err.contains("Fix"),
        "{err}"
    );

    let png = d.join("s.png");
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--n",
        "9",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(ok && png.exists(), "sample failed: {err}");
    let (ok, out, err) = genlab(&[
        "encode",
        "--checkpoint",
        run_s,
        "--data",
        "digits",
        "--rows",
        "3",
    ]);
    assert!(ok, "encode failed: {err}");
    let e: Value = serde_json::from_str(&out).unwrap();
    let idx = e["indices"].as_array().unwrap();
    assert_eq!(idx.len(), 3);
    assert!(idx.iter().all(|r| {
        r.as_array().unwrap().len() == 4
            && r.as_array()
                .unwrap()
                .iter()
                .all(|k| k.as_u64().unwrap() < 16)
    }));
    let rec = d.join("r.png");
    let (ok, _, err) = genlab(&[
        "reconstruct",
        "--checkpoint",
        run_s,
        "--data",
        "digits",
        "--out",
        rec.to_str().unwrap(),
    ]);
    assert!(ok && rec.exists(), "reconstruct failed: {err}");
    let (ok, _, err) = genlab(&["interpolate", "--checkpoint", run_s, "--data", "digits"]);
    assert!(!ok && err.contains("discrete"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// A flow run end to end: MAF on a learned MADE-MoG base ("MAF MoG") trained
/// on rings writes its run directory; `score` reproduces the summary's exact
/// test NLL; `sample` and `encode` work on the run; bad flow options are refused.
#[test]
fn maf_mog_trains_on_rings_and_its_run_dir_scores_samples_and_encodes() {
    let d = workdir("maf-mog");
    let run = d.join("run");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "maf",
        "--data",
        "rings",
        "--base",
        "made-mog",
        "--components",
        "4",
        "--flow-layers",
        "2",
        "--flow-hidden",
        "16,16",
        "--flow-cosine",
        "--fresh",
        "--steps",
        "60",
        "--out",
        run_s,
    ]);
    assert!(ok, "train failed: {err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    for f in [
        "run.json",
        "summary.json",
        "samples.png",
        "density.png",
        "loss.png",
    ] {
        assert!(run.join(f).exists(), "missing {f}");
    }
    assert_eq!(s["config"]["base"]["made_mog"]["components"], 4, "{s}");
    assert_eq!(s["config"]["layers"], 2);
    assert_eq!(s["train"], "fresh batches of 512 from rings", "{s}");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["options"]["lr"], 1e-3, "toy default learning rate");
    assert_eq!(meta["options"]["batch_size"], 512, "toy default batch");
    assert_eq!(s["config"]["hidden"], serde_json::json!([16, 16]));
    let gap = num(&s, "test_nll") - num(&s, "true_test_nll");
    assert!(
        (num(&s, "kl_gap_nats") - gap).abs() < 1e-9 && gap > 0.0,
        "{s}"
    );

    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--data",
        "rings",
        "--split",
        "test",
    ]);
    assert!(ok, "score failed: {err}");
    let sc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sc["kind"], "exact");
    assert!(
        (num(&sc, "mean") + num(&s, "test_nll")).abs() < 1e-9,
        "{sc}"
    );

    let (ok, out, err) = genlab(&["sample", "--checkpoint", run_s, "--n", "5"]);
    assert!(ok, "sample failed: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 5);
    let (ok, out, err) = genlab(&[
        "encode",
        "--checkpoint",
        run_s,
        "--data",
        "rings",
        "--rows",
        "3",
    ]);
    assert!(ok, "encode failed: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["z"].as_array().unwrap().len(), 3);

    let bad = d.join("bad");
    let (ok, _, err) = genlab(&[
        "train",
        "maf",
        "--data",
        "rings",
        "--base",
        "laplace",
        "--steps",
        "2",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("use gaussian, gmm or made-mog"),
        "{err}"
    );
    let (ok, _, err) = genlab(&[
        "train",
        "realnvp",
        "--data",
        "rings",
        "--flow-layers",
        "0",
        "--steps",
        "2",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("at least one layer"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "maf",
        "--data",
        "digits",
        "--fresh",
        "--steps",
        "2",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("need a toy distribution"), "{err}");
    // Image flows default to the measured stable settings (docs/flows.md).
    let glow = d.join("glow");
    let (ok, _, err) = genlab(&[
        "train",
        "glow",
        "--data",
        "digits",
        "--steps",
        "3",
        "--out",
        glow.to_str().unwrap(),
    ]);
    assert!(ok, "glow on digits failed: {err}");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(glow.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["options"]["lr"], 2e-4);
    assert_eq!(meta["options"]["batch_size"], 64);
    assert_eq!(meta["options"]["config"]["sigmoid_scale"], true);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn autoregressive_models_train_on_binarized_digits_and_score_exactly() {
    let d = workdir("ar");
    for model in ["fvsbn", "made"] {
        let run = d.join(model);
        let run_s = run.to_str().unwrap();
        let (ok, out, err) = genlab(&[
            "train",
            model,
            "--data",
            "digits",
            "--steps",
            "60",
            "--ar-hidden",
            "32",
            "--orderings",
            "2",
            "--eval-every",
            "20",
            "--out",
            run_s,
        ]);
        assert!(ok, "train {model} failed: {err}");
        let s: Value = serde_json::from_str(&out).unwrap();
        // 60 Adam steps take the exact NLL well below the uniform model's D ln 2.
        let uniform = 64.0 * std::f64::consts::LN_2;
        assert!(num(&s, "test_nll") < uniform - 5.0, "{model}: {s}");
        // The held-out NLL logged during training: at steps 20, 40, 60, the
        // last one equal to the summary's exact test NLL.
        let held_out: Vec<(u64, f64)> = std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["kind"] == "eval")
            .map(|v| (v["step"].as_u64().unwrap(), num(&v, "test_nll")))
            .collect();
        assert_eq!(
            held_out.iter().map(|p| p.0).collect::<Vec<_>>(),
            [20, 40, 60]
        );
        assert!(
            (held_out[2].1 - num(&s, "test_nll")).abs() < 1e-9,
            "{held_out:?}"
        );
        assert!(held_out[2].1 < held_out[0].1, "{held_out:?}");
        let svg = std::fs::read_to_string(run.join("loss.svg")).unwrap();
        assert!(svg.contains("test_nll") && svg.contains("training loss"));
        assert!(run.join("samples.png").exists() && run.join("loss.png").exists());
        let (ok, out, err) = genlab(&["score", "--checkpoint", run_s, "--data", "digits"]);
        assert!(ok, "score failed: {err}");
        let sc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(sc["kind"], "exact");
        assert!(
            (num(&sc, "mean") + num(&s, "test_nll")).abs() < 1e-9,
            "{sc}"
        );
        let (ok, _, err) = genlab(&["encode", "--checkpoint", run_s, "--data", "digits"]);
        assert!(!ok && err.contains("no latent variables"), "{err}");
        let (ok, _, err) = genlab(&[
            "score",
            "--checkpoint",
            run_s,
            "--data",
            "digits",
            "--estimator",
            "iwae",
        ]);
        assert!(!ok && err.contains("one way to score"), "{err}");
    }
    let (ok, _, err) = genlab(&[
        "train",
        "nade",
        "--data",
        "shakespeare",
        "--out",
        d.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("models images"), "{err}");
}

/// Decodes the PNG at `path` fully: (width, height).
fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    (info.width, info.height)
}

#[test]
fn two_dimensional_gan_runs_draw_the_decision_surface_and_both_losses() {
    let d = workdir("gan-pictures");
    for (model, steps) in [("hinge-gan", "60"), ("mmd-gan", "30")] {
        let run = d.join(model);
        let (ok, _, err) = genlab(&[
            "train",
            model,
            "--data",
            "twenty-five-gaussians",
            "--steps",
            steps,
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(ok, "{model} failed: {err}");
        assert_eq!(png_size(&run.join("decision.png")), (560, 480), "{model}");
        assert_eq!(png_size(&run.join("loss.png")), (600, 300), "{model}");
        // Each chart has an SVG beside its PNG.
        for svg in ["decision.svg", "loss.svg", "samples.svg"] {
            let text = std::fs::read_to_string(run.join(svg))
                .unwrap_or_else(|e| panic!("{model} {svg}: {e}"));
            assert!(
                text.contains("<svg") && text.trim_end().ends_with("</svg>"),
                "{model} {svg}"
            );
        }
        let loss = std::fs::read_to_string(run.join("loss.svg")).unwrap();
        assert!(loss.contains("G loss") && loss.contains("step"), "{model}");
    }
}

#[test]
fn gans_train_on_a_toy_report_modes_sample_and_refuse_to_score() {
    let d = workdir("gan");
    let run = d.join("ns-gan");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "ns-gan",
        "--data",
        "eight-gaussians",
        "--steps",
        "300",
        "--out",
        run_s,
    ]);
    assert!(ok, "train failed: {err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(s["modes"], 8, "{s}");
    let covered = num(&s, "modes_covered");
    assert!((1.0..=8.0).contains(&covered), "{s}");
    let hq = num(&s, "high_quality_fraction");
    assert!((0.0..=1.0).contains(&hq), "{s}");
    assert!(run.join("samples.png").exists() && run.join("loss.png").exists());
    // The decision surface with its colour bar (560 × 480) and both
    // players' losses (600 × 300) decode as PNGs.
    assert_eq!(png_size(&run.join("decision.png")), (560, 480));
    assert_eq!(png_size(&run.join("loss.png")), (600, 300));
    let (ok, _, err) = genlab(&["score", "--checkpoint", run_s, "--data", "eight-gaussians"]);
    assert!(!ok && err.contains("not a density"), "{err}");
    let (ok, out, err) = genlab(&["sample", "--checkpoint", run_s, "--n", "3"]);
    assert!(ok, "sample failed: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 3);
    let bad = d.join("bad");
    let (ok, _, err) = genlab(&[
        "train",
        "wgan",
        "--data",
        "digits",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("2-D points"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "wgan",
        "--data",
        "rings",
        "--clip",
        "0",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("clip"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "gan",
        "--data",
        "rings",
        "--n-critic",
        "0",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("n_critic"), "{err}");
}

#[test]
fn char_gpt_trains_on_names_samples_strings_and_scores_exactly() {
    let d = workdir("gpt");
    let run = d.join("gpt");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "char-gpt",
        "--data",
        "first-names",
        "--steps",
        "40",
        "--block",
        "16",
        "--gpt-layers",
        "1",
        "--heads",
        "2",
        "--width",
        "32",
        "--batch",
        "32",
        "--lr",
        "3e-3",
        "--out",
        run_s,
    ]);
    assert!(ok, "train failed: {err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    // 40 steps already beat the uniform distribution over the 27 symbols.
    assert!(num(&s, "val_loss_nats_per_char") < 27f64.ln() - 0.3, "{s}");
    assert!(run.join("samples.txt").exists() && run.join("loss.png").exists());
    // The held-out estimate logged after the last step agrees with the
    // summary's (both 20 random held-out batches, other windows).
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let last_eval: Value = metrics
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .rfind(|v| v["kind"] == "eval")
        .expect("an eval line");
    assert_eq!(last_eval["step"], 40);
    let logged = num(&last_eval, "test_nll_estimate");
    assert!(
        (logged - num(&s, "val_loss_nats_per_char")).abs() < 0.1,
        "{logged} {s}"
    );
    let names = d.join("names.txt");
    std::fs::write(&names, "mary\njohn\n").unwrap();
    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--input",
        names.to_str().unwrap(),
    ]);
    assert!(ok, "score failed: {err}");
    let sc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sc["kind"], "exact");
    let v = sc["values"].as_array().unwrap();
    assert!(
        v.len() == 2 && v.iter().all(|x| x.as_f64().unwrap() < 0.0),
        "{sc}"
    );
    let (ok, out, err) = genlab(&[
        "sample",
        "--checkpoint",
        run_s,
        "--n",
        "2",
        "--temperature",
        "0.8",
    ]);
    assert!(ok, "sample failed: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 2);
    let bad = d.join("bad");
    let (ok, _, err) = genlab(&[
        "train",
        "char-gpt",
        "--data",
        "digits",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("models text"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "char-gpt",
        "--data",
        "first-names",
        "--heads",
        "3",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("heads"), "{err}");
}

#[test]
fn lstm_trains_on_names_decodes_a_prompt_and_scores_exactly() {
    let d = workdir("lstm");
    let run = d.join("lstm");
    let run_s = run.to_str().unwrap();
    let (ok, out, err) = genlab(&[
        "train",
        "lstm",
        "--data",
        "first-names",
        "--steps",
        "40",
        "--block",
        "16",
        "--embed",
        "16",
        "--hidden",
        "32",
        "--lstm-layers",
        "1",
        "--batch",
        "32",
        "--lr",
        "1e-2",
        "--out",
        run_s,
    ]);
    assert!(ok, "train failed: {err}");
    let s: Value = serde_json::from_str(&out).unwrap();
    // 40 steps already beat the uniform distribution over the 27 symbols.
    assert!(num(&s, "val_loss_nats_per_char") < 27f64.ln() - 0.3, "{s}");
    assert!(run.join("samples.txt").exists() && run.join("loss.png").exists());
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(meta["model"], "lstm");
    assert_eq!(meta["options"]["config"]["hidden"], 32);
    assert_eq!(meta["options"]["batch_size"], 32);
    let names = d.join("names.txt");
    std::fs::write(&names, "mary\njohn\n").unwrap();
    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        run_s,
        "--input",
        names.to_str().unwrap(),
    ]);
    assert!(ok, "score failed: {err}");
    let sc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sc["kind"], "exact");
    let v = sc["values"].as_array().unwrap();
    assert!(
        v.len() == 2 && v.iter().all(|x| x.as_f64().unwrap() < 0.0),
        "{sc}"
    );
    let (ok, out, err) = genlab(&["sample", "--checkpoint", run_s, "--n", "2"]);
    assert!(ok, "sample failed: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 2);
    let decode = |prompt: &str, extra: &[&str]| {
        let mut args = vec![
            "sample",
            "--checkpoint",
            run_s,
            "--prompt",
            prompt,
            "--max-tokens",
            "20",
        ];
        args.extend_from_slice(extra);
        genlab(&args)
    };
    let (ok, greedy, err) = decode("ma", &["--greedy"]);
    assert!(ok && greedy.starts_with("ma"), "{err}");
    assert_eq!(decode("ma", &["--top-k", "1", "--seed", "7"]).1, greedy);
    assert_eq!(
        decode("ma", &["--seed", "3"]).1,
        decode("ma", &["--seed", "3"]).1
    );
    // The LSTM's state carries any context: a prompt longer than the block
    // (16) decodes (the GPT refuses it).
    let long = "mary\njohn\nanna\nsophie\nma";
    let (ok, text, err) = decode(long, &["--greedy"]);
    assert!(ok && text.starts_with(long), "{err}");
    let (ok, _, err) = decode("Ωx", &[]);
    assert!(!ok && err.contains("\"Ω\""), "{err}");
    let bad = d.join("bad");
    let (ok, _, err) = genlab(&[
        "train",
        "lstm",
        "--data",
        "digits",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("lstm models text"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "lstm",
        "--data",
        "first-names",
        "--hidden",
        "0",
        "--out",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("hidden"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn text_models_decode_a_prompt_with_one_interface() {
    let d = workdir("decode");
    let run = d.join("ngram");
    let run_s = run.to_str().unwrap();
    let (ok, _, err) = genlab(&[
        "train",
        "ngram",
        "--data",
        "first-names",
        "--order",
        "3",
        "--smoothing",
        "kneser-ney",
        "--out",
        run_s,
    ]);
    assert!(ok, "train failed: {err}");
    let decode = |extra: &[&str]| {
        let mut args = vec![
            "sample",
            "--checkpoint",
            run_s,
            "--prompt",
            "ma",
            "--max-tokens",
            "30",
        ];
        args.extend_from_slice(extra);
        genlab(&args)
    };
    let (ok, greedy, err) = decode(&["--greedy"]);
    assert!(ok && greedy.starts_with("ma"), "{err}");
    // top-k 1 and beam width 1 are greedy decoding.
    assert_eq!(decode(&["--top-k", "1", "--seed", "7"]).1, greedy);
    assert_eq!(decode(&["--beam", "1", "--length-penalty", "0"]).1, greedy);
    // Sampling is seeded: the same seed gives the same text.
    assert_eq!(decode(&["--seed", "3"]).1, decode(&["--seed", "3"]).1);
    for (extra, says) in [
        (&["--temperature", "0"][..], "greedy"),
        (&["--top-p", "1.5"][..], "top_p"),
        (&["--top-k", "0"][..], "top_k"),
        (&["--beam", "0"][..], "beam_width"),
    ] {
        let (ok, out, err) = decode(extra);
        assert!(
            !ok && out.is_empty() && err.contains(says),
            "{extra:?}: {err}"
        );
    }
    let (ok, _, err) = genlab(&["sample", "--checkpoint", run_s, "--prompt", "Ωx"]);
    assert!(!ok && err.contains("\"Ω\""), "{err}");
}

#[test]
fn image_gans_train_on_digits_sample_classes_encode_and_refuse_to_score() {
    let d = workdir("image-gans");
    let run = |model: &str, data: &str| {
        let dir = d.join(format!("{model}-{data}"));
        let (ok, out, err) = genlab(&[
            "train",
            model,
            "--data",
            data,
            "--steps",
            "4",
            "--batch",
            "16",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(ok, "{model} failed: {err}");
        let s: Value = serde_json::from_str(&out).unwrap();
        (dir.to_str().unwrap().to_string(), s)
    };
    // DCGAN: sample grid, latent interpolation, FID/PRDC against the test split.
    let (dc, s) = run("dcgan", "digits");
    for p in ["samples.png", "interpolation.png", "loss.png"] {
        assert!(Path::new(&dc).join(p).exists(), "{p}");
    }
    assert_eq!(s["vs_test"]["n_real"], 297, "{s}");
    assert!(num(&s["vs_test"], "fid") >= 0.0, "{s}");
    let (ok, _, err) = genlab(&["score", "--checkpoint", &dc, "--data", "digits"]);
    assert!(!ok && err.contains("not a density"), "{err}");
    let (ok, _, err) = genlab(&["sample", "--checkpoint", &dc, "--class", "3"]);
    assert!(!ok && err.contains("unconditional"), "{err}");
    let (ok, _, err) = genlab(&["encode", "--checkpoint", &dc, "--data", "digits"]);
    assert!(!ok && err.contains("no encoder"), "{err}");

    // cGAN: samples of a requested class; out-of-range classes refused.
    let (cg, s) = run("cgan", "digits");
    assert_eq!(s["config"]["classes"], 10, "{s}");
    let acc = num(&s["class_accuracy"], "overall");
    assert!((0.0..=1.0).contains(&acc), "{s}");
    assert!(Path::new(&cg).join("samples.png").exists());
    let (ok, out, err) = genlab(&["sample", "--checkpoint", &cg, "--class", "3", "--n", "4"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let rows = v["samples"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0].as_array().unwrap().len(), 64);
    let (ok, _, err) = genlab(&["sample", "--checkpoint", &cg, "--class", "10"]);
    assert!(!ok && err.contains("10 classes"), "{err}");

    // BiGAN: the encoder's approximate inverse, on images and on a toy.
    let (bi, s) = run("bigan", "digits");
    assert!(num(&s, "reconstruction_mse").is_finite(), "{s}");
    assert!(Path::new(&bi).join("reconstructions.png").exists());
    let (ok, out, err) = genlab(&[
        "encode",
        "--checkpoint",
        &bi,
        "--data",
        "digits",
        "--rows",
        "5",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let z = v["z"].as_array().unwrap();
    assert_eq!(z.len(), 5);
    assert_eq!(z[0].as_array().unwrap().len(), 16);
    let (ok, _, err) = genlab(&["score", "--checkpoint", &bi, "--data", "digits"]);
    assert!(!ok && err.contains("not a density"), "{err}");
    let (_, s) = run("bigan", "eight-gaussians");
    assert_eq!(s["modes"], 8, "{s}");

    // Data the model cannot take, and an image size the architecture cannot.
    let bad = d.join("bad");
    let bad = bad.to_str().unwrap();
    let (ok, _, err) = genlab(&["train", "dcgan", "--data", "eight-gaussians", "--out", bad]);
    assert!(!ok && err.contains("models images"), "{err}");
    let (ok, _, err) = genlab(&[
        "train",
        "cgan",
        "--data",
        "mnist5k",
        "--gan-hidden",
        "8,8,8",
        "--out",
        bad,
    ]);
    assert!(!ok && err.contains("28 is not a multiple of 2^3"), "{err}");
}

/// A `--backend flex` run never opens the Vulkan loader: without
/// `XDG_RUNTIME_DIR`, Mesa would print a warning on stderr the moment wgpu
/// initialises (CI installs Mesa's lavapipe, so the warning would show).
/// Training, sampling and scoring all keep to the CPU.
#[test]
fn flex_runs_never_touch_wgpu() {
    let dir = workdir("flex-only");
    let run = dir.join("made");
    let run_s = run.to_str().unwrap();
    let quiet = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_genlab"))
            .args(args)
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("BURN_DEVICE")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(
            !err.contains("XDG_RUNTIME_DIR"),
            "{args:?} initialised wgpu: {err}"
        );
    };
    let train = [
        "train",
        "made",
        "--data",
        "digits",
        "--steps",
        "4",
        "--backend",
        "flex",
        "--out",
        run_s,
    ];
    quiet(&train);
    quiet(&["sample", "--checkpoint", run_s, "--n", "2"]);
    quiet(&["score", "--checkpoint", run_s, "--data", "digits"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The training losses logged in a run's `metrics.jsonl`, by step.
fn logged_losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "train")
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

fn train_ok(args: &[&str]) -> Value {
    let mut full = vec!["train"];
    full.extend_from_slice(args);
    let (ok, out, err) = genlab(&full);
    assert!(ok, "genlab {full:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

const SMALL_VAE: [&str; 12] = [
    "--data",
    "digits",
    "--vae-hidden",
    "32",
    "--vae-latent",
    "2",
    "--batch",
    "16",
    "--seed",
    "3",
    "--backend",
    "flex",
];

#[test]
fn a_run_replays_from_its_config_file_and_flags_override_it() {
    let d = workdir("config");
    let (a, b, c) = (d.join("a"), d.join("b"), d.join("c"));
    let mut args = vec!["vae", "--steps", "40", "--out", a.to_str().unwrap()];
    args.extend_from_slice(&SMALL_VAE);
    train_ok(&args);
    let config = std::fs::read_to_string(a.join("config.toml")).unwrap();
    for line in [
        "model = \"vae\"",
        "data = \"digits\"",
        "steps = 40",
        "seed = 3",
    ] {
        assert!(
            config.lines().any(|l| l == line),
            "no `{line}` in\n{config}"
        );
    }
    let cfg = a.join("config.toml");
    let cfg = cfg.to_str().unwrap();
    train_ok(&["--config", cfg, "--out", b.to_str().unwrap()]);
    let original = logged_losses(&a);
    assert_eq!(original.len(), 4, "{original:?}");
    assert_eq!(logged_losses(&b), original, "the replay's losses differ");
    // A flag on the command line wins over the file.
    let s = train_ok(&[
        "--config",
        cfg,
        "--steps",
        "20",
        "--out",
        c.to_str().unwrap(),
    ]);
    assert_eq!(logged_losses(&c), original[..2], "{s}");

    // Errors: an unknown key, a config for another model, a taken --out.
    let typo = d.join("typo.toml");
    std::fs::write(&typo, "model = \"vae\"\ndata = \"digits\"\nlattent = 3\n").unwrap();
    let (ok, _, err) = genlab(&["train", "--config", typo.to_str().unwrap()]);
    assert!(
        !ok && err.contains("lattent") && err.contains("valid keys"),
        "{err}"
    );
    assert!(err.contains("vae-latent") && err.contains("steps"), "{err}");
    let (ok, _, err) = genlab(&["train", "realnvp", "--config", cfg]);
    assert!(!ok && err.contains("configures a `vae` run"), "{err}");
    let mut other = vec![
        "train",
        "vae",
        "--steps",
        "10",
        "--out",
        a.to_str().unwrap(),
    ];
    other.extend_from_slice(&SMALL_VAE);
    let (ok, _, err) = genlab(&other);
    assert!(
        !ok && err.contains("already holds") && err.contains("--overwrite"),
        "{err}"
    );
    other.push("--overwrite");
    let (ok, _, err) = genlab(&other);
    assert!(ok, "{err}");
    assert_eq!(logged_losses(&a).len(), 1);
}

#[test]
fn a_run_killed_mid_way_resumes_to_the_same_losses() {
    let d = workdir("resume");
    let (full, part) = (d.join("full"), d.join("part"));
    let steps = "3000";
    let args = |out: &Path| {
        let mut v: Vec<String> = ["vae", "--steps", steps, "--checkpoint-every", "50"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(SMALL_VAE.iter().map(|s| s.to_string()));
        v.extend(["--out".to_string(), out.display().to_string()]);
        v
    };
    let full_args = args(&full);
    train_ok(&full_args.iter().map(String::as_str).collect::<Vec<_>>());

    let mut child = Command::new(env!("CARGO_BIN_EXE_genlab"))
        .arg("train")
        .args(args(&part))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let latest = part.join("checkpoints").join("LATEST");
    let started = std::time::Instant::now();
    loop {
        let step = std::fs::read_to_string(&latest)
            .ok()
            .and_then(|s| s.trim().trim_start_matches("step-").parse::<u64>().ok());
        if step.is_some_and(|s| s >= 300) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(started.elapsed().as_secs() < 600, "no checkpoint appeared");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    assert!(!child.wait().unwrap().success());
    let killed_at = logged_losses(&part).len();
    assert!(
        killed_at < 300,
        "{killed_at} lines were logged before the kill"
    );

    let s = train_ok(&["--resume", part.to_str().unwrap()]);
    let full_losses = logged_losses(&full);
    assert_eq!(full_losses.len(), 300);
    assert_eq!(logged_losses(&part), full_losses, "resumed losses differ");
    let summary = |dir: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
    };
    assert_eq!(
        summary(&part)["train_loss"],
        summary(&full)["train_loss"],
        "{s}"
    );

    // A flipped byte in the weights is refused, naming the file.
    let ckpt = part
        .join("checkpoints")
        .join(std::fs::read_to_string(&latest).unwrap().trim())
        .join("model");
    let weights = std::fs::read_dir(&ckpt)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&weights).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&weights, bytes).unwrap();
    let (ok, _, err) = genlab(&["sample", "--checkpoint", part.to_str().unwrap(), "--n", "4"]);
    let name = weights.file_name().unwrap().to_str().unwrap();
    assert!(
        !ok && err.contains(name) && err.contains("checksum"),
        "{err}"
    );

    // --resume needs a run with a checkpoint.
    let (ok, _, err) = genlab(&["train", "--resume", d.join("nothing").to_str().unwrap()]);
    assert!(!ok && err.contains("no genlab run"), "{err}");
}

#[test]
fn completions_cover_the_train_flags() {
    let (ok, out, err) = genlab(&["completions", "bash"]);
    assert!(ok, "{err}");
    for flag in ["--checkpoint-every", "--resume", "--config", "--vae-hidden"] {
        assert!(out.contains(flag), "no {flag} in the bash completions");
    }
    let (ok, _, err) = genlab(&["completions", "tcsh"]);
    assert!(!ok && err.contains("possible values"), "{err}");
}

/// The held-out evaluation during training (2-D GANs: modes covered; DDPM:
/// the bound) is logged at the asked steps and leaves training untouched:
/// the same losses with and without it, spectral normalisation included.
#[test]
fn held_out_evaluation_is_logged_and_leaves_training_untouched() {
    let d = workdir("eval-every");
    let cases: [(&str, &str, &[&str], &str); 4] = [
        (
            "hinge-gan",
            "eight-gaussians",
            &["--spectral-norm", "true"],
            "modes_covered",
        ),
        (
            "ddpm",
            "eight-gaussians",
            &["--diffusion-steps", "100", "--bound-rows", "100"],
            "test_nll_bound",
        ),
        ("dcgan", "digits", &["--batch", "16"], "fid_proxy"),
        ("realnvp", "digits", &["--batch", "16"], "test_bits_per_dim"),
    ];
    for (model, data, extra, key) in cases {
        let runs: Vec<PathBuf> = ["20", "0"]
            .iter()
            .map(|every| {
                let out = d.join(format!("{model}-{every}"));
                let mut args = vec![
                    model,
                    "--data",
                    data,
                    "--steps",
                    "40",
                    "--eval-every",
                    every,
                    "--out",
                    out.to_str().unwrap(),
                ];
                args.extend_from_slice(extra);
                train_ok(&args);
                out
            })
            .collect();
        assert_eq!(logged_losses(&runs[0]), logged_losses(&runs[1]), "{model}");
        // What is computed after training (samples through batch-norm
        // running statistics, for one) is unchanged too.
        let summary = |dir: &Path| -> Value {
            let mut v: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                    .unwrap();
            for k in ["seconds", "ms_per_step"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        if model == "dcgan" {
            assert_eq!(summary(&runs[0])["vs_test"], summary(&runs[1])["vs_test"]);
        }
        let evals: Vec<Value> = std::fs::read_to_string(runs[0].join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["kind"] == "eval")
            .collect();
        assert_eq!(evals.len(), 2, "{model}: {evals:?}");
        assert!(
            evals.iter().all(|v| v[key].as_f64().unwrap().is_finite()),
            "{model}: {evals:?}"
        );
    }
}

/// `--distributed threads`: two ranks as threads of one process train the
/// step one process takes on the whole batch (same test NLL), run.json says
/// how, and the rank count is checked.
#[test]
fn threads_train_data_parallel_like_one_process() {
    let d = workdir("threads");
    let run = |extra: &[&str], name: &str| {
        let out = d.join(name);
        let o = out.to_str().unwrap().to_string();
        let args = [
            &[
                "train",
                "realnvp",
                "--data",
                "eight-gaussians",
                "--steps",
                "30",
                "--batch",
                "256",
                "--eval-every",
                "0",
                "--out",
                &o,
            ][..],
            extra,
        ]
        .concat();
        let (ok, stdout, err) = genlab(&args);
        (ok, stdout, err, out)
    };
    let (ok, two, err, out) = run(&["--distributed", "threads", "--ranks", "2"], "two");
    assert!(ok, "{err}");
    let (ok, one, err, _) = run(&[], "one");
    assert!(ok, "{err}");
    let (two, one): (Value, Value) = (
        serde_json::from_str(&two).unwrap(),
        serde_json::from_str(&one).unwrap(),
    );
    let gap = (num(&two, "test_nll") - num(&one, "test_nll")).abs();
    assert!(gap < 1e-4, "2 ranks {two} vs 1 process {one}");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        meta["distributed"],
        serde_json::json!({"engine": "threads", "world_size": 2, "global_batch": 256,
            "per_rank_batch": 128})
    );
    // A batch that does not split, no ranks, --ranks without threads.
    let (ok, _, err, _) = run(
        &["--distributed", "threads", "--ranks", "3", "--overwrite"],
        "three",
    );
    assert!(!ok && err.contains("does not split evenly"), "{err}");
    let (ok, _, err, _) = run(&["--distributed", "threads", "--ranks", "0"], "zero");
    assert!(!ok && err.contains("at least one rank"), "{err}");
    let (ok, _, err, _) = run(&["--ranks", "2"], "alone");
    assert!(!ok && err.contains("--distributed threads"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// `--distributed` without a world to join says how to get one; burn's DDP
/// in a build without CUDA says how to get it; `--devices` without burn-ddp
/// and `--backend cuda` without the feature are refused.
#[test]
fn distributed_modes_explain_what_they_need() {
    let out = std::env::temp_dir().join(format!("genlab-dist-{}", std::process::id()));
    let o = out.to_str().unwrap();
    let base = [
        "train",
        "realnvp",
        "--data",
        "eight-gaussians",
        "--steps",
        "2",
        "--out",
        o,
    ];
    let (ok, _, err) = genlab(&[&base[..], &["--distributed", "burn-ddp"]].concat());
    assert!(
        !ok && err.contains("CUDA")
            && err.contains("--features cuda")
            && err.contains("--distributed mpi"),
        "{err}"
    );
    // --devices belongs to burn-ddp; --backend cuda needs the cuda feature.
    let (ok, _, err) = genlab(&[&base[..], &["--devices", "0,1"]].concat());
    assert!(!ok && err.contains("--distributed burn-ddp"), "{err}");
    if !cfg!(feature = "cuda") {
        let (ok, _, err) = genlab(&[&base[..], &["--backend", "cuda"]].concat());
        assert!(!ok && err.contains("`cuda` feature"), "{err}");
    }
    let (ok, _, err) = genlab(&[&base[..], &["--distributed", "mpi"]].concat());
    if cfg!(feature = "mpi") {
        // Built with MPI but started without a launcher: refused, not a
        // silent world of one.
        assert!(
            !ok && err.contains("not started by an MPI launcher"),
            "{err}"
        );
    } else {
        assert!(
            !ok && err.contains("--features mpi") && err.contains("mpirun"),
            "{err}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
