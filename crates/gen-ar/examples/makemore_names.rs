//! makemore's default Transformer on the census first names, under
//! makemore's protocol, beside Kneser–Ney n-grams on the same split.
//!
//! ```text
//! cargo run -p gen-ar --example makemore_names -- \
//!     [--steps 5000] [--eval-every 250] [--seeds 0,1,2,3,4] [--backend flex] \
//!     [--flavour makemore|nanogpt] [--out runs/makemore-names]
//! ```
//!
//! The protocol is makemore's (karpathy/makemore, `makemore.py`):
//!
//! - **Split**: the names in a seeded random order (here: sorted, then
//!   shuffled by this crate's RNG with seed 3407, makemore's default seed);
//!   the test set is the last min(1,000, 10 %) names, the rest trains. The
//!   split is written to `OUT/train.txt` and `OUT/test.txt` so the PyTorch
//!   peer (`docs/reference/makemore_names.py`) reads the very same names.
//! - **Sequences**: token 0 is both the start and the end of a name; a
//!   name c₁…c_n is the sequence 0 c₁ … c_n 0, scored as
//!   log p(c₁ … c_n 0 | 0) (n + 1 predicted tokens), and a batch pads
//!   names to the longest with ignored targets ([`TokenWindows::padded`]).
//!   The block is max length + 1.
//! - **Model and optimiser**: makemore's Transformer ([`GptConfig::makemore`]):
//!   4 layers, 4 heads, width 64, PyTorch's default initialisation, an
//!   untied output layer, tanh GELU; batch 32 names drawn with replacement;
//!   AdamW lr 5e-4 (constant), β = (0.9, 0.99), weight decay 0.01 on every
//!   parameter, no gradient clipping.
//! - **Test loss**: the mean NLL per predicted token (nats/char, the end
//!   token included) over all test names, every `--eval-every` steps; the
//!   best and the last are reported (makemore keeps the best model).
//!
//! The Kneser–Ney n-grams (orders 1–6) are fitted on the same training names
//! and scored the same way (every character and the end of each name).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows};
use gen_classical::{CharNGram, Smoothing};
use gen_core::{Backend, GenError, Learn, Result, Score, ScoreOptions, StepContext, rng_from_seed};
use rand::Rng as _;
use rand::seq::SliceRandom;

struct Args {
    steps: u64,
    eval_every: u64,
    seeds: Vec<u64>,
    backend: Backend,
    out: PathBuf,
    /// `makemore` (its init and untied head) or `nanogpt` (N(0, 0.02²)
    /// weights and a tied head, with makemore's optimiser).
    flavour: String,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        steps: 5000,
        eval_every: 250,
        seeds: vec![0, 1, 2, 3, 4],
        backend: Backend::Flex,
        out: PathBuf::from("runs/makemore-names"),
        flavour: "makemore".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| {
            GenError::config(&flag, "(missing)", "needs a value", "e.g. --steps 5000")
        })?;
        let bad = |what: &str| {
            GenError::config(&flag, &value, format!("not {what}"), "see the file's docs")
        };
        let int = |v: &str| v.trim().parse::<u64>().map_err(|_| bad("an integer"));
        match flag.as_str() {
            "--steps" => a.steps = int(&value)?,
            "--eval-every" => a.eval_every = int(&value)?.max(1),
            "--seeds" => a.seeds = value.split(',').map(int).collect::<Result<_>>()?,
            "--backend" => a.backend = value.parse()?,
            "--out" => a.out = PathBuf::from(&value),
            "--flavour" if ["makemore", "nanogpt"].contains(&value.as_str()) => a.flavour = value,
            "--flavour" => return Err(bad("makemore or nanogpt")),
            _ => {
                return Err(GenError::config(
                    &flag,
                    &value,
                    "unknown flag",
                    "use --steps, --eval-every, --seeds, --backend, --flavour or --out",
                ));
            }
        }
    }
    if a.steps == 0 || a.seeds.is_empty() {
        return Err(GenError::config(
            "--steps/--seeds",
            format!("{} steps, {} seeds", a.steps, a.seeds.len()),
            "need at least one step and one seed",
            "e.g. --steps 5000 --seeds 0,1,2,3,4",
        ));
    }
    Ok(a)
}

/// makemore's split: a seeded random order, the last min(1000, 10 %) names test.
fn split() -> Result<(Vec<String>, Vec<String>)> {
    let mut names = gen_data::census_first_names(gen_data::Split::Train)?;
    names.extend(gen_data::census_first_names(gen_data::Split::Test)?);
    names.sort();
    names.shuffle(&mut rng_from_seed(3407));
    let n_test = 1000.min(names.len() / 10);
    let test = names.split_off(names.len() - n_test);
    Ok((names, test))
}

/// makemore's `CharDataset` vocabulary: token 0 starts and ends a name.
fn sequences(vocab: &gen_data::CharVocab, names: &[String]) -> Result<Vec<Vec<u32>>> {
    names
        .iter()
        .map(|n| {
            let mut s = vec![0u32];
            s.extend(vocab.encode(n)?.into_iter().map(|i| i as u32));
            s.push(0);
            Ok(s)
        })
        .collect()
}

/// Mean NLL per predicted token over `seqs` (nats/char, end token included).
fn test_loss(model: &CharGpt, seqs: &[Vec<u32>]) -> Result<f64> {
    let scores = model.score(seqs, &ScoreOptions::default())?;
    let tokens: usize = seqs.iter().map(|s| s.len() - 1).sum();
    Ok(-scores.values.iter().sum::<f64>() / tokens as f64)
}

struct SeedResult {
    seed: u64,
    final_loss: f64,
    best_loss: f64,
    best_step: u64,
    ms_per_step: f64,
    curve: Vec<(u64, f64)>,
}

fn train_seed(
    a: &Args,
    seed: u64,
    vocab_len: usize,
    block: usize,
    train: &[Vec<u32>],
    test: &[Vec<u32>],
) -> Result<SeedResult> {
    // makemore's default Transformer: PyTorch's initialisation, untied head,
    // tanh GELU, AdamW(weight decay 0.01 on every parameter, β₂ 0.99).
    let config = GptConfig::makemore(vocab_len, block, 4, 4, 64);
    let config = match a.flavour.as_str() {
        "nanogpt" => GptConfig {
            init: gen_ar::sequence::gpt::GptInit::Gpt2,
            tied_head: true,
            gelu_tanh: false,
            ..config
        },
        _ => config,
    };
    let mut model = CharGpt::new(config, &a.backend.device()?, seed)?;
    let mut rng = rng_from_seed(seed.wrapping_add(1));
    let mut curve = Vec::new();
    let mut seconds = 0.0;
    for t in 0..a.steps {
        let rows: Vec<Vec<u32>> = (0..32)
            .map(|_| train[rng.random_range(0..train.len())].clone())
            .collect();
        let batch = TokenWindows::padded(&rows, block + 1, 0)?;
        let start = Instant::now();
        let mut ctx = StepContext {
            step: t,
            lr: 5e-4,
            rng: &mut rng,
        };
        let stats = model.learn_step(&batch, &mut ctx)?;
        seconds += start.elapsed().as_secs_f64();
        if !stats.loss.is_finite() {
            return Err(GenError::Diverged {
                step: t,
                loss: stats.loss,
                checkpoint: "(none)".into(),
            });
        }
        let done = t + 1;
        if done % a.eval_every == 0 || done == a.steps {
            let loss = test_loss(&model, test)?;
            println!(
                "  seed {seed} step {done:>5}: train {:.4}, test {loss:.4}",
                stats.loss
            );
            curve.push((done, loss));
        }
    }
    let (best_step, best_loss) = curve
        .iter()
        .copied()
        .fold((0, f64::INFINITY), |b, p| if p.1 < b.1 { p } else { b });
    Ok(SeedResult {
        seed,
        final_loss: curve.last().map_or(f64::NAN, |p| p.1),
        best_loss,
        best_step,
        ms_per_step: 1e3 * seconds / a.steps as f64,
        curve,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn main() -> Result<()> {
    let a = parse()?;
    let (train_names, test_names) = split()?;
    std::fs::create_dir_all(&a.out).map_err(|e| GenError::io(&a.out, e))?;
    for (file, names) in [("train.txt", &train_names), ("test.txt", &test_names)] {
        let path = a.out.join(file);
        let text: String = names.iter().map(|n| format!("{n}\n")).collect();
        gen_core::checkpoint::write_atomic(&path, text.as_bytes())?;
    }
    let chars = train_names
        .iter()
        .chain(&test_names)
        .flat_map(|n| n.chars());
    let vocab = gen_data::CharVocab::from_chars(chars).with_boundary();
    let max_len = train_names
        .iter()
        .chain(&test_names)
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(1);
    let block = max_len + 1;
    let (train, test) = (
        sequences(&vocab, &train_names)?,
        sequences(&vocab, &test_names)?,
    );
    println!(
        "makemore protocol on census first names: {} train / {} test names, vocabulary {} \
         (token 0 starts and ends a name), block {block}; GPT 4 layers, 4 heads, width 64, \
         batch 32, AdamW lr 5e-4 wd 0.01, {} steps on {}",
        train.len(),
        test.len(),
        vocab.len(),
        a.steps,
        a.backend
    );

    // Kneser–Ney n-grams on the same names, every character and the end scored.
    let mut ngram = Vec::new();
    for order in 1..=6 {
        let m = CharNGram::fit_lines(&train_names, order, Smoothing::KNESER_NEY)?;
        let lp: f64 = test_names.iter().map(|n| m.log_prob(n)).sum();
        let tokens: usize = test_names.iter().map(|n| n.chars().count() + 1).sum();
        ngram.push((order, -lp / tokens as f64));
    }

    let mut results = Vec::new();
    for &seed in &a.seeds {
        results.push(train_seed(&a, seed, vocab.len(), block, &train, &test)?);
    }

    let mut md = String::new();
    let _ = writeln!(
        md,
        "| seed | test NLL, last (nats/char) | best (step) | ms/step |"
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for r in &results {
        let _ = writeln!(
            md,
            "| {} | {:.4} | {:.4} ({}) | {:.1} |",
            r.seed, r.final_loss, r.best_loss, r.best_step, r.ms_per_step
        );
    }
    let mut last: Vec<f64> = results.iter().map(|r| r.final_loss).collect();
    let mut best: Vec<f64> = results.iter().map(|r| r.best_loss).collect();
    let mut ms: Vec<f64> = results.iter().map(|r| r.ms_per_step).collect();
    let lo = last.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = last.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let _ = writeln!(
        md,
        "| median | {:.4} (range {lo:.4}–{hi:.4}) | {:.4} | {:.1} |",
        median(&mut last),
        median(&mut best),
        median(&mut ms)
    );
    let _ = writeln!(
        md,
        "\n| Kneser–Ney order | test NLL (nats/char) |\n|---|---|"
    );
    for (o, nll) in &ngram {
        let _ = writeln!(md, "| {o} | {nll:.4} |");
    }
    println!("\n{md}");
    let json = serde_json::json!({
        "protocol": "makemore: seeded shuffle (3407), test = last min(1000, 10%) names, token 0 starts and ends a name, test NLL per predicted token",
        "train_names": train.len(), "test_names": test.len(), "vocab": vocab.len(), "block": block,
        "steps": a.steps, "backend": a.backend.name(),
        "gpt": results.iter().map(|r| serde_json::json!({
            "seed": r.seed, "final_test_nll": r.final_loss, "best_test_nll": r.best_loss,
            "best_step": r.best_step, "ms_per_step": r.ms_per_step, "curve": r.curve,
        })).collect::<Vec<_>>(),
        "kneser_ney": ngram.iter().map(|(o, n)| serde_json::json!({"order": o, "test_nll": n})).collect::<Vec<_>>(),
    });
    gen_core::checkpoint::write_json_atomic(&a.out.join("results.json"), &json)?;
    gen_core::checkpoint::write_atomic(&a.out.join("results.md"), md.as_bytes())?;
    Ok(())
}
