//! Bridge from the KM game to neural (or classical) string generators.
//!
//! The KM game asks for outputs that are **valid** (in the hidden set K) and
//! **novel** (not among the examples seen). Any model that can be fitted on
//! strings and sampled implements [`StringGenerator`]; [`words_experiment`]
//! then plays a statistical version of the game: K is a word list, the
//! adversary is a seeded random enumeration of K, and after the first n words
//! (S = the seen set) the generator is fitted on S and sampled. For each n we
//! report
//!
//! - validity = |{samples ∈ K}| / #samples,
//! - novelty = |{samples ∉ S}| / #samples,
//! - valid-and-novel = |{samples ∈ K ∖ S}| / #samples,
//!
//! the empirical counterparts of the game's two requirements as the number
//! of seen examples grows.

use std::collections::HashSet;

use gen_core::Rng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::error::{KmError, Result};

/// A model that can be fitted on strings and asked for new strings.
pub trait StringGenerator {
    /// A name for reports.
    fn name(&self) -> String;
    /// Fits (or refits from scratch) on `examples`.
    fn fit(&mut self, examples: &[String], rng: &mut Rng) -> gen_core::Result<()>;
    /// Draws `n` strings.
    fn generate(&mut self, n: usize, rng: &mut Rng) -> gen_core::Result<Vec<String>>;
}

/// One point of the words experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WordsPoint {
    /// Number of seen words n = |S|.
    pub seen: usize,
    /// Number of samples drawn.
    pub samples: usize,
    /// Fraction of samples in K.
    pub validity: f64,
    /// Fraction of samples not in S.
    pub novelty: f64,
    /// Fraction of samples in K ∖ S.
    pub valid_and_novel: f64,
    /// Number of distinct samples in K ∖ S (breadth).
    pub distinct_valid_novel: usize,
}

/// Runs the validity/novelty experiment (see the module docs).
///
/// `valid` is the hidden set K (duplicates are ignored); `seen_sizes` the
/// values of n (each between 0 and |K|); the generator is refitted for each
/// n on the first n words of one seeded random enumeration of K, so the seen
/// sets are nested.
pub fn words_experiment(
    valid: &[String],
    seen_sizes: &[usize],
    generator: &mut dyn StringGenerator,
    samples_per_point: usize,
    seed: u64,
) -> Result<Vec<WordsPoint>> {
    let mut words: Vec<String> = valid.to_vec();
    words.sort();
    words.dedup();
    if words.is_empty() {
        return Err(KmError::setting(
            "valid",
            "[]",
            "the hidden set K is empty",
            "pass the word list the generator should learn",
        ));
    }
    if samples_per_point == 0 {
        return Err(KmError::setting(
            "samples_per_point",
            0,
            "no samples would be drawn",
            "use at least 1 (e.g. 1000)",
        ));
    }
    if let Some(&n) = seen_sizes.iter().find(|&&n| n > words.len()) {
        return Err(KmError::setting(
            "seen_sizes",
            n,
            format!("more seen words than K has ({})", words.len()),
            format!("use sizes between 0 and {}", words.len()),
        ));
    }
    let k: HashSet<&str> = words.iter().map(String::as_str).collect();
    let mut rng = gen_core::rng_from_seed(seed);
    let mut order = words.clone();
    order.shuffle(&mut rng);
    let mut points = Vec::with_capacity(seen_sizes.len());
    let name = generator.name();
    let err = |e: gen_core::GenError| KmError::Generator {
        generator: name.clone(),
        message: e.to_string(),
    };
    for &n in seen_sizes {
        let seen_words = &order[..n];
        let seen: HashSet<&str> = seen_words.iter().map(String::as_str).collect();
        generator.fit(seen_words, &mut rng).map_err(err)?;
        let samples = generator
            .generate(samples_per_point, &mut rng)
            .map_err(err)?;
        let total = samples.len().max(1) as f64;
        let (mut v, mut nov, mut both) = (0usize, 0usize, 0usize);
        let mut distinct = HashSet::new();
        for s in &samples {
            let in_k = k.contains(s.as_str());
            let is_new = !seen.contains(s.as_str());
            v += in_k as usize;
            nov += is_new as usize;
            if in_k && is_new {
                both += 1;
                distinct.insert(s.as_str());
            }
        }
        points.push(WordsPoint {
            seen: n,
            samples: samples.len(),
            validity: v as f64 / total,
            novelty: nov as f64 / total,
            valid_and_novel: both as f64 / total,
            distinct_valid_novel: distinct.len(),
        });
    }
    Ok(points)
}

/// The words experiment's points as a Markdown table.
pub fn words_table(points: &[WordsPoint]) -> String {
    let mut s = String::from(
        "| seen | samples | validity | novelty | valid & novel | distinct valid & novel |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    for p in points {
        s.push_str(&format!(
            "| {} | {} | {:.3} | {:.3} | {:.3} | {} |\n",
            p.seen, p.samples, p.validity, p.novelty, p.valid_and_novel, p.distinct_valid_novel
        ));
    }
    s
}

/// gen-classical's character n-gram ([`gen_classical::CharNGram`]) as a
/// [`StringGenerator`]: one word per line, sampled at temperature `tau`.
#[cfg(feature = "ngram")]
#[derive(Debug, Clone)]
pub struct NGramGenerator {
    /// n of the n-gram (context of n − 1 characters).
    pub order: usize,
    /// Add-k smoothing.
    pub add_k: f64,
    /// Sampling temperature.
    pub tau: f64,
    /// Longest sampled word.
    pub max_len: usize,
    model: Option<gen_classical::CharNGram>,
}

#[cfg(feature = "ngram")]
impl NGramGenerator {
    /// An unfitted generator.
    pub fn new(order: usize, add_k: f64, tau: f64, max_len: usize) -> Self {
        NGramGenerator {
            order,
            add_k,
            tau,
            max_len,
            model: None,
        }
    }
}

#[cfg(feature = "ngram")]
impl StringGenerator for NGramGenerator {
    fn name(&self) -> String {
        format!(
            "ngram(n={}, k={}, tau={})",
            self.order, self.add_k, self.tau
        )
    }
    fn fit(&mut self, examples: &[String], _rng: &mut Rng) -> gen_core::Result<()> {
        // With nothing seen there is nothing to count: generate empty words.
        self.model = if examples.is_empty() {
            None
        } else {
            Some(gen_classical::CharNGram::fit_lines(
                examples, self.order, self.add_k,
            )?)
        };
        Ok(())
    }
    fn generate(&mut self, n: usize, rng: &mut Rng) -> gen_core::Result<Vec<String>> {
        Ok(match &self.model {
            Some(m) => (0..n)
                .map(|_| m.sample_one(self.tau, self.max_len, rng))
                .collect(),
            None => vec![String::new(); n],
        })
    }
}

#[cfg(all(test, feature = "ngram"))]
mod tests {
    use super::*;

    #[test]
    fn ngram_adapter_fits_and_samples() {
        let words: Vec<String> = ["cat", "car", "cart", "care", "dart", "dare", "bat", "bar"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut g = NGramGenerator::new(3, 0.01, 1.0, 12);
        let pts = words_experiment(&words, &[0, 4, 8], &mut g, 300, 1).unwrap();
        assert_eq!(pts[0].validity, 0.0); // nothing seen: empty strings
        assert!(pts[2].validity > 0.2, "{pts:?}");
        assert_eq!(pts[2].valid_and_novel, 0.0);
    }
}
