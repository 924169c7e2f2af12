//! The normalizing flows (gen-flow) on the command line: realnvp, nice,
//! glow, maf, iaf, nsf, nsf-ar and cnf. The image preset, default learning
//! rates and batches, and the evaluation protocol live in `gen_flow::presets`.
//!
//! 2-D toys: the summary reports the exact test NLL beside the true density's
//! NLL (their difference estimates KL(p‖q)), with `density.png` next to
//! `samples.png`. Images: test bits/dim and sample grids at several temperatures.

use std::path::Path;
use std::str::FromStr;

use gen_core::train::{EpochBatcher, LrSchedule, TrainConfig, Trainer};
use gen_core::{
    Capabilities, EncodingPart, GenError, Matrix, Model, Result, Rng, Sample, SampleOptions, Score,
    ScoreOptions, Scores,
};
use gen_flow::transforms::{CnfConfig, TraceEstimator};
use gen_flow::{BaseKind, FlowBatch, FlowConfig, FlowKind, FlowModel};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples, rows_of};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// Flow options of `genlab train` (the batch and learning rate are the
/// shared `--batch` / `--lr`, formerly `--flow-batch` / `--flow-lr`).
#[derive(clap::Args, Debug, Clone)]
#[command(
    next_help_heading = "Normalizing flows (realnvp, nice, glow, maf, iaf, nsf, nsf-ar, cnf)"
)]
pub struct FlowArgs {
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
    /// Trace estimator of cnf while training (scoring is always exact; D > 16
    /// uses hutchinson for training regardless).
    #[arg(long = "trace", default_value = "exact",
          value_parser = crate::choices::names::<TraceEstimator>(&["exact", "hutchinson"]))]
    pub trace: TraceEstimator,
    /// Base density: gaussian (N(0, I)), gmm (a learned Gaussian mixture) or
    /// made-mog (a learned MADE mixture of Gaussians; maf on it is MAF MoG),
    /// with --components mixture components.
    #[arg(long = "base", default_value = "gaussian", value_parser = crate::choices::Choices::new(
        vec![vec!["gaussian", "normal"], vec!["gmm", "mixture"], vec!["made-mog", "mog"]],
        |s| BaseKind::parse(s, 1).map(|_| s.to_string())))]
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

/// What `run.json` stores for a flow run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FlowRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    cosine: bool,
    fresh: bool,
    config: FlowConfig,
}

/// Sample temperatures of the image grids.
const TEMPERATURES: [f64; 4] = [0.5, 0.7, 0.85, 1.0];

/// The flows.
pub struct FlowFamily;

impl Family for FlowFamily {
    fn models(&self) -> Vec<Capabilities> {
        FlowKind::ALL
            .into_iter()
            .filter(|k| k.implemented())
            .map(gen_flow::capabilities)
            .collect()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: FlowRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        Ok(Box::new(FlowModel::load(&latest_model_dir(dir)?, &device)?))
    }
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (c, f) = (&a.common, &a.flow);
    let kind = FlowKind::from_str(a.model())?;
    let train = crate::data::load(a.data(), gen_data::Split::Train)?;
    let test = crate::data::load(a.data(), gen_data::Split::Test)?;
    let mut config = match &train {
        Data::Points { x, .. } => FlowConfig::new(kind, x.cols()),
        Data::Images { h, w, .. } => FlowConfig::image(kind, *h, *w),
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
    let batch_size = c.batch.unwrap_or(FlowKind::default_batch(image));
    let lr = c.lr.unwrap_or(kind.default_lr(image));
    let fresh = match (f.fresh, &train) {
        (true, Data::Points { toy: Some(t), .. }) => Some(*t),
        (true, _) => {
            return Err(GenError::config(
                "--fresh",
                a.data(),
                "fresh samples need a toy distribution to draw from",
                "drop --fresh, or train on a 2-D toy (e.g. rings)",
            ));
        }
        (false, _) => None,
    };
    config.seed = c.seed;
    config.base = BaseKind::parse(&f.base, c.components)?;
    config.layers = f.layers.unwrap_or(config.layers);
    config.hidden = f.hidden.clone().unwrap_or(config.hidden);
    config.spline_bins = f.bins;
    config.spline_bound = f.bound;
    config.validate()?;
    config.cnf = CnfConfig {
        steps: f.ode_steps,
        trace: f.trace,
        ..Default::default()
    };
    let opts = FlowRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        cosine: f.cosine,
        fresh: f.fresh,
        config: config.clone(),
    };
    RunMeta::new(a.model(), a.data(), &opts)?.save(&c.out)?;
    let mut flow = FlowModel::new(config.clone(), &c.backend.device()?)?;
    let mut summary = json!({"model": a.model(), "data": a.data(), "train": train.describe(),
                             "backend": c.backend.name(), "config": config});
    let schedule = match f.cosine {
        true => LrSchedule::Cosine {
            warmup: 0,
            min_factor: 0.0,
        },
        false => LrSchedule::Constant,
    };
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        seed: c.seed,
        log_every: 10,
        batch_size,
        schedule,
        ..TrainConfig::default()
    });
    let trainer = Trainer::new(tc, &c.out)?;
    let mut rng = gen_core::rng_from_seed(c.seed ^ 0x5eed);
    let (Data::Points { x, .. } | Data::Images { x, .. }) = &train else {
        unreachable!("checked above: flows train on points or images")
    };
    let batcher = EpochBatcher::new(x.rows(), batch_size.min(x.rows()), c.seed)?;
    let report = match (&train, &test) {
        (Data::Points { .. }, Data::Points { x: xt, toy }) => {
            let report = trainer.fit_with_eval(
                &mut flow,
                |t, rng| match fresh {
                    Some(toy) => Ok(FlowBatch::from(toy.sample_with(batch_size, rng))),
                    None => Ok(FlowBatch::from(x.select_rows(&batcher.indices(t))?)),
                },
                gen_core::train::held_out_nll(xt),
            )?;
            if let Some(t) = fresh {
                summary["train"] =
                    json!(format!("fresh batches of {batch_size} from {}", t.name()));
            }
            let true_ll = match toy {
                Some(t) => t.log_prob(xt)?,
                None => None,
            };
            let eval = flow.evaluate_points(xt, true_ll.as_deref())?;
            output::extend(&mut summary, json!(eval));
            summary["ms_per_step"] = json!(report.ms_per_step());
            let s = Sample::sample(
                &flow,
                x.rows().min(5000),
                &SampleOptions::default(),
                &mut rng,
            )?;
            output::scatter_png(x, &s, &c.out.join("samples.png"))?;
            let log_prob = |m: &Matrix| flow.log_prob(m, None);
            output::density_png(&log_prob, x, &c.out.join("density.png"))?;
            report
        }
        (Data::Images { h, w, levels, .. }, Data::Images { x: xt, .. }) => {
            // During training: the exact NLL of the first 200 test images
            // (dequantized as the final evaluation does), nats and bits/dim.
            let held_out = xt.select_rows(&(0..xt.rows().min(200)).collect::<Vec<_>>())?;
            let report = trainer.fit_with_eval(
                &mut flow,
                |t, rng| {
                    let raw = x.select_rows(&batcher.indices(t))?;
                    let deq = gen_data::transforms::dequantize(&raw, *levels, rng)?;
                    Ok(FlowBatch::from(deq))
                },
                |m: &FlowModel, _ctx: &mut gen_core::train::EvalContext<'_>| {
                    let e = m.evaluate_images(&held_out, *levels)?;
                    Ok(gen_core::train::EvalMetrics::from([
                        ("test_nll".to_string(), e.test_nll_nats),
                        ("test_bits_per_dim".to_string(), e.test_bits_per_dim),
                    ]))
                },
            )?;
            output::extend(&mut summary, json!(flow.evaluate_images(xt, *levels)?));
            for t in TEMPERATURES {
                let s = Sample::sample(&flow, 64, &SampleOptions::with_temperature(t), &mut rng)?;
                let path = c.out.join(format!("samples_t{t}.png"));
                output::grid_png(&output::clip_unit(&s)?, *h, *w, &path)?;
            }
            report
        }
        _ => unreachable!("train and test splits of one data set have the same kind"),
    };
    summary["train_nll"] = json!(report.final_loss);
    summary["steps"] = json!(report.steps);
    summary["seconds"] = json!(report.seconds);
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

impl LoadedRun for FlowModel {
    fn capabilities(&self) -> Capabilities {
        Model::capabilities(self)
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        Sample::sample(self, n, opts, rng).map(Samples::Rows)
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        match d {
            Data::Points { x, .. } => Ok(Input::Rows(x)),
            Data::Images { x, levels, .. } => Ok(Input::Rows(gen_flow::presets::dequantized_test(
                &x, levels,
            )?)),
            other => Err(GenError::config(
                "--data",
                other.describe(),
                "flows model vectors",
                "use a toy or an image set",
            )),
        }
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        Score::score(self, rows_of(x, "a flow")?, opts)
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        Ok(vec![EncodingPart {
            key: "z",
            file_suffix: "",
            values: FlowModel::encode(self, x, None)?,
            integer: false,
            description: "exact encodings z = f⁻¹(x)",
        }])
    }
}
