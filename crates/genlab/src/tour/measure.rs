//! The measurements behind the task table, taken the same way for every
//! trained run of a data group: sampling time, the score on the test split
//! (with its kind), what `encode` gives and how well it reconstructs, the
//! learning record, and sample quality.

use std::path::Path;
use std::time::Instant;

use gen_core::{GenError, Matrix, Result, SampleOptions, ScoreKind, ScoreOptions, rng_from_seed};
use gen_data::Split;
use gen_eval::toy::{ModeCoverageOptions, mode_coverage};
use serde::{Deserialize, Serialize};

use super::plan::{Budget, Entry, Group};
use crate::data::{self, Data};
use crate::registry::{Input, LoadedRun, Samples};

/// Characters of one held-out text piece: the GPT's block, so that it
/// scores every character of a piece (after its start token, a newline).
pub const TEXT_PIECE: usize = 64;

/// The learning record of a run, read from its summary and metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Learn {
    /// Wall time of training, seconds.
    pub seconds: Option<f64>,
    /// Optimisation steps (EM iterations, 1 for counting).
    pub steps: Option<f64>,
    /// Milliseconds per step.
    pub ms_per_step: Option<f64>,
    /// Mean training loss over the last tenth of the logged steps.
    pub final_loss: Option<f64>,
    /// Roughness of the loss curve: the mean absolute step-to-step change
    /// over the second half of the logged steps, divided by the spread of the
    /// whole curve (max − min). 0 is a smooth descent; near 1 is noise.
    pub roughness: Option<f64>,
}

/// Sampling speed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleSpeed {
    /// Samples drawn in one call.
    pub n: usize,
    /// Milliseconds per sample (the call's wall time over n).
    pub ms_per_sample: f64,
    /// How the model samples, from its capability row.
    pub how: String,
}

/// The score on the test split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoreResult {
    /// exact, bound, estimate, integrated, or none.
    pub kind: String,
    /// The model's description of how it scores (or why it cannot).
    pub how: String,
    /// Mean negative score per test row, nats.
    pub nll_nats: Option<f64>,
    /// The same per dimension in bits.
    pub bits_per_dim: Option<f64>,
    /// Dimensions per row (characters for text).
    pub dims: usize,
    /// Rows scored.
    pub rows: usize,
    /// Milliseconds per scored row.
    pub ms_per_row: Option<f64>,
}

/// What `encode` gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InferResult {
    /// Whether the model encodes at all.
    pub supported: bool,
    /// Whether its posterior or inverse is exact (its capability row).
    pub exact: bool,
    /// The capability row's description (or the reason it cannot).
    pub how: String,
    /// Milliseconds per encoded row.
    pub ms_per_row: Option<f64>,
    /// Mean squared reconstruction error per dimension through the latent space.
    pub recon_mse: Option<f64>,
    /// 1 − MSE / variance of the data: the share of the data's variance the
    /// reconstruction explains.
    pub recon_r2: Option<f64>,
}

/// Everything measured about one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measured {
    /// Run name.
    pub name: String,
    /// Family.
    pub family: String,
    /// Model.
    pub model: String,
    /// Data group.
    pub group: Group,
    /// Data set.
    pub data: String,
    /// Seed.
    pub seed: u64,
    /// `ok`, or what went wrong in training (the measurements then use the
    /// last good checkpoint, if any).
    pub status: String,
    /// Learning.
    pub learn: Learn,
    /// Sampling.
    pub sample: Option<SampleSpeed>,
    /// Scoring.
    pub score: Option<ScoreResult>,
    /// Inference.
    pub infer: Option<InferResult>,
    /// Sample quality, metric name → value (group-specific metrics).
    pub quality: serde_json::Map<String, serde_json::Value>,
    /// Pictures (title, path relative to the tour directory).
    pub pictures: Vec<(String, String)>,
    /// A few samples, for text models.
    pub text_samples: Vec<String>,
}

impl Measured {
    /// The record of `entry` with its training `status` and nothing measured
    /// yet (what a run that could not be trained at all reports).
    pub fn empty(entry: &Entry, status: &str) -> Self {
        Self {
            name: entry.name.clone(),
            family: entry.family.to_string(),
            model: entry.model.to_string(),
            group: entry.group,
            data: entry.data.to_string(),
            seed: entry.seed,
            status: status.to_string(),
            learn: Learn::default(),
            sample: None,
            score: None,
            infer: None,
            quality: serde_json::Map::new(),
            pictures: Vec::new(),
            text_samples: Vec::new(),
        }
    }
}

/// The test split of data set `data` of a group, prepared for `run`, limited to `rows` rows
/// (text: `rows` pieces of [`TEXT_PIECE`] characters).
pub fn test_input(run: &dyn LoadedRun, group: Group, data: &str, rows: usize) -> Result<Input> {
    let d = data::load(data, Split::Test)?;
    match (group, d) {
        (Group::Text, Data::Text(t)) => Ok(Input::Strings(text_pieces(&t, rows))),
        (_, d) => match run.prepare(d)? {
            Input::Rows(m) => Ok(Input::Rows(first_rows(&m, rows)?)),
            other => Ok(other),
        },
    }
}

/// `n` pieces of the text, each the [`TEXT_PIECE`] characters after one of
/// the text's newlines (where every model's context starts), spread evenly
/// over it.
pub fn text_pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let starts: Vec<usize> = chars
        .iter()
        .enumerate()
        .filter(|&(i, &c)| c == '\n' && i + 1 + TEXT_PIECE <= chars.len())
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() || n == 0 {
        return Vec::new();
    }
    (0..n)
        .map(|k| {
            let s = starts[k * starts.len() / n];
            chars[s + 1..s + 1 + TEXT_PIECE].iter().collect()
        })
        .collect()
}

/// The first `n` rows of `m` (all when it has fewer).
pub fn first_rows(m: &Matrix, n: usize) -> Result<Matrix> {
    let idx: Vec<usize> = (0..n.min(m.rows())).collect();
    m.select_rows(&idx)
}

/// Reference images of the test split in [0, 1], their height and width.
pub fn real_images() -> Result<(Matrix, usize, usize)> {
    match data::load(Group::Images.data(), Split::Test)? {
        Data::Images {
            x, h, w, levels, ..
        } => {
            let scale = 1.0 / (levels.saturating_sub(1).max(1)) as f64;
            let scaled = x.as_slice().iter().map(|v| v * scale).collect();
            Ok((Matrix::new(x.rows(), x.cols(), scaled)?, h, w))
        }
        other => Err(GenError::Other(format!(
            "expected images, got {}",
            other.describe()
        ))),
    }
}

/// Measures the run in `dir` (trained as `entry`); pictures go to
/// `pictures` (a folder of the tour directory `tour`).
pub fn measure(
    entry: &Entry,
    status: &str,
    dir: &Path,
    tour: &Path,
    budget: Budget,
) -> Result<Measured> {
    let (_, run) = crate::families::load(dir)?;
    let caps = run.capabilities();
    let mut m = Measured::empty(entry, status);
    m.learn = learn_record(dir);
    let pictures = tour.join("pictures");
    std::fs::create_dir_all(&pictures).map_err(|e| GenError::io(&pictures, e))?;

    // The pixel-space DDPM (a U-Net: about 0.4 s per pass over 64 MNIST
    // images here) is sampled by DDIM-50 and scored and encoded on 16 test
    // images: its ancestral sampler and its bound take T = 1000 passes per
    // image, which at the group's 500 images would be hours on this CPU.
    let pixel_diffusion = entry.model == "ddpm" && entry.group == Group::Images;

    // Sampling: one call for the group's sample count.
    let n = budget.samples(entry.group);
    let mut rng = rng_from_seed(entry.seed.wrapping_add(7));
    let t = Instant::now();
    let samples = if pixel_diffusion {
        let ddim50 = gen_diffusion::SamplerOptions {
            steps: Some(50),
            ..gen_diffusion::SamplerOptions::of(gen_diffusion::SamplerKind::Ddim)
        };
        run.sample_diffusion(n, &ddim50, &mut rng)?
    } else {
        run.sample(n, &SampleOptions::default(), &mut rng)?
    };
    m.sample = Some(SampleSpeed {
        n,
        ms_per_sample: t.elapsed().as_secs_f64() * 1e3 / n as f64,
        how: if pixel_diffusion {
            format!(
                "measured with DDIM, 50 sequential passes (η = 0); the model's own: {}",
                caps.sample.how
            )
        } else {
            caps.sample.how.to_string()
        },
    });
    quality(&mut m, &samples, entry, &pictures, tour)?;

    // Scoring the test split.
    let rows = if pixel_diffusion {
        16
    } else {
        budget.score_rows(entry.group)
    };
    let x = test_input(&*run, entry.group, entry.data, rows)?;
    m.score = Some(score(&*run, &x, entry.group)?);
    if let (Input::Rows(rows), Ok(toy)) = (&x, entry.data.parse::<gen_data::toy2d::Toy2d>())
        && let Some(lp) = toy.log_prob(rows)?
    {
        let nll = -lp.iter().sum::<f64>() / lp.len().max(1) as f64;
        m.quality.insert("true_nll".into(), serde_json::json!(nll));
    }

    // Inference: encode and reconstruct test rows.
    m.infer = Some(infer(&*run, &x)?);
    Ok(m)
}

fn quality(
    m: &mut Measured,
    samples: &Samples,
    entry: &Entry,
    pictures: &Path,
    tour: &Path,
) -> Result<()> {
    let rel = |p: &Path| {
        p.strip_prefix(tour)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut put = |k: &str, v: f64| {
        m.quality.insert(k.into(), serde_json::json!(v));
    };
    match (entry.group, samples) {
        (Group::Toy, Samples::Rows(s)) => {
            let toy: gen_data::toy2d::Toy2d = entry
                .data
                .parse()
                .map_err(|e| GenError::Other(format!("{e}")))?;
            if let Some((centres, sigma)) = toy.mode_centres() {
                let c = mode_coverage(s, &centres, sigma, &ModeCoverageOptions::default())?;
                put("modes_covered", c.modes_covered as f64);
                put("modes", c.modes as f64);
                put("high_quality_fraction", c.high_quality_fraction);
            }
            let real = toy.sample(s.rows(), 2);
            let path = pictures.join(format!("{}_samples.png", entry.name));
            crate::output::scatter_png(&real, s, &path)?;
            m.pictures
                .push(("samples over the data".into(), rel(&path)));
        }
        (Group::Images, Samples::Rows(s)) => {
            let (real, h, w) = real_images()?;
            let s = crate::output::clip_unit(s)?;
            let ex = mnist_extractor()?;
            let q = gen_gan::eval::image_quality(&s, &real, &ex)?;
            put("fid", q.fid);
            put("precision", q.precision);
            put("recall", q.recall);
            put("density", q.density);
            put("coverage", q.coverage);
            let path = pictures.join(format!("{}_samples.png", entry.name));
            crate::output::grid_png(&first_rows(&s, 64)?, h, w, &path)?;
            m.pictures.push(("samples".into(), rel(&path)));
        }
        (Group::Text, Samples::Strings(s)) => {
            let words = training_words()?;
            let (valid, total) = s
                .iter()
                .flat_map(|t| split_words(t))
                .fold((0usize, 0usize), |(v, n), w| {
                    (v + usize::from(words.contains(&w)), n + 1)
                });
            if total > 0 {
                put("word_validity", valid as f64 / total as f64);
            }
            m.text_samples = s.iter().take(4).cloned().collect();
        }
        (g, _) => {
            return Err(GenError::Other(format!(
                "{} sampled the wrong kind of output for the {g:?} group",
                entry.model
            )));
        }
    }
    Ok(())
}

/// Lower-cased words (runs of letters and apostrophes) of a text.
pub fn split_words(t: &str) -> Vec<String> {
    t.split(|c: char| !(c.is_alphabetic() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The embedded MNIST extractor the image groups are compared in (gen-gan's
/// image evaluation protocol).
pub fn mnist_extractor() -> Result<gen_eval::Extractor> {
    gen_gan::eval::extractor_for(28)?
        .ok_or_else(|| GenError::Other("no embedded extractor for 28x28 images".into()))
}

/// Every word of Shakespeare's training split, read once per process.
fn training_words() -> Result<&'static std::collections::HashSet<String>> {
    static WORDS: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    if let Some(w) = WORDS.get() {
        return Ok(w);
    }
    let t = gen_data::shakespeare(Split::Train)?;
    Ok(WORDS.get_or_init(|| split_words(&t).into_iter().collect()))
}

fn score(run: &dyn LoadedRun, x: &Input, group: Group) -> Result<ScoreResult> {
    let caps = run.capabilities();
    let (rows, dims) = match x {
        Input::Rows(m) => (m.rows(), m.cols()),
        Input::Strings(s) => (s.len(), TEXT_PIECE),
    };
    let t = Instant::now();
    match run.score(x, &ScoreOptions::default()) {
        Ok(s) => {
            let ms = t.elapsed().as_secs_f64() * 1e3 / rows.max(1) as f64;
            let nll = -s.values.iter().sum::<f64>() / s.values.len().max(1) as f64;
            let kind = match &s.kind {
                ScoreKind::Exact => "exact",
                ScoreKind::Bound { .. } => "bound",
                ScoreKind::Estimate { .. } => "estimate",
                ScoreKind::Integrated { .. } => "integrated",
            };
            let finite = nll.is_finite().then_some(nll);
            Ok(ScoreResult {
                kind: kind.into(),
                how: caps.score.how.to_string(),
                nll_nats: finite,
                bits_per_dim: finite.map(|v| v / (dims as f64 * std::f64::consts::LN_2)),
                dims,
                rows,
                ms_per_row: Some(ms),
            })
        }
        Err(GenError::Unsupported { why, .. }) => Ok(ScoreResult {
            kind: "none".into(),
            how: why,
            nll_nats: None,
            bits_per_dim: None,
            dims,
            rows: 0,
            ms_per_row: None,
        }),
        Err(e) => Err(GenError::Other(format!(
            "scoring the {group:?} test split under {}: {e}",
            caps.model
        ))),
    }
}

fn infer(run: &dyn LoadedRun, x: &Input) -> Result<InferResult> {
    let caps = run.capabilities();
    let unsupported = |how: String| InferResult {
        supported: false,
        exact: false,
        how,
        ms_per_row: None,
        recon_mse: None,
        recon_r2: None,
    };
    let Input::Rows(x) = x else {
        return Ok(unsupported(caps.infer.how.to_string()));
    };
    let x = first_rows(x, 200)?;
    let t = Instant::now();
    match run.encode(&x) {
        Ok(_) => {}
        Err(GenError::Unsupported { why, .. }) => return Ok(unsupported(why)),
        Err(e) => return Err(e),
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / x.rows().max(1) as f64;
    let (mse, r2) = match run.reconstruct(&x) {
        Ok(r) => {
            let n = (x.rows() * x.cols()).max(1) as f64;
            let mse = x
                .as_slice()
                .iter()
                .zip(r.as_slice())
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / n;
            let var = column_variance(&x);
            (Some(mse), (var > 0.0).then(|| 1.0 - mse / var))
        }
        Err(_) => (None, None),
    };
    Ok(InferResult {
        supported: true,
        exact: caps.infer.support == gen_core::Support::Exact,
        how: caps.infer.how.to_string(),
        ms_per_row: Some(ms),
        recon_mse: mse.filter(|v| v.is_finite()),
        recon_r2: r2.filter(|v| v.is_finite()),
    })
}

/// Mean over columns of each column's variance.
fn column_variance(x: &Matrix) -> f64 {
    let (n, d) = (x.rows() as f64, x.cols());
    if n < 2.0 || d == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    for j in 0..d {
        let col: Vec<f64> = x.iter_rows().map(|r| r[j]).collect();
        let mean = col.iter().sum::<f64>() / n;
        total += col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    }
    total / d as f64
}

/// The learning record of the run in `dir`.
pub fn learn_record(dir: &Path) -> Learn {
    let summary: serde_json::Value = std::fs::read_to_string(dir.join("summary.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let num = |k: &str| summary.get(k).and_then(|v| v.as_f64());
    let losses: Vec<f64> = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("kind").and_then(|k| k.as_str()) == Some("train"))
        .filter_map(|v| v.get("loss").and_then(|l| l.as_f64()))
        .filter(|v| v.is_finite())
        .collect();
    let (final_loss, roughness) = loss_stats(&losses);
    Learn {
        seconds: num("seconds"),
        steps: num("steps"),
        ms_per_step: num("ms_per_step")
            .or_else(|| Some(num("seconds")? * 1e3 / num("steps")?.max(1.0))),
        final_loss,
        roughness,
    }
}

/// Final loss (mean of the last tenth) and roughness (see [`Learn`]).
pub fn loss_stats(losses: &[f64]) -> (Option<f64>, Option<f64>) {
    if losses.len() < 4 {
        return (losses.last().copied(), None);
    }
    let tail = &losses[losses.len() - losses.len().div_ceil(10)..];
    let final_loss = tail.iter().sum::<f64>() / tail.len() as f64;
    let (lo, hi) = losses
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let half = &losses[losses.len() / 2..];
    let steps =
        half.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (half.len() - 1).max(1) as f64;
    let spread = hi - lo;
    let rough = if spread > 0.0 { steps / spread } else { 0.0 };
    (Some(final_loss), Some(rough))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_stats_tell_a_smooth_descent_from_noise() {
        let smooth: Vec<f64> = (0..100).map(|i| 10.0 / (1.0 + i as f64)).collect();
        let noisy: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 1.0 } else { 2.0 })
            .collect();
        let (f, r_smooth) = loss_stats(&smooth);
        let (_, r_noisy) = loss_stats(&noisy);
        assert!((f.unwrap() - smooth[90..].iter().sum::<f64>() / 10.0).abs() < 1e-12);
        assert!(r_smooth.unwrap() < 0.01, "{r_smooth:?}");
        assert!((r_noisy.unwrap() - 1.0).abs() < 1e-12, "{r_noisy:?}");
    }

    #[test]
    fn text_pieces_start_after_newlines_and_have_one_length() {
        let text = "ab\ncdefgh\n".repeat(40);
        let p = text_pieces(&text, 5);
        assert_eq!(p.len(), 5);
        for s in &p {
            assert_eq!(s.chars().count(), TEXT_PIECE);
            assert!(
                text.contains(&format!("\n{s}")),
                "{s:?} does not follow a newline"
            );
        }
    }

    #[test]
    fn words_are_lowercase_letter_runs() {
        assert_eq!(
            split_words("O Romeo, ROMEO! 'tis  thou'"),
            vec!["o", "romeo", "romeo", "tis", "thou"]
        );
    }
}
