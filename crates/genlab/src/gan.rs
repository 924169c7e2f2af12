//! The adversarial family (gen-gan) on the command line: gan (minimax),
//! ns-gan (non-saturating), wgan, hinge-gan, lsgan and mmd-gan on the 2-D
//! toys. A GAN samples in one pass and has no density: `score` refuses with
//! the capability row's reason. On the Gaussian-mixture toys the summary
//! reports modes covered and the high-quality fraction (3σ).

use std::path::Path;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, Matrix, Result, Rng, Sample, SampleOptions, Scores, Task,
};
use gen_gan::{Gan, GanConfig, GanLoss};
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// GAN options of `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(
    next_help_heading = "GANs (gan, ns-gan, wgan, hinge-gan, lsgan, mmd-gan; dcgan, cgan, bigan)"
)]
pub struct GanArgs {
    /// Critic updates per generator update (default: 5 for wgan, 1 otherwise).
    #[arg(id = "n-critic", long = "n-critic")]
    pub n_critic: Option<usize>,
    /// Weight-clipping bound c of the WGAN critic.
    #[arg(id = "clip", long = "clip", default_value_t = 0.01)]
    pub clip: f64,
    /// Spectrally normalise every discriminator layer: `--spectral-norm`
    /// (or `--spectral-norm true`) turns it on, `--spectral-norm false` off.
    /// Default: off for the 2-D GANs, on for dcgan and cgan (without it the
    /// convolutional critic drives G to one image on digits).
    #[arg(id = "spectral-norm", long = "spectral-norm", num_args = 0..=1,
          default_missing_value = "true", value_parser = clap::value_parser!(bool))]
    pub spectral_norm: Option<bool>,
    /// Decay of an EMA of the generator's weights used for sampling (e.g. 0.999).
    #[arg(id = "gan-ema", long = "gan-ema")]
    pub ema: Option<f64>,
    /// Hidden widths of both players, comma separated (default 128,128);
    /// for dcgan and cgan the channel widths from the image inward (default
    /// 64,128 on 28×28, 32,64 on 8×8).
    #[arg(id = "gan-hidden", long = "gan-hidden", value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// PacGAN packing of the 2-D GANs: the critic judges this many samples
    /// at once (all real or all fake), which punishes mode collapse; the
    /// batch must be divisible by it (default 1: none).
    #[arg(id = "gan-pack", long = "gan-pack", default_value_t = 1)]
    pub pack: usize,
    /// Latent width (dcgan, cgan, bigan; default: the preset for the data).
    #[arg(id = "gan-latent", long = "gan-latent")]
    pub latent: Option<usize>,
    /// Adversarial loss of dcgan, cgan and bigan (default non-saturating).
    #[arg(id = "gan-loss", long = "gan-loss",
          value_parser = crate::choices::listed("gan loss", &["minimax", "non-saturating", "wasserstein", "hinge", "least-squares", "mmd"]))]
    pub loss: Option<String>,
    /// The discriminator's learning rate is --lr times this (TTUR).
    #[arg(id = "d-lr-mult", long = "d-lr-mult", default_value_t = 1.0)]
    pub d_lr_mult: f64,
}

/// Model names and their losses.
const MODELS: [(&str, &str); 6] = [
    ("gan", "minimax"),
    ("ns-gan", "non-saturating"),
    ("wgan", "wasserstein"),
    ("hinge-gan", "hinge"),
    ("lsgan", "least-squares"),
    ("mmd-gan", "mmd"),
];

fn loss_of(model: &str, clip: f64) -> GanLoss {
    let name = MODELS
        .iter()
        .find(|(m, _)| *m == model)
        .map_or("", |(_, l)| *l);
    GanLoss::all()
        .into_iter()
        .find(|l| l.name() == name)
        .map(|l| match l {
            GanLoss::Wasserstein { .. } => GanLoss::Wasserstein { clip },
            other => other,
        })
        .unwrap_or(GanLoss::NonSaturating)
}

/// What `run.json` stores for a GAN run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct GanRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    config: GanConfig,
}

/// The adversarial family.
pub struct GanFamily;

impl Family for GanFamily {
    fn models(&self) -> Vec<Capabilities> {
        MODELS.iter().map(|(m, _)| row(m)).collect()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: GanRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let mut gan = Gan::new(o.config, &device, o.seed)?;
        gan.load_checkpoint(&latest_model_dir(dir)?)?;
        Ok(Box::new(LoadedGan {
            gan,
            model: models_name(&meta.model),
        }))
    }
}

/// The capability row of `model`: gen-gan's, with the MMD generator's
/// learning said as it is (no critic).
fn row(model: &'static str) -> Capabilities {
    let mut row = gen_gan::capabilities().remove(0);
    row.model = model;
    if model == "mmd-gan" {
        row.learn = gen_core::TaskSupport::approximate(
            "Adam on the MMD² between generated and data batches (a two-sample test, no critic)",
        );
    }
    row
}

fn models_name(model: &str) -> &'static str {
    MODELS
        .iter()
        .find(|(m, _)| *m == model)
        .map_or("gan", |(m, _)| m)
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (c, g) = (&a.common, &a.gan);
    let train = crate::data::load(a.data(), gen_data::Split::Train)?;
    let Data::Points { x, toy } = &train else {
        return Err(gen_core::GenError::config(
            "--data",
            train.describe(),
            format!("the MLP GAN {} models 2-D points", a.model()),
            "use a 2-D toy, e.g. --data eight-gaussians, or dcgan / cgan / bigan for images",
        ));
    };
    let loss = loss_of(a.model(), g.clip);
    let config = GanConfig {
        n_critic: g.n_critic.unwrap_or(GanConfig::with_loss(loss).n_critic),
        spectral_norm: g.spectral_norm.unwrap_or(false),
        ema: g.ema,
        hidden: g.hidden.clone().unwrap_or_else(|| vec![128, 128]),
        d_lr_mult: g.d_lr_mult,
        data_dim: x.cols(),
        pack: g.pack,
        ..GanConfig::with_loss(loss)
    };
    config.validate()?;
    let (batch_size, lr) = (c.batch.unwrap_or(256), c.lr.unwrap_or(1e-3));
    let opts = GanRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        config: config.clone(),
    };
    RunMeta::new(a.model(), a.data(), &opts)?.save(&c.out)?;
    let mut gan = Gan::new(config.clone(), &c.backend.device()?, c.seed)?;
    let batcher = EpochBatcher::new(x.rows(), batch_size.min(x.rows()), c.seed)?;
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        seed: c.seed,
        batch_size,
        log_every: 10,
        ..TrainConfig::default()
    });
    // During training: the modes covered by 1,000 fresh samples and their
    // high-quality fraction (the toys with known modes; a GAN has no score).
    let modes = toy.filter(|t| crate::data::has_modes(*t));
    let report = Trainer::new(tc, &c.out)?.fit_with_eval(
        &mut gan,
        |t, _| x.select_rows(&batcher.indices(t)),
        |g: &Gan, ctx: &mut gen_core::train::EvalContext<'_>| {
            let mut metrics = gen_core::train::EvalMetrics::new();
            if let Some(t) = modes {
                let s = g.sample(1000, &SampleOptions::default(), ctx.rng)?;
                let Some(m) = crate::data::toy_coverage(t, &s)? else {
                    return Ok(metrics);
                };
                metrics.insert("modes_covered".into(), m.modes_covered as f64);
                metrics.insert("high_quality_fraction".into(), m.high_quality_fraction);
            }
            Ok(metrics)
        },
    )?;
    let mut rng = gen_core::rng_from_seed(c.seed ^ 0x5eed);
    let s = gan.sample(x.rows().min(5000), &SampleOptions::default(), &mut rng)?;
    let mut summary = json!({"model": a.model(), "data": a.data(), "backend": c.backend.name(),
        "loss": config.loss.name(), "config": config, "steps": report.steps,
        "seconds": report.seconds, "ms_per_step": report.ms_per_step(),
        "final_loss": report.final_loss, "score": "none: a GAN has no density"});
    if let Some(m) = toy
        .map(|t| crate::data::toy_coverage(t, &s))
        .transpose()?
        .flatten()
    {
        summary["modes_covered"] = json!(m.modes_covered);
        summary["modes"] = json!(m.modes);
        summary["high_quality_fraction"] = json!(m.high_quality_fraction);
    }
    output::scatter_png(x, &s, &c.out.join("samples.png"))?;
    if x.cols() == 2 {
        let (label, surface) = decision_label(&config.loss);
        output::decision_png(
            &|g| decision_values(&gan, surface, x, &s, g),
            label,
            x,
            &s,
            &c.out.join("decision.png"),
        )?;
    }
    // Both players' losses, from the trainer's log (every 10 steps).
    let g_key = if config.loss.has_discriminator() {
        "g_loss"
    } else {
        "mmd2"
    };
    output::players_loss_png(
        &c.out.join("metrics.jsonl"),
        "d_loss",
        g_key,
        &c.out.join("loss.png"),
    )?;
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// What `decision.png` shows for `loss`: its label and whether it is the
/// discriminator (false: the MMD witness, as MMD has no discriminator).
fn decision_label(loss: &GanLoss) -> (&'static str, bool) {
    match loss {
        GanLoss::Minimax | GanLoss::NonSaturating => ("sigmoid D(x)", true),
        GanLoss::Wasserstein { .. } | GanLoss::Hinge => ("critic D(x)", true),
        GanLoss::LeastSquares => ("D(x), target 1 real 0 fake", true),
        GanLoss::Mmd { .. } => ("MMD witness", false),
    }
}

/// The decision surface on `grid`: [`Gan::discriminate`], or for MMD (no
/// discriminator) the empirical witness function of the kernel two-sample
/// test, f(x) = mean_j k(x, data_j) − mean_i k(x, sample_i) (up to 500 of
/// each), positive where data outweighs samples.
fn decision_values(
    gan: &Gan,
    discriminator: bool,
    data: &Matrix,
    samples: &Matrix,
    grid: &Matrix,
) -> Result<Vec<f64>> {
    if discriminator {
        return gan.discriminate(grid);
    }
    let GanLoss::Mmd { bandwidths } = gan.config().loss else {
        return gan.discriminate(grid);
    };
    let mean_k = |set: &Matrix, p: &[f64]| {
        let m = set.rows().min(500);
        let total: f64 = (0..m)
            .map(|i| {
                let q = set.row(i * set.rows() / m);
                let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                bandwidths
                    .iter()
                    .map(|s| (-0.5 * d2 / (s * s)).exp())
                    .sum::<f64>()
            })
            .sum();
        total / m.max(1) as f64
    };
    Ok(grid
        .iter_rows()
        .map(|p| mean_k(data, p) - mean_k(samples, p))
        .collect())
}

/// A loaded GAN run.
struct LoadedGan {
    gan: Gan,
    model: &'static str,
}

impl LoadedRun for LoadedGan {
    fn capabilities(&self) -> Capabilities {
        row(self.model)
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        self.gan.sample(n, opts, rng).map(Samples::Rows)
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        match d {
            Data::Points { x, .. } => Ok(Input::Rows(x)),
            other => Ok(Input::Rows(other.images(self.model)?.0)),
        }
    }

    fn score(&self, _x: &Input, _opts: &gen_core::ScoreOptions) -> Result<Scores> {
        Err(self.unsupported(Task::Score, "a GAN has no density"))
    }
}
