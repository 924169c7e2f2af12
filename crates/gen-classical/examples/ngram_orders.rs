//! Held-out NLL per character of add-k (k = 0.01) and interpolated
//! Kneser–Ney character n-grams of orders 1–8 on Shakespeare (gen-data's
//! train/test split), as a Markdown table, then three samples of the
//! Kneser–Ney 5-gram.
//!
//! ```text
//! cargo run -p gen-classical --example ngram_orders
//! ```

use gen_classical::protocol::{fit, nll_per_symbol};
use gen_classical::{Corpus, Smoothing};
use gen_core::rng_from_seed;
use gen_data::{Split, shakespeare};

fn main() -> gen_core::Result<()> {
    let corpus = Corpus::Text(shakespeare(Split::Train)?);
    let test = vec![shakespeare(Split::Test)?];
    println!("| order | add-k (0.01) | Kneser–Ney | KN discounts D_0..D_(n-1) |");
    println!("|---:|---:|---:|---|");
    for order in 1..=8 {
        let add_k = nll_per_symbol(&fit(&corpus, order, 0.01)?, &test);
        let kn = fit(&corpus, order, Smoothing::KNESER_NEY)?;
        let d: Vec<String> = kn
            .discounts()
            .unwrap_or_default()
            .iter()
            .map(|d| format!("{d:.3}"))
            .collect();
        let kn_nll = nll_per_symbol(&kn, &test);
        println!("| {order} | {add_k:.4} | {kn_nll:.4} | {} |", d.join(", "));
    }
    let kn = fit(&corpus, 5, Smoothing::KNESER_NEY)?;
    let mut rng = rng_from_seed(0);
    for i in 1..=3 {
        println!("\nKneser–Ney 5-gram sample {i} (seed 0, temperature 1, 300 characters):\n");
        println!("```text\n{}\n```", kn.sample_one(1.0, 300, &mut rng));
    }
    Ok(())
}
