//! `genlab train|sample|score` for the classical baselines (gaussian, gmm, ngram).

use std::path::Path;

use gen_classical::{CharNGram, Corpus, Gaussian, Gmm, GmmConfig};
use gen_core::train::{TrainConfig, Trainer};
use gen_core::{
    Checkpoint, GenError, Matrix, Result, Rng, Sample, SampleOptions, Score, Scores, rng_from_seed,
};
use serde_json::json;

use crate::data::{self, Data};
use crate::output;
use crate::run::{RunMeta, latest_model_dir};

/// Exact log-density of each row.
type LogProb = dyn Fn(&Matrix) -> Result<Vec<f64>>;

/// Options shared by the classical trainers.
#[derive(Debug, Clone)]
pub struct ClassicalOpts {
    /// EM iterations for gmm (others fit in one step).
    pub steps: u64,
    /// Seed.
    pub seed: u64,
    /// Mixture components.
    pub components: usize,
    /// n-gram order.
    pub order: usize,
    /// Add-k smoothing.
    pub add_k: f64,
    /// Covariance regulariser.
    pub reg_covar: f64,
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

fn trainer(steps: u64, seed: u64, out: &Path, batch: usize) -> Result<Trainer> {
    Trainer::new(
        TrainConfig {
            steps,
            seed,
            log_every: 1,
            batch_size: batch,
            ..TrainConfig::default()
        },
        out,
    )
}

/// Trains a classical model and writes the run directory.
pub fn train(
    model: &str,
    data_name: &str,
    o: &ClassicalOpts,
    out: &Path,
) -> Result<serde_json::Value> {
    let train = data::load(data_name, gen_data::Split::Train)?;
    let test = data::load(data_name, gen_data::Split::Test)?;
    RunMeta {
        model: model.into(),
        data: data_name.into(),
        options: json!({"components": o.components, "order": o.order, "add_k": o.add_k,
                        "reg_covar": o.reg_covar, "seed": o.seed, "steps": o.steps}),
    }
    .save(out)?;
    let mut rng = rng_from_seed(o.seed);
    let mut summary = json!({"model": model, "data": data_name, "train": train.describe()});
    match model {
        "gaussian" | "gmm" => {
            let x = points(&train, model)?;
            let xt = points(&test, model)?;
            let (report, scorer): (_, Box<LogProb>) = if model == "gmm" {
                let cfg = GmmConfig {
                    components: o.components,
                    reg_covar: o.reg_covar,
                };
                let mut g = Gmm::init(&x, cfg, &mut rng)?;
                let r =
                    trainer(o.steps, o.seed, out, x.rows())?.fit(&mut g, |_, _| Ok(x.clone()))?;
                write_samples(&g, &train, out, &mut rng)?;
                (r, Box::new(move |m: &Matrix| g.log_prob(m)))
            } else {
                let mut g = Gaussian::fit(&x, o.reg_covar)?;
                let r = trainer(1, o.seed, out, x.rows())?.fit(&mut g, |_, _| Ok(x.clone()))?;
                write_samples(&g, &train, out, &mut rng)?;
                (r, Box::new(move |m: &Matrix| g.log_prob(m)))
            };
            let test_ll = scorer(&xt)?;
            let mean_ll = test_ll.iter().sum::<f64>() / test_ll.len() as f64;
            summary["train_nll"] = json!(report.final_loss);
            summary["test_nll"] = json!(-mean_ll);
            summary["steps"] = json!(report.steps);
            summary["seconds"] = json!(report.seconds);
            if let Data::Points { toy: Some(toy), .. } = &test
                && let Some(true_ll) = toy.log_prob(&xt)?
            {
                let true_nll = -true_ll.iter().sum::<f64>() / true_ll.len() as f64;
                summary["true_test_nll"] = json!(true_nll);
                summary["kl_gap_nats"] = json!(-mean_ll - true_nll);
            }
            if let Data::Points { x: tr, .. } = &train {
                output::density_png(&*scorer, tr, &out.join("density.png"))?;
            }
            output::loss_png(&report.losses, &out.join("loss.png"))?;
        }
        "ngram" => {
            let (corpus, test_text): (Corpus, Vec<String>) = match (&train, &test) {
                (Data::Text(t), Data::Text(v)) => (Corpus::Text(t.clone()), vec![v.clone()]),
                (Data::Lines(l), Data::Lines(v)) => (Corpus::Lines(l.clone()), v.clone()),
                _ => {
                    return Err(GenError::config(
                        "--data",
                        data_name,
                        "ngram models text",
                        "use shakespeare, english-words, surnames or first-names",
                    ));
                }
            };
            let mut m = CharNGram::unfitted(o.order, o.add_k)?;
            let r = trainer(1, o.seed, out, 1)?.fit(&mut m, |_, _| Ok(corpus.clone()))?;
            let nll = per_symbol_nll(&m, &test_text);
            // Held-out NLL per character for every order 1..=n: the picture of
            // what longer contexts buy (order 1 is the unigram baseline).
            let mut by_order = Vec::new();
            for n in 1..o.order {
                let m_n = match &corpus {
                    Corpus::Text(t) => CharNGram::fit_text(t, n, o.add_k)?,
                    Corpus::Lines(l) => CharNGram::fit_lines(l, n, o.add_k)?,
                };
                by_order.push((n as f64, per_symbol_nll(&m_n, &test_text)));
            }
            by_order.push((o.order as f64, nll));
            let uni = by_order[0].1;
            output::curve_png(&by_order, &out.join("nll_by_order.png"))?;
            summary["test_nll_per_char_by_order"] =
                json!(by_order.iter().map(|p| p.1).collect::<Vec<_>>());
            summary["order"] = json!(o.order);
            summary["train_nll_per_char"] = json!(r.final_loss);
            summary["test_nll_per_char"] = json!(nll);
            summary["test_perplexity"] = json!(nll.exp());
            summary["unigram_test_perplexity"] = json!(uni.exp());
            let samples = m.sample(20, &SampleOptions::default(), &mut rng)?;
            gen_core::checkpoint::write_atomic(
                &out.join("samples.txt"),
                samples.join("\n").as_bytes(),
            )?;
            summary["samples"] = json!(samples.iter().take(5).collect::<Vec<_>>());
        }
        other => return Err(unknown_model(other)),
    }
    gen_core::checkpoint::write_json_atomic(&out.join("summary.json"), &summary)?;
    Ok(summary)
}

fn per_symbol_nll(m: &CharNGram, texts: &[String]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for t in texts {
        let lp = m.symbol_log_probs(t);
        n += lp.len();
        s -= lp.iter().sum::<f64>();
    }
    s / n.max(1) as f64
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

pub(crate) fn unknown_model(name: &str) -> GenError {
    GenError::config(
        "model",
        name,
        "unknown model",
        "see `genlab models` for the list",
    )
}

/// A loaded classical model.
pub enum Loaded {
    /// Multivariate Gaussian.
    Gaussian(Gaussian),
    /// Gaussian mixture.
    Gmm(Gmm),
    /// n-gram.
    NGram(CharNGram),
}

/// Loads the newest checkpoint of a classical run.
pub fn load(meta: &RunMeta, run_dir: &Path) -> Result<Loaded> {
    let dir = latest_model_dir(run_dir)?;
    Ok(match meta.model.as_str() {
        "gaussian" => {
            let mut g = Gaussian::new(vec![0.0], vec![1.0])?;
            g.load_checkpoint(&dir)?;
            Loaded::Gaussian(g)
        }
        "gmm" => {
            let mut g = Gmm::new(vec![1.0], vec![vec![0.0]], vec![vec![1.0]])?;
            g.load_checkpoint(&dir)?;
            Loaded::Gmm(g)
        }
        "ngram" => {
            let mut m = CharNGram::unfitted(1, 1.0)?;
            m.load_checkpoint(&dir)?;
            Loaded::NGram(m)
        }
        other => return Err(unknown_model(other)),
    })
}

/// What `genlab sample` produces.
pub enum Samples {
    /// Vectors.
    Rows(Matrix),
    /// Strings.
    Strings(Vec<String>),
}

impl Loaded {
    /// Draws samples.
    pub fn sample(&self, n: usize, opts: &SampleOptions, rng: &mut Rng) -> Result<Samples> {
        Ok(match self {
            Loaded::Gaussian(g) => Samples::Rows(g.sample(n, opts, rng)?),
            Loaded::Gmm(g) => Samples::Rows(g.sample(n, opts, rng)?),
            Loaded::NGram(m) => Samples::Strings(m.sample(n, opts, rng)?),
        })
    }

    /// Scores rows (vector models) or strings (n-gram).
    pub fn score_rows(&self, x: &Matrix) -> Result<Scores> {
        match self {
            Loaded::Gaussian(g) => g.score(x),
            Loaded::Gmm(g) => g.score(x),
            Loaded::NGram(_) => Err(GenError::config(
                "--input",
                "a numeric array",
                "an n-gram scores strings",
                "pass a text file with one string per line",
            )),
        }
    }

    /// Scores strings.
    pub fn score_strings(&self, s: &[String]) -> Result<Scores> {
        match self {
            Loaded::NGram(m) => m.score(s),
            _ => Err(GenError::config(
                "--input",
                "text",
                "this model scores numeric vectors",
                "pass a .npy or .csv file",
            )),
        }
    }
}
