//! The score-kind harness: every model `genlab models` registers is trained
//! for a few steps, its run is scored, and what `score` returns must agree
//! with the model's row of the capability table — `exact` rows return exact
//! log-densities, `approximate` rows a bound, an estimate or a numerically
//! integrated likelihood, `none` rows refuse. A new family is covered as
//! soon as it registers.

mod common;
use common::genlab;

use serde_json::Value;

/// Small settings of every family, so each run takes a moment.
const TINY: &[&str] = &[
    "--steps",
    "3",
    "--batch",
    "16",
    "--vae-hidden",
    "16",
    "--vae-latent",
    "2",
    "--eval-k",
    "2",
    "--codebook-size",
    "4",
    "--codes",
    "2",
    "--code-dim",
    "2",
    "--flow-layers",
    "2",
    "--flow-hidden",
    "8,8",
    "--ode-steps",
    "2",
    "--order",
    "2",
    "--components",
    "2",
    "--diffusion-steps",
    "20",
    "--diffusion-hidden",
    "8",
    "--bound-rows",
    "20",
];

/// The data a model is tried on, in order: continuous points, images, text.
const DATA: &[&str] = &["eight-gaussians", "digits", "first-names"];

/// Flags naming the run a model builds on, trained here first: a latent
/// DDPM diffuses in the latent space of a VAE run (on digits).
fn prerequisite(model: &str, dir: &std::path::Path) -> Vec<String> {
    if model != "latent-ddpm" {
        return Vec::new();
    }
    let vae = dir.join("vae-for-latent-ddpm");
    let vae_s = vae.to_str().unwrap();
    let mut args = vec!["train", "vae", "--data", "digits", "--out", vae_s];
    args.extend_from_slice(TINY);
    let (ok, _, err) = genlab(&args);
    assert!(ok, "the VAE latent-ddpm builds on: {err}");
    vec!["--vae".into(), vae_s.into()]
}

#[test]
fn every_registered_model_scores_as_its_capability_row_says() {
    let (ok, out, err) = genlab(&["models", "--json"]);
    assert!(ok, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(rows.len() >= 10, "{out}");
    let dir = std::env::temp_dir().join(format!("genlab-score-kinds-{}", std::process::id()));
    let mut disagreements = Vec::new();
    for row in &rows {
        let model = row["model"].as_str().unwrap();
        let support = row["score"]["support"].as_str().unwrap();
        let run = dir.join(model);
        let run_s = run.to_str().unwrap();
        let needs = prerequisite(model, &dir);
        let data = DATA.iter().find(|d| {
            let mut args = vec!["train", model, "--data", d, "--out", run_s];
            args.extend_from_slice(TINY);
            args.extend(needs.iter().map(String::as_str));
            genlab(&args).0
        });
        let data = data.unwrap_or_else(|| panic!("{model} trains on none of {DATA:?}"));
        let (ok, out, err) = genlab(&["score", "--checkpoint", run_s, "--data", data]);
        let verdict = match (support, ok) {
            ("none", false) if err.contains("does not support") => Ok(()),
            (_, false) => Err(format!("score failed: {err}")),
            (_, true) => {
                let v: Value = serde_json::from_str(&out).unwrap();
                let kind = v["kind"].as_str().unwrap_or("?").to_string();
                let values = v["values"].as_array().map_or(0, Vec::len);
                assert!(values > 0, "{model}: no values: {out}");
                match (support, kind.as_str()) {
                    ("exact", "exact") => Ok(()),
                    ("approximate", "bound" | "estimate" | "integrated") => Ok(()),
                    _ => Err(format!("returned `{kind}` scores")),
                }
            }
        };
        if let Err(why) = verdict {
            disagreements.push(format!(
                "{model}: the capability table says scoring is {support} ({}), but {why}",
                row["score"]["how"]
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        disagreements.is_empty(),
        "score kinds disagree with the capability table:\n{}",
        disagreements.join("\n")
    );
}
