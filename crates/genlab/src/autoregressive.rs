//! The autoregressive family (gen-ar) on the command line: fvsbn, nade, made
//! and pixelcnn on binarized images, with exact log-likelihoods. Presets live
//! in `gen_ar::binary::presets`; the data protocol (dynamic binarization for
//! training, one fixed binarization of the test split) is gen-data's, the
//! same as the Bernoulli VAEs', so their numbers compare.

use std::path::Path;

use gen_ar::binary::presets::{ArKnobs, BinaryArModel};
use gen_core::train::TrainConfig;
use gen_core::{Capabilities, Result, Rng, SampleOptions, ScoreOptions, Scores};
use gen_data::prep::Prep;
use serde_json::json;

use crate::data::Data;
use crate::registry::{Family, Input, LoadedRun, Samples, rows_of};
use crate::run::{RunMeta, latest_model_dir};
use crate::{TrainArgs, output};

/// Autoregressive options of `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Autoregressive models (fvsbn, nade, made, pixelcnn)")]
pub struct ArArgs {
    /// Hidden units of nade, hidden widths of made (comma separated).
    #[arg(
        id = "ar-hidden",
        long = "ar-hidden",
        value_delimiter = ',',
        default_value = "500"
    )]
    pub hidden: Vec<usize>,
    /// Orderings M of made, trained one per step and ensembled when scoring.
    #[arg(id = "ar-orderings", long = "orderings", default_value_t = 8)]
    pub orderings: usize,
    /// Feature channels of pixelcnn.
    #[arg(
        id = "pixelcnn-channels",
        long = "pixelcnn-channels",
        default_value_t = 32
    )]
    pub channels: usize,
    /// Residual blocks of pixelcnn.
    #[arg(id = "pixelcnn-blocks", long = "pixelcnn-blocks", default_value_t = 2)]
    pub blocks: usize,
}

/// Default minibatch and Adam learning rate.
const BATCH: usize = 100;
const LR: f64 = 1e-3;

/// What `run.json` stores for an autoregressive run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ArRunOptions {
    backend: String,
    seed: u64,
    steps: u64,
    batch_size: usize,
    lr: f64,
    config: serde_json::Value,
}

/// The autoregressive family.
pub struct ArFamily;

impl Family for ArFamily {
    fn models(&self) -> Vec<Capabilities> {
        gen_ar::binary::capabilities()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let o: ArRunOptions = meta.options_as()?;
        let device = o.backend.parse::<gen_core::Backend>()?.device()?;
        let dir = latest_model_dir(dir)?;
        Ok(Box::new(BinaryArModel::load(&meta.model, &dir, &device)?))
    }
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (model, c, r) = (a.model(), &a.common, &a.ar);
    let train = crate::data::load(a.data(), gen_data::Split::Train)?;
    let test = crate::data::load(a.data(), gen_data::Split::Test)?;
    let (raw, h, w, levels) = train.images(model)?;
    let (raw_test, ..) = test.images(model)?;
    let xt = Prep::Binarize.evaluation(&raw_test, levels)?;
    let knobs = ArKnobs {
        hidden: r.hidden.clone(),
        orderings: r.orderings,
        channels: r.channels,
        residual_blocks: r.blocks,
    };
    let mut m = BinaryArModel::image(model, (h, w), &knobs, &c.backend.device()?, c.seed)?;
    let (batch_size, lr) = (c.batch.unwrap_or(BATCH), c.lr.unwrap_or(LR));
    let opts = ArRunOptions {
        backend: c.backend.name().into(),
        seed: c.seed,
        steps: c.steps,
        batch_size,
        lr,
        config: m.config_json(),
    };
    RunMeta::new(model, a.data(), &opts)?.save(&c.out)?;
    let tc = c.run.apply(TrainConfig {
        steps: c.steps,
        lr,
        seed: c.seed,
        batch_size,
        log_every: 10,
        ..TrainConfig::default()
    });
    let report = m.fit((&raw, levels), tc, &xt, &c.out)?;
    let nll = -m.score(&xt, &ScoreOptions::default())?.mean();
    let d = (h * w) as f64;
    let summary = json!({
        "model": model, "data": a.data(), "backend": c.backend.name(),
        "train": train.describe(), "config": opts.config,
        "steps": report.steps, "seconds": report.seconds,
        "ms_per_step": report.ms_per_step(),
        "train_loss": report.final_loss,
        "test_nll": nll, "test_bits_per_dim": nll / (d * std::f64::consts::LN_2),
        "units": "exact NLL in nats per binarized image (test split binarized once, seed 1234)",
    });
    let s = m.sample(
        64,
        &SampleOptions::default(),
        &mut gen_core::rng_from_seed(c.seed),
    )?;
    output::grid_png(&s, h, w, &c.out.join("samples.png"))?;
    output::loss_png(&report.losses, &c.out.join("loss.png"))?;
    gen_core::checkpoint::write_json_atomic(&c.out.join("summary.json"), &summary)?;
    Ok(summary)
}

impl LoadedRun for BinaryArModel {
    fn capabilities(&self) -> Capabilities {
        BinaryArModel::capabilities(self)
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        BinaryArModel::sample(self, n, opts, rng).map(Samples::Rows)
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        let (raw, .., levels) = d.images(self.capabilities().model)?;
        Ok(Input::Rows(Prep::Binarize.evaluation(&raw, levels)?))
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        BinaryArModel::score(self, rows_of(x, self.capabilities().model)?, opts)
    }
}
