//! `genlab train|sample|score|encode|reconstruct|interpolate` for the VAE
//! family (gen-vae): vae, beta-vae, iwae, conv-vae, vq-vae and the exact
//! baseline ppca.
//!
//! Data: with a Bernoulli decoder (the default on mnist5k) training batches
//! are dynamically binarized from the run RNG and the test split is binarized
//! once with seed [`TEST_BINARIZE_SEED`]; with a Gaussian decoder (the default
//! on digits) and for ppca, pixels are scaled to [0, 1] and scores are
//! continuous log-densities of the scaled data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gen_core::nn::Activation;
use gen_core::optim::OptimConfig;
use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Backend, Checkpoint, GenError, Learn, Matrix, Result, Sample, SampleOptions, Score, Scores,
    rng_from_seed,
};
use gen_vae::{
    ConvSpec, Estimator, Likelihood, Objective, Ppca, Vae, VaeConfig, VqVae, VqVaeConfig,
};
use serde_json::json;

use crate::data::{self, Data};
use crate::output;
use crate::run::{RunMeta, latest_model_dir};

/// Seed of the one fixed binarization of evaluation data.
pub const TEST_BINARIZE_SEED: u64 = 1234;

/// Model names this module handles.
pub const MODELS: &[&str] = &["vae", "beta-vae", "iwae", "conv-vae", "vq-vae", "ppca"];

/// True for a model name of the VAE family.
pub fn is_vae(model: &str) -> bool {
    MODELS.contains(&model)
}

/// VAE options of `genlab train`.
#[derive(clap::Args, Debug, Clone)]
pub struct VaeArgs {
    /// Latent dimension (vae, beta-vae, iwae, ppca).
    #[arg(id = "vae-latent", long = "vae-latent", default_value_t = 20)]
    pub latent: usize,
    /// Hidden widths of the VAE encoder (decoder mirrors them), comma separated.
    #[arg(
        id = "vae-hidden",
        long = "vae-hidden",
        value_delimiter = ',',
        default_value = "400"
    )]
    pub hidden: Vec<usize>,
    /// Minibatch size of the VAE.
    #[arg(id = "vae-batch", long = "vae-batch", default_value_t = 100)]
    pub batch: usize,
    /// Adam learning rate of the VAE.
    #[arg(id = "vae-lr", long = "vae-lr", default_value_t = 1e-3)]
    pub lr: f64,
    /// KL weight β (beta-vae only; vae and iwae use 1).
    #[arg(id = "vae-beta", long = "beta", default_value_t = 4.0)]
    pub beta: f64,
    /// Linear KL annealing over this many steps (0: off).
    #[arg(id = "vae-kl-warmup", long = "kl-warmup", default_value_t = 0)]
    pub kl_warmup: u64,
    /// Free bits per latent dimension in nats (0: off).
    #[arg(id = "vae-free-bits", long = "free-bits", default_value_t = 0.0)]
    pub free_bits: f64,
    /// Importance samples of the IWAE training objective.
    #[arg(id = "vae-iwae-k", long = "iwae-k", default_value_t = 5)]
    pub iwae_k: usize,
    /// Decoder: auto (bernoulli on mnist5k, gaussian-learned otherwise), bernoulli,
    /// gaussian (fixed variance 0.01) or gaussian-learned.
    #[arg(id = "vae-decoder", long = "decoder", default_value = "auto")]
    pub decoder: String,
    /// K of the IWAE estimate in the training summary (0: skip).
    #[arg(id = "vae-eval-k", long = "eval-k", default_value_t = 1000)]
    pub eval_k: usize,
    /// Codebook size K (vq-vae).
    #[arg(id = "vq-codebook-size", long = "codebook-size", default_value_t = 64)]
    pub codebook_size: usize,
    /// Width D_e of each code vector and codeword (vq-vae).
    #[arg(id = "vq-code-dim", long = "code-dim", default_value_t = 16)]
    pub code_dim: usize,
    /// Number of latent positions L, code vectors per image (vq-vae).
    #[arg(id = "vq-codes", long = "codes", default_value_t = 16)]
    pub codes: usize,
    /// Commitment cost β of the VQ loss (vq-vae).
    #[arg(id = "vq-commitment", long = "commitment", default_value_t = 0.25)]
    pub commitment: f64,
}

/// Arguments shared by encode / reconstruct / interpolate.
#[derive(clap::Args, Debug)]
pub struct InferArgs {
    /// Run directory written by `genlab train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Rows to use: .npy / .csv in the model's input scale.
    #[arg(long, conflicts_with = "data")]
    pub input: Option<PathBuf>,
    /// A data set instead of a file (preprocessed as in training).
    #[arg(long)]
    pub data: Option<String>,
    /// Which split of --data.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Output: .npy (encode, reconstruct) or .png (reconstruct, interpolate).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Use only the first this many rows.
    #[arg(long, default_value_t = 64)]
    pub rows: usize,
    /// Interpolate: index of the first end point.
    #[arg(long, default_value_t = 0)]
    pub from: usize,
    /// Interpolate: index of the second end point.
    #[arg(long, default_value_t = 1)]
    pub to: usize,
    /// Interpolate: number of points (≥ 2).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
}

fn bad_data(model: &str, d: &Data) -> GenError {
    GenError::config(
        "--data",
        d.describe(),
        format!("{model} models images"),
        "use --data mnist5k or --data digits",
    )
}

/// How a run turns raw data into model input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Prep {
    /// Fixed binarization with [`TEST_BINARIZE_SEED`] (Bernoulli decoder).
    Binarize,
    /// x / (levels − 1).
    Scale,
}

/// Trains an image model on shuffled minibatches of `raw` (binarized afresh
/// each step, or scaled to [0, 1] once), checkpointing every 1000 steps.
#[allow(clippy::too_many_arguments)]
fn fit_images<M: Learn<Batch = Matrix> + Checkpoint>(
    model: &mut M,
    raw: &Matrix,
    levels: u32,
    prep: Prep,
    a: &VaeArgs,
    steps: u64,
    seed: u64,
    out: &Path,
) -> Result<gen_core::train::TrainReport> {
    let scaled = match prep {
        Prep::Scale => Some(gen_data::transforms::scale_unit(raw, levels)?),
        Prep::Binarize => None,
    };
    let batcher = EpochBatcher::new(raw.rows(), a.batch, seed)?;
    let tc = TrainConfig {
        steps,
        lr: a.lr,
        seed,
        checkpoint_every: 1000,
        log_every: 10,
        batch_size: a.batch,
        ..TrainConfig::default()
    };
    Trainer::new(tc, out)?.fit(model, |t, rng| {
        let idx = batcher.indices(t);
        match &scaled {
            Some(x) => x.select_rows(&idx),
            None => gen_data::transforms::binarize(&raw.select_rows(&idx)?, levels, rng),
        }
    })
}

fn prep_images(d: &Data, prep: Prep, model: &str) -> Result<(Matrix, usize, usize)> {
    match d {
        Data::Images {
            x, h, w, levels, ..
        } => {
            let m = match prep {
                Prep::Binarize => gen_data::transforms::binarize(
                    x,
                    *levels,
                    &mut rng_from_seed(TEST_BINARIZE_SEED),
                )?,
                Prep::Scale => gen_data::transforms::scale_unit(x, *levels)?,
            };
            Ok((m, *h, *w))
        }
        other => Err(bad_data(model, other)),
    }
}

fn likelihood(decoder: &str, data_name: &str) -> Result<Likelihood> {
    Ok(match decoder {
        "auto" if data_name.starts_with("mnist") => Likelihood::Bernoulli,
        "auto" | "gaussian-learned" => Likelihood::Gaussian {
            log_var: (0.01f64).ln(),
            learned: true,
        },
        "bernoulli" => Likelihood::Bernoulli,
        "gaussian" => Likelihood::Gaussian {
            log_var: (0.01f64).ln(),
            learned: false,
        },
        other => {
            return Err(GenError::config(
                "--decoder",
                other,
                "unknown decoder",
                "use auto, bernoulli, gaussian or gaussian-learned",
            ));
        }
    })
}

fn vae_config(
    model: &str,
    (h, w): (usize, usize),
    a: &VaeArgs,
    data_name: &str,
) -> Result<VaeConfig> {
    let d_in = h * w;
    let (objective, beta) = match model {
        "vae" | "conv-vae" => (Objective::Elbo, 1.0),
        "beta-vae" => (Objective::Elbo, a.beta),
        "iwae" => (Objective::Iwae { k: a.iwae_k }, 1.0),
        other => return Err(crate::classical::unknown_model(other)),
    };
    let cfg = VaeConfig {
        d_in,
        hidden: a.hidden.clone(),
        latent: a.latent,
        activation: if model == "conv-vae" {
            Activation::Relu
        } else {
            Activation::Tanh
        },
        likelihood: likelihood(&a.decoder, data_name)?,
        objective,
        beta,
        kl_warmup_steps: if model == "iwae" { 0 } else { a.kl_warmup },
        free_bits: if model == "iwae" { 0.0 } else { a.free_bits },
        optim: OptimConfig::default(),
        conv: (model == "conv-vae").then(|| ConvSpec {
            height: h,
            width: w,
            channels: if h >= 16 { vec![32, 64] } else { vec![16, 32] },
        }),
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Trains a VAE-family model and writes the run directory.
#[allow(clippy::too_many_arguments)]
pub fn train(
    model: &str,
    data_name: &str,
    backend: Backend,
    steps: u64,
    seed: u64,
    a: &VaeArgs,
    out: &Path,
) -> Result<serde_json::Value> {
    let train = data::load(data_name, gen_data::Split::Train)?;
    let test = data::load(data_name, gen_data::Split::Test)?;
    let Data::Images {
        x: raw,
        h,
        w,
        levels,
        ..
    } = &train
    else {
        return Err(bad_data(model, &train));
    };
    let (h, w, levels) = (*h, *w, *levels);
    if model == "ppca" {
        return train_ppca(data_name, &train, &test, a, seed, out);
    }
    if model == "vq-vae" {
        let run = VqRun {
            data_name,
            backend,
            steps,
            seed,
            out,
        };
        return train_vq(&run, raw, (h, w, levels), &test, a);
    }
    let cfg = vae_config(model, (h, w), a, data_name)?;
    let prep = if cfg.likelihood == Likelihood::Bernoulli {
        Prep::Binarize
    } else {
        Prep::Scale
    };
    RunMeta {
        model: model.into(),
        data: data_name.into(),
        options: json!({"backend": backend.name(), "seed": seed, "steps": steps, "vae": cfg,
                        "prep": if prep == Prep::Binarize { "binarize" } else { "scale" }}),
    }
    .save(out)?;
    let device = backend.device()?;
    let mut vae = Vae::new(cfg.clone(), &device, seed)?;
    let report = fit_images(&mut vae, raw, levels, prep, a, steps, seed, out)?;
    let (xt, _, _) = prep_images(&test, prep, model)?;
    let mut rng = rng_from_seed(seed ^ 0x5eed);
    let t0 = Instant::now();
    let elbo = vae.elbo(&xt, 1, &mut rng)?.mean();
    let iwae = if a.eval_k > 0 {
        Some(vae.iwae(&xt, a.eval_k, &mut rng)?.mean())
    } else {
        None
    };
    let diag = vae.diagnostics(&xt)?;
    let mut summary = json!({
        "model": model, "data": data_name, "backend": backend.name(),
        "train": train.describe(), "decoder": cfg.likelihood.name(),
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": 1e3 * report.seconds / (report.steps.max(1)) as f64,
        "train_loss": report.final_loss,
        "test_elbo": elbo,
        "test_iwae": iwae, "iwae_k": a.eval_k,
        "eval_seconds": t0.elapsed().as_secs_f64(),
        "active_units": diag.active_units, "kl_total": diag.kl_total,
        "kl_per_dim": diag.kl_per_dim, "posterior_collapse": diag.posterior_collapse,
        "reconstruction_mse": diag.reconstruction_mse,
        "units": "nats per image",
    });
    if let Some(i) = iwae {
        summary["test_nll_iwae"] = json!(-i);
    }
    pictures(&vae, &xt, h, w, seed, out)?;
    output::loss_png(&report.losses, &out.join("loss.png"))?;
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    summary["pictures"] = json!([
        "samples.png",
        "reconstructions.png",
        "interpolation.png",
        "traversal.png",
        "loss.png"
    ]);
    Ok(summary)
}

fn vq_config((h, w): (usize, usize), a: &VaeArgs, data_name: &str) -> Result<VqVaeConfig> {
    let cfg = VqVaeConfig {
        d_in: h * w,
        hidden: a.hidden.clone(),
        codes: a.codes,
        code_dim: a.code_dim,
        codebook_size: a.codebook_size,
        commitment: a.commitment,
        activation: Activation::Relu,
        likelihood: likelihood(&a.decoder, data_name)?,
        optim: OptimConfig::default(),
    };
    cfg.validate()?;
    Ok(cfg)
}

/// Run-wide settings of a VQ-VAE training run.
struct VqRun<'a> {
    data_name: &'a str,
    backend: Backend,
    steps: u64,
    seed: u64,
    out: &'a Path,
}

/// Trains a VQ-VAE: run.json, checkpoints, metrics.jsonl, summary.json
/// (test reconstruction loss, the vq-elbo bound, codebook usage) and pictures.
fn train_vq(
    run: &VqRun<'_>,
    raw: &Matrix,
    (h, w, levels): (usize, usize, u32),
    test: &Data,
    a: &VaeArgs,
) -> Result<serde_json::Value> {
    let (model, out, seed) = ("vq-vae", run.out, run.seed);
    let cfg = vq_config((h, w), a, run.data_name)?;
    let prep = if cfg.likelihood == Likelihood::Bernoulli {
        Prep::Binarize
    } else {
        Prep::Scale
    };
    RunMeta {
        model: model.into(),
        data: run.data_name.into(),
        options: json!({"backend": run.backend.name(), "seed": seed, "steps": run.steps,
                        "vqvae": cfg,
                        "prep": if prep == Prep::Binarize { "binarize" } else { "scale" }}),
    }
    .save(out)?;
    let mut vq = VqVae::new(cfg.clone(), &run.backend.device()?, seed)?;
    let report = fit_images(&mut vq, raw, levels, prep, a, run.steps, seed, out)?;
    let (xt, _, _) = prep_images(test, prep, model)?;
    let t0 = Instant::now();
    let bound = vq.vq_elbo(&xt)?.mean();
    let recon_nll = -(bound + cfg.prior_nats());
    let usage = vq.code_usage(&xt)?;
    let rec = vq.reconstruct(&xt)?;
    let mse = xt
        .as_slice()
        .iter()
        .zip(rec.as_slice())
        .map(|(p, q)| (p - q) * (p - q))
        .sum::<f64>()
        / (xt.rows() * xt.cols()) as f64;
    let d = xt.cols();
    let mut summary = json!({
        "model": model, "data": run.data_name, "backend": run.backend.name(),
        "decoder": cfg.likelihood.name(),
        "codebook_size": cfg.codebook_size, "codes": cfg.codes, "code_dim": cfg.code_dim,
        "commitment": cfg.commitment,
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": 1e3 * report.seconds / (report.steps.max(1)) as f64,
        "train_loss": report.final_loss,
        "test_recon_nll": recon_nll,
        "test_vq_elbo": bound,
        "test_nll_bound": -bound,
        "prior_nats": cfg.prior_nats(),
        "codebook_used": usage.used,
        "codebook_perplexity": usage.perplexity,
        "reconstruction_mse": mse,
        "eval_seconds": t0.elapsed().as_secs_f64(),
        "units": "nats per image; vq-elbo = log p(x|z_q) - L log K under a uniform prior over codes",
    });
    if prep == Prep::Binarize {
        // Binary pixels: bits per dimension of the bound is NLL / (D ln 2).
        summary["test_bits_per_dim_bound"] = json!(-bound / (d as f64 * std::f64::consts::LN_2));
    }
    let s = vq.sample(64, &SampleOptions::default(), &mut rng_from_seed(seed))?;
    output::grid_png(&s, h, w, &out.join("samples.png"))?;
    let n = xt.rows().min(32);
    let spread: Vec<usize> = (0..n).map(|i| i * xt.rows() / n.max(1)).collect();
    let x = xt.select_rows(&spread)?;
    output::grid_png(
        &interleave(&x, &vq.reconstruct(&x)?, 8)?,
        h,
        w,
        &out.join("reconstructions.png"),
    )?;
    output::loss_png(&report.losses, &out.join("loss.png"))?;
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    summary["pictures"] = json!(["samples.png", "reconstructions.png", "loss.png"]);
    Ok(summary)
}

fn train_ppca(
    data_name: &str,
    train: &Data,
    test: &Data,
    a: &VaeArgs,
    seed: u64,
    out: &Path,
) -> Result<serde_json::Value> {
    let (x, h, w) = prep_images(train, Prep::Scale, "ppca")?;
    let (xt, _, _) = prep_images(test, Prep::Scale, "ppca")?;
    RunMeta {
        model: "ppca".into(),
        data: data_name.into(),
        options: json!({"latent": a.latent, "seed": seed, "prep": "scale"}),
    }
    .save(out)?;
    let mut p = Ppca::unfitted(x.cols(), a.latent)?;
    let tc = TrainConfig {
        steps: 1,
        seed,
        progress: false,
        batch_size: x.rows(),
        ..TrainConfig::default()
    };
    let report = Trainer::new(tc, out)?.fit(&mut p, |_, _| Ok(x.clone()))?;
    let ll = p.score(&xt)?;
    let s = p.sample(64, &SampleOptions::default(), &mut rng_from_seed(seed))?;
    let clipped = Matrix::new(
        s.rows(),
        s.cols(),
        s.as_slice().iter().map(|v| v.clamp(0.0, 1.0)).collect(),
    )?;
    output::grid_png(&clipped, h, w, &out.join("samples.png"))?;
    let summary = json!({
        "model": "ppca", "data": data_name, "latent": a.latent, "sigma2": p.sigma2,
        "train_nll": report.final_loss, "test_log_likelihood_exact": ll.mean(),
        "test_nll": -ll.mean(), "seconds": report.seconds,
        "units": "nats per image, density of pixels scaled to [0, 1]",
    });
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

fn pictures(vae: &Vae, xt: &Matrix, h: usize, w: usize, seed: u64, out: &Path) -> Result<()> {
    let s = vae.sample(64, &SampleOptions::default(), &mut rng_from_seed(seed))?;
    output::grid_png(&s, h, w, &out.join("samples.png"))?;
    // Evenly spaced rows: the canonical test splits are sorted by label, so
    // the first rows would all show the same digit.
    let n = xt.rows().min(32);
    let spread: Vec<usize> = (0..n).map(|i| i * xt.rows() / n.max(1)).collect();
    let x = xt.select_rows(&spread)?;
    output::grid_png(
        &interleave(&x, &vae.reconstruct(&x)?, 8)?,
        h,
        w,
        &out.join("reconstructions.png"),
    )?;
    let mut rows = Vec::new();
    let pairs = (xt.rows() / 2).min(8);
    for p in 0..pairs {
        // Pair rows from different parts of the (label-sorted) split.
        let a = p * xt.rows() / (2 * pairs);
        let b = xt.rows() - 1 - a;
        let m = vae.interpolate(xt.row(a), xt.row(b), 8)?;
        rows.extend(m.iter_rows().map(<[f64]>::to_vec));
    }
    if !rows.is_empty() {
        output::grid_png(
            &Matrix::from_rows(&rows)?,
            h,
            w,
            &out.join("interpolation.png"),
        )?;
    }
    let dims: Vec<usize> = (0..vae.config().latent.min(8)).collect();
    let values: Vec<f64> = (0..8).map(|i| -3.0 + 6.0 * i as f64 / 7.0).collect();
    output::grid_png(
        &vae.traverse(xt.row(0), &dims, &values)?,
        h,
        w,
        &out.join("traversal.png"),
    )
}

/// Blocks of `per` originals followed by their reconstructions.
fn interleave(x: &Matrix, r: &Matrix, per: usize) -> Result<Matrix> {
    let mut rows = Vec::new();
    for start in (0..x.rows()).step_by(per) {
        let end = (start + per).min(x.rows());
        rows.extend((start..end).map(|i| x.row(i).to_vec()));
        rows.extend((start..end).map(|i| r.row(i).to_vec()));
    }
    Matrix::from_rows(&rows)
}

/// A loaded VAE-family run.
pub enum Loaded {
    /// A neural VAE.
    Vae(Box<Vae>),
    /// Probabilistic PCA.
    Ppca(Ppca),
    /// A VQ-VAE.
    VqVae(Box<VqVae>),
}

/// Loads the newest checkpoint of a VAE-family run.
pub fn load(meta: &RunMeta, run_dir: &Path) -> Result<Loaded> {
    let dir = latest_model_dir(run_dir)?;
    if meta.model == "ppca" {
        let mut p = Ppca::unfitted(2, 1)?;
        gen_core::Checkpoint::load_checkpoint(&mut p, &dir)?;
        return Ok(Loaded::Ppca(p));
    }
    let backend: Backend = meta
        .options
        .get("backend")
        .and_then(|b| b.as_str())
        .unwrap_or("flex")
        .parse()?;
    let device = backend.device()?;
    if meta.model == "vq-vae" {
        return Ok(Loaded::VqVae(Box::new(VqVae::load(&dir, &device)?)));
    }
    Ok(Loaded::Vae(Box::new(Vae::load(&dir, &device)?)))
}

fn prep_of(meta: &RunMeta) -> Prep {
    match meta.options.get("prep").and_then(|p| p.as_str()) {
        Some("binarize") => Prep::Binarize,
        _ => Prep::Scale,
    }
}

/// Rows from --input or --data/--split, preprocessed like the run's training data.
fn rows(
    meta: &RunMeta,
    input: Option<&Path>,
    data_name: Option<&str>,
    split: &str,
) -> Result<(Matrix, Option<(usize, usize)>)> {
    match (input, data_name) {
        (Some(p), _) => Ok((crate::read_rows(p)?, None)),
        (None, Some(d)) => {
            let (m, h, w) = prep_images(
                &data::load(d, data::parse_split(split)?)?,
                prep_of(meta),
                &meta.model,
            )?;
            Ok((m, Some((h, w))))
        }
        (None, None) => Err(GenError::config(
            "input",
            "none",
            "no rows given",
            "pass --input FILE.npy or --data NAME [--split test]",
        )),
    }
}

fn side(d: usize) -> (usize, usize) {
    let s = (d as f64).sqrt().round() as usize;
    if s * s == d { (s, s) } else { (1, d) }
}

/// `genlab sample` for a VAE-family run: .npy, .png (image grid) or JSON.
pub fn sample(
    meta: &RunMeta,
    run_dir: &Path,
    n: usize,
    temperature: f64,
    seed: u64,
    out: Option<&Path>,
) -> Result<()> {
    let opts = SampleOptions::with_temperature(temperature);
    let mut rng = rng_from_seed(seed);
    let m = match load(meta, run_dir)? {
        Loaded::Vae(v) => v.sample(n, &opts, &mut rng)?,
        Loaded::Ppca(p) => p.sample(n, &opts, &mut rng)?,
        Loaded::VqVae(v) => v.sample(n, &opts, &mut rng)?,
    };
    write_rows(&m, out)
}

fn write_rows(m: &Matrix, out: Option<&Path>) -> Result<()> {
    match out {
        Some(p) if p.extension().and_then(|e| e.to_str()) == Some("png") => {
            let (h, w) = side(m.cols());
            let clipped = Matrix::new(
                m.rows(),
                m.cols(),
                m.as_slice().iter().map(|v| v.clamp(0.0, 1.0)).collect(),
            )?;
            output::grid_png(&clipped, h, w, p)?;
            eprintln!("wrote {} images to {}", m.rows(), p.display());
            Ok(())
        }
        Some(p) => {
            gen_data::io::npy::write_npy_f64(p, m)?;
            eprintln!("wrote {} rows to {}", m.rows(), p.display());
            Ok(())
        }
        None => crate::print_json(
            &json!({"rows": m.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>()}),
        ),
    }
}

/// `genlab score` for a VAE-family run: `--estimator elbo|iwae --k K`.
pub fn score(
    meta: &RunMeta,
    run_dir: &Path,
    input: Option<&Path>,
    data_name: Option<&str>,
    split: &str,
    estimator: &str,
    k: usize,
) -> Result<Scores> {
    let (x, _) = rows(meta, input, data_name, split)?;
    match load(meta, run_dir)? {
        Loaded::Ppca(p) => p.score(&x),
        Loaded::VqVae(v) => match estimator {
            "elbo" => v.score(&x),
            other => Err(GenError::config(
                "--estimator",
                other,
                "a VQ-VAE is scored by its bound log p(x|z_q) - L log K (uniform prior over codes); its posterior is one-hot, so there is no importance-weighted estimate",
                "use --estimator elbo (the vq-elbo bound) with a vq-vae run",
            )),
        },
        Loaded::Vae(mut v) => {
            let e = match estimator {
                "elbo" => Estimator::Elbo { samples: 1 },
                "iwae" => Estimator::Iwae { k },
                other => {
                    return Err(GenError::config(
                        "--estimator",
                        other,
                        "unknown estimator",
                        "use elbo (a lower bound) or iwae (an estimate with --k samples)",
                    ));
                }
            };
            v.set_estimator(e)?;
            v.score(&x)
        }
    }
}

fn vae_only(meta: &RunMeta, run_dir: &Path, what: &str) -> Result<Vae> {
    match load(meta, run_dir)? {
        Loaded::Vae(v) => Ok(*v),
        Loaded::Ppca(_) => Err(GenError::config(
            "--checkpoint",
            run_dir.display(),
            format!("`genlab {what}` is implemented for the neural VAEs"),
            "use Ppca::posterior from the library for ppca, or a vae / beta-vae / iwae run",
        )),
        Loaded::VqVae(_) => Err(GenError::config(
            "--checkpoint",
            run_dir.display(),
            format!(
                "`genlab {what}` needs a continuous latent space; a vq-vae's codes are discrete"
            ),
            "use `genlab encode` / `genlab reconstruct` with a vq-vae run, or a vae / beta-vae / iwae run",
        )),
    }
}

fn first_rows(x: Matrix, n: usize) -> Result<Matrix> {
    let n = n.min(x.rows());
    x.select_rows(&(0..n).collect::<Vec<_>>())
}

/// `genlab encode`: posterior means (and log-variances) of q(z | x).
pub fn encode(a: &InferArgs) -> Result<()> {
    let meta = RunMeta::load(&a.checkpoint)?;
    if meta.model == "vq-vae" {
        return encode_vq(a, &meta);
    }
    let vae = vae_only(&meta, &a.checkpoint, "encode")?;
    let (x, _) = rows(&meta, a.input.as_deref(), a.data.as_deref(), &a.split)?;
    let post = vae.encode(&first_rows(x, a.rows)?)?;
    match &a.out {
        Some(p) => {
            gen_data::io::npy::write_npy_f64(p, &post.mean)?;
            let lv = p.with_extension("logvar.npy");
            gen_data::io::npy::write_npy_f64(&lv, &post.log_var)?;
            eprintln!(
                "wrote posterior means to {} and log-variances to {}",
                p.display(),
                lv.display()
            );
            Ok(())
        }
        None => crate::print_json(&json!({
            "mean": post.mean.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>(),
            "log_var": post.log_var.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>(),
        })),
    }
}

/// `genlab encode` for a vq-vae run: code indices (rows × L) and z_q.
fn encode_vq(a: &InferArgs, meta: &RunMeta) -> Result<()> {
    let Loaded::VqVae(vq) = load(meta, &a.checkpoint)? else {
        return Err(GenError::Other(
            "run.json says vq-vae but the checkpoint is not one".into(),
        ));
    };
    let (x, _) = rows(meta, a.input.as_deref(), a.data.as_deref(), &a.split)?;
    let codes = vq.encode(&first_rows(x, a.rows)?)?;
    match &a.out {
        Some(p) => {
            gen_data::io::npy::write_npy_f64(p, &codes.indices)?;
            let zq = p.with_extension("zq.npy");
            gen_data::io::npy::write_npy_f64(&zq, &codes.z_q)?;
            eprintln!(
                "wrote code indices to {} and quantised vectors z_q to {}",
                p.display(),
                zq.display()
            );
            Ok(())
        }
        None => crate::print_json(&json!({
            "indices": codes.indices.iter_rows().map(|r| r.iter().map(|&k| k as usize).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "z_q": codes.z_q.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>(),
        })),
    }
}

/// `genlab reconstruct`: originals and E[x | z = μ(x)] (vq-vae: E[x | z_q(x)])
/// (PNG: interleaved blocks of 8).
pub fn reconstruct(a: &InferArgs) -> Result<()> {
    let meta = RunMeta::load(&a.checkpoint)?;
    let (x, _) = rows(&meta, a.input.as_deref(), a.data.as_deref(), &a.split)?;
    let x = first_rows(x, a.rows)?;
    let r = match load(&meta, &a.checkpoint)? {
        Loaded::VqVae(vq) => vq.reconstruct(&x)?,
        Loaded::Vae(v) => v.reconstruct(&x)?,
        // Errors with the message of `vae_only`.
        Loaded::Ppca(_) => vae_only(&meta, &a.checkpoint, "reconstruct")?.reconstruct(&x)?,
    };
    match &a.out {
        Some(p) if p.extension().and_then(|e| e.to_str()) == Some("png") => {
            write_rows(&interleave(&x, &r, 8)?, Some(p))
        }
        other => write_rows(&r, other.as_deref()),
    }
}

/// `genlab interpolate`: decodes the segment between the posterior means of rows --from and --to.
pub fn interpolate(a: &InferArgs) -> Result<()> {
    let meta = RunMeta::load(&a.checkpoint)?;
    let vae = vae_only(&meta, &a.checkpoint, "interpolate")?;
    let (x, _) = rows(&meta, a.input.as_deref(), a.data.as_deref(), &a.split)?;
    for (name, i) in [("--from", a.from), ("--to", a.to)] {
        if i >= x.rows() {
            return Err(GenError::config(
                name,
                i,
                format!("only {} rows", x.rows()),
                "choose a row index below the row count",
            ));
        }
    }
    let m = vae.interpolate(x.row(a.from), x.row(a.to), a.steps)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("interpolation.png"));
    write_rows(&m, Some(&out))
}
