//! The diffusion family (gen-diffusion) on the command line: `ddpm` on the
//! 2-D toys. Sampling takes `--sampler ddpm|ddim|ode|heun|langevin
//! --sample-steps N --eta E --spacing S`; `score` returns the variational
//! bound; `encode` is DDIM inversion x₀ → x_T and `reconstruct` decodes it
//! back. On the Gaussian-mixture toys the summary reports modes covered and
//! the high-quality fraction of DDPM and DDIM samples, and the bound's NLL
//! on test rows beside the true density's NLL of the same rows.

use std::path::Path;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, EncodingPart, GenError, Matrix, Result, Rng, Sample, SampleOptions,
    Score, ScoreOptions, Scores, rng_from_seed,
};
use gen_diffusion::{
    BetaSchedule, Ddpm, DdpmConfig, LossWeighting, Prediction, SamplerKind, SamplerOptions,
    ScheduleConfig, Spacing, VarianceKind,
};
use gen_eval::toy::{ModeCoverageOptions, mode_coverage};
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
    /// Hidden widths of the denoising MLP, comma separated.
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
    /// Test rows the summary's bound is computed on (T network passes each).
    #[arg(id = "bound-rows", long = "bound-rows", default_value_t = 1000)]
    pub bound_rows: usize,
    /// RK4 steps of the probability-flow ODE likelihood the summary reports
    /// on the same rows (`test_ode_nll`; 0: skip it).
    #[arg(id = "ode-nll-steps", long = "ode-nll-steps", default_value_t = 100)]
    pub ode_steps: usize,
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
    #[arg(id = "sample-steps", long = "sample-steps")]
    pub sample_steps: Option<usize>,
    /// DDIM's η in [0, 1] (0: deterministic; 1: DDPM's posterior variance).
    #[arg(id = "eta", long = "eta", allow_negative_numbers = true)]
    pub eta: Option<f64>,
    /// Timestep spacing of the grid: trailing, leading or linspace (diffusers').
    #[arg(id = "spacing", long = "spacing", value_parser = names::<Spacing>(&Spacing::NAMES))]
    pub spacing: Option<Spacing>,
    /// Langevin corrector steps per grid step.
    #[arg(id = "corrector-steps", long = "corrector-steps")]
    pub corrector_steps: Option<usize>,
    /// The Langevin corrector's target signal-to-noise ratio r.
    #[arg(id = "langevin-snr", long = "langevin-snr")]
    pub langevin_snr: Option<f64>,
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

/// The DDPM configuration the options describe, for data of `data_dim`
/// coordinates (also latent-ddpm's, in its VAE's latent space).
pub(crate) fn config_of(a: &DiffusionArgs, data_dim: usize) -> Result<DdpmConfig> {
    let loss = match a.weighting.as_str() {
        "min-snr" => LossWeighting::MinSnr { gamma: a.gamma },
        _ => LossWeighting::Simple,
    };
    let config = DdpmConfig {
        schedule: ScheduleConfig {
            beta: a.schedule,
            steps: a.steps,
            zero_terminal_snr: a.zero_snr,
        },
        prediction: a.prediction,
        loss,
        variance: a.variance,
        hidden: a.hidden.clone(),
        x_embed: a.x_embed,
        data_dim,
        ema: Some(a.ema),
        ..DdpmConfig::default()
    };
    config.validate()?;
    Ok(config)
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (c, d) = (&a.common, &a.diffusion);
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
    let (Data::Points { x, toy }, Data::Points { x: xt, .. }) = (&train, &test) else {
        return Err(GenError::config(
            "--data",
            train.describe(),
            "the DDPM here models 2-D points (the U-Net for images is a later increment)",
            "use a 2-D toy, e.g. --data eight-gaussians, two-moons or rings",
        ));
    };
    let config = config_of(d, x.cols())?;
    let (batch_size, lr) = (c.batch.unwrap_or(256), c.lr.unwrap_or(1e-3));
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
        ..TrainConfig::default()
    });
    // The held-out bound during training: on at most 250 test rows (the
    // summary's uses --bound-rows), as it sums T denoiser passes per row.
    let eval_rows = xt.rows().min(d.bound_rows).min(250);
    let xe = xt.select_rows(&(0..eval_rows).collect::<Vec<_>>())?;
    let report = Trainer::new(tc, &c.out)?.fit_with_eval(
        &mut model,
        |t, _| x.select_rows(&batcher.indices(t)),
        |m: &Ddpm, _ctx: &mut gen_core::train::EvalContext<'_>| {
            let mut metrics = gen_core::train::EvalMetrics::new();
            if eval_rows > 0 {
                let nll = m.bound(&xe, 0)?.nll();
                let mean = nll.iter().sum::<f64>() / nll.len() as f64;
                metrics.insert("test_nll_bound".into(), mean);
            }
            Ok(metrics)
        },
    )?;
    let mut summary = json!({"model": a.model(), "data": a.data(), "backend": c.backend.name(),
        "config": config, "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": 1e3 * report.seconds / c.steps.max(1) as f64,
        "final_loss": report.final_loss,
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
        if let Some((centres, sigma)) = toy.and_then(|t| t.mode_centres()) {
            let m = mode_coverage(&s, &centres, sigma, &ModeCoverageOptions::default())?;
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
    let rows = xt.rows().min(d.bound_rows);
    if rows > 0 {
        let xb = xt.select_rows(&(0..rows).collect::<Vec<_>>())?;
        let start = std::time::Instant::now();
        let terms = model.bound(&xb, 0)?;
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        summary["test_bound_nll"] = json!(mean(&terms.nll()));
        summary["test_bound_terms"] = json!({"prior": mean(&terms.prior),
            "diffusion": mean(&terms.diffusion), "decoder": mean(&terms.decoder)});
        summary["test_bound_rows"] = json!(rows);
        summary["test_bound_seconds"] = json!(start.elapsed().as_secs_f64());
        if let Some(Some(lp)) = toy.map(|t| t.log_prob(&xb)).transpose()? {
            summary["test_true_nll"] = json!(-mean(&lp));
        }
        // The ODE's likelihood needs ᾱ > 0 at the last step.
        if d.ode_steps > 0 && !model.config().schedule.zero_terminal_snr {
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

/// A loaded DDPM run.
struct LoadedDdpm(Ddpm);

impl LoadedRun for LoadedDdpm {
    fn capabilities(&self) -> Capabilities {
        gen_diffusion::capabilities_row()
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        Sample::sample(&self.0, n, opts, rng).map(Samples::Rows)
    }

    fn sample_diffusion(
        &self,
        n: usize,
        sampler: &SamplerOptions,
        rng: &mut Rng,
    ) -> Result<Samples> {
        let opts = SamplerOptions {
            variance: self.0.config().variance,
            ..*sampler
        };
        self.0.sample_with(n, &opts, rng).map(Samples::Rows)
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        match d {
            Data::Points { x, .. } => Ok(Input::Rows(x)),
            other => Err(GenError::config(
                "--data",
                other.describe(),
                "this DDPM models 2-D points",
                "use a 2-D toy, e.g. --data eight-gaussians",
            )),
        }
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        Score::score(&self.0, rows_of(x, "a DDPM")?, opts)
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        let steps = self.0.schedule().steps();
        Ok(vec![EncodingPart {
            key: "x_T",
            file_suffix: "",
            values: self.0.encode(x, steps)?,
            integer: false,
            description: "DDIM inversions x_T of x₀ (all T steps)",
        }])
    }

    fn reconstruct(&self, x: &Matrix) -> Result<Matrix> {
        let steps = self.0.schedule().steps();
        self.0.decode(&self.0.encode(x, steps)?, steps)
    }
}
