//! `genlab train|sample|score|encode` for the classical density baselines
//! (gaussian, gmm); the n-gram has its own file.

use std::path::Path;

use gen_classical::protocol::density_summary;
use gen_classical::{Gaussian, Gmm, GmmConfig};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, EncodingPart, GenError, Infer, Matrix, Model, Result, Rng, Sample,
    SampleOptions, Score, ScoreOptions, Scores, rng_from_seed,
};
use serde_json::json;

use crate::TrainArgs;
use crate::data::{self, Data};
use crate::output;
use crate::registry::{Family, Input, LoadedRun, Samples};
use crate::run::{RunMeta, latest_model_dir};

/// Exact log-density of each row.
type LogProb = dyn Fn(&Matrix) -> Result<Vec<f64>>;

/// Options of the classical baselines in `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Classical baselines (gaussian, gmm)")]
pub struct ClassicalArgs {
    /// Covariance regulariser (gaussian, gmm).
    #[arg(long, default_value_t = 1e-6)]
    pub reg_covar: f64,
}

/// What `run.json` stores for a classical run (the fitted parameters are in
/// the checkpoint).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ClassicalRunOptions {
    components: usize,
    reg_covar: f64,
    seed: u64,
    steps: u64,
}

/// The classical density family: multivariate Gaussian, Gaussian mixture.
pub struct Classical;

impl Family for Classical {
    fn models(&self) -> Vec<Capabilities> {
        gen_classical::capabilities()
            .into_iter()
            .filter(|c| c.model != "ngram")
            .collect()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let _: ClassicalRunOptions = meta.options_as()?;
        Ok(Box::new(load(meta, dir)?))
    }
}

fn points(d: &Data, model: &str) -> Result<Matrix> {
    match d {
        Data::Points { x, .. } => Ok(x.clone()),
        Data::Images { x, levels, .. } => gen_data::transforms::scale_unit(x, *levels),
        _ => Err(GenError::config(
            "--data",
            d.describe(),
            format!("{model} models continuous vectors"),
            "use a 2-D toy (e.g. eight-gaussians) or an image set (digits, mnist5k)",
        )),
    }
}

fn trainer(
    steps: u64,
    seed: u64,
    out: &Path,
    batch_size: usize,
    distributed: bool,
) -> Result<Trainer> {
    let (log_every, defaults) = (1, TrainConfig::default());
    // With --distributed the trainer asks the model for shards, and these
    // batch algorithms refuse with their reason.
    let config = TrainConfig {
        steps,
        seed,
        log_every,
        batch_size,
        distributed,
        ..defaults
    };
    Trainer::new(config, out)
}

/// Trains a classical model and writes the run directory.
fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (model, data_name, out, o) = (a.model(), a.data(), &a.common.out, &a.classical);
    let (seed, steps, components) = (a.common.seed, a.common.steps, a.common.components);
    let train = data::load(data_name, gen_data::Split::Train)?;
    let test = data::load(data_name, gen_data::Split::Test)?;
    let options = ClassicalRunOptions {
        components,
        reg_covar: o.reg_covar,
        seed,
        steps,
    };
    RunMeta::new(model, data_name, &options)?.save(out)?;
    let mut rng = rng_from_seed(seed);
    let mut summary = json!({"model": model, "data": data_name, "train": train.describe()});
    match model {
        "gaussian" | "gmm" => {
            let x = points(&train, model)?;
            let xt = points(&test, model)?;
            let (report, scorer): (_, Box<LogProb>) = if model == "gmm" {
                let cfg = GmmConfig {
                    components,
                    reg_covar: o.reg_covar,
                };
                let mut g = Gmm::init(&x, cfg, &mut rng)?;
                let r = trainer(steps, seed, out, x.rows(), a.common.run.is_distributed())?
                    .fit(&mut g, |_, _| Ok(x.clone()))?;
                write_samples(&g, &train, out, &mut rng)?;
                (r, Box::new(move |m: &Matrix| g.log_prob(m)))
            } else {
                let mut g = Gaussian::fit(&x, o.reg_covar)?;
                let r = trainer(1, seed, out, x.rows(), a.common.run.is_distributed())?
                    .fit(&mut g, |_, _| Ok(x.clone()))?;
                write_samples(&g, &train, out, &mut rng)?;
                (r, Box::new(move |m: &Matrix| g.log_prob(m)))
            };
            summary["train_nll"] = json!(report.final_loss);
            summary["steps"] = json!(report.steps);
            summary["seconds"] = json!(report.seconds);
            let true_ll = match &test {
                Data::Points { toy: Some(toy), .. } => toy.log_prob(&xt)?,
                _ => None,
            };
            density_summary(&scorer(&xt)?, true_ll.as_deref(), &mut summary);
            if let Data::Points { x: tr, .. } = &train {
                output::density_png(&*scorer, tr, &out.join("density.png"))?;
            }
            output::loss_png(&report.losses, &out.join("loss.png"))?;
        }
        other => return Err(GenError::Other(format!("{other} is not a classical model"))),
    }
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

fn write_samples<M: Sample<Output = Matrix>>(
    m: &M,
    train: &Data,
    out: &Path,
    rng: &mut Rng,
) -> Result<()> {
    match train {
        Data::Points { x, .. } => {
            let s = m.sample(x.rows().min(5000), &SampleOptions::default(), rng)?;
            output::scatter_png(x, &s, &out.join("samples.png"))
        }
        Data::Images { h, w, .. } => {
            let s = m.sample(64, &SampleOptions::default(), rng)?;
            output::grid_png(&s, *h, *w, &out.join("samples.png"))
        }
        _ => Ok(()),
    }
}

/// A loaded classical model.
pub enum Loaded {
    /// Multivariate Gaussian.
    Gaussian(Gaussian),
    /// Gaussian mixture.
    Gmm(Gmm),
}

/// Loads the newest checkpoint of a classical run.
fn load(meta: &RunMeta, run_dir: &Path) -> Result<Loaded> {
    let dir = latest_model_dir(run_dir)?;
    Ok(match meta.model.as_str() {
        "gaussian" => {
            let mut g = Gaussian::new(vec![0.0], vec![1.0])?;
            g.load_checkpoint(&dir)?;
            Loaded::Gaussian(g)
        }
        _ => {
            let mut g = Gmm::new(vec![1.0], vec![vec![0.0]], vec![vec![1.0]])?;
            g.load_checkpoint(&dir)?;
            Loaded::Gmm(g)
        }
    })
}

impl LoadedRun for Loaded {
    fn capabilities(&self) -> Capabilities {
        match self {
            Loaded::Gaussian(g) => g.capabilities(),
            Loaded::Gmm(g) => g.capabilities(),
        }
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        Ok(match self {
            Loaded::Gaussian(g) => Samples::Rows(g.sample(n, opts, rng)?),
            Loaded::Gmm(g) => Samples::Rows(g.sample(n, opts, rng)?),
        })
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        Ok(Input::Rows(points(&d, self.capabilities().model)?))
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        match (self, x) {
            (Loaded::Gaussian(g), Input::Rows(m)) => g.score(m, opts),
            (Loaded::Gmm(g), Input::Rows(m)) => g.score(m, opts),
            (_, Input::Strings(_)) => Err(GenError::config(
                "--input",
                "text",
                "this model scores numeric vectors",
                "pass a .npy or .csv file",
            )),
        }
    }

    fn encode(&self, x: &Matrix) -> Result<Vec<EncodingPart>> {
        match self {
            Loaded::Gmm(g) => Ok(vec![EncodingPart {
                key: "responsibilities",
                file_suffix: "resp.npy",
                values: g.infer(x)?,
                integer: false,
                description: "posterior responsibilities p(k | x)",
            }]),
            _ => Err(self.unsupported(gen_core::Task::Infer, "it has no latent variables")),
        }
    }
}
