//! Exposure bias of the character GPT on Shakespeare: the held-out NLL by
//! position (teacher forcing, inside and beyond the training context) and
//! statistics of free-running samples against the held-out text as their
//! length grows.
//!
//! ```text
//! cargo run -p gen-ar --example exposure_bias -- \
//!     [--checkpoint DIR] [--steps 2000] [--out runs/exposure-bias] \
//!     [--backend flex] [--seed 0] [--samples 10] [--length 1000] \
//!     [--windows 2048] [--segments 64] [--stride 4] [--order 5]
//! ```
//!
//! **Model.** `--checkpoint DIR` loads a trained [`CharGpt`]: DIR is a
//! `genlab train char-gpt` run directory (its newest checkpoint is used and
//! its `run.json` gives the vocabulary), a checkpoint folder holding
//! `model/`, or a model folder itself (`gpt_config.json` and the weights).
//! Without it, nanoGPT's baby configuration (4 layers, 4 heads, width 128,
//! block 64, batch 12, lr 1e-3 with warm-up and cosine decay to 1e-4, as
//! `genlab train char-gpt`) is trained for `--steps` steps on the training
//! split and saved to OUT/model (reuse it with `--checkpoint OUT/model`).
//!
//! **NLL by position** (teacher forcing, nats per character of the held-out
//! split). Position p is the number of characters before the predicted one.
//! For p ≤ block: every position of `--windows` windows of block + 1
//! characters spread evenly over the held-out text (one parallel pass each).
//! For block < p ≤ 4·block: `--segments` segments of 4·block + 1
//! characters, the prediction at p made from the last `block` characters
//! only (nanoGPT's crop, as the decoder does), one pass per position, at
//! every `--stride`-th position; plotted as means over bins of 16
//! positions. `nll_by_position.png` (and `.svg`): the model's NLL (blue),
//! the block length (dashed orange vertical line) and the Kneser–Ney
//! n-gram's held-out NLL (dashed green), with axes and a legend.
//!
//! **Free-running statistics.** `--samples` samples of `--length`
//! characters after a newline, temperature 1, no filters, through
//! [`gen_ar::generate`] with the KV-cached decoder; the reference is as many
//! pieces of the held-out text of the same length, each starting after a
//! newline at offsets spread evenly over the split. At each prefix length
//! L ∈ {64, 128, 256, 512, 1000} (those ≤ `--length`):
//!
//! - `rep_char8`: the fraction of the L − 7 character 8-grams of the prefix
//!   that already occurred earlier in it (1 − distinct / total);
//! - `rep_word4`: the same for word 4-grams, words being maximal runs of
//!   letters and apostrophes, lower-cased (prefixes with no word 4-gram are
//!   left out of the mean);
//! - `distinct4`: distinct character 4-grams / (L − 3);
//! - `kn_nll`: the mean NLL per character of the prefix under an
//!   interpolated Kneser–Ney `--order`-gram fitted to the training split
//!   (its context starts as after a newline), and `kn_nll_chunk` the same
//!   over the characters between the previous length and L only;
//! - `gpt_nll`: the GPT's own NLL per character of the prefix given the
//!   newline and the text before it (cropped to the block). For samples:
//!   the log-probability of each drawn token under the distribution it was
//!   drawn from (at temperature 1 with no filter this is the teacher-forced
//!   score of the sample; the example re-checks it at a few positions). For
//!   the held-out text: scored with the same crop, every position up to the
//!   block and every `--stride`-th after it, each of those standing for
//!   `--stride` positions in the mean (1 scores every position).
//!
//! Each statistic is the mean over the samples (pieces) with its standard
//! error. `exposure_bias.png` (and `.svg`) draws them against L on a log
//! axis (blue: GPT samples, orange: held-out text; bars ±1 standard error);
//! `exposure_bias.json` holds every number.
//!
//! Cost (flex, 2-core machine shared with other jobs): sampling runs at
//! about 150 characters per second (past the block every token recomputes
//! the cropped window), so the 10 default samples of 1,000 characters take
//! about 70 s; the teacher-forced passes take about 55 s more.

use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gen_ar::decoding::{DecodeOptions, NextToken, generate};
use gen_ar::sequence::{CharGpt, GptConfig, GptNet, TokenWindows, decode, encode};
use gen_classical::{CharNGram, Smoothing};
use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Int, Tensor, TensorData, activation};
use gen_core::checkpoint::{CheckpointDir, read_json};
use gen_core::tensor::to_vec;
use gen_core::train::LrSchedule;
use gen_core::{Backend, Checkpoint, GenError, Learn, Result, StepContext, rng_from_seed};
use gen_data::CharVocab;
use gen_viz::PALETTE;
use gen_viz::chart::{Chart, Figure, Legend, Scale, Series};
use serde_json::{Value, json};

/// Prefix lengths of the free-running statistics.
const LENGTHS: [usize; 5] = [64, 128, 256, 512, 1000];
/// Windows per forward pass.
const CHUNK: usize = 64;
/// Positions per plotted bin beyond the block.
const BIN: usize = 16;

struct Args {
    checkpoint: Option<PathBuf>,
    steps: u64,
    out: PathBuf,
    backend: Backend,
    seed: u64,
    samples: usize,
    length: usize,
    windows: usize,
    segments: usize,
    stride: usize,
    order: usize,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        checkpoint: None,
        steps: 2000,
        out: PathBuf::from("runs/exposure-bias"),
        backend: Backend::Flex,
        seed: 0,
        samples: 10,
        length: 1000,
        windows: 2048,
        segments: 64,
        stride: 4,
        order: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| {
            GenError::config(&flag, "(missing)", "needs a value", "e.g. --steps 2000")
        })?;
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| GenError::config(&flag, v, "not an integer", "see the file's docs"))
        };
        match flag.as_str() {
            "--checkpoint" => a.checkpoint = Some(PathBuf::from(&value)),
            "--steps" => a.steps = int(&value)?,
            "--out" => a.out = PathBuf::from(&value),
            "--backend" => a.backend = value.parse()?,
            "--seed" => a.seed = int(&value)?,
            "--samples" => a.samples = int(&value)? as usize,
            "--length" => a.length = int(&value)? as usize,
            "--windows" => a.windows = int(&value)? as usize,
            "--segments" => a.segments = int(&value)? as usize,
            "--stride" => a.stride = int(&value)?.max(1) as usize,
            "--order" => a.order = int(&value)? as usize,
            _ => {
                return Err(GenError::config(
                    &flag,
                    &value,
                    "unknown flag",
                    "use --checkpoint, --steps, --out, --backend, --seed, --samples, --length, \
                     --windows, --segments, --stride or --order",
                ));
            }
        }
    }
    if a.samples == 0 || a.windows == 0 || a.segments == 0 || a.length < LENGTHS[0] {
        return Err(GenError::config(
            "--samples/--windows/--segments/--length",
            format!("{}/{}/{}/{}", a.samples, a.windows, a.segments, a.length),
            format!(
                "need at least one sample, window and segment, and samples of at least {} characters",
                LENGTHS[0]
            ),
            "e.g. --samples 20 --windows 2048 --segments 64 --length 1000",
        ));
    }
    Ok(a)
}

/// The model folder of `dir`: the folder itself, the newest checkpoint of
/// a run directory, or the `model/` folder of a checkpoint.
fn model_dir(dir: &Path) -> Result<PathBuf> {
    if dir.join("gpt_config.json").exists() {
        return Ok(dir.to_path_buf());
    }
    if dir.join("model").join("gpt_config.json").exists() {
        return Ok(dir.join("model"));
    }
    if let Some(latest) = CheckpointDir::new(dir, 1).latest()? {
        return Ok(latest.join("model"));
    }
    Err(GenError::config(
        "--checkpoint",
        dir.display(),
        "holds no char-gpt model (no gpt_config.json, model/ or checkpoints/LATEST)",
        "pass a `genlab train char-gpt` run directory or a model folder",
    ))
}

/// The vocabulary of the run that `model` belongs to: the characters its
/// `run.json` stores (looked up in the model folder and up to three folders
/// above), else the one `genlab train char-gpt` builds from Shakespeare.
fn run_vocab(model: &Path, train: &str, test: &str) -> Result<(CharVocab, String)> {
    for dir in model.ancestors().take(4) {
        let path = dir.join("run.json");
        if path.exists() {
            let meta: Value = read_json(&path)?;
            if let Some(chars) = meta["options"]["chars"].as_str() {
                return Ok((
                    CharVocab::from_chars(chars.chars()),
                    format!("{}", path.display()),
                ));
            }
        }
    }
    Ok((
        shakespeare_vocab(train, test),
        "rebuilt from Shakespeare (no run.json)".into(),
    ))
}

/// The vocabulary `genlab train char-gpt --data shakespeare` builds.
fn shakespeare_vocab(train: &str, test: &str) -> CharVocab {
    CharVocab::from_chars(train.chars().chain(test.chars()).chain(['\n']))
}

/// Trains the baby configuration as `genlab train char-gpt` does.
fn train_baby(
    vocab: usize,
    train: &[u32],
    steps: u64,
    seed: u64,
    device: &Device,
) -> Result<CharGpt> {
    const BATCH: usize = 12;
    const LR: f64 = 1e-3;
    let config = GptConfig::baby_shakespeare(vocab);
    let block = config.block;
    let mut model = CharGpt::new(config, device, seed)?;
    let schedule = LrSchedule::Cosine {
        warmup: 100.min(steps / 10),
        min_factor: 0.1,
    };
    let mut rng = rng_from_seed(seed ^ 0x5eed);
    let start = Instant::now();
    let mut recent = Vec::new();
    for t in 0..steps {
        let batch = TokenWindows::random(train, BATCH, block, &mut rng)?;
        let mut ctx = StepContext {
            step: t,
            lr: schedule.lr(LR, t, steps),
            rng: &mut rng,
        };
        let stats = model.learn_step(&batch, &mut ctx)?;
        if !stats.loss.is_finite() {
            return Err(GenError::Diverged {
                step: t,
                loss: stats.loss,
                checkpoint: "(none)".into(),
            });
        }
        recent.push(stats.loss);
        if (t + 1) % 250 == 0 || t + 1 == steps {
            let mean = recent.iter().sum::<f64>() / recent.len() as f64;
            println!(
                "  step {:>5}/{steps}: train loss {mean:.4} (mean of the last {}), {:.0} s",
                t + 1,
                recent.len(),
                start.elapsed().as_secs_f64()
            );
            recent.clear();
        }
    }
    Ok(model)
}

/// `[rows, cols]` token ids on `device`.
fn ids(tokens: &[u32], rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    let v: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// −log p of the targets of equal-length windows (inputs `w[..n-1]`,
/// targets `w[1..]`): every position (`B × (n − 1)`, row-major), or the
/// last position of each window only (`B`).
fn window_nll(
    net: &GptNet,
    device: &Device,
    windows: &[&[u32]],
    last_only: bool,
) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for chunk in windows.chunks(CHUNK) {
        let (b, t) = (chunk.len(), chunk[0].len() - 1);
        let mut inputs = Vec::with_capacity(b * t);
        let mut targets = Vec::with_capacity(b * t);
        for w in chunk {
            inputs.extend_from_slice(&w[..t]);
            if last_only {
                targets.push(w[t]);
            } else {
                targets.extend_from_slice(&w[1..]);
            }
        }
        let mut logits = net.forward(ids(&inputs, b, t, device))?;
        let tt = if last_only { 1 } else { t };
        if last_only {
            let vocab = logits.dims()[2];
            logits = logits.slice([0..b, t - 1..t, 0..vocab]);
        }
        let lp = activation::log_softmax(logits, 2);
        let picked = lp.gather(2, ids(&targets, b, tt, device).reshape([b, tt, 1]));
        out.extend(to_vec(picked)?.into_iter().map(|l| -(l as f64)));
    }
    Ok(out)
}

/// −log p(seq[p] | seq[..p]) for p = 1..seq.len() of every sequence, the
/// context cropped to its last `block` tokens (nanoGPT's crop): positions
/// up to the block from one teacher-forced pass, each later one from a
/// window of its own, only every `stride`-th (p − block a multiple of
/// `stride`; NaN at the others). Row i has seq_i.len() − 1 entries.
fn sliding_nll(
    net: &GptNet,
    device: &Device,
    seqs: &[Vec<u32>],
    stride: usize,
) -> Result<Vec<Vec<f64>>> {
    let block = net.block();
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(seqs.len());
    // Group the first windows by length so that each pass has equal rows.
    let heads: Vec<&[u32]> = seqs.iter().map(|s| &s[..s.len().min(block + 1)]).collect();
    let len0 = heads.first().map_or(0, |h| h.len());
    if heads.iter().all(|h| h.len() == len0) {
        let all = window_nll(net, device, &heads, false)?;
        out.extend(all.chunks(len0 - 1).map(<[f64]>::to_vec));
    } else {
        for h in &heads {
            out.push(window_nll(net, device, &[h], false)?);
        }
    }
    let mut tails: Vec<&[u32]> = Vec::new();
    let mut owner = Vec::new();
    for (i, s) in seqs.iter().enumerate() {
        out[i].resize(s.len() - 1, f64::NAN);
        for p in (block + stride..s.len()).step_by(stride) {
            tails.push(&s[p - block..=p]);
            owner.push((i, p - 1));
        }
    }
    for (nll, (i, k)) in window_nll(net, device, &tails, true)?
        .into_iter()
        .zip(owner)
    {
        out[i][k] = nll;
    }
    Ok(out)
}

/// "2nd", "4th", ... ("every position" for 1).
fn ordinal(n: usize) -> String {
    match n {
        1 => "single".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        n => format!("{n}th"),
    }
}

/// Mean and standard error of the mean.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (m, f64::NAN);
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (var / n).sqrt())
}

/// 1 − distinct / total of the n-grams of `items` (None without an n-gram).
fn repeat_rate<T: Eq + Hash>(items: &[T], n: usize) -> Option<f64> {
    if items.len() < n {
        return None;
    }
    let grams: Vec<&[T]> = items.windows(n).collect();
    let distinct: HashSet<&[T]> = grams.iter().copied().collect();
    Some(1.0 - distinct.len() as f64 / grams.len() as f64)
}

/// Words: maximal runs of letters and apostrophes, lower-cased.
fn words(text: &[char]) -> Vec<String> {
    let s: String = text.iter().collect();
    s.split(|c: char| !(c.is_alphabetic() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The names of the free-running statistics, in table order.
const STATS: [&str; 6] = [
    "rep_char8",
    "rep_word4",
    "distinct4",
    "kn_nll",
    "kn_nll_chunk",
    "gpt_nll",
];

/// Every statistic of one text at each length: `stats[s][l]` (None where
/// undefined). `gpt_nll` may be NaN beyond the first `block` positions
/// where it was not evaluated; each value there stands for `stride` positions.
fn text_stats(
    text: &[char],
    kn_nll: &[f64],
    gpt_nll: &[f64],
    (block, stride): (usize, usize),
    lengths: &[usize],
) -> Vec<Vec<Option<f64>>> {
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let weighted = |v: &[f64]| {
        let (mut sum, mut weight) = (0.0, 0.0);
        for (k, &x) in v.iter().enumerate() {
            if x.is_finite() {
                let w = if k < block { 1.0 } else { stride as f64 };
                sum += w * x;
                weight += w;
            }
        }
        sum / weight
    };
    let mut out = vec![Vec::new(); STATS.len()];
    let mut prev = 0;
    for &l in lengths {
        let p = &text[..l];
        out[0].push(repeat_rate(p, 8));
        out[1].push(repeat_rate(&words(p), 4));
        out[2].push(repeat_rate(p, 4).map(|r| 1.0 - r));
        out[3].push(Some(mean(&kn_nll[..l])));
        out[4].push(Some(mean(&kn_nll[prev..l])));
        out[5].push(Some(weighted(&gpt_nll[..l])));
        prev = l;
    }
    out
}

/// Mean and standard error of each statistic at each length over texts.
fn summarise(per_text: &[Vec<Vec<Option<f64>>>], lengths: &[usize]) -> Vec<Vec<(f64, f64)>> {
    (0..STATS.len())
        .map(|s| {
            (0..lengths.len())
                .map(|l| {
                    let v: Vec<f64> = per_text.iter().filter_map(|t| t[s][l]).collect();
                    mean_se(&v)
                })
                .collect()
        })
        .collect()
}

/// A next-token model that remembers the log-probabilities it last gave,
/// so the caller can record log p of each token the sampler draws.
struct Recording<'a, M: NextToken> {
    inner: &'a M,
    last: RefCell<Vec<f64>>,
}

impl<M: NextToken> NextToken for Recording<'_, M> {
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    fn next_log_probs(&self, context: &[u32]) -> Result<Vec<f64>> {
        let lp = self.inner.next_log_probs(context)?;
        *self.last.borrow_mut() = lp.clone();
        Ok(lp)
    }

    fn end_token(&self) -> Option<u32> {
        self.inner.end_token()
    }
}

fn main() -> Result<()> {
    let a = parse()?;
    let started = Instant::now();
    std::fs::create_dir_all(&a.out).map_err(|e| GenError::io(&a.out, e))?;
    let train_text = gen_data::shakespeare(gen_data::Split::Train)?;
    let test_text = gen_data::shakespeare(gen_data::Split::Test)?;
    let device = a.backend.device()?;

    // The model and its vocabulary.
    let (model, vocab, source) = match &a.checkpoint {
        Some(dir) => {
            let mdir = model_dir(dir)?;
            let (vocab, from) = run_vocab(&mdir, &train_text, &test_text)?;
            let model = CharGpt::load(&mdir, &device)?;
            // A genlab run writes summary.json when its training is done.
            let finished = mdir
                .ancestors()
                .take(4)
                .find(|d| d.join("run.json").exists())
                .is_none_or(|run| run.join("summary.json").exists());
            println!(
                "loaded {} (vocabulary from {from}){}",
                mdir.display(),
                if finished {
                    ""
                } else {
                    " -- warning: its run has no summary.json yet (still training?)"
                }
            );
            (
                model,
                vocab,
                json!({"checkpoint": mdir.display().to_string()}),
            )
        }
        None => {
            let vocab = shakespeare_vocab(&train_text, &test_text);
            println!(
                "training the baby configuration for {} steps on {} ({} characters)",
                a.steps,
                a.backend,
                train_text.len()
            );
            let train = encode(&vocab, &train_text)?;
            let model = train_baby(vocab.len(), &train, a.steps, a.seed, &device)?;
            let dir = a.out.join("model");
            std::fs::create_dir_all(&dir).map_err(|e| GenError::io(&dir, e))?;
            model.save_checkpoint(&dir)?;
            println!("saved the model to {}", dir.display());
            (
                model,
                vocab,
                json!({"trained_steps": a.steps, "seed": a.seed, "saved_to": dir.display().to_string()}),
            )
        }
    };
    let config = model.config().clone();
    if vocab.len() != config.vocab {
        return Err(GenError::config(
            "--checkpoint",
            config.vocab,
            format!(
                "the model has {} token ids but the vocabulary {}",
                config.vocab,
                vocab.len()
            ),
            "pass the run directory (its run.json holds the vocabulary)",
        ));
    }
    let block = config.block;
    let net = model.net().valid();
    let test = encode(&vocab, &test_text)?;
    let newline = encode(&vocab, "\n")?[0];
    let train_secs = started.elapsed().as_secs_f64();
    println!(
        "model: {} layers, {} heads, width {}, block {block}, {} parameters ({train_secs:.0} s)",
        config.layers,
        config.heads,
        config.width,
        model.num_params()
    );

    // Kneser-Ney reference.
    let t = Instant::now();
    let kn = CharNGram::fit_text(&train_text, a.order, Smoothing::KNESER_NEY)?;
    let kn_test = kn.nll_per_symbol(&test_text);
    println!(
        "Kneser-Ney {}-gram: held-out NLL {kn_test:.4} nats/char ({:.1} s)",
        a.order,
        t.elapsed().as_secs_f64()
    );

    // NLL by position inside the block: every position of evenly spread windows.
    let t = Instant::now();
    let span = test.len() - block - 1;
    let windows: Vec<&[u32]> = (0..a.windows)
        .map(|i| {
            let o = i * span / a.windows;
            &test[o..o + block + 1]
        })
        .collect();
    let nll = window_nll(&net, &device, &windows, false)?;
    let in_block: Vec<(f64, f64)> = (0..block)
        .map(|p| {
            let v: Vec<f64> = nll.chunks(block).map(|row| row[p]).collect();
            mean_se(&v)
        })
        .collect();
    let window_mean = nll.iter().sum::<f64>() / nll.len() as f64;
    println!(
        "teacher-forced NLL by position, {} windows: p=1 {:.3}, p=8 {:.3}, p=16 {:.3}, p=32 {:.3}, p={block} {:.3}; mean over the window {window_mean:.4} ({:.1} s)",
        a.windows,
        in_block[0].0,
        in_block[7.min(block - 1)].0,
        in_block[15.min(block - 1)].0,
        in_block[31.min(block - 1)].0,
        in_block[block - 1].0,
        t.elapsed().as_secs_f64()
    );

    // Beyond the block: sliding windows over longer segments.
    let t = Instant::now();
    let seg_len = 4 * block + 1;
    let seg_span = test.len() - seg_len;
    let segments: Vec<Vec<u32>> = (0..a.segments)
        .map(|i| {
            let o = i * seg_span / a.segments + seg_span / (2 * a.segments);
            test[o..o + seg_len].to_vec()
        })
        .collect();
    let long = sliding_nll(&net, &device, &segments, a.stride)?;
    let finite = |rows: &[Vec<f64>], r: std::ops::Range<usize>| -> Vec<f64> {
        rows.iter()
            .flat_map(|row| row[r.clone()].iter().copied().filter(|x| x.is_finite()))
            .collect()
    };
    let by_pos: Vec<(usize, f64, f64)> = (0..4 * block)
        .filter(|&k| long[0][k].is_finite())
        .map(|k| {
            let (m, se) = mean_se(&finite(&long, k..k + 1));
            (k + 1, m, se)
        })
        .collect();
    let (beyond_mean, beyond_se) = mean_se(&finite(&long, block..4 * block));
    let (last_in_mean, last_in_se) = mean_se(&finite(&long, block - BIN..block));
    let bins: Vec<(f64, f64, f64)> = (block..4 * block)
        .step_by(BIN)
        .map(|s| {
            let (m, se) = mean_se(&finite(&long, s..s + BIN));
            // Positions s+1..=s+BIN; plotted at their centre.
            (s as f64 + (BIN as f64 + 1.0) / 2.0, m, se)
        })
        .collect();
    println!(
        "sliding window, {} segments of {seg_len} (every {} position beyond the block): positions {}..{block} {last_in_mean:.4} ± {last_in_se:.4}, positions {}..{} {beyond_mean:.4} ± {beyond_se:.4} ({:.1} s)",
        a.segments,
        ordinal(a.stride),
        block - BIN + 1,
        block + 1,
        4 * block,
        t.elapsed().as_secs_f64()
    );
    let mut curve: Vec<(f64, f64)> = in_block
        .iter()
        .enumerate()
        .map(|(p, &(m, _))| ((p + 1) as f64, m))
        .collect();
    curve.extend(bins.iter().map(|&(x, m, _)| (x, m)));
    Chart::new("GPT held-out NLL by position (teacher forcing)")
        .x_label("position p (characters before the predicted one)")
        .y_label("NLL (nats per character)")
        .x_ticks([1, block, 2 * block, 3 * block, 4 * block].map(|p| p as f64))
        .series(Series::line("gpt", curve).color(PALETTE[0]))
        .vline(format!("block {block}"), block as f64, PALETTE[1])
        .hline(format!("kn {}-gram", a.order), kn_test, PALETTE[2])
        .figure(720, 360)
        .save_png_and_svg(&a.out.join("nll_by_position.png"))?;

    // Free-running samples through the KV-cached decoder.
    let t = Instant::now();
    let lengths: Vec<usize> = LENGTHS.iter().copied().filter(|&l| l <= a.length).collect();
    let decoder = model.decoder();
    let mut samples: Vec<Vec<u32>> = Vec::with_capacity(a.samples);
    let mut sample_nll: Vec<Vec<f64>> = Vec::with_capacity(a.samples);
    for i in 0..a.samples {
        decoder.reset();
        let rec = Recording {
            inner: &decoder,
            last: RefCell::new(Vec::new()),
        };
        let opts = DecodeOptions::sampling(a.length, 1.0, a.seed * 1000 + i as u64);
        let picked = RefCell::new(Vec::with_capacity(a.length));
        let tokens = generate(&rec, &[newline], &opts, |tok| {
            picked.borrow_mut().push(-rec.last.borrow()[tok as usize]);
        })?;
        samples.push(tokens);
        sample_nll.push(picked.into_inner());
    }
    let sample_secs = t.elapsed().as_secs_f64();
    println!(
        "{} samples of {} characters in {sample_secs:.1} s ({:.0} characters/s); cache {:?}",
        a.samples,
        a.length,
        (a.samples * a.length) as f64 / sample_secs,
        decoder.stats()
    );
    // Check the recorded log-probabilities against a teacher-forced rescoring
    // of the first sample with the same crop.
    let first = [vec![newline], samples[0].clone()].concat();
    let rescored = sliding_nll(&net, &device, std::slice::from_ref(&first), 50)?;
    let check_gap = rescored[0]
        .iter()
        .zip(&sample_nll[0])
        .filter(|(a, _)| a.is_finite())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "teacher-forced rescoring of sample 0 vs the decoder's log-probabilities: max |difference| {check_gap:.2e} nats"
    );

    // Reference pieces of the held-out text, each after a newline.
    let t = Instant::now();
    let test_chars: Vec<char> = test_text.chars().collect();
    let starts: Vec<usize> = (0..a.samples)
        .map(|i| {
            let mut o = i * (test_chars.len() - 2 * a.length) / a.samples;
            while test_chars[o] != '\n' {
                o += 1;
            }
            o + 1
        })
        .collect();
    let real: Vec<Vec<u32>> = starts
        .iter()
        .map(|&o| test[o..o + a.length].to_vec())
        .collect();
    let real_seqs: Vec<Vec<u32>> = real
        .iter()
        .map(|r| [vec![newline], r.clone()].concat())
        .collect();
    let real_nll = sliding_nll(&net, &device, &real_seqs, a.stride)?;
    println!(
        "GPT scores of {} held-out pieces ({:.1} s)",
        a.samples,
        t.elapsed().as_secs_f64()
    );

    let per_text = |toks: &[Vec<u32>], gpt: &[Vec<f64>], stride: usize| {
        toks.iter()
            .zip(gpt)
            .map(|(s, g)| {
                let text = decode(&vocab, s);
                let chars: Vec<char> = text.chars().collect();
                let kn_lp: Vec<f64> = kn.symbol_log_probs(&text).iter().map(|l| -l).collect();
                text_stats(&chars, &kn_lp, g, (block, stride), &lengths)
            })
            .collect::<Vec<_>>()
    };
    let model_stats = summarise(&per_text(&samples, &sample_nll, 1), &lengths);
    let real_stats = summarise(&per_text(&real, &real_nll, a.stride), &lengths);

    println!("\n| statistic | text | {} |", {
        let l: Vec<String> = lengths.iter().map(|l| format!("L = {l}")).collect();
        l.join(" | ")
    });
    println!("|---|---|{}", "---:|".repeat(lengths.len()));
    for (s, name) in STATS.iter().enumerate() {
        for (who, st) in [
            ("GPT samples", &model_stats),
            ("held-out text", &real_stats),
        ] {
            let cells: Vec<String> = st[s]
                .iter()
                .map(|(m, se)| format!("{m:.3} ± {se:.3}"))
                .collect();
            println!("| {name} | {who} | {} |", cells.join(" | "));
        }
    }

    // Pictures.
    let panels = [
        ("repeated char 8-grams", "fraction"),
        ("repeated word 4-grams", "fraction"),
        ("distinct char 4-grams", "fraction"),
        ("KN NLL of the prefix", "nats per character"),
        ("KN NLL since the last length", "nats per character"),
        ("GPT NLL of the prefix", "nats per character"),
    ];
    let mut figure = Figure::new(1320, 680)
        .title(format!(
            "free-running GPT samples (blue) vs held-out text (orange): mean and ±1 standard error over {} texts",
            a.samples
        ))
        .cols(3);
    for (s, (title, unit)) in panels.iter().enumerate() {
        let line = |st: &[Vec<(f64, f64)>]| -> Vec<(f64, f64)> {
            lengths
                .iter()
                .zip(&st[s])
                .map(|(&l, &(m, _))| (l as f64, m))
                .collect()
        };
        // Vertical bars from mean − se to mean + se, separated by NaN points.
        let bars = |st: &[Vec<(f64, f64)>]| -> Vec<(f64, f64)> {
            lengths
                .iter()
                .zip(&st[s])
                .flat_map(|(&l, &(m, se))| {
                    let se = if se.is_finite() { se } else { 0.0 };
                    [(l as f64, m - se), (l as f64, m + se), (f64::NAN, f64::NAN)]
                })
                .collect()
        };
        figure = figure.chart(
            Chart::new(*title)
                .x_label("prefix length L (log scale)")
                .y_label(*unit)
                .x_scale(Scale::Log)
                .x_ticks(lengths.iter().map(|&l| l as f64))
                .series(Series::line_points("gpt samples", line(&model_stats)).color(PALETTE[0]))
                .series(Series::line_points("held-out text", line(&real_stats)).color(PALETTE[1]))
                .series(Series::line("", bars(&model_stats)).color(PALETTE[0]))
                .series(Series::line("", bars(&real_stats)).color(PALETTE[1]))
                .legend(if s == 0 {
                    Legend::UpperLeft
                } else {
                    Legend::Hidden
                }),
        );
    }
    figure.save_png_and_svg(&a.out.join("exposure_bias.png"))?;

    let table = |st: &[Vec<(f64, f64)>]| -> Value {
        let mut m = serde_json::Map::new();
        for (s, name) in STATS.iter().enumerate() {
            m.insert(
                (*name).into(),
                json!(
                    st[s]
                        .iter()
                        .map(|&(mean, se)| json!({"mean": mean, "se": se}))
                        .collect::<Vec<_>>()
                ),
            );
        }
        Value::Object(m)
    };
    let report = json!({
        "model": source,
        "config": config,
        "parameters": model.num_params(),
        "backend": a.backend.name(),
        "kneser_ney": {"order": a.order, "held_out_nll": kn_test},
        "nll_by_position": {
            "windows": a.windows,
            "positions": (1..=block).collect::<Vec<_>>(),
            "mean": in_block.iter().map(|p| p.0).collect::<Vec<_>>(),
            "se": in_block.iter().map(|p| p.1).collect::<Vec<_>>(),
            "window_mean": window_mean,
        },
        "nll_by_position_sliding": {
            "segments": a.segments,
            "segment_len": seg_len,
            "stride_beyond_block": a.stride,
            "positions": by_pos.iter().map(|p| p.0).collect::<Vec<_>>(),
            "mean": by_pos.iter().map(|p| p.1).collect::<Vec<_>>(),
            "se": by_pos.iter().map(|p| p.2).collect::<Vec<_>>(),
            "bins": bins.iter().map(|&(x, m, se)| json!({"centre": x, "mean": m, "se": se})).collect::<Vec<_>>(),
            "last_bin_in_block": {"positions": [block - BIN + 1, block], "mean": last_in_mean, "se": last_in_se},
            "beyond_block": {"positions": [block + 1, 4 * block], "mean": beyond_mean, "se": beyond_se},
        },
        "free_running": {
            "samples": a.samples,
            "length": a.length,
            "temperature": 1.0,
            "seconds": sample_secs,
            "lengths": lengths,
            "statistics": STATS,
            "gpt_samples": table(&model_stats),
            "held_out_text": table(&real_stats),
            "held_out_starts": starts,
            "held_out_gpt_stride_beyond_block": a.stride,
            "rescoring_max_abs_difference": check_gap,
            "first_sample": decode(&vocab, &samples[0]),
        },
        "seconds": {"model": train_secs, "total": started.elapsed().as_secs_f64()},
    });
    gen_core::checkpoint::write_json_atomic(&a.out.join("exposure_bias.json"), &report)?;
    println!(
        "\nfirst sample:\n{}\n\nwrote {}/nll_by_position.{{png,svg}}, exposure_bias.{{png,svg}}, exposure_bias.json ({:.0} s in all, {:.0} s after the model)",
        decode(&vocab, &samples[0]),
        a.out.display(),
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() - train_secs
    );
    Ok(())
}
