//! The VAE family (gen-vae) on the command line: vae, beta-vae, iwae,
//! conv-vae, vq-vae and the exact baseline ppca. Presets, the decoder choice
//! per data set and the evaluation protocol live in `gen_vae::presets`.

use std::path::Path;

use gen_core::train::{TrainConfig, TrainReport};
use gen_core::{
    Capabilities, Checkpoint, EncodingPart, GenError, Learn, Matrix, Result, Rng, SampleOptions,
    ScoreOptions, Scores,
};
use gen_vae::presets::{DecoderChoice, Prep, VaeFamilyModel, VaeKnobs, VaeVariant};
use gen_vae::{Vae, VaeConfig, VqVae, VqVaeConfig};
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples, rows_of};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// VAE options of `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "VAE family (vae, beta-vae, iwae, conv-vae, vq-vae, ppca)")]
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
    /// Decoder: auto (bernoulli on mnist5k, gaussian-learned otherwise),
    /// bernoulli, gaussian (fixed variance 0.01) or gaussian-learned.
    #[arg(id = "vae-decoder", long = "decoder", default_value = "auto",
          value_parser = crate::choices::names::<DecoderChoice>(&DecoderChoice::NAMES))]
    pub decoder: DecoderChoice,
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

/// Default minibatch of the VAE family.
const BATCH: usize = 100;
/// Default Adam learning rate of the VAE family.
const LR: f64 = 1e-3;

/// What `run.json` stores for a VAE-family run (typed, read back as such).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct VaeRunOptions {
    #[serde(default = "flex")]
    backend: String,
    seed: u64,
    #[serde(default)]
    steps: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vae: Option<VaeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vqvae: Option<VqVaeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latent: Option<usize>,
    prep: Prep,
}

fn flex() -> String {
    "flex".into()
}

/// The VAE family.
pub struct VaeFamily;

impl Family for VaeFamily {
    fn models(&self) -> Vec<Capabilities> {
        gen_vae::capabilities()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: VaeRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let model = VaeFamilyModel::load(&meta.model, &latest_model_dir(dir)?, &device)?;
        Ok(Box::new(Run {
            model,
            prep: o.prep,
        }))
    }
}

/// The family's training protocol (`gen_data::prep::fit_images_scored`) with
/// the run's shared options (checkpoints, resume, held-out evaluation).
fn fit<M: Learn<Batch = Matrix> + Checkpoint + gen_core::Score<Input = Matrix>>(
    model: &mut M,
    data: (&Matrix, u32),
    prep: Prep,
    held_out: &Matrix,
    c: &crate::CommonArgs,
) -> Result<TrainReport> {
    let batch_size = c.batch.unwrap_or(BATCH);
    let (lr, seed, steps) = (c.lr.unwrap_or(LR), c.seed, c.steps);
    let tc = c.run.apply(TrainConfig {
        steps,
        lr,
        seed,
        batch_size,
        log_every: 10,
        ..TrainConfig::default()
    });
    gen_data::prep::fit_images_scored(model, data, prep, tc, held_out, &c.out)
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (model, c, v) = (a.model(), &a.common, &a.vae);
    let train = crate::data::load(a.data(), gen_data::Split::Train)?;
    let test = crate::data::load(a.data(), gen_data::Split::Test)?;
    let (raw, h, w, levels) = train.images(model)?;
    let (raw_test, ..) = test.images(model)?;
    let likelihood = v.decoder.resolve(a.data());
    let prep = if model == "ppca" {
        Prep::Scale
    } else {
        gen_vae::presets::prep_for(&likelihood)
    };
    let xt = prep.evaluation(&raw_test, levels)?;
    let mut opts = VaeRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        vae: None,
        vqvae: None,
        latent: None,
        prep,
    };
    let mut summary = json!({"model": model, "data": a.data(), "backend": c.backend.name(),
                             "train": train.describe()});
    let (report, trained): (TrainReport, VaeFamilyModel) = match model {
        "ppca" => {
            opts.latent = Some(v.latent);
            RunMeta::new(model, a.data(), &opts)?.save(&c.out)?;
            let x = prep.evaluation(&raw, levels)?;
            let (p, r, eval) = gen_vae::presets::fit_ppca(&x, &xt, v.latent, c.seed, &c.out)?;
            output::extend(&mut summary, json!(eval));
            let units = "nats per image, density of pixels scaled to [0, 1]";
            output::extend(
                &mut summary,
                json!({"train_nll": r.final_loss, "units": units}),
            );
            (r, VaeFamilyModel::Ppca(p))
        }
        "vq-vae" => {
            let book = (v.codebook_size, v.codes, v.code_dim);
            let cfg = VqVaeConfig::image(h * w, likelihood, &v.hidden, book, v.commitment)?;
            opts.vqvae = Some(cfg.clone());
            RunMeta::new(model, a.data(), &opts)?.save(&c.out)?;
            let mut vq = VqVae::new(cfg.clone(), &c.backend.device()?, c.seed)?;
            let r = fit(&mut vq, (&raw, levels), prep, &xt, c)?;
            output::extend(
                &mut summary,
                json!({"decoder": cfg.likelihood.name(), "codebook_size": cfg.codebook_size,
                "codes": cfg.codes, "code_dim": cfg.code_dim, "commitment": cfg.commitment,
                "train_loss": r.final_loss,
                "units": "nats per image; vq-elbo = log p(x|z_q) - L log K under a uniform prior over codes"}),
            );
            output::extend(&mut summary, json!(vq.evaluate_split(&xt, prep)?));
            (r, VaeFamilyModel::VqVae(Box::new(vq)))
        }
        _ => {
            let variant = VaeVariant::from_model(model)
                .ok_or_else(|| GenError::Other(format!("{model} is not a VAE variant")))?;
            let knobs = VaeKnobs {
                latent: v.latent,
                hidden: v.hidden.clone(),
                beta: v.beta,
                kl_warmup: v.kl_warmup,
                free_bits: v.free_bits,
                iwae_k: v.iwae_k,
            };
            let cfg = VaeConfig::image(variant, (h, w), likelihood, &knobs)?;
            opts.vae = Some(cfg.clone());
            RunMeta::new(model, a.data(), &opts)?.save(&c.out)?;
            let mut vae = Vae::new(cfg.clone(), &c.backend.device()?, c.seed)?;
            let r = fit(&mut vae, (&raw, levels), prep, &xt, c)?;
            output::extend(
                &mut summary,
                json!({"decoder": cfg.likelihood.name(), "train_loss": r.final_loss,
                          "units": "nats per image"}),
            );
            output::extend(
                &mut summary,
                json!(vae.evaluate_split(&xt, v.eval_k, c.seed)?),
            );
            (r, VaeFamilyModel::Vae(Box::new(vae)))
        }
    };
    summary["steps"] = json!(report.steps);
    summary["seconds"] = json!(report.seconds);
    summary["ms_per_step"] = json!(report.ms_per_step());
    let run = Run {
        model: trained,
        prep,
    };
    let mut written = output::image_pictures(&run, &xt, (h, w), c.seed, &c.out)?;
    if let VaeFamilyModel::Vae(v) = &run.model {
        // One latent traversal: dimensions 0..8 through −3..3 around row 0.
        let dims: Vec<usize> = (0..v.config().latent.min(8)).collect();
        let values: Vec<f64> = (0..8).map(|i| -3.0 + 6.0 * i as f64 / 7.0).collect();
        let t = v.traverse(xt.row(0), &dims, &values)?;
        output::grid_png(&t, h, w, &c.out.join("traversal.png"))?;
        written.push("traversal.png");
    }
    if model != "ppca" {
        output::loss_png(&report.losses, &c.out.join("loss.png"))?;
        written.push("loss.png");
    }
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    summary["pictures"] = json!(written);
    Ok(summary)
}

/// A loaded run: the model and how its data is prepared.
struct Run {
    model: VaeFamilyModel,
    prep: Prep,
}

impl LoadedRun for Run {
    fn capabilities(&self) -> Capabilities {
        self.model.capabilities()
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        self.model.sample(n, opts, rng).map(Samples::Rows)
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        let (raw, .., levels) = d.images(self.capabilities().model)?;
        Ok(Input::Rows(self.prep.evaluation(&raw, levels)?))
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        self.model
            .score(rows_of(x, self.capabilities().model)?, opts)
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        self.model.encode(x)
    }

    fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        self.model.reconstruct(x)
    }

    fn interpolate(&self, a: &[f64], b: &[f64], steps: usize) -> Result<Matrix> {
        self.model.interpolate(a, b, steps)
    }
}
