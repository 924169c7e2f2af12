//! A character n-gram on Shakespeare: fit by counting, score held-out text
//! exactly, and decode text from a prompt with the workspace's one decoding
//! interface (the same one the GPT and the LSTM use).
//!
//! ```text
//! cargo run --example ngram_text
//! ```
//!
//! An n-gram predicts each character from the n − 1 before it:
//! p(x) = Π_t p(x_t | x_{t−n+1..t−1}), with counts smoothed so that unseen
//! contexts still get probability (interpolated Kneser–Ney here, add-k as
//! the simple alternative). Fitting is one counting pass, so the full data
//! set is used and the result is final, not a short run.
//!
//! More: every order from 1 to 8 for both smoothings is
//! `cargo run -p gen-classical --example ngram_orders`; the command line
//! `cargo run -p genlab -- train ngram --data shakespeare --order 5 --out runs/ngram`
//! also draws NLL by order and writes a checkpoint that `genlab sample` decodes.

use std::io::Write;
use std::time::Instant;

use gen_ar::{DecodeOptions, generate};
use gen_classical::{CharNGram, Smoothing};
use gen_core::{Result, Score, ScoreOptions};
use gen_data::{Split, shakespeare};

fn main() -> Result<()> {
    let start = Instant::now();

    // 1. Data: gen-data embeds Shakespeare's plays as one string; the split
    //    is nanoGPT's (first 90% of the characters to train, last 10% to test).
    let train = shakespeare(Split::Train)?;
    let test = shakespeare(Split::Test)?;
    println!(
        "Shakespeare: {} training and {} test characters",
        train.chars().count(),
        test.chars().count()
    );

    // 2. Fit three models: the unigram (order 1, no context) as the baseline,
    //    and 5-grams with add-k (k = 0.01) and Kneser–Ney smoothing.
    //    `Smoothing::KNESER_NEY` estimates its discounts from the counts.
    let unigram = CharNGram::fit_text(&train, 1, Smoothing::KNESER_NEY)?;
    let add_k = CharNGram::fit_text(&train, 5, 0.01)?;
    let kn = CharNGram::fit_text(&train, 5, Smoothing::KNESER_NEY)?;
    println!("fitted 3 models in {:.1} s", start.elapsed().as_secs_f64());

    // 3. Held-out score: the exact mean negative log-probability per
    //    character of the test text (nats), and the perplexity e^NLL, the
    //    effective number of equally likely next characters.
    for (name, m) in [
        ("unigram", &unigram),
        ("5-gram, add-k 0.01", &add_k),
        ("5-gram, Kneser-Ney", &kn),
    ] {
        let nll = m.nll_per_symbol(&test);
        println!(
            "  {name:<20} test NLL {nll:.3} nats/char = {:.3} bits/char, perplexity {:.2}",
            nll / std::f64::consts::LN_2,
            nll.exp()
        );
    }

    // 4. `Score::score` gives the exact log-probability of whole strings,
    //    labelled `exact`. A line of the play against the same characters
    //    reversed: the model knows English spelling and word order.
    let line = "To be, or not to be, that is the question".to_string();
    let reversed: String = line.chars().rev().collect();
    let scores = kn.score(&[line.clone(), reversed.clone()], &ScoreOptions::default())?;
    for (text, lp) in [line, reversed].iter().zip(&scores.values) {
        println!("  log p({text:?}) = {lp:.1} nats ({})", scores.kind.name());
    }

    // 5. Decoding. `gen_ar::generate` works with any `NextToken` model: here
    //    nucleus sampling (top-p 0.9) at temperature 0.8 from a prompt, each
    //    character printed as it is drawn. `DecodeOptions::greedy` and
    //    `DecodeOptions::beam` are the other strategies.
    let prompt = "ROMEO.\n";
    let options = DecodeOptions {
        top_p: Some(0.9),
        ..DecodeOptions::sampling(300, 0.8, 0)
    };
    println!("\nKneser-Ney 5-gram, top-p 0.9, temperature 0.8, seed 0:\n");
    print!("{prompt}");
    let tokens = generate(&kn, &kn.encode(prompt), &options, |t| {
        print!("{}", kn.decode(&[t]));
        let _ = std::io::stdout().flush();
    })?;
    println!(
        "\n\n({} characters generated; total {:.1} s)",
        tokens.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
