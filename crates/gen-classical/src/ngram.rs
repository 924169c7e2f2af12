//! Character n-gram language model with add-k smoothing.
//!
//! p(cₜ | cₜ₋ₙ₊₁ … cₜ₋₁) = (count(context, cₜ) + k) / (count(context) + k·V)
//!
//! over a vocabulary of V symbols: the training characters, a boundary symbol
//! (start padding, and end-of-word in line mode) and an unknown-character
//! symbol, so held-out text with unseen characters still has a finite
//! likelihood. Every conditional sums to one over the V symbols, so the
//! log-likelihood (chain rule) is exact. Order 1 is the unigram model.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use gen_core::checkpoint::write_atomic;
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Model, Result, Rng, Sample, SampleOptions, Score,
    Scores, StepContext, StepStats, TaskSupport,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

/// Capability row of [`CharNGram`].
pub const NGRAM_CAPABILITIES: Capabilities = Capabilities {
    model: "ngram",
    family: "classical",
    learn: TaskSupport::exact("counting (smoothed maximum likelihood)"),
    score: TaskSupport::exact("exact, chain rule"),
    sample: TaskSupport::exact("sequential, one character per step"),
    infer: TaskSupport::none("none (no latents)"),
};

const BOUNDARY: u16 = 0;
const UNKNOWN: u16 = 1;
/// Contexts are packed one byte per symbol into a u64, so n − 1 ≤ 8.
pub const MAX_ORDER: usize = 9;

/// How the training data is cut into sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NGramMode {
    /// Each string is one sequence ending in an end symbol (words, names).
    Lines,
    /// One continuous character stream (prose); no end symbol.
    Text,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    order: usize,
    add_k: f64,
    mode: NGramMode,
    vocab: Vec<char>,
}

/// A fitted character n-gram model.
#[derive(Debug, Clone)]
pub struct CharNGram {
    header: Header,
    index: HashMap<char, u16>,
    pair_counts: HashMap<(u64, u16), u32>,
    context_counts: HashMap<u64, u32>,
}

impl CharNGram {
    fn empty(order: usize, add_k: f64, mode: NGramMode, chars: Vec<char>) -> Result<Self> {
        if order == 0 || order > MAX_ORDER {
            return Err(GenError::config(
                "order",
                order,
                format!("must be between 1 and {MAX_ORDER}"),
                "use 1 (unigram) to 9",
            ));
        }
        if !(add_k > 0.0 && add_k.is_finite()) {
            return Err(GenError::config(
                "add_k",
                add_k,
                "must be finite and > 0 (it keeps unseen events possible)",
                "use 0.01 .. 1",
            ));
        }
        let mut vocab = vec!['\u{2402}', '\u{fffd}'];
        vocab.extend(chars);
        if vocab.len() > 256 {
            return Err(GenError::input(
                "CharNGram::fit",
                format!(
                    "{} distinct characters; at most 254 are supported",
                    vocab.len() - 2
                ),
                "lower-case or filter the text",
            ));
        }
        let index = vocab
            .iter()
            .enumerate()
            .map(|(i, c)| (*c, i as u16))
            .collect();
        Ok(Self {
            header: Header {
                order,
                add_k,
                mode,
                vocab,
            },
            index,
            pair_counts: HashMap::new(),
            context_counts: HashMap::new(),
        })
    }

    /// Fits on lines (each a sequence ending in the end symbol).
    pub fn fit_lines<S: AsRef<str>>(lines: &[S], order: usize, add_k: f64) -> Result<Self> {
        let chars = sorted_chars(lines.iter().flat_map(|l| l.as_ref().chars()));
        let mut m = Self::empty(order, add_k, NGramMode::Lines, chars)?;
        for l in lines {
            m.count_sequence(l.as_ref());
        }
        Ok(m)
    }

    /// Fits on one continuous text.
    pub fn fit_text(text: &str, order: usize, add_k: f64) -> Result<Self> {
        let chars = sorted_chars(text.chars());
        let mut m = Self::empty(order, add_k, NGramMode::Text, chars)?;
        m.count_sequence(text);
        Ok(m)
    }

    fn mask(&self) -> u64 {
        let bits = 8 * (self.header.order - 1);
        if bits == 0 { 0 } else { (1u64 << bits) - 1 }
    }

    /// The context before the first symbol. Lines start from boundary
    /// padding; a text stream starts as if after a line break, a context the
    /// corpus holds thousands of times (boundary padding would occur once,
    /// leaving the first characters near-uniform).
    fn start_context(&self) -> u64 {
        match (self.header.mode, self.index.get(&'\n')) {
            (NGramMode::Text, Some(&nl)) => {
                (0..self.header.order - 1).fold(0u64, |c, _| (c << 8) | nl as u64) & self.mask()
            }
            _ => 0,
        }
    }

    fn sym(&self, c: char) -> u16 {
        self.index.get(&c).copied().unwrap_or(UNKNOWN)
    }

    fn symbols(&self, s: &str) -> Vec<u16> {
        let mut v: Vec<u16> = s.chars().map(|c| self.sym(c)).collect();
        if self.header.mode == NGramMode::Lines {
            v.push(BOUNDARY);
        }
        v
    }

    fn count_sequence(&mut self, s: &str) {
        let mask = self.mask();
        let mut ctx = self.start_context();
        for sym in self.symbols(s) {
            *self.pair_counts.entry((ctx, sym)).or_insert(0) += 1;
            *self.context_counts.entry(ctx).or_insert(0) += 1;
            ctx = ((ctx << 8) | sym as u64) & mask;
        }
    }

    /// Vocabulary size V (characters + boundary + unknown).
    pub fn vocab_size(&self) -> usize {
        self.header.vocab.len()
    }

    /// The order n.
    pub fn order(&self) -> usize {
        self.header.order
    }

    fn log_p(&self, ctx: u64, sym: u16) -> f64 {
        let k = self.header.add_k;
        let c = self.pair_counts.get(&(ctx, sym)).copied().unwrap_or(0) as f64;
        let t = self.context_counts.get(&ctx).copied().unwrap_or(0) as f64;
        ((c + k) / (t + k * self.vocab_size() as f64)).ln()
    }

    /// Exact log-probability of each symbol of `s` (plus the end symbol in line mode).
    pub fn symbol_log_probs(&self, s: &str) -> Vec<f64> {
        let mask = self.mask();
        let mut ctx = self.start_context();
        self.symbols(s)
            .into_iter()
            .map(|sym| {
                let lp = self.log_p(ctx, sym);
                ctx = ((ctx << 8) | sym as u64) & mask;
                lp
            })
            .collect()
    }

    /// Exact log p(s) by the chain rule.
    pub fn log_prob(&self, s: &str) -> f64 {
        self.symbol_log_probs(s).iter().sum()
    }

    /// Mean negative log-likelihood per predicted symbol (nats) of a text.
    pub fn nll_per_symbol(&self, s: &str) -> f64 {
        let lp = self.symbol_log_probs(s);
        -lp.iter().sum::<f64>() / lp.len().max(1) as f64
    }

    /// Perplexity exp(NLL per symbol).
    pub fn perplexity(&self, s: &str) -> f64 {
        self.nll_per_symbol(s).exp()
    }

    /// The next-symbol distribution after `ctx` at temperature τ (p^(1/τ), renormalised);
    /// the unknown symbol is never sampled.
    fn next_distribution(&self, ctx: u64, tau: f64) -> Vec<f64> {
        let mut logits: Vec<f64> = (0..self.vocab_size() as u16)
            .map(|s| {
                if s == UNKNOWN || (s == BOUNDARY && self.header.mode == NGramMode::Text) {
                    f64::NEG_INFINITY
                } else {
                    self.log_p(ctx, s) / tau
                }
            })
            .collect();
        let m = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for l in logits.iter_mut() {
            *l = (*l - m).exp();
            total += *l;
        }
        logits.iter_mut().for_each(|p| *p /= total);
        logits
    }

    /// Samples one sequence of at most `max_len` characters.
    pub fn sample_one(&self, tau: f64, max_len: usize, rng: &mut Rng) -> String {
        let mask = self.mask();
        let mut ctx = self.start_context();
        let mut out = String::new();
        for _ in 0..max_len {
            let p = self.next_distribution(ctx, tau);
            let mut u: f64 = rng.random();
            let mut sym = (p.len() - 1) as u16;
            for (i, pi) in p.iter().enumerate() {
                if u < *pi {
                    sym = i as u16;
                    break;
                }
                u -= pi;
            }
            if sym == BOUNDARY {
                break;
            }
            out.push(self.header.vocab[sym as usize]);
            ctx = ((ctx << 8) | sym as u64) & mask;
        }
        out
    }

    /// Writes the model in a compact binary form: magic, JSON header, count table.
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header)
            .map_err(|e| GenError::Other(format!("n-gram header: {e}")))?;
        let mut out = Vec::with_capacity(16 + header.len() + self.pair_counts.len() * 14);
        out.extend_from_slice(b"GLNGRAM1");
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        let mut entries: Vec<_> = self.pair_counts.iter().collect();
        entries.sort();
        out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        for ((ctx, sym), count) in entries {
            out.extend_from_slice(&ctx.to_le_bytes());
            out.extend_from_slice(&sym.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
        }
        Ok(out)
    }

    fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let bad = |problem: &str| GenError::Format {
            path: path.to_path_buf(),
            problem: problem.to_string(),
            fix: "point to a checkpoint written by `genlab train ngram`".into(),
        };
        let mut r = bytes;
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)
            .map_err(|_| bad("truncated magic"))?;
        if &magic != b"GLNGRAM1" {
            return Err(bad("not an n-gram checkpoint (bad magic)"));
        }
        let mut len8 = [0u8; 8];
        r.read_exact(&mut len8)
            .map_err(|_| bad("truncated header length"))?;
        let hlen = u64::from_le_bytes(len8) as usize;
        if hlen > r.len() {
            return Err(bad("header length beyond end of file"));
        }
        let header: Header =
            serde_json::from_slice(&r[..hlen]).map_err(|_| bad("header is not valid JSON"))?;
        r = &r[hlen..];
        r.read_exact(&mut len8)
            .map_err(|_| bad("truncated entry count"))?;
        let n = u64::from_le_bytes(len8) as usize;
        if r.len() != n.saturating_mul(14) {
            return Err(bad("count table size does not match its entry count"));
        }
        let vocab: Vec<char> = header.vocab.iter().skip(2).copied().collect();
        let mut m = Self::empty(header.order, header.add_k, header.mode, vocab)?;
        for e in r.chunks_exact(14) {
            let ctx = u64::from_le_bytes(e[0..8].try_into().map_err(|_| bad("entry"))?);
            let sym = u16::from_le_bytes(e[8..10].try_into().map_err(|_| bad("entry"))?);
            let count = u32::from_le_bytes(e[10..14].try_into().map_err(|_| bad("entry"))?);
            if sym as usize >= m.vocab_size() {
                return Err(bad("symbol index outside the vocabulary"));
            }
            m.pair_counts.insert((ctx, sym), count);
            *m.context_counts.entry(ctx).or_insert(0) += count;
        }
        Ok(m)
    }
}

fn sorted_chars(it: impl Iterator<Item = char>) -> Vec<char> {
    let mut v: Vec<char> = it
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    v.retain(|c| *c != '\u{2402}' && *c != '\u{fffd}');
    v
}

impl Model for CharNGram {
    fn capabilities(&self) -> Capabilities {
        NGRAM_CAPABILITIES
    }
}

impl Sample for CharNGram {
    type Output = Vec<String>;
    /// `n` sequences: words in line mode (ended by the end symbol, at most 64
    /// characters), 400-character passages in text mode. Temperature divides the log-probabilities.
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Vec<String>> {
        options.validate()?;
        let max_len = match self.header.mode {
            NGramMode::Lines => 64,
            NGramMode::Text => 400,
        };
        Ok((0..n)
            .map(|_| self.sample_one(options.temperature, max_len, rng))
            .collect())
    }
}

impl Score for CharNGram {
    type Input = [String];
    /// Exact log p(s) per string (including the end symbol in line mode).
    fn score(&self, x: &[String]) -> Result<Scores> {
        Ok(Scores::exact(x.iter().map(|s| self.log_prob(s)).collect()))
    }
}

/// A corpus for [`CharNGram`]'s learning step.
#[derive(Debug, Clone)]
pub enum Corpus {
    /// Separate sequences.
    Lines(Vec<String>),
    /// One text.
    Text(String),
}

impl Learn for CharNGram {
    type Batch = Corpus;
    /// Counts the whole corpus (one step is the complete fit); loss = training NLL per symbol.
    fn learn_step(&mut self, batch: &Corpus, _ctx: &mut StepContext<'_>) -> Result<StepStats> {
        let (order, k) = (self.header.order, self.header.add_k);
        *self = match batch {
            Corpus::Lines(l) => Self::fit_lines(l, order, k)?,
            Corpus::Text(t) => Self::fit_text(t, order, k)?,
        };
        let nll = match batch {
            Corpus::Lines(l) => {
                let (mut s, mut c) = (0.0, 0usize);
                for line in l {
                    let lp = self.symbol_log_probs(line);
                    c += lp.len();
                    s -= lp.iter().sum::<f64>();
                }
                s / c.max(1) as f64
            }
            Corpus::Text(t) => self.nll_per_symbol(t),
        };
        Ok(StepStats::loss(nll))
    }
}

impl CharNGram {
    /// An unfitted model (for the trainer's learning step to fill).
    pub fn unfitted(order: usize, add_k: f64) -> Result<Self> {
        Self::empty(order, add_k, NGramMode::Lines, Vec::new())
    }
}

impl Checkpoint for CharNGram {
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_atomic(&dir.join("ngram.bin"), &self.to_bytes()?)
    }
    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("ngram.bin");
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| GenError::io(&path, e))?;
        *self = Self::from_bytes(&bytes, &path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    #[test]
    fn conditionals_sum_to_one() {
        let m = CharNGram::fit_lines(&["abba", "abc", "cab"], 3, 0.5).unwrap();
        for ctx in [0u64, 0x0203, 0x0304, 0x0505] {
            let total: f64 = (0..m.vocab_size() as u16)
                .map(|s| m.log_p(ctx, s).exp())
                .sum();
            assert!((total - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn string_probabilities_sum_to_one_over_all_short_strings() {
        // Line mode defines a distribution over finite strings. Exactly:
        // sum over |s| <= L of p(s) + P(the first L+1 symbols are not the end) = 1.
        let m = CharNGram::fit_lines(&["ab", "ba", "a"], 2, 1.0).unwrap();
        let alphabet: Vec<char> = m.header.vocab.iter().skip(1).copied().collect();
        let mut mass = 0.0;
        let mut frontier = vec![String::new()];
        for _ in 0..=5 {
            let mut next = Vec::new();
            for s in &frontier {
                mass += m.log_prob(s).exp();
                for c in &alphabet {
                    next.push(format!("{s}{c}"));
                }
            }
            frontier = next;
        }
        let unfinished: f64 = frontier
            .iter()
            .map(|s| {
                let lp = m.symbol_log_probs(s);
                lp[..lp.len() - 1].iter().sum::<f64>().exp()
            })
            .sum();
        assert!(
            (mass + unfinished - 1.0).abs() < 1e-12,
            "{mass} + {unfinished}"
        );
        assert!(mass > 0.5);
    }

    #[test]
    fn checkpoint_round_trip_and_corruption() {
        let m = CharNGram::fit_text("to be or not to be", 4, 0.1).unwrap();
        let dir = std::env::temp_dir().join(format!("ngram-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        m.save_checkpoint(&dir).unwrap();
        let mut back = CharNGram::unfitted(2, 1.0).unwrap();
        back.load_checkpoint(&dir).unwrap();
        assert_eq!(back.log_prob("not be"), m.log_prob("not be"));
        let bytes = m.to_bytes().unwrap();
        for cut in [0, 5, 12, bytes.len() - 3] {
            assert!(CharNGram::from_bytes(&bytes[..cut], &dir).is_err());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sampling_respects_temperature_and_vocabulary() {
        let words: Vec<String> = ["cat", "car", "cart", "care"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = CharNGram::fit_lines(&words, 3, 0.01).unwrap();
        let mut rng = rng_from_seed(5);
        let cold = m
            .sample(200, &SampleOptions::with_temperature(0.2), &mut rng)
            .unwrap();
        assert!(cold.iter().all(|w| w.starts_with("ca")), "{cold:?}");
        assert!(
            m.sample(1, &SampleOptions::with_temperature(0.0), &mut rng)
                .is_err()
        );
        assert!(CharNGram::fit_lines(&words, 0, 1.0).is_err());
        assert!(CharNGram::fit_lines(&words, 3, 0.0).is_err());
    }
}
