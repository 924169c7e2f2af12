//! The diffusion family (gen-diffusion) on the command line: `ddpm` on the
//! 2-D toys (an MLP denoiser) and on the image sets (`--data digits` or
//! `mnist5k`: a U-Net, `--unet-channels`, on pixels mapped to [−1, 1]).
//! Sampling takes `--sampler ddpm|ddim|ode|heun|langevin --sample-steps N
//! --eta E --spacing S` (`--steps N` is `--sample-steps N`); `score` returns
//! the variational bound (images: with the discretised decoder, a bound on
//! the discrete log-probability);
//! `encode` is DDIM inversion x₀ → x_T and `reconstruct` decodes it back.
//! On the Gaussian-mixture toys and rings the summary reports modes (rings)
//! covered and the high-quality fraction of DDPM and DDIM samples, and the bound's NLL on
//! test rows beside the true density's NLL of the same rows. On images it
//! writes `samples.png` and `trajectory.png` (x_t along the reverse chain,
//! one row per sample) and reports the bound in bits/dim and FID /
//! precision / recall of DDIM-50 (and with `--fid-ddpm` ancestral) samples
//! against the test split in gen-eval's extractor space. The command line
//! sees images as pixels in [0, 1], as for the other image models.
//!
//! `--conditional` trains a class-conditional U-Net on the image labels with
//! label dropout (`--label-dropout`, p_uncond); the summary then sweeps the
//! classifier-free guidance weight w over `--guidance-grid` (Ho & Salimans'
//! w: ε̃ = (1 + w)·ε(x, y) − w·ε(x, ∅); diffusers' guidance_scale = 1 + w)
//! with DDIM-50 samples, class-balanced: FID / precision / recall against
//! the test split and the share of samples gen-eval's classifier assigns
//! to the requested class, as `guidance.png` (the curves) and
//! `guidance_samples.png` (one row per class, one block per w, the same
//! noise). `sample --guidance w [--class c]` draws guided samples (classes
//! 0, 1, …, K−1 in turn without `--class`).

use std::path::Path;

use gen_core::train::{EpochBatcher, LrSchedule, TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, EncodingPart, GenError, Matrix, Result, Rng, Sample, SampleOptions,
    Score, ScoreOptions, Scores, rng_from_seed,
};
use gen_diffusion::{
    BetaSchedule, Ddpm, DdpmConfig, DenoiserArch, LossWeighting, Prediction, SamplerKind,
    SamplerOptions, ScheduleConfig, Spacing, UNetConfig, VarianceKind,
};
use serde_json::json;

use crate::choices::{listed, names};
use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples, rows_of};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// Diffusion options of `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Diffusion (ddpm)")]
pub struct DiffusionArgs {
    /// β schedule: linear (1e-4 to 0.02), cosine (Nichol & Dhariwal) or
    /// scaled-linear (0.00085 to 0.012).
    #[arg(id = "schedule", long = "schedule", default_value = "linear",
          value_parser = names::<BetaSchedule>(&BetaSchedule::NAMES))]
    pub schedule: BetaSchedule,
    /// What the network predicts: eps (the noise), x0 (the data) or v.
    #[arg(id = "prediction", long = "prediction", default_value = "eps",
          value_parser = names::<Prediction>(&Prediction::NAMES))]
    pub prediction: Prediction,
    /// Diffusion steps T.
    #[arg(
        id = "diffusion-steps",
        long = "diffusion-steps",
        default_value_t = 1000
    )]
    pub steps: usize,
    /// Rescale the schedule to zero terminal SNR (needs --prediction v or x0).
    #[arg(id = "zero-snr", long = "zero-snr")]
    pub zero_snr: bool,
    /// Loss weighting over timesteps: simple or min-snr (Hang et al. 2023).
    #[arg(id = "loss-weighting", long = "loss-weighting", default_value = "simple",
          value_parser = listed("loss weighting", &LossWeighting::NAMES))]
    pub weighting: String,
    /// γ of the min-SNR weighting.
    #[arg(id = "min-snr-gamma", long = "min-snr-gamma", default_value_t = 5.0)]
    pub gamma: f64,
    /// Reverse variance of the bound and the ancestral sampler: fixed-large
    /// (σ² = β) or fixed-small (σ² = β̃).
    #[arg(id = "variance", long = "variance", default_value = "fixed-large",
          value_parser = names::<VarianceKind>(&VarianceKind::NAMES))]
    pub variance: VarianceKind,
    /// The denoiser of vector data (2-D toys, latent codes): `mlp` (the
    /// time embedding joins the input) or `adaln-mlp` (residual blocks, one
    /// per --diffusion-hidden width, all equal, each modulated by the time
    /// embedding: adaLN-Zero). Images always use the U-Net.
    #[arg(id = "diffusion-arch", long = "diffusion-arch", default_value = "mlp",
          value_parser = ["mlp", "adaln-mlp"])]
    pub arch: String,
    /// Hidden widths of the denoising MLP (2-D toys), comma separated.
    #[arg(
        id = "diffusion-hidden",
        long = "diffusion-hidden",
        value_delimiter = ',',
        default_value = "128,128,128"
    )]
    pub hidden: Vec<usize>,
    /// Width of the sinusoidal embedding of each data coordinate (scaled by
    /// 25; even; 0 feeds the coordinates raw).
    #[arg(id = "x-embed", long = "x-embed", default_value_t = 0)]
    pub x_embed: usize,
    /// Decay of the EMA of the weights used for sampling and scoring.
    #[arg(id = "diffusion-ema", long = "diffusion-ema", default_value_t = 0.995)]
    pub ema: f64,
    /// Cosine decay of the learning rate to zero over the run's --steps
    /// (default: constant). A resume to more steps stretches the decay over
    /// the new total.
    #[arg(id = "diffusion-cosine", long = "diffusion-cosine")]
    pub cosine: bool,
    /// Test rows the summary's bound is computed on (T network passes
    /// each). Default: 1000 (toys), 100 (images).
    #[arg(id = "bound-rows", long = "bound-rows")]
    pub bound_rows: Option<usize>,
    /// Image data: channel widths of the U-Net's levels, comma separated;
    /// L levels halve the side L − 1 times, so it must be divisible by
    /// 2^(L−1). Default: 32,64 up to a side of 16, else 16,32,64.
    #[arg(id = "unet-channels", long = "unet-channels", value_delimiter = ',')]
    pub unet_channels: Option<Vec<usize>>,
    /// Image data: residual blocks per U-Net level.
    #[arg(id = "unet-blocks", long = "unet-blocks", default_value_t = 1)]
    pub unet_blocks: usize,
    /// Image data: no self-attention at the U-Net's lowest resolution.
    #[arg(id = "unet-no-attention", long = "unet-no-attention")]
    pub unet_no_attention: bool,
    /// Image data: samples scored by FID / precision / recall against the
    /// test split (default: as many as test images; 0 skips).
    #[arg(id = "fid-samples", long = "fid-samples")]
    pub fid_samples: Option<usize>,
    /// Image data: score ancestral DDPM samples over all T steps too, not
    /// only DDIM-50 (T network passes per sample).
    #[arg(id = "fid-ddpm", long = "fid-ddpm")]
    pub fid_ddpm: bool,
    /// RK4 steps of the probability-flow ODE likelihood the summary reports
    /// on the same rows (`test_ode_nll`; 0: skip it).
    #[arg(id = "ode-nll-steps", long = "ode-nll-steps", default_value_t = 100)]
    pub ode_steps: usize,
    /// Image data: a class-conditional denoiser trained on the labels, for
    /// classifier-free guidance.
    #[arg(id = "conditional", long = "conditional")]
    pub conditional: bool,
    /// With --conditional: probability p_uncond that a training label is
    /// replaced by the null class (the unconditional model guidance needs).
    #[arg(id = "label-dropout", long = "label-dropout", default_value_t = 0.1)]
    pub label_dropout: f64,
    /// With --conditional: guidance weights w the summary measures (FID,
    /// precision, recall, class accuracy of DDIM-50 samples).
    #[arg(
        id = "guidance-grid",
        long = "guidance-grid",
        value_delimiter = ',',
        default_value = "0,0.5,1,2,4"
    )]
    pub guidance_grid: Vec<f64>,
}

/// Sampler options of `genlab sample` for diffusion runs; any of them
/// switches from the run's default (ancestral DDPM over all T steps).
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Diffusion sampling (ddpm)")]
pub struct DiffusionSampleArgs {
    /// ddpm (ancestral), ddim, ode (probability flow, DPM-Solver++ 2M),
    /// heun (probability flow, Heun) or langevin (predictor-corrector).
    #[arg(id = "sampler", long = "sampler",
          value_parser = names::<SamplerKind>(&SamplerKind::NAMES))]
    pub sampler: Option<SamplerKind>,
    /// Grid steps N, 1 ≤ N ≤ T (default: T).
    // `--steps` too: the name the CLI uses and users reach for
    // (`train --steps` belongs to another command).
    #[arg(id = "sample-steps", long = "sample-steps", visible_alias = "steps")]
    pub sample_steps: Option<usize>,
    /// DDIM's η in [0, 1] (0: deterministic; 1: DDPM's posterior variance).
    #[arg(id = "eta", long = "eta", allow_negative_numbers = true)]
    pub eta: Option<f64>,
    /// Timestep spacing of the grid: trailing, leading or linspace
    /// (diffusers'), or quadratic (the DDIM paper's ⌊(i·√(0.8T)/(N − 1))²⌋).
    #[arg(id = "spacing", long = "spacing", value_parser = names::<Spacing>(&Spacing::NAMES))]
    pub spacing: Option<Spacing>,
    /// Langevin corrector steps per grid step.
    #[arg(id = "corrector-steps", long = "corrector-steps")]
    pub corrector_steps: Option<usize>,
    /// The Langevin corrector's target signal-to-noise ratio r.
    #[arg(id = "langevin-snr", long = "langevin-snr")]
    pub langevin_snr: Option<f64>,
    /// Class-conditional runs: classifier-free guidance weight w ≥ 0 (Ho &
    /// Salimans: (1 + w)·ε(x, y) − w·ε(x, ∅); diffusers' guidance_scale is
    /// 1 + w; 0: the conditional model alone).
    #[arg(id = "guidance", long = "guidance", allow_negative_numbers = true)]
    pub guidance: Option<f64>,
}

impl DiffusionSampleArgs {
    /// Whether any option was given.
    pub fn wanted(&self) -> bool {
        self.sampler.is_some()
            || self.sample_steps.is_some()
            || self.eta.is_some()
            || self.spacing.is_some()
            || self.corrector_steps.is_some()
            || self.langevin_snr.is_some()
            || self.guidance.is_some()
    }

    /// The sampler these options describe, at temperature `temperature`
    /// (the ancestral variance is the run's own).
    pub fn options(&self, temperature: f64) -> SamplerOptions {
        let d = SamplerOptions::of(self.sampler.unwrap_or(SamplerKind::Ddpm));
        SamplerOptions {
            steps: self.sample_steps,
            eta: self.eta.unwrap_or(d.eta),
            spacing: self.spacing.unwrap_or(d.spacing),
            corrector_steps: self.corrector_steps.unwrap_or(d.corrector_steps),
            langevin_snr: self.langevin_snr.unwrap_or(d.langevin_snr),
            temperature,
            ..d
        }
    }
}

/// What `run.json` stores for a diffusion run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DiffusionRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    config: DdpmConfig,
}

/// The learning-rate schedule of `--diffusion-cosine`: lr(t) = lr₀·(1 + cos(π t/T))/2.
pub fn lr_schedule(d: &DiffusionArgs) -> LrSchedule {
    match d.cosine {
        true => LrSchedule::Cosine {
            warmup: 0,
            min_factor: 0.0,
        },
        false => LrSchedule::Constant,
    }
}

/// The diffusion family.
pub struct DiffusionFamily;

impl Family for DiffusionFamily {
    fn models(&self) -> Vec<Capabilities> {
        gen_diffusion::capabilities()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: DiffusionRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let mut model = Ddpm::new(o.config, &device, o.seed)?;
        model.load_checkpoint(&latest_model_dir(dir)?)?;
        Ok(Box::new(LoadedDdpm(model)))
    }
}

/// The labels of `n` guided samples of a model with `classes` classes:
/// all `class`, or classes 0, 1, …, K−1 in turn.
pub(crate) fn guided_labels(n: usize, class: Option<usize>, classes: Option<usize>) -> Vec<usize> {
    let k = classes.unwrap_or(1).max(1);
    match class {
        Some(c) => vec![c; n],
        None => (0..n).map(|i| i % k).collect(),
    }
}

/// The DDPM configuration the options describe, for data of `data_dim`
/// coordinates (also latent-ddpm's, in its VAE's latent space), with
/// `classes` for a class-conditional model.
pub(crate) fn config_of(
    a: &DiffusionArgs,
    data_dim: usize,
    classes: Option<usize>,
) -> Result<DdpmConfig> {
    let config = DdpmConfig {
        classes,
        ..config_of_unchecked(a, data_dim)
    };
    config.validate()?;
    Ok(config)
}

fn config_of_unchecked(a: &DiffusionArgs, data_dim: usize) -> DdpmConfig {
    let loss = match a.weighting.as_str() {
        "min-snr" => LossWeighting::MinSnr { gamma: a.gamma },
        _ => LossWeighting::Simple,
    };
    DdpmConfig {
        schedule: ScheduleConfig {
            beta: a.schedule,
            steps: a.steps,
            zero_terminal_snr: a.zero_snr,
        },
        prediction: a.prediction,
        loss,
        variance: a.variance,
        arch: match a.arch.as_str() {
            "adaln-mlp" => DenoiserArch::AdaLnMlp,
            _ => DenoiserArch::Mlp,
        },
        hidden: a.hidden.clone(),
        x_embed: a.x_embed,
        data_dim,
        ema: Some(a.ema),
        label_dropout: a.label_dropout,
        ..DdpmConfig::default()
    }
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let d = &a.diffusion;
    if (1..10).contains(&d.ode_steps) {
        return Err(GenError::config(
            "--ode-nll-steps",
            d.ode_steps,
            "too few RK4 steps for an accurate likelihood",
            "pass 100 (or 0 to skip the ODE likelihood)",
        ));
    }
    let train = crate::data::load(a.data(), gen_data::Split::Train)?;
    let test = crate::data::load(a.data(), gen_data::Split::Test)?;
    if d.conditional && !matches!(train, Data::Images { .. }) {
        return Err(GenError::config(
            "--conditional",
            train.describe(),
            "a class-conditional DDPM trains on labelled images",
            "use --data digits or --data mnist5k, or drop --conditional",
        ));
    }
    if let Some(w) = d
        .guidance_grid
        .iter()
        .find(|w| !(w.is_finite() && **w >= 0.0))
    {
        return Err(GenError::config(
            "--guidance-grid",
            w,
            "guidance weights are Ho & Salimans' w ≥ 0",
            "use e.g. --guidance-grid 0,0.5,1,2,4",
        ));
    }
    match (&train, &test) {
        (Data::Points { x, toy }, Data::Points { x: xt, .. }) => train_points(a, x, *toy, xt),
        (Data::Images { .. }, Data::Images { .. }) => train_images(a, &train, &test),
        _ => Err(GenError::config(
            "--data",
            train.describe(),
            "the DDPM models 2-D points (with an MLP denoiser) or images (with a U-Net)",
            "use a 2-D toy (e.g. --data eight-gaussians, two-moons or rings) or an image set (--data digits or mnist5k)",
        )),
    }
}

/// Trains `config` on rows `x` (in the model's scale) with the run's
/// settings, the held-out bound on rows `xe` logged as `test_nll_bound`
/// (nats per row) at every evaluation; writes run.json first.
fn fit(
    a: &TrainArgs,
    config: &DdpmConfig,
    x: &Matrix,
    xe: &Matrix,
    (batch_size, lr): (usize, f64),
) -> Result<(Ddpm, gen_core::train::TrainReport)> {
    let c = &a.common;
    let opts = DiffusionRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        config: config.clone(),
    };
    RunMeta::new(a.model(), a.data(), &opts)?.save(&c.out)?;
    let mut model = Ddpm::new(config.clone(), &c.backend.device()?, c.seed)?;
    let batcher = EpochBatcher::new(x.rows(), batch_size.min(x.rows()), c.seed)?;
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        seed: c.seed,
        batch_size,
        log_every: 10,
        schedule: lr_schedule(&a.diffusion),
        ..TrainConfig::default()
    });
    let report = Trainer::new(tc, &c.out)?.fit_with_eval(
        &mut model,
        |t, _| x.select_rows(&batcher.indices(t)),
        |m: &Ddpm, _ctx: &mut gen_core::train::EvalContext<'_>| {
            let mut metrics = gen_core::train::EvalMetrics::new();
            if xe.rows() > 0 {
                let nll = m.bound(xe, 0)?.nll();
                let mean = nll.iter().sum::<f64>() / nll.len() as f64;
                metrics.insert("test_nll_bound".into(), mean);
            }
            Ok(metrics)
        },
    )?;
    Ok((model, report))
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn train_points(
    a: &TrainArgs,
    x: &Matrix,
    toy: Option<gen_data::toy2d::Toy2d>,
    xt: &Matrix,
) -> Result<serde_json::Value> {
    let (c, d) = (&a.common, &a.diffusion);
    let bound_rows = d.bound_rows.unwrap_or(1000);
    let config = config_of(d, x.cols(), None)?;
    let (batch_size, lr) = (c.batch.unwrap_or(256), c.lr.unwrap_or(1e-3));
    // The held-out bound during training: on at most 250 test rows (the
    // summary's uses --bound-rows), as it sums T denoiser passes per row.
    let eval_rows = xt.rows().min(bound_rows).min(250);
    let xe = xt.select_rows(&(0..eval_rows).collect::<Vec<_>>())?;
    let (model, report) = fit(a, &config, x, &xe, (batch_size, lr))?;
    let mut summary = json!({"model": a.model(), "data": a.data(), "backend": c.backend.name(),
        "config": config, "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": report.ms_per_step(),
        "final_loss": report.final_loss, "lr_schedule": lr_schedule(&a.diffusion),
        // ᾱ_{T−1}: near 0 when x_T is pure noise (the linear schedule needs T ≈ 1000).
        "terminal_alpha_bar": model.schedule().alpha_bar(config.schedule.steps - 1)});
    // Samples: ancestral DDPM over all T steps and DDIM with 50 steps.
    let n = x.rows().min(2000);
    let t_big = config.schedule.steps;
    let mut samplers = vec![("ddpm", config.default_sampler())];
    if t_big > 50 {
        let ddim = SamplerOptions {
            steps: Some(50),
            ..SamplerOptions::of(SamplerKind::Ddim)
        };
        samplers.push(("ddim50", ddim));
    }
    let mut first = None;
    for (name, opts) in samplers {
        let start = std::time::Instant::now();
        let s = model.sample_with(n, &opts, &mut rng_from_seed(c.seed ^ 0x5eed))?;
        let mut entry = json!({"samples": n, "seconds": start.elapsed().as_secs_f64()});
        let coverage = match toy {
            Some(t) => crate::data::toy_coverage(t, &s)?,
            None => None,
        };
        if let Some(m) = coverage {
            entry["modes_covered"] = json!(m.modes_covered);
            entry["modes"] = json!(m.modes);
            entry["high_quality_fraction"] = json!(m.high_quality_fraction);
        }
        summary[format!("sample_{name}")] = entry;
        first.get_or_insert(s);
    }
    if let Some(s) = &first {
        output::scatter_png(x, s, &c.out.join("samples.png"))?;
    }
    // The bound on the first test rows, beside the true density's NLL.
    let rows = xt.rows().min(bound_rows);
    if rows > 0 {
        let xb = xt.select_rows(&(0..rows).collect::<Vec<_>>())?;
        let start = std::time::Instant::now();
        let terms = model.bound(&xb, 0)?;
        summary["test_bound_nll"] = json!(mean(&terms.nll()));
        summary["test_bound_terms"] = json!({"prior": mean(&terms.prior),
            "diffusion": mean(&terms.diffusion), "decoder": mean(&terms.decoder)});
        summary["test_bound_rows"] = json!(rows);
        summary["test_bound_seconds"] = json!(start.elapsed().as_secs_f64());
        if let Some(Some(lp)) = toy.map(|t| t.log_prob(&xb)).transpose()? {
            summary["test_true_nll"] = json!(-mean(&lp));
        }
        // The ODE's likelihood needs ᾱ > 0 at the last step and the exact trace,
        // which only the plain MLP gives.
        if d.ode_steps > 0
            && !model.config().schedule.zero_terminal_snr
            && model.config().arch == DenoiserArch::Mlp
        {
            let start = std::time::Instant::now();
            summary["test_ode_nll"] = json!(mean(&model.ode_nll(&xb, d.ode_steps)?));
            summary["test_ode_steps"] = json!(d.ode_steps);
            summary["test_ode_seconds"] = json!(start.elapsed().as_secs_f64());
        }
    }
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Default minibatch of image DDPMs.
const IMAGE_BATCH: usize = 64;
/// Default Adam learning rate of image DDPMs.
const IMAGE_LR: f64 = 5e-4;
/// Samples in `samples.png`; the first [`TRAJECTORY_ROWS`] also make
/// `trajectory.png`, [`TRAJECTORY_FRAMES`] states each.
const GRID_SAMPLES: usize = 64;
const TRAJECTORY_ROWS: usize = 8;
const TRAJECTORY_FRAMES: usize = 11;

/// Pixels in [0, 1] → the model's [−1, 1]: x ↦ 2x − 1 (raw level k of L
/// lands on 2k/(L − 1) − 1, the discretised decoder's grid).
fn to_model(x: &Matrix) -> Result<Matrix> {
    Matrix::new(
        x.rows(),
        x.cols(),
        x.as_slice().iter().map(|v| 2.0 * v - 1.0).collect(),
    )
}

/// The model's [−1, 1] → pixels in [0, 1], clipped: x ↦ (x + 1)/2.
fn to_pixels(x: &Matrix) -> Result<Matrix> {
    Matrix::new(
        x.rows(),
        x.cols(),
        x.as_slice()
            .iter()
            .map(|v| ((v + 1.0) / 2.0).clamp(0.0, 1.0))
            .collect(),
    )
}

/// The U-Net config of the command line for `h × w` grey images.
fn unet_of(d: &DiffusionArgs, h: usize, w: usize) -> UNetConfig {
    let base = UNetConfig::for_image(1, h, w);
    UNetConfig {
        widths: d.unet_channels.clone().unwrap_or(base.widths.clone()),
        blocks: d.unet_blocks,
        attention: !d.unet_no_attention,
        ..base
    }
}

fn train_images(a: &TrainArgs, train: &Data, test: &Data) -> Result<serde_json::Value> {
    let (c, d) = (&a.common, &a.diffusion);
    let (raw, h, w, levels) = train.images("the image DDPM")?;
    let (raw_test, ..) = test.images("the image DDPM")?;
    let Data::Images { labels, .. } = train else {
        unreachable!("images() refused other data")
    };
    let classes = match d.conditional {
        true => Some(labels.iter().max().map_or(0, |&m| m as usize + 1)),
        false => None,
    };
    let pixels_test = gen_data::transforms::scale_unit(&raw_test, levels)?;
    let x = to_model(&gen_data::transforms::scale_unit(&raw, levels)?)?;
    let unet = unet_of(d, h, w);
    // The schedule, prediction, loss, variance and EMA of the command line;
    // the MLP's widths stay at their defaults (unused).
    let config = DdpmConfig {
        arch: DenoiserArch::UNet(unet),
        levels: Some(levels),
        hidden: DdpmConfig::default().hidden,
        classes,
        ..config_of_unchecked(d, h * w)
    };
    config.validate()?;
    // A conditional model's rows carry the label in their last column.
    let x = match classes {
        Some(_) => gen_gan::labelled_batch(&x, labels)?,
        None => x,
    };
    let (batch_size, lr) = (c.batch.unwrap_or(IMAGE_BATCH), c.lr.unwrap_or(IMAGE_LR));
    let bound_rows = d.bound_rows.unwrap_or(100);
    // During training the bound of 16 spread test images (T passes each).
    let xe = to_model(&output::spread_rows(&pixels_test, bound_rows.min(16))?)?;
    let (model, report) = fit(a, &config, &x, &xe, (batch_size, lr))?;
    let t_big = config.schedule.steps;
    let mut summary = json!({"model": a.model(), "data": a.data(), "backend": c.backend.name(),
        "train": train.describe(), "denoiser": "unet", "config": config,
        "parameters": model.net().model.weights()?.len(),
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": report.ms_per_step(),
        "final_loss": report.final_loss, "lr_schedule": lr_schedule(&a.diffusion),
        "terminal_alpha_bar": model.schedule().alpha_bar(t_big - 1)});
    let mut written = vec!["loss.png"];
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    // samples.png and trajectory.png from one ancestral run over all T
    // steps (conditional: one row of 8 per class, w = 0).
    let scale = if h.max(w) <= 8 { 6 } else { 2 };
    let start = std::time::Instant::now();
    let grid_labels: Option<Vec<usize>> =
        classes.map(|k| (0..k).flat_map(|y| std::iter::repeat_n(y, 8)).collect());
    let (den, n_grid) = match &grid_labels {
        Some(l) => (model.guided_denoiser(l, 0.0)?, l.len()),
        None => (model.denoiser(), GRID_SAMPLES),
    };
    let frames = model.sample_trajectory_with(
        &den,
        n_grid,
        &config.default_sampler(),
        TRAJECTORY_FRAMES,
        &mut rng_from_seed(c.seed ^ 0x5eed),
    )?;
    let last = &frames.last().expect("at least two frames").1;
    gen_viz::image_grid(&to_pixels(last)?, h, w, 8, scale)?.save_png(&c.out.join("samples.png"))?;
    // Conditional: one trajectory per class, else the first rows.
    let traj_rows: Vec<usize> = match classes {
        Some(k) => (0..k).map(|y| 8 * y).collect(),
        None => (0..TRAJECTORY_ROWS.min(n_grid)).collect(),
    };
    let mut rows = Vec::with_capacity(traj_rows.len() * frames.len());
    for &i in &traj_rows {
        for (_, m) in &frames {
            rows.push(m.row(i).to_vec());
        }
    }
    gen_viz::image_grid(
        &to_pixels(&Matrix::from_rows(&rows)?)?,
        h,
        w,
        frames.len(),
        scale,
    )?
    .save_png(&c.out.join("trajectory.png"))?;
    written.extend(["samples.png", "trajectory.png"]);
    summary["trajectory_timesteps"] = json!(
        frames
            .iter()
            .map(|(t, _)| t.map_or("sample".to_string(), |t| t.to_string()))
            .collect::<Vec<_>>()
    );
    summary["sample_grid_seconds"] = json!(start.elapsed().as_secs_f64());
    // FID and precision / recall against the test split (conditional:
    // class-balanced samples at w = 0).
    let n_fid = d.fid_samples.unwrap_or(pixels_test.rows());
    let ext = match n_fid {
        0 => None,
        _ => gen_gan::eval::extractor_for(h)?.filter(|_| h == w),
    };
    let ddim = SamplerOptions {
        steps: Some(50.min(t_big)),
        clip_x0: config.clip_x0(),
        ..SamplerOptions::of(SamplerKind::Ddim)
    };
    let balanced: Option<Vec<usize>> = classes.map(|k| (0..n_fid).map(|i| i % k).collect());
    let draw = |opts: &SamplerOptions, weight: f64, seed: u64| -> Result<Matrix> {
        let mut rng = rng_from_seed(seed);
        match &balanced {
            Some(l) => model.sample_guided(l, weight, opts, &mut rng),
            None => model.sample_with(n_fid, opts, &mut rng),
        }
    };
    if let Some(ext) = &ext {
        let mut samplers = vec![(format!("ddim{}", 50.min(t_big)), ddim)];
        if d.fid_ddpm {
            samplers.push((format!("ddpm{t_big}"), config.default_sampler()));
        }
        for (name, opts) in samplers {
            let start = std::time::Instant::now();
            let s = draw(&opts, 0.0, c.seed ^ 0xf1d)?;
            let q = gen_gan::eval::image_quality(&to_pixels(&s)?, &pixels_test, ext)?;
            let mut entry = json!(q);
            entry["seconds"] = json!(start.elapsed().as_secs_f64());
            summary[format!("vs_test_{name}")] = entry;
        }
    }
    // The guidance sweep: quality and class accuracy against w.
    if let (Some(ext), Some(k), Some(l)) = (&ext, classes, &balanced) {
        // Guided steps re-derive ε̂ from the clipped x̂₀ (Ddpm::sample_guided
        // forces it); w = 0 gets the same sampler, so every point of the
        // curve differs in w alone.
        let ddim = SamplerOptions {
            clipped_eps: true,
            ..ddim
        };
        let mut sweep = Vec::new();
        for &weight in &d.guidance_grid {
            let start = std::time::Instant::now();
            let s = to_pixels(&draw(&ddim, weight, c.seed ^ 0x9d)?)?;
            let seconds = start.elapsed().as_secs_f64();
            let q = gen_gan::eval::image_quality(&s, &pixels_test, ext)?;
            let probs = ext.probabilities(&s)?;
            let mut per_class = vec![(0usize, 0usize); k];
            for (r, &y) in probs.iter_rows().zip(l) {
                let top = (0..r.len()).fold(0, |b, j| if r[j] > r[b] { j } else { b });
                per_class[y].1 += 1;
                per_class[y].0 += usize::from(top == y);
            }
            let mut entry = json!(q);
            entry["w"] = json!(weight);
            let hits: usize = per_class.iter().map(|(hit, _)| hit).sum();
            entry["class_accuracy"] = json!(hits as f64 / l.len().max(1) as f64);
            entry["class_accuracy_per_class"] = json!(
                per_class
                    .iter()
                    .map(|(hit, n)| *hit as f64 / (*n).max(1) as f64)
                    .collect::<Vec<_>>()
            );
            entry["seconds"] = json!(seconds);
            sweep.push(entry);
        }
        // The highest class accuracy; among equal ones, the lowest FID.
        let best = sweep
            .iter()
            .max_by(|a, b| {
                let f = |e: &serde_json::Value, k: &str| e[k].as_f64().unwrap_or(f64::NAN);
                f(a, "class_accuracy")
                    .total_cmp(&f(b, "class_accuracy"))
                    .then(f(b, "fid").total_cmp(&f(a, "fid")))
            })
            .cloned();
        summary["guidance"] = json!({"sampler": "ddim50 (η = 0), class-balanced",
            "samples": n_fid, "convention": "w of Ho & Salimans: (1 + w)·ε(x, y) − w·ε(x, ∅); diffusers' guidance_scale = 1 + w",
            "classifier": format!("gen-eval's {h}x{w} extractor's class probabilities"),
            "sweep": sweep, "best_by_class_accuracy": best});
        guidance_curves(&summary["guidance"]["sweep"], &c.out.join("guidance.png"))?;
        written.push("guidance.png");
    }
    // Guided samples: one row per class, one block of 4 per w, the same noise.
    if let Some(k) = classes {
        let per = 4;
        let mut blocks = Vec::new();
        for &weight in &d.guidance_grid {
            let l: Vec<usize> = (0..k).flat_map(|y| std::iter::repeat_n(y, per)).collect();
            let s = model.sample_guided(&l, weight, &ddim, &mut rng_from_seed(c.seed ^ 0x6d))?;
            blocks.push(to_pixels(&s)?);
        }
        let mut rows = Vec::new();
        for y in 0..k {
            for b in &blocks {
                for j in 0..per {
                    rows.push(b.row(y * per + j).to_vec());
                }
            }
        }
        if !rows.is_empty() {
            gen_viz::image_grid(&Matrix::from_rows(&rows)?, h, w, per * blocks.len(), scale)?
                .save_png(&c.out.join("guidance_samples.png"))?;
            written.push("guidance_samples.png");
        }
        summary["guidance_samples_png"] = json!(format!(
            "one row per class 0..{k}; blocks of {per} columns at w = {:?}, left to right, the same noise in every block",
            d.guidance_grid
        ));
    }
    // The bound in bits/dim on test images spread over the split
    // (conditional: of the unconditional model, the null class).
    let rows = pixels_test.rows().min(bound_rows);
    if rows > 0 {
        let xb = to_model(&output::spread_rows(&pixels_test, rows)?)?;
        let start = std::time::Instant::now();
        let terms = model.bound(&xb, 0)?;
        let per_dim = (h * w) as f64 * std::f64::consts::LN_2;
        summary["test_bound_bpd"] = json!(mean(&terms.nll()) / per_dim);
        summary["test_bound_nll"] = json!(mean(&terms.nll()));
        summary["test_bound_terms"] = json!({"prior": mean(&terms.prior),
            "diffusion": mean(&terms.diffusion), "decoder": mean(&terms.decoder),
            "units": "nats per image; the decoder is the discretised Gaussian, so the total bounds -ln P of the discrete image"});
        summary["test_bound_rows"] = json!(rows);
        summary["test_bound_seconds"] = json!(start.elapsed().as_secs_f64());
        if classes.is_some() {
            summary["test_bound_model"] = json!("the null class (the unconditional model)");
        }
    }
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    summary["pictures"] = json!(written);
    Ok(summary)
}

/// `guidance.png`: FID and the class accuracy of the guidance sweep
/// against w, side by side.
fn guidance_curves(sweep: &serde_json::Value, path: &Path) -> Result<()> {
    use gen_viz::chart::{Chart, Figure, Legend, Series};
    let points = |key: &str| -> Vec<(f64, f64)> {
        sweep
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| Some((e["w"].as_f64()?, e[key].as_f64()?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let fid = Chart::new("FID against the test split")
        .x_label("guidance weight w")
        .y_label("FID")
        .series(Series::line_points("FID", points("fid")));
    let acc = Chart::new("quality and faithfulness")
        .x_label("guidance weight w")
        .y_label("share")
        .y_range(0.0, 1.0)
        .series(Series::line_points(
            "class accuracy",
            points("class_accuracy"),
        ))
        .series(Series::line_points("precision", points("precision")))
        .series(Series::line_points("recall", points("recall")))
        .legend(Legend::LowerRight);
    Figure::new(900, 320)
        .title("classifier-free guidance, DDIM-50")
        .cols(2)
        .chart(fid)
        .chart(acc)
        .save_png(path)
}

/// A loaded DDPM run. Image runs take and give pixels in [0, 1] (the model
/// works on 2x − 1).
struct LoadedDdpm(Ddpm);

impl LoadedDdpm {
    fn is_image(&self) -> bool {
        self.0.config().levels.is_some()
    }

    /// Rows of the command line → the model's scale.
    fn model_rows(&self, x: &Matrix) -> Result<Matrix> {
        if self.is_image() {
            to_model(x)
        } else {
            Ok(x.clone())
        }
    }

    /// The model's rows → the command line's scale.
    fn user_rows(&self, x: Matrix) -> Result<Matrix> {
        if self.is_image() {
            to_pixels(&x)
        } else {
            Ok(x)
        }
    }
}

impl LoadedRun for LoadedDdpm {
    fn capabilities(&self) -> Capabilities {
        gen_diffusion::capabilities_row()
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        let s = Sample::sample(&self.0, n, opts, rng)?;
        self.user_rows(s).map(Samples::Rows)
    }

    fn sample_diffusion(
        &self,
        n: usize,
        sampler: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<Samples> {
        let c = self.0.config();
        let opts = SamplerOptions {
            variance: c.variance,
            clip_x0: sampler.clip_x0.or(c.clip_x0()),
            ..*sampler
        };
        let s = self.0.sample_with(n, &opts, rng)?;
        self.user_rows(s).map(Samples::Rows)
    }

    fn sample_guided(
        &self,
        n: usize,
        sampler: &SamplerOptions,
        class: Option<usize>,
        guidance: f64,
        rng: &mut Rng,
    ) -> Result<Samples> {
        let labels = guided_labels(n, class, self.0.classes());
        let c = self.0.config();
        let opts = SamplerOptions {
            variance: c.variance,
            clip_x0: sampler.clip_x0.or(c.clip_x0()),
            ..*sampler
        };
        let s = self.0.sample_guided(&labels, guidance, &opts, rng)?;
        self.user_rows(s).map(Samples::Rows)
    }

    fn score_moments(
        &self,
        data: Data,
        rows: usize,
        sampler: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<gen_diffusion::ScoreMoments> {
        let labels = match &data {
            Data::Images { labels, .. } => Some(labels.clone()),
            _ => None,
        };
        let Input::Rows(x) = self.prepare(data)? else {
            return Err(GenError::Other("a DDPM's data are rows".into()));
        };
        if rows == 0 || rows > x.rows() {
            return Err(GenError::config(
                "--analytic-rows",
                rows,
                format!(
                    "Γ_t is a mean over training rows; the split has {}",
                    x.rows()
                ),
                format!(
                    "use between 1 and {} rows (a few hundred suffice)",
                    x.rows()
                ),
            ));
        }
        let picked: Vec<usize> = (0..rows).map(|i| i * x.rows() / rows).collect();
        let x0 = self.model_rows(&x.select_rows(&picked)?)?;
        let labels: Option<Vec<usize>> = match (self.0.classes(), labels) {
            (Some(_), Some(l)) => Some(picked.iter().map(|&i| l[i] as usize).collect()),
            _ => None,
        };
        let opts = SamplerOptions {
            clip_x0: sampler.clip_x0.or(self.0.config().clip_x0()),
            ..*sampler
        };
        self.0.score_moments(&x0, labels.as_deref(), &opts, rng)
    }

    fn sample_analytic(
        &self,
        n: usize,
        sampler: &SamplerOptions,
        moments: &gen_diffusion::ScoreMoments,
        rng: &mut Rng,
    ) -> Result<Samples> {
        let labels = self.0.classes().map(|k| guided_labels(n, None, Some(k)));
        let c = self.0.config();
        let opts = SamplerOptions {
            variance: c.variance,
            clip_x0: sampler.clip_x0.or(c.clip_x0()),
            ..*sampler
        };
        let s = self
            .0
            .sample_analytic(n, labels.as_deref(), &opts, moments, rng)?;
        self.user_rows(s).map(Samples::Rows)
    }

    fn classes(&self) -> Option<usize> {
        self.0.classes()
    }

    fn diffusion_steps(&self) -> Option<usize> {
        Some(self.0.schedule().steps())
    }

    fn clips_x0(&self) -> bool {
        self.0.config().clip_x0().is_some()
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        let c = self.0.config();
        match (d, c.unet()) {
            (Data::Points { x, .. }, None) => Ok(Input::Rows(x)),
            (
                Data::Images {
                    x, h, w, levels, ..
                },
                Some(u),
            ) if (h, w) == (u.height, u.width) && Some(levels) == c.levels => {
                Ok(Input::Rows(gen_data::transforms::scale_unit(&x, levels)?))
            }
            (other, Some(u)) => Err(GenError::config(
                "--data",
                other.describe(),
                format!(
                    "this DDPM models {}x{} images with {} grey levels",
                    u.height,
                    u.width,
                    c.levels.unwrap_or(0)
                ),
                "use the image set it was trained on",
            )),
            (other, None) => Err(GenError::config(
                "--data",
                other.describe(),
                "this DDPM models 2-D points",
                "use a 2-D toy, e.g. --data eight-gaussians",
            )),
        }
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        let x = self.model_rows(rows_of(x, "a DDPM")?)?;
        Score::score(&self.0, &x, opts)
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        let steps = self.0.schedule().steps();
        Ok(vec![EncodingPart {
            key: "x_T",
            file_suffix: "",
            values: self.0.encode(&self.model_rows(x)?, steps)?,
            integer: false,
            description: "DDIM inversions x_T of x₀ (all T steps)",
        }])
    }

    fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        let steps = self.0.schedule().steps();
        let z = self.0.encode(&self.model_rows(x)?, steps)?;
        self.user_rows(self.0.decode(&z, steps)?)
    }
}
