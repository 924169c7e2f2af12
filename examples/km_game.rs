//! The Kleinberg–Mullainathan game of *language generation in the limit*
//! (arXiv 2404.06757): an adversary enumerates a hidden language K from a
//! known countable collection; after each example the learner must output a
//! new string of K it has not seen. KM prove generation is always possible
//! in the limit, although *identifying* K (Gold's question) often is not.
//!
//! ```text
//! cargo run --example km_game
//! ```
//!
//! Part 1 plays KM's algorithm, a Gold-style identifier and a memoriser
//! against the same adversary on a collection that cannot be identified in
//! the limit.
//! Part 2 asks the same two questions, validity and novelty, of a real
//! string generator: a character n-gram trained on a growing sample of
//! English words. Every learner, collection and adversary against each
//! other: `cargo run -p genlab -- km table --horizon 200`; one game with a
//! picture: `cargo run -p genlab -- km run --collection progressions --target 4
//! --adversary staged --png km.png`.

use std::time::Instant;

use gen_data::{Split, english_words};
use gen_km_game::{NGramGenerator, RunSpec, run_from_spec, words_experiment, words_table};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();

    // Part 1. The collection "progressions" holds every arithmetic
    // progression {a + b·i : i ≥ 0} and {a + b·i : i ∈ Z} over the integers;
    // target 4 is one of them. The "staged" adversary enumerates decoy
    // sub-languages of K until the learner guesses one, then moves on (the
    // argument of Gold and of KM's appendix that defeats identification).
    // Horizon: 300 examples.
    println!("Part 1: progressions, target L_4, staged adversary, 300 steps");
    println!("  learner          last error t*  hallucinations  repeats  queries/step");
    for learner in ["km", "identification", "memorizer"] {
        let spec = RunSpec::new("progressions", 4, "staged", learner, 300);
        let r = run_from_spec(&spec)?;
        let s = &r.summary;
        // t* = the last step whose output was outside K (a hallucination)
        // or already seen (not novel); generation in the limit means t*
        // stays put as the horizon grows.
        println!(
            "  {learner:<16} {:>13}  {:>14}  {:>7}  {:>12.1}",
            s.last_error, s.hallucinations, s.non_novel, s.queries_per_step
        );
    }

    // Part 2. K = the training split of gen-data's English word list;
    // the learner has seen the first n words of a random enumeration of K,
    // and a character 4-gram fitted to them (add-k 0.01, temperature 1)
    // draws 2,000 words. Valid: the word is in K; novel: not among the n
    // seen; KM's goal is both at once (the "valid & novel" column). When
    // all of K has been seen nothing valid is novel, so the last row's
    // valid & novel is 0 by definition: the table shows how much of K's
    // unseen part a simple generator reaches, and how often it hallucinates.
    let words = english_words(Split::Train)?;
    let sizes = [100, 1_000, 10_000, words.len()];
    let mut generator = NGramGenerator::new(4, 0.01, 1.0, 24);
    let points = words_experiment(&words, &sizes, &mut generator, 2_000, 0)?;
    println!(
        "\nPart 2: character 4-gram on English words (K = {} words)\n",
        words.len()
    );
    println!("{}", words_table(&points));
    println!("total {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
