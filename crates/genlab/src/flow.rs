//! `genlab train|sample|score|encode` for the normalizing flows of gen-flow
//! (realnvp, nice, glow, maf, iaf, nsf, nsf-ar; `--bins` / `--bound` set the splines;
//! cnf, with `--ode-steps` / `--trace` for its RK4 solver and trace estimator).
//!
//! 2-D toys: the flow is trained on 10,000 points with fresh minibatches,
//! the summary reports the exact test NLL beside the true density's NLL
//! (their difference estimates KL(p‖q)), and `density.png` (the flow's
//! density as a heat map) is written next to `samples.png` (data beside
//! samples). Images: dequantized pixels in [0, 1) go through a logit
//! pre-processing layer (its log-determinant is part of the likelihood); the
//! summary reports test bits/dim and sample grids at several temperatures.

use std::path::Path;
use std::str::FromStr;

use gen_core::train::{EpochBatcher, TrainConfig, Trainer};
use gen_core::{
    Backend, GenError, Matrix, Result, Sample, SampleOptions, Score, Scores, rng_from_seed,
};
use gen_flow::{FlowBatch, FlowConfig, FlowKind, FlowModel, MaskKind, PermutationKind};
use serde_json::json;

use crate::data::{self, Data};
use crate::output;
use crate::run::{RunMeta, latest_model_dir};

/// Whether `name` is a flow model.
/// Global gradient-norm clip of image flows.
const IMAGE_GRAD_CLIP: f32 = 100.0;

pub fn is_flow(name: &str) -> bool {
    FlowKind::from_str(name).is_ok()
}

/// Capability rows of the flows.
pub fn capabilities() -> Vec<gen_core::Capabilities> {
    FlowKind::ALL
        .into_iter()
        .filter(|k| k.implemented())
        .map(gen_flow::capabilities)
        .collect()
}

/// Flow options of `genlab train` (flattened into its arguments).
#[derive(clap::Args, Debug, Clone)]
pub struct FlowArgs {
    /// Flow minibatch size. Default: 512 on toys, 64 on images.
    #[arg(long = "flow-batch")]
    pub flow_batch: Option<usize>,
    /// Flow Adam learning rate. Default: 1e-3; on images 5e-4 for realnvp and
    /// 2e-4 for glow (the measured stable settings, docs/flows.md).
    #[arg(long = "flow-lr")]
    pub flow_lr: Option<f64>,
    /// Spline bins K of nsf / nsf-ar (≥ 2).
    #[arg(long = "bins", default_value_t = gen_flow::transforms::spline::DEFAULT_BINS)]
    pub bins: usize,
    /// Spline half-width B of nsf / nsf-ar: the splines act on [−B, B] (after
    /// ActNorm standardisation) and are the identity outside.
    #[arg(long = "bound", default_value_t = gen_flow::transforms::spline::DEFAULT_BOUND)]
    pub bound: f64,
    /// RK4 steps per ODE solve of cnf (more: smaller solver error, slower).
    #[arg(long = "ode-steps", default_value_t = 10)]
    pub ode_steps: usize,
    /// Trace estimator of cnf while training: exact or hutchinson (scoring is
    /// always exact; D > 16 uses hutchinson for training regardless).
    #[arg(long = "trace", default_value = "exact")]
    pub trace: gen_flow::transforms::TraceEstimator,
    /// Base density: gaussian (N(0, I)), gmm (a learned Gaussian mixture) or
    /// made-mog (a learned MADE mixture of Gaussians; maf on it is MAF MoG),
    /// with --components mixture components.
    #[arg(long = "base", default_value = "gaussian")]
    pub base: String,
    /// Flow blocks (couplings, MADE blocks, Glow steps; per stage on images).
    /// Default: the flow type's own (8 for realnvp on toys).
    #[arg(long = "flow-layers")]
    pub layers: Option<usize>,
    /// Conditioner hidden widths, comma separated (e.g. 128,128). Default: 64,64 on toys.
    #[arg(long = "flow-hidden", value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Cosine decay of the learning rate to zero over the run (default: constant).
    #[arg(long = "flow-cosine")]
    pub cosine: bool,
    /// 2-D toys: draw a fresh batch from the toy distribution at every step
    /// (the infinite-data setting of FFJORD and normflows) instead of cycling
    /// through the fixed 10,000-point training split.
    #[arg(long = "fresh")]
    pub fresh: bool,
}

impl FlowArgs {
    /// The CNF solver settings of these arguments.
    pub fn cnf(&self) -> gen_flow::transforms::CnfConfig {
        gen_flow::transforms::CnfConfig {
            steps: self.ode_steps,
            trace: self.trace,
            ..Default::default()
        }
    }
}

/// `genlab encode` for flow runs (exact z = f⁻¹(x)); other runs go to `fallback`.
pub fn encode_or(
    a: &crate::vae::InferArgs,
    fallback: fn(&crate::vae::InferArgs) -> Result<()>,
) -> Result<()> {
    let meta = RunMeta::load(&a.checkpoint)?;
    if !is_flow(&meta.model) {
        return fallback(a);
    }
    let x = rows(a.input.as_deref(), a.data.as_deref(), &a.split)?;
    let keep: Vec<usize> = (0..x.rows().min(a.rows)).collect();
    let z = encode(&meta, &a.checkpoint, &x.select_rows(&keep)?)?;
    match &a.out {
        Some(p) => {
            gen_data::io::npy::write_npy_f64(p, &z)?;
            eprintln!(
                "wrote {} exact encodings z = f⁻¹(x) to {}",
                z.rows(),
                p.display()
            );
            Ok(())
        }
        None => {
            crate::print_json(&json!({"z": z.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>()}))
        }
    }
}

/// `genlab sample` for flow runs.
pub fn sample_cmd(
    meta: &RunMeta,
    run_dir: &Path,
    n: usize,
    t: f64,
    seed: u64,
    out: Option<&Path>,
) -> Result<()> {
    let m = sample(meta, run_dir, n, t, seed)?;
    match out {
        Some(p) => {
            gen_data::io::npy::write_npy_f64(p, &m)?;
            eprintln!("wrote {} samples to {}", m.rows(), p.display());
            Ok(())
        }
        None => crate::print_json(
            &json!({"samples": m.iter_rows().map(|r| r.to_vec()).collect::<Vec<_>>()}),
        ),
    }
}

/// Training options of a flow run.
#[derive(Debug, Clone)]
pub struct FlowOpts {
    /// Optimisation steps.
    pub steps: u64,
    /// Seed (weights, batches, dequantization noise).
    pub seed: u64,
    /// Backend.
    pub backend: Backend,
    /// Minibatch size (None: the data's default).
    pub batch_size: Option<usize>,
    /// Adam learning rate (None: the model's and data's default).
    pub lr: Option<f64>,
    /// Spline bins K (nsf, nsf-ar).
    pub spline_bins: usize,
    /// Spline half-width B (nsf, nsf-ar).
    pub spline_bound: f64,
    /// ODE solver and trace estimator (cnf).
    pub cnf: gen_flow::transforms::CnfConfig,
    /// Base density.
    pub base: gen_flow::BaseKind,
    /// Override of the number of blocks.
    pub layers: Option<usize>,
    /// Override of the conditioner widths.
    pub hidden: Option<Vec<usize>>,
    /// Cosine learning-rate decay.
    pub cosine: bool,
    /// Fresh toy samples every step.
    pub fresh: bool,
}

const IMAGE_LOGIT_ALPHA: f64 = 0.05;
/// Default minibatch of image flows (the MNIST-5k runs in docs/flows.md).
const IMAGE_BATCH: usize = 64;
const TEMPERATURES: [f64; 4] = [0.5, 0.7, 0.85, 1.0];

/// Trains flow `model` on `data_name` and writes the run directory.
pub fn train(model: &str, data_name: &str, o: &FlowOpts, out: &Path) -> Result<serde_json::Value> {
    let kind = FlowKind::from_str(model)?;
    let train = data::load(data_name, gen_data::Split::Train)?;
    let test = data::load(data_name, gen_data::Split::Test)?;
    let mut config = match &train {
        Data::Points { x, .. } => FlowConfig::new(kind, x.cols()),
        Data::Images { h, w, .. } => {
            let coupling = matches!(kind, FlowKind::RealNvp | FlowKind::Nice | FlowKind::Glow);
            FlowConfig {
                hidden: vec![256, 256],
                mask: if coupling {
                    MaskKind::Checkerboard { h: *h, w: *w }
                } else {
                    MaskKind::Half
                },
                permutation: if coupling {
                    PermutationKind::None
                } else {
                    PermutationKind::Reverse
                },
                // Multi-scale RealNVP runs without ActNorm (the paper's batch
                // norm is left out); Glow's steps carry their own ActNorm.
                actnorm: kind != FlowKind::RealNvp,
                // Glow's couplings scale by σ(s̃ + 2), as in the paper: the
                // normalizing direction only contracts.
                sigmoid_scale: kind == FlowKind::Glow,
                logit: Some(IMAGE_LOGIT_ALPHA),
                // 784-dimensional likelihoods have large, spiky gradients early on.
                optim: gen_core::optim::OptimConfig {
                    grad_clip_norm: Some(IMAGE_GRAD_CLIP),
                    ..Default::default()
                },
                // RealNVP and Glow are multi-scale on images: as many
                // squeeze/split scales as halvings leave an even size, at most 2.
                image: matches!(kind, FlowKind::RealNvp | FlowKind::Glow).then(|| {
                    gen_flow::ImageLayout {
                        channels: 1,
                        height: *h,
                        width: *w,
                        scales: (0..2)
                            .take_while(|s| (h >> s) % 2 == 0 && (w >> s) % 2 == 0)
                            .count(),
                    }
                }),
                layers: match kind {
                    FlowKind::RealNvp => 3,
                    FlowKind::Glow => 4,
                    _ => FlowConfig::new(kind, h * w).layers,
                },
                ..FlowConfig::new(kind, h * w)
            }
        }
        other => {
            return Err(GenError::config(
                "--data",
                other.describe(),
                "flows model continuous vectors",
                "use a 2-D toy (e.g. eight-gaussians) or an image set (digits, mnist5k)",
            ));
        }
    };
    let image = matches!(train, Data::Images { .. });
    let batch_size = o
        .batch_size
        .unwrap_or(if image { IMAGE_BATCH } else { 512 });
    let lr = o.lr.unwrap_or(match (image, kind) {
        (true, FlowKind::RealNvp) => 5e-4,
        (true, FlowKind::Glow) => 2e-4,
        _ => 1e-3,
    });
    let fresh = match (o.fresh, &train) {
        (true, Data::Points { toy: Some(t), .. }) => Some(*t),
        (true, _) => {
            return Err(GenError::config(
                "--fresh",
                data_name,
                "fresh samples need a toy distribution to draw from",
                "drop --fresh, or train on a 2-D toy (e.g. rings)",
            ));
        }
        (false, _) => None,
    };
    config.seed = o.seed;
    config.base = o.base;
    if let Some(l) = o.layers {
        config.layers = l;
    }
    if let Some(h) = &o.hidden {
        config.hidden = h.clone();
    }
    config.spline_bins = o.spline_bins;
    config.spline_bound = o.spline_bound;
    config.validate()?;
    config.cnf = o.cnf.clone();
    RunMeta {
        model: model.into(),
        data: data_name.into(),
        options: json!({"backend": o.backend.name(), "seed": o.seed, "steps": o.steps,
                        "batch_size": batch_size, "lr": lr, "cosine": o.cosine, "fresh": o.fresh,
                        "config": config}),
    }
    .save(out)?;
    let device = o.backend.device()?;
    let mut flow = FlowModel::new(config.clone(), &device)?;
    let mut summary = json!({"model": model, "data": data_name, "train": train.describe(),
                             "backend": o.backend.name(), "config": config});
    let trainer = Trainer::new(
        TrainConfig {
            steps: o.steps,
            lr,
            seed: o.seed,
            log_every: 10,
            batch_size,
            schedule: if o.cosine {
                gen_core::train::LrSchedule::Cosine {
                    warmup: 0,
                    min_factor: 0.0,
                }
            } else {
                gen_core::train::LrSchedule::Constant
            },
            ..TrainConfig::default()
        },
        out,
    )?;
    let mut rng = rng_from_seed(o.seed ^ 0x5eed);
    match (&train, &test) {
        (Data::Points { x, .. }, Data::Points { x: xt, toy }) => {
            let batcher = EpochBatcher::new(x.rows(), batch_size.min(x.rows()), o.seed)?;
            let report = trainer.fit(&mut flow, |t, rng| match fresh {
                Some(toy) => Ok(FlowBatch::from(toy.sample_with(batch_size, rng))),
                None => Ok(FlowBatch::from(x.select_rows(&batcher.indices(t))?)),
            })?;
            summary["train"] = json!(match fresh {
                Some(t) => format!("fresh batches of {} from {}", batch_size, t.name()),
                None => train.describe(),
            });
            let test_nll = flow.score(xt)?.mean_nll();
            summary["train_nll"] = json!(report.final_loss);
            summary["test_nll"] = json!(test_nll);
            summary["steps"] = json!(report.steps);
            summary["seconds"] = json!(report.seconds);
            summary["ms_per_step"] = json!(1e3 * report.seconds / o.steps as f64);
            if let Some(toy) = toy
                && let Some(true_ll) = toy.log_prob(xt)?
            {
                let true_nll = -true_ll.iter().sum::<f64>() / true_ll.len() as f64;
                summary["true_test_nll"] = json!(true_nll);
                summary["kl_gap_nats"] = json!(test_nll - true_nll);
            }
            let s = flow.sample(x.rows().min(5000), &SampleOptions::default(), &mut rng)?;
            output::scatter_png(x, &s, &out.join("samples.png"))?;
            output::density_png(
                &|m: &Matrix| flow.log_prob(m, None),
                x,
                &out.join("density.png"),
            )?;
            output::loss_png(&report.losses, &out.join("loss.png"))?;
        }
        (
            Data::Images {
                x, h, w, levels, ..
            },
            Data::Images { x: xt, .. },
        ) => {
            let levels = *levels;
            let batcher = EpochBatcher::new(x.rows(), batch_size.min(x.rows()), o.seed)?;
            let report = trainer.fit(&mut flow, |t, rng| {
                let raw = x.select_rows(&batcher.indices(t))?;
                Ok(FlowBatch::from(gen_data::transforms::dequantize(
                    &raw, levels, rng,
                )?))
            })?;
            let xt = gen_data::transforms::dequantize(xt, levels, &mut rng_from_seed(1))?;
            let test_nll = flow.score(&xt)?.mean_nll();
            let bpd = gen_eval::bits_per_dim_dequantized(test_nll, h * w, levels)?;
            summary["train_nll"] = json!(report.final_loss);
            summary["test_nll_nats"] = json!(test_nll);
            summary["test_bits_per_dim"] = json!(bpd);
            summary["steps"] = json!(report.steps);
            summary["seconds"] = json!(report.seconds);
            for t in TEMPERATURES {
                let s = flow.sample(64, &SampleOptions::with_temperature(t), &mut rng)?;
                let clipped = Matrix::new(
                    64,
                    h * w,
                    s.as_slice().iter().map(|v| v.clamp(0.0, 1.0)).collect(),
                )?;
                output::grid_png(&clipped, *h, *w, &out.join(format!("samples_t{t}.png")))?;
            }
            output::loss_png(&report.losses, &out.join("loss.png"))?;
        }
        _ => unreachable!("train and test splits of one data set have the same kind"),
    }
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// Loads the newest checkpoint of a flow run on the backend it was trained on.
pub fn load(meta: &RunMeta, run_dir: &Path) -> Result<FlowModel> {
    let backend: Backend = meta
        .options
        .get("backend")
        .and_then(|v| v.as_str())
        .unwrap_or("flex")
        .parse()?;
    FlowModel::load(&latest_model_dir(run_dir)?, &backend.device()?)
}

/// Rows to score / encode for a flow: a file or a data set split (images are
/// dequantized with a fixed seed and scaled to [0, 1)).
pub fn rows(input: Option<&Path>, data_name: Option<&str>, split: &str) -> Result<Matrix> {
    match (input, data_name) {
        (Some(p), _) => crate::read_rows(p),
        (None, Some(d)) => match data::load(d, data::parse_split(split)?)? {
            Data::Points { x, .. } => Ok(x),
            Data::Images { x, levels, .. } => {
                gen_data::transforms::dequantize(&x, levels, &mut rng_from_seed(1))
            }
            other => Err(GenError::config(
                "--data",
                other.describe(),
                "flows model vectors",
                "use a toy or an image set",
            )),
        },
        (None, None) => Err(GenError::config(
            "input",
            "none",
            "nothing to score or encode",
            "pass --input FILE or --data NAME [--split test]",
        )),
    }
}

/// Exact log-densities of rows under a flow run.
pub fn score(meta: &RunMeta, run_dir: &Path, x: &Matrix) -> Result<Scores> {
    load(meta, run_dir)?.score(x)
}

/// Samples of a flow run at temperature `t`.
pub fn sample(meta: &RunMeta, run_dir: &Path, n: usize, t: f64, seed: u64) -> Result<Matrix> {
    load(meta, run_dir)?.sample(
        n,
        &SampleOptions::with_temperature(t),
        &mut rng_from_seed(seed),
    )
}

/// Exact encodings z = f⁻¹(x) of rows under a flow run.
pub fn encode(meta: &RunMeta, run_dir: &Path, x: &Matrix) -> Result<Matrix> {
    load(meta, run_dir)?.encode(x, None)
}
