//! `genlab train latent-ddpm`: diffusion in a VAE run's latent space, end to
//! end (train, sample, score, encode), and clear errors for a missing or
//! mismatched VAE.

mod common;
use common::genlab;

use std::path::PathBuf;

use serde_json::Value;

fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("genlab-latent-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn train(args: &[&str]) -> Value {
    let (ok, out, err) = genlab(args);
    assert!(ok, "genlab {args:?} failed: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn latent_ddpm_trains_samples_scores_and_encodes_in_a_vae_latent_space() {
    let d = workdir("ok");
    let vae = d.join("vae").display().to_string();
    let ldm = d.join("ldm").display().to_string();
    train(&[
        "train", "vae", "--data", "digits", "--steps", "30", "--eval-k", "5", "--out", &vae,
    ]);
    let s = train(&[
        "train",
        "latent-ddpm",
        "--data",
        "digits",
        "--vae",
        &vae,
        "--steps",
        "40",
        "--diffusion-steps",
        "100",
        "--diffusion-cosine",
        "--out",
        &ldm,
    ]);
    assert_eq!(s["latent_dim"], 20, "{s}");
    assert!(s["test_bound_nll"].as_f64().unwrap().is_finite(), "{s}");
    // Both sampling times are reported (compared in benchmarks, not here).
    for k in ["sample_ddim50_ms_per_image", "sample_ddpm_ms_per_image"] {
        assert!(s[k].as_f64().is_some_and(|ms| ms > 0.0), "{s}");
    }
    // The learning rate decays on a cosine from the default 1e-3.
    assert_eq!(s["lr_schedule"]["kind"], "cosine", "{s}");
    assert_eq!(common::assert_cosine_lrs(&d.join("ldm"), 1e-3, 40), 4);
    assert!(d.join("ldm/samples.png").exists());

    // Samples are decoder means of the digits VAE (a Gaussian decoder): 64 pixels.
    let out = d.join("s.npy");
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        &ldm,
        "--sampler",
        "ddim",
        "--sample-steps",
        "10",
        "--n",
        "5",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(ok, "{err}");
    let m = gen_data::io::npz::read_array(&out, None)
        .unwrap()
        .array
        .to_matrix()
        .unwrap();
    assert_eq!(m.shape(), (5, 64));
    assert!(m.as_slice().iter().all(|v| v.is_finite()));

    // The score is a bound, labelled so.
    let (ok, out, err) = genlab(&[
        "score",
        "--checkpoint",
        &ldm,
        "--data",
        "digits",
        "--split",
        "test",
    ]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "bound", "{v}");
    assert!(
        v["values"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x.as_f64().unwrap().is_finite())
    );

    // The run is self-contained: it loads with the VAE run gone.
    std::fs::remove_dir_all(d.join("vae")).unwrap();
    let (ok, _, err) = genlab(&["sample", "--checkpoint", &ldm, "--n", "2"]);
    assert!(ok, "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// LDM's recipe and the adaLN denoiser through the CLI: trained on
/// posterior draws, recorded in run.json and the summary; an interrupted
/// run resumes to the same losses (the draws come from the run's RNG).
#[test]
fn latent_ddpm_trains_on_posterior_draws_with_an_adaln_denoiser_and_resumes() {
    let d = workdir("posterior");
    let vae = d.join("vae").display().to_string();
    train(&[
        "train", "vae", "--data", "digits", "--steps", "30", "--eval-k", "5", "--out", &vae,
    ]);
    let run = |out: &str, steps: &str| {
        train(&[
            "train",
            "latent-ddpm",
            "--data",
            "digits",
            "--vae",
            &vae,
            "--steps",
            steps,
            "--checkpoint-every",
            "10",
            "--diffusion-steps",
            "100",
            "--diffusion-arch",
            "adaln-mlp",
            "--diffusion-hidden",
            "32,32",
            "--latent-posterior",
            "sample",
            "--out",
            out,
        ])
    };
    let full = d.join("full").display().to_string();
    let s = run(&full, "30");
    assert_eq!(s["latent_posterior"], "sample", "{s}");
    assert_eq!(s["config"]["arch"]["kind"], "adaln_mlp", "{s}");
    assert!(s["test_bound_nll"].as_f64().unwrap().is_finite(), "{s}");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("full/run.json")).unwrap()).unwrap();
    assert_eq!(meta["options"]["posterior"], "sample", "{meta}");

    // 20 steps, then resumed to 30: the same losses as the uninterrupted run.
    let split = d.join("split").display().to_string();
    run(&split, "20");
    let (ok, _, err) = genlab(&["train", "--resume", &split, "--steps", "30"]);
    assert!(ok, "{err}");
    let losses = |dir: &str| -> Vec<f64> {
        std::fs::read_to_string(PathBuf::from(dir).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["kind"] == "train")
            .map(|v| v["loss"].as_f64().unwrap())
            .collect()
    };
    assert!(losses(&full).len() >= 3, "{:?}", losses(&full));
    assert_eq!(losses(&split), losses(&full));

    // Unequal widths are refused for the residual denoiser.
    let (ok, _, err) = genlab(&[
        "train",
        "latent-ddpm",
        "--data",
        "digits",
        "--vae",
        &vae,
        "--steps",
        "5",
        "--diffusion-arch",
        "adaln-mlp",
        "--diffusion-hidden",
        "32,16",
        "--out",
        &d.join("bad").display().to_string(),
    ]);
    assert!(!ok && err.contains("all equal"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

/// `--conditional`: the latent DDPM learns p(z | y). After 1,500 steps on
/// the digits, most class-balanced samples are classified as the class
/// asked for (chance: 10%); `sample --class c --guidance w` draws class c;
/// a class out of range, and a class or guidance on an unconditional
/// latent DDPM, are refused with the fix.
#[test]
fn a_conditional_latent_ddpm_samples_the_class_asked_for() {
    let d = workdir("cond");
    let vae = d.join("vae").display().to_string();
    train(&[
        "train", "vae", "--data", "digits", "--steps", "300", "--eval-k", "5", "--out", &vae,
    ]);
    let ldm = |out: &str, steps: &str, conditional: bool| {
        let mut args = vec![
            "train",
            "latent-ddpm",
            "--data",
            "digits",
            "--vae",
            &vae,
            "--steps",
            steps,
            "--diffusion-steps",
            "100",
            "--out",
            out,
        ];
        if conditional {
            args.push("--conditional");
        }
        train(&args)
    };
    let cond = d.join("cond").display().to_string();
    let s = ldm(&cond, "1500", true);
    assert_eq!(s["config"]["classes"], 10, "{s}");
    let share = s["class_accuracy"]["share_classified_as_asked"]
        .as_f64()
        .unwrap();
    assert_eq!(s["class_accuracy"]["samples"], 200, "{s}");
    // The bound is of the unconditional model (the VAE never saw a label).
    assert_eq!(
        s["test_bound_model"], "the null class (the unconditional model)",
        "{s}"
    );
    assert!(s["test_bound_nll"].as_f64().unwrap().is_finite(), "{s}");
    assert!(
        share > 0.5,
        "only {share} of the samples are of the class asked for: {s}"
    );

    // Guided samples of one class.
    let out = d.join("threes.npy").display().to_string();
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        &cond,
        "--sampler",
        "ddim",
        "--sample-steps",
        "20",
        "--class",
        "3",
        "--guidance",
        "1",
        "--n",
        "6",
        "--out",
        &out,
    ]);
    assert!(ok, "{err}");
    let m = gen_data::io::npz::read_array(std::path::Path::new(&out), None)
        .unwrap()
        .array
        .to_matrix()
        .unwrap();
    assert_eq!(m.shape(), (6, 64));
    assert!(m.as_slice().iter().all(|v| v.is_finite()));
    let (ok, _, err) = genlab(&["sample", "--checkpoint", &cond, "--class", "10", "--n", "2"]);
    assert!(!ok && err.contains("0..=9"), "{err}");

    // An unconditional latent DDPM takes neither a class nor a guidance weight.
    let plain = d.join("plain").display().to_string();
    let s = ldm(&plain, "20", false);
    assert!(
        s["config"]["classes"].is_null() && s.get("class_accuracy").is_none(),
        "{s}"
    );
    let (ok, _, err) = genlab(&["sample", "--checkpoint", &plain, "--class", "1", "--n", "2"]);
    assert!(!ok && err.contains("--conditional"), "{err}");
    let (ok, _, err) = genlab(&[
        "sample",
        "--checkpoint",
        &plain,
        "--guidance",
        "1",
        "--n",
        "2",
    ]);
    assert!(!ok && err.contains("unconditional"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn latent_ddpm_refuses_a_missing_or_mismatched_vae() {
    let d = workdir("bad");
    let out = d.join("ldm").display().to_string();
    let (ok, _, err) = genlab(&["train", "latent-ddpm", "--data", "digits", "--out", &out]);
    assert!(!ok);
    assert!(
        err.contains("--vae") && err.contains("genlab train vae"),
        "{err}"
    );

    let nowhere = d.join("nowhere").display().to_string();
    let (ok, _, err) = genlab(&[
        "train",
        "latent-ddpm",
        "--data",
        "digits",
        "--vae",
        &nowhere,
        "--out",
        &out,
    ]);
    assert!(!ok);
    assert!(err.contains("not a genlab run directory"), "{err}");

    // A run of another model.
    let gmm = d.join("gmm").display().to_string();
    train(&[
        "train",
        "gmm",
        "--data",
        "eight-gaussians",
        "--steps",
        "2",
        "--out",
        &gmm,
    ]);
    let (ok, _, err) = genlab(&[
        "train",
        "latent-ddpm",
        "--data",
        "digits",
        "--vae",
        &gmm,
        "--out",
        &out,
    ]);
    assert!(!ok);
    assert!(err.contains("is a gmm run"), "{err}");

    // A VAE of another data set.
    let vae = d.join("vae").display().to_string();
    train(&[
        "train", "vae", "--data", "digits", "--steps", "2", "--eval-k", "2", "--out", &vae,
    ]);
    let (ok, _, err) = genlab(&[
        "train",
        "latent-ddpm",
        "--data",
        "mnist5k",
        "--vae",
        &vae,
        "--out",
        &out,
    ]);
    assert!(!ok);
    assert!(err.contains("trained on digits, not mnist5k"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}
