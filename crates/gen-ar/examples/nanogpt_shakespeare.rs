//! Trains nanoGPT's CPU "baby" character GPT on Shakespeare and streams a
//! sample through the KV cache.
//!
//! ```text
//! cargo run --release -p gen-ar --example nanogpt_shakespeare -- \
//!     [--iters 2000] [--eval-every 250] [--eval-iters 20] [--batch 12] \
//!     [--lr 1e-3] [--min-lr 1e-4] [--warmup 100] [--backend flex] [--seed 0] \
//!     [--sample-len 200] [--timing-len 256]
//! ```
//!
//! The configuration is nanoGPT's README CPU run of
//! `config/train_shakespeare_char.py`: 4 layers, 4 heads, width 128, block
//! 64, batch 12, dropout 0, AdamW (β₂ = 0.99, weight decay 0.1, gradient
//! norm clipped to 1), learning rate 1e-3 with 100 warm-up steps (at most a
//! tenth of the run) and cosine decay to 1e-4. Data: the first 90% of the
//! characters of gen_data's Shakespeare for training, the last 10% for
//! validation (nanoGPT's split). nanoGPT reports a validation loss of about
//! 1.88 after 2,000 iterations on its 1 MB Tiny Shakespeare.
//!
//! Every `--eval-every` steps it prints the mean loss of `--eval-iters`
//! random batches of each split and the mean time per step; at the end it
//! streams `--sample-len` characters (temperature 0.8, top-k 200, as
//! nanoGPT's `sample.py`) and times sampling `--timing-len` tokens with and
//! without the KV cache on a model of the same shape with a block of
//! `--timing-len` (untrained: speed does not depend on the weights).

use std::io::Write;
use std::time::Instant;

use gen_ar::decoding::{DecodeOptions, generate};
use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows, decode, encode};
use gen_core::train::LrSchedule;
use gen_core::{Backend, GenError, Learn, Result, StepContext, rng_from_seed};

struct Args {
    iters: u64,
    eval_every: u64,
    eval_iters: usize,
    batch: usize,
    lr: f64,
    min_lr: f64,
    warmup: u64,
    backend: Backend,
    seed: u64,
    sample_len: usize,
    timing_len: usize,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        iters: 2000,
        eval_every: 250,
        eval_iters: 20,
        batch: 12,
        lr: 1e-3,
        min_lr: 1e-4,
        warmup: 100,
        backend: Backend::Flex,
        seed: 0,
        sample_len: 200,
        timing_len: 256,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| {
            GenError::config(&flag, "(missing)", "needs a value", "e.g. --iters 100")
        })?;
        let bad = |what: &str| {
            GenError::config(&flag, &value, format!("not {what}"), "see the file's docs")
        };
        let int = |v: &str| v.parse::<u64>().map_err(|_| bad("an integer"));
        match flag.as_str() {
            "--iters" => a.iters = int(&value)?,
            "--eval-every" => a.eval_every = int(&value)?.max(1),
            "--eval-iters" => a.eval_iters = int(&value)? as usize,
            "--batch" => a.batch = int(&value)? as usize,
            "--lr" => a.lr = value.parse().map_err(|_| bad("a number"))?,
            "--min-lr" => a.min_lr = value.parse().map_err(|_| bad("a number"))?,
            "--warmup" => a.warmup = int(&value)?,
            "--backend" => a.backend = value.parse()?,
            "--seed" => a.seed = int(&value)?,
            "--sample-len" => a.sample_len = int(&value)? as usize,
            "--timing-len" => a.timing_len = int(&value)? as usize,
            _ => {
                return Err(GenError::config(
                    &flag,
                    &value,
                    "unknown flag",
                    "use --iters, --eval-every, --eval-iters, --batch, --lr, --min-lr, --warmup, \
                     --backend, --seed, --sample-len or --timing-len",
                ));
            }
        }
    }
    if a.iters == 0 || a.batch == 0 {
        return Err(GenError::config(
            "--iters/--batch",
            format!("{}/{}", a.iters, a.batch),
            "must be at least 1",
            "e.g. --iters 2000 --batch 12",
        ));
    }
    Ok(a)
}

fn main() -> Result<()> {
    let a = parse()?;
    let train_text = gen_data::shakespeare(gen_data::Split::Train)?;
    let val_text = gen_data::shakespeare(gen_data::Split::Test)?;
    let vocab = gen_data::CharVocab::from_text(&format!("{train_text}{val_text}"));
    let train = encode(&vocab, &train_text)?;
    let val = encode(&vocab, &val_text)?;
    let device = a.backend.device()?;
    let config = GptConfig::baby_shakespeare(vocab.len());
    let block = config.block;
    let mut model = CharGpt::new(config.clone(), &device, a.seed)?;
    // nanoGPT: 100 warm-up steps; capped at a tenth of a short run.
    let warmup = a.warmup.min(a.iters / 10);
    let schedule = LrSchedule::Cosine {
        warmup,
        min_factor: a.min_lr / a.lr,
    };
    println!(
        "char-gpt on Shakespeare ({}): {} train / {} val characters, vocabulary {} (ln V = {:.3}), \
         {} parameters; {} layers, {} heads, width {}, block {block}, batch {}, \
         lr {} -> {} cosine ({warmup} warm-up), {} iterations",
        a.backend,
        train.len(),
        val.len(),
        vocab.len(),
        (vocab.len() as f64).ln(),
        model.num_params(),
        config.layers,
        config.heads,
        config.width,
        a.batch,
        a.lr,
        a.min_lr,
        a.iters
    );

    let mut rng = rng_from_seed(a.seed + 1);
    let mut eval_rng = rng_from_seed(a.seed + 2);
    let mut step_time = 0.0;
    let mut steps_timed = 0u64;
    let mut report = |model: &CharGpt, step: u64, step_time: f64, n: u64| -> Result<()> {
        let tr = model.estimate_loss(&train, a.eval_iters, a.batch, &mut eval_rng)?;
        let va = model.estimate_loss(&val, a.eval_iters, a.batch, &mut eval_rng)?;
        let ms = if n > 0 {
            format!("{:.1} ms/step", step_time * 1e3 / n as f64)
        } else {
            "-".into()
        };
        println!("step {step:>5}: train loss {tr:.4}, val loss {va:.4}, {ms}");
        Ok(())
    };
    report(&model, 0, 0.0, 0)?;
    for t in 0..a.iters {
        let batch = TokenWindows::random(&train, a.batch, block, &mut rng)?;
        let start = Instant::now();
        let mut ctx = StepContext {
            step: t,
            lr: schedule.lr(a.lr, t, a.iters),
            rng: &mut rng,
        };
        let stats = model.learn_step(&batch, &mut ctx)?;
        step_time += start.elapsed().as_secs_f64();
        steps_timed += 1;
        if !stats.loss.is_finite() {
            return Err(GenError::Diverged {
                step: t,
                loss: stats.loss,
                checkpoint: "(none)".into(),
            });
        }
        let done = t + 1;
        if done % a.eval_every == 0 || done == a.iters {
            report(&model, done, step_time, steps_timed)?;
            step_time = 0.0;
            steps_timed = 0;
        }
    }

    // Stream a sample from "\n" through the KV cache (contexts longer than
    // the block are cropped to their last `block` tokens and recomputed).
    let prompt = encode(&vocab, "\n")?;
    let decoder = model.decoder().with_vocab(vocab.clone());
    let opts = DecodeOptions {
        top_k: Some(200),
        ..DecodeOptions::sampling(a.sample_len, 0.8, a.seed)
    };
    println!(
        "--- sample ({} characters, temperature 0.8, top-k 200) ---",
        a.sample_len
    );
    let start = Instant::now();
    let mut out = std::io::stdout();
    let tokens = generate(&decoder, &prompt, &opts, |t| {
        let _ = write!(out, "{}", decode(&vocab, &[t]));
        let _ = out.flush();
    })?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "\n--- {} tokens in {secs:.2} s ({:.0} tokens/s); cache: {:?}",
        tokens.len(),
        tokens.len() as f64 / secs,
        decoder.stats()
    );

    // Sampling speed with and without the cache at T = timing_len.
    let t_len = a.timing_len;
    if t_len > 0 {
        let timing = CharGpt::new(
            GptConfig {
                block: t_len,
                ..config
            },
            &device,
            a.seed,
        )?;
        let greedy = DecodeOptions::greedy(t_len);
        let mut rates = Vec::new();
        for cache in [true, false] {
            let d = timing.decoder().with_cache(cache);
            let start = Instant::now();
            let toks = generate(&d, &prompt, &greedy, |_| {})?;
            let secs = start.elapsed().as_secs_f64();
            let rate = toks.len() as f64 / secs;
            println!(
                "sampling {} tokens (block {t_len}) {} the KV cache: {secs:.2} s, {rate:.0} tokens/s, {} positions run",
                toks.len(),
                if cache { "with" } else { "without" },
                d.stats().positions
            );
            rates.push((rate, toks));
        }
        assert_eq!(rates[0].1, rates[1].1, "cached and uncached greedy differ");
        println!(
            "KV cache speed-up at T = {t_len}: {:.1}x (same greedy tokens)",
            rates[0].0 / rates[1].0
        );
    }
    Ok(())
}
