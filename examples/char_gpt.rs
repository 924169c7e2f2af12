//! A character-level GPT on Shakespeare: 150 AdamW steps, the
//! held-out loss before and after, then text decoded through the KV cache.
//!
//! ```text
//! cargo run --example char_gpt
//! ```
//!
//! The model is nanoGPT's CPU "baby" configuration (4 layers, 4 heads,
//! width 128, context of 64 characters, about 0.8 M parameters), trained on
//! random 64-character windows with the mean next-character cross-entropy,
//! which is the exact negative log-likelihood per character. 150 steps
//! take it from uniform guessing to the letter statistics of English; the
//! full 2,000-step run (13 times the training time printed here) is
//! `cargo run -p genlab -- train char-gpt --data shakespeare --steps 2000 --out runs/gpt`,
//! compared seed by seed with nanoGPT in docs/autoregressive.md. The
//! per-crate example `cargo run -p gen-ar --example nanogpt_shakespeare`
//! runs that recipe with learning-rate warm-up, cosine decay and KV-cache timing.

use std::io::Write;
use std::time::Instant;

use gen_ar::sequence::{CharGpt, GptConfig, TokenWindows, decode, encode};
use gen_ar::{DecodeOptions, generate};
use gen_core::{Learn, Result, Score, ScoreOptions, StepContext, rng_from_seed};
use gen_data::{CharVocab, Split, shakespeare};

/// Training steps of 12 windows each.
const STEPS: u64 = 150;

fn main() -> Result<()> {
    let start = Instant::now();
    let backend = genlab_examples::backend()?;
    let device = backend.device()?;

    // 1. Tokens. The vocabulary is every character of the text plus the
    //    newline, which also serves as the start token.
    let train = shakespeare(Split::Train)?;
    let test = shakespeare(Split::Test)?;
    let vocab = CharVocab::from_chars(train.chars().chain(test.chars()).chain(['\n']));
    let (train_ids, test_ids) = (encode(&vocab, &train)?, encode(&vocab, &test)?);

    // 2. The model. `GptConfig::baby_shakespeare` also carries nanoGPT's
    //    optimiser: AdamW, weight decay 0.1 on matrices, gradients clipped
    //    to norm 1. Weights come from the host RNG (seed 0).
    let config = GptConfig::baby_shakespeare(vocab.len());
    let mut gpt = CharGpt::new(config.clone(), &device, 0)?;
    println!(
        "GPT with {} parameters, vocabulary {}, context {} characters, on {backend}",
        gpt.num_params(),
        vocab.len(),
        config.block
    );

    // nanoGPT's `estimate_loss`: the mean loss of a few batches of random
    // held-out windows (an estimate: only 5 × 12 windows of the test text).
    let mut eval_rng = rng_from_seed(99);
    let before = gpt.estimate_loss(&test_ids, 5, 12, &mut eval_rng)?;
    println!(
        "held-out loss before training: {before:.3} nats/char (uniform guessing: ln {} = {:.3})",
        vocab.len(),
        (vocab.len() as f64).ln()
    );

    // 3. Learning: each step draws 12 random windows of 65 tokens (64
    //    predicted positions each) and takes one AdamW step.
    let mut rng = rng_from_seed(1);
    let t0 = Instant::now();
    for step in 0..STEPS {
        let batch = TokenWindows::random(&train_ids, 12, config.block, &mut rng)?;
        let mut ctx = StepContext {
            step,
            lr: 1e-3,
            rng: &mut rng,
        };
        let stats = gpt.learn_step(&batch, &mut ctx)?;
        if step % 50 == 0 || step + 1 == STEPS {
            println!("  step {step:>4}: train loss {:.3}", stats.loss);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut eval_rng = rng_from_seed(99);
    let after = gpt.estimate_loss(&test_ids, 5, 12, &mut eval_rng)?;
    println!(
        "held-out loss after {STEPS} steps: {after:.3} nats/char ({secs:.1} s, {:.0} ms/step)",
        1e3 * secs / STEPS as f64
    );

    // 4. Exact scores of whole sequences: log p(x_2..x_n | x_1) in nats, the
    //    first token being the context the rest is predicted from.
    let real = encode(&vocab, "\nWhat light through yonder window breaks?")?;
    let shuffled: Vec<u32> = std::iter::once(real[0])
        .chain(real[1..].iter().rev().copied())
        .collect();
    let scores = gpt.score(&[real.clone(), shuffled], &ScoreOptions::default())?;
    println!(
        "log p(line) = {:.1} nats, log p(line reversed) = {:.1} nats ({} scores)",
        scores.values[0],
        scores.values[1],
        scores.kind.name()
    );

    // 5. Decoding through the KV cache: each new character costs one
    //    position of attention, not a pass over the whole context. The same
    //    `generate` call decodes the n-gram (`ngram_text`); here sampling at
    //    temperature 0.8 among the 40 most probable characters.
    let decoder = gpt.decoder();
    let prompt = encode(&vocab, "\nROMEO:\n")?;
    let options = DecodeOptions {
        top_k: Some(40),
        ..DecodeOptions::sampling(250, 0.8, 0)
    };
    println!("\nsample (top-k 40, temperature 0.8, seed 0):");
    print!("{}", decode(&vocab, &prompt));
    let t0 = Instant::now();
    let tokens = generate(&decoder, &prompt, &options, |t| {
        print!("{}", decode(&vocab, &[t]));
        let _ = std::io::stdout().flush();
    })?;
    println!(
        "\n\n({} characters in {:.2} s; total {:.1} s)",
        tokens.len(),
        t0.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
