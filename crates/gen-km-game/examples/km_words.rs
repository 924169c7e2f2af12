//! The validity/novelty bridge with gen-classical's character n-gram: the
//! hidden set K is a word list (one word per line), the adversary reveals a
//! growing random subset, and the n-gram is refitted on it and sampled.
//!
//! `cargo run -p gen-km-game --features ngram --example km_words -- WORDS.txt [OUT.png] [ORDER]`

use gen_km_game::{NGramGenerator, plot, words_experiment, words_table};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: km_words WORDS.txt [OUT.png] [ORDER]");
        std::process::exit(2);
    };
    let out = args.next().unwrap_or_else(|| "km_words.png".into());
    let order: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(4);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            std::process::exit(1);
        }
    };
    let words: Vec<String> = text
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    let n = words.len();
    let sizes: Vec<usize> = [10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000]
        .into_iter()
        .filter(|&s| s < n)
        .chain(std::iter::once(n))
        .collect();
    let mut g = NGramGenerator::new(order, 0.01, 1.0, 24);
    match words_experiment(&words, &sizes, &mut g, 2000, 0) {
        Ok(points) => {
            println!(
                "K = {n} words from {path}; generator {}\n",
                gen_km_game::StringGenerator::name(&g)
            );
            println!("{}", words_table(&points));
            let title = format!("words: char {order}-gram, |k| = {n}");
            if let Err(e) = plot::write_words_png(&points, &title, std::path::Path::new(&out)) {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
            println!("curves written to {out}");
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
