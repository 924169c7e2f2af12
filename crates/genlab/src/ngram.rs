//! The character n-gram (gen-classical) on the command line: add-k or
//! interpolated Kneser–Ney smoothing; the held-out protocol (NLL per
//! character for every order up to n) is `gen_classical::protocol`.

use std::path::Path;

use gen_classical::protocol::HeldOut;
use gen_classical::{CharNGram, Corpus, SmoothingKind};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    Capabilities, Checkpoint, GenError, Model, Result, Rng, Sample, SampleOptions, Score,
    ScoreOptions, Scores, rng_from_seed,
};
use serde_json::json;

use crate::TrainArgs;
use crate::data::{self, Data};
use crate::output;
use crate::registry::{Family, Input, LoadedRun, Samples};
use crate::run::{RunMeta, latest_model_dir};

/// Options of the n-gram in `genlab train`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Character n-gram (ngram)")]
pub struct NGramArgs {
    /// Context length + 1.
    #[arg(long, default_value_t = 5)]
    pub order: usize,
    /// Add-k smoothing. Small k keeps samples readable: with add-k, a
    /// rarely seen context spreads k*V of its mass uniformly over all characters.
    #[arg(long, default_value_t = 0.01)]
    pub add_k: f64,
    /// Smoothing: add-k, or interpolated Kneser-Ney (discount per order from the counts).
    #[arg(long, default_value = "add-k",
          value_parser = crate::choices::names::<SmoothingKind>(&SmoothingKind::NAMES))]
    pub smoothing: SmoothingKind,
}

/// What `run.json` stores for an n-gram run (the counts are in the checkpoint).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct NGramRunOptions {
    order: usize,
    add_k: f64,
    /// Absent from runs written before Kneser-Ney: add-k.
    #[serde(default)]
    smoothing: SmoothingKind,
    seed: u64,
}

/// The n-gram family.
pub struct NGramFamily;

impl Family for NGramFamily {
    fn models(&self) -> Vec<Capabilities> {
        gen_classical::capabilities()
            .into_iter()
            .filter(|c| c.model == "ngram")
            .collect()
    }

    fn train(&self, a: &TrainArgs) -> Result<serde_json::Value> {
        train(a)
    }

    fn load(&self, meta: &RunMeta, dir: &Path) -> Result<Box<dyn LoadedRun>> {
        let _: NGramRunOptions = meta.options_as()?;
        let mut m = CharNGram::unfitted(1, 1.0)?;
        m.load_checkpoint(&latest_model_dir(dir)?)?;
        Ok(Box::new(NGramRun(m)))
    }
}

fn train(a: &TrainArgs) -> Result<serde_json::Value> {
    let (out, o, seed) = (&a.common.out, &a.ngram, a.common.seed);
    let train = data::load(a.data(), gen_data::Split::Train)?;
    let test = data::load(a.data(), gen_data::Split::Test)?;
    let (corpus, test_text): (Corpus, Vec<String>) = match (&train, &test) {
        (Data::Text(t), Data::Text(v)) => (Corpus::Text(t.clone()), vec![v.clone()]),
        (Data::Lines(l), Data::Lines(v)) => (Corpus::Lines(l.clone()), v.clone()),
        _ => {
            return Err(GenError::config(
                "--data",
                a.data(),
                "ngram models text",
                "use shakespeare, english-words, surnames or first-names",
            ));
        }
    };
    let options = NGramRunOptions {
        order: o.order,
        add_k: o.add_k,
        smoothing: o.smoothing,
        seed,
    };
    RunMeta::new(a.model(), a.data(), &options)?.save(out)?;
    let mut summary = json!({"model": a.model(), "data": a.data(), "train": train.describe()});
    let mut m = CharNGram::unfitted(o.order, o.smoothing.with_add_k(o.add_k))?;
    let config = TrainConfig {
        steps: 1,
        seed,
        log_every: 1,
        batch_size: 1,
        // Counting sees the whole corpus: with --distributed the trainer
        // asks for shards and the n-gram refuses with that reason.
        distributed: a.common.run.is_distributed(),
        ..TrainConfig::default()
    };
    let r = Trainer::new(config, out)?.fit(&mut m, |_, _| Ok(corpus.clone()))?;
    let held_out = HeldOut::evaluate(&m, &corpus, &test_text)?;
    output::curve_png(
        &held_out.by_order,
        (
            "held-out NLL by n-gram order",
            "order n",
            "NLL (nats per character)",
        ),
        &out.join("nll_by_order.png"),
    )?;
    held_out.write_summary(&mut summary);
    summary["train_nll_per_char"] = json!(r.final_loss);
    let samples = m.sample(20, &SampleOptions::default(), &mut rng_from_seed(seed))?;
    let text = samples.join("\n");
    gen_core::checkpoint::write_atomic(&out.join("samples.txt"), text.as_bytes())?;
    summary["samples"] = json!(samples.iter().take(5).collect::<Vec<_>>());
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

/// A loaded n-gram run.
struct NGramRun(CharNGram);

impl LoadedRun for NGramRun {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        Ok(Samples::Strings(self.0.sample(n, opts, rng)?))
    }

    fn prepare(&self, d: Data) -> Result<Input> {
        match d {
            Data::Lines(l) => Ok(Input::Strings(l)),
            Data::Text(t) => Ok(Input::Strings(vec![t])),
            other => Err(GenError::config(
                "--data",
                other.describe(),
                "an n-gram scores strings",
                "use a text set: shakespeare, english-words, surnames or first-names",
            )),
        }
    }

    fn score(&self, x: &Input, opts: &ScoreOptions) -> Result<Scores> {
        match x {
            Input::Strings(s) => self.0.score(s, opts),
            Input::Rows(_) => Err(GenError::config(
                "--input",
                "a numeric array",
                "an n-gram scores strings",
                "pass a text file with one string per line",
            )),
        }
    }

    fn decode(
        &self,
        prompt: &str,
        opts: &gen_ar::decoding::DecodeOptions,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<String> {
        let m = &self.0;
        crate::text::unknown_chars(prompt, |c| {
            m.decode(&m.encode(&c.to_string())) == c.to_string()
        })?;
        crate::text::decode_text(m, &m.encode(prompt), opts, |t| m.decode(t), on_text)
    }
}
