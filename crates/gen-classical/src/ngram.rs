//! Character n-gram language model with add-k or interpolated Kneser–Ney smoothing.
//!
//! Add-k: p(cₜ | cₜ₋ₙ₊₁ … cₜ₋₁) = (count(context, cₜ) + k) / (count(context) + k·V).
//! Kneser–Ney ([`Smoothing::KneserNey`]): absolute discounting interpolated
//! with lower orders of continuation counts, down to the uniform distribution
//! (see the `kneser_ney` module for the formula).
//!
//! over a vocabulary of V symbols (a gen-data [`CharVocab`]): the training
//! characters, a boundary symbol (start padding, and end-of-word in line mode)
//! and an unknown-character symbol, so held-out text with unseen characters
//! still has a finite likelihood. Every conditional sums to one over the V symbols, so the
//! log-likelihood (chain rule) is exact. Order 1 is the unigram model.

mod kneser_ney;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use gen_core::checkpoint::write_atomic;
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Model, Result, Rng, Sample, SampleOptions, Score,
    Scores, StepContext, StepStats, TaskSupport,
};
use gen_data::CharVocab;
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use kneser_ney::KneserNey;

/// Capability row of [`CharNGram`].
pub const NGRAM_CAPABILITIES: Capabilities = Capabilities {
    model: "ngram",
    family: "classical",
    learn: TaskSupport::exact("counting (smoothed maximum likelihood)"),
    score: TaskSupport::exact("exact, chain rule"),
    sample: TaskSupport::exact("sequential, one character per step"),
    infer: TaskSupport::none("none (no latents)"),
};

/// Ids of the special symbols: the vocabulary's boundary and unknown tokens,
/// which [`CharVocab::with_boundary`] and [`CharVocab::with_unknown`] put first.
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

/// How counts become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Smoothing {
    /// Add k to every count: (c(h, w) + k) / (c(h) + k·V).
    AddK(f64),
    /// Interpolated Kneser–Ney: absolute discount D per order (Chen &
    /// Goodman's n₁ / (n₁ + 2 n₂) of that order when `None`), continuation
    /// counts for the lower orders, down to the uniform distribution.
    KneserNey {
        /// A fixed discount in (0, 1] for every order, or `None` to estimate one per order.
        discount: Option<f64>,
    },
}

impl Smoothing {
    /// Kneser–Ney with the discounts estimated from the counts.
    pub const KNESER_NEY: Smoothing = Smoothing::KneserNey { discount: None };

    /// Which kind of smoothing this is.
    pub fn kind(&self) -> SmoothingKind {
        match self {
            Smoothing::AddK(_) => SmoothingKind::AddK,
            Smoothing::KneserNey { .. } => SmoothingKind::KneserNey,
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            Smoothing::AddK(k) if !(k > 0.0 && k.is_finite()) => Err(GenError::config(
                "add_k",
                k,
                "must be finite and > 0 (it keeps unseen events possible)",
                "use 0.01 .. 1",
            )),
            Smoothing::KneserNey { discount: Some(d) } if !(d > 0.0 && d <= 1.0) => {
                Err(GenError::config(
                    "discount",
                    d,
                    "must be in (0, 1] (every seen count must stay >= the discount)",
                    "use 0.75, or leave it unset to estimate n1/(n1+2 n2) per order",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Add-k smoothing with this k.
impl From<f64> for Smoothing {
    fn from(k: f64) -> Self {
        Smoothing::AddK(k)
    }
}

/// The name of a [`Smoothing`] without its parameters, for command lines and run files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmoothingKind {
    /// [`Smoothing::AddK`].
    #[default]
    AddK,
    /// [`Smoothing::KneserNey`].
    KneserNey,
}

impl SmoothingKind {
    /// The names, as the command line spells them.
    pub const NAMES: [&'static str; 2] = ["add-k", "kneser-ney"];

    /// The command-line name.
    pub fn name(&self) -> &'static str {
        match self {
            SmoothingKind::AddK => "add-k",
            SmoothingKind::KneserNey => "kneser-ney",
        }
    }

    /// The smoothing: add-k with `add_k`, or Kneser–Ney with estimated discounts.
    pub fn with_add_k(self, add_k: f64) -> Smoothing {
        match self {
            SmoothingKind::AddK => Smoothing::AddK(add_k),
            SmoothingKind::KneserNey => Smoothing::KNESER_NEY,
        }
    }
}

impl std::fmt::Display for SmoothingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for SmoothingKind {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "add-k" => Ok(SmoothingKind::AddK),
            "kneser-ney" => Ok(SmoothingKind::KneserNey),
            _ => Err(GenError::config(
                "smoothing",
                s,
                "unknown smoothing",
                "use add-k or kneser-ney",
            )),
        }
    }
}

#[derive(Debug, Clone)]
struct Header {
    order: usize,
    smoothing: Smoothing,
    mode: NGramMode,
    vocab: CharVocab,
}

/// The header as stored in a checkpoint: the vocabulary as the glyph of every
/// id. An add-k model stores `add_k` and no `smoothing`, byte for byte the
/// header of checkpoints written before Kneser–Ney existed (which load as add-k).
#[derive(Serialize, Deserialize)]
struct StoredHeader {
    order: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    add_k: Option<f64>,
    mode: NGramMode,
    vocab: Vec<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    smoothing: Option<Smoothing>,
}

/// A fitted character n-gram model.
#[derive(Debug, Clone)]
pub struct CharNGram {
    header: Header,
    pair_counts: HashMap<(u64, u16), u32>,
    context_counts: HashMap<u64, u32>,
    /// Lower-order tables, for Kneser–Ney smoothing only (rebuilt from the counts).
    kn: Option<KneserNey>,
}

impl CharNGram {
    /// An empty model over `chars` (plus the boundary and unknown symbols).
    fn empty(
        order: usize,
        smoothing: Smoothing,
        mode: NGramMode,
        chars: CharVocab,
    ) -> Result<Self> {
        if order == 0 || order > MAX_ORDER {
            return Err(GenError::config(
                "order",
                order,
                format!("must be between 1 and {MAX_ORDER}"),
                "use 1 (unigram) to 9",
            ));
        }
        smoothing.validate()?;
        let vocab = chars.with_boundary().with_unknown();
        debug_assert_eq!(vocab.boundary(), Some(BOUNDARY as usize));
        debug_assert_eq!(vocab.unknown(), Some(UNKNOWN as usize));
        if vocab.len() > 256 {
            return Err(GenError::input(
                "CharNGram::fit",
                format!(
                    "{} distinct characters; at most 254 are supported",
                    vocab.chars().len()
                ),
                "lower-case or filter the text",
            ));
        }
        Ok(Self {
            header: Header {
                order,
                smoothing,
                mode,
                vocab,
            },
            pair_counts: HashMap::new(),
            context_counts: HashMap::new(),
            kn: None,
        })
    }

    /// Fits on lines (each a sequence ending in the end symbol). `smoothing`
    /// is a [`Smoothing`], or a bare `f64` for add-k.
    pub fn fit_lines<S: AsRef<str>>(
        lines: &[S],
        order: usize,
        smoothing: impl Into<Smoothing>,
    ) -> Result<Self> {
        let chars = CharVocab::from_words(lines);
        let mut m = Self::empty(order, smoothing.into(), NGramMode::Lines, chars)?;
        for l in lines {
            m.count_sequence(l.as_ref());
        }
        m.finish();
        Ok(m)
    }

    /// Fits on one continuous text. `smoothing` is a [`Smoothing`], or a bare
    /// `f64` for add-k.
    pub fn fit_text(text: &str, order: usize, smoothing: impl Into<Smoothing>) -> Result<Self> {
        let chars = CharVocab::from_text(text);
        let mut m = Self::empty(order, smoothing.into(), NGramMode::Text, chars)?;
        m.count_sequence(text);
        m.finish();
        Ok(m)
    }

    /// Builds the lower-order tables once the counts are complete.
    fn finish(&mut self) {
        self.kn = match self.header.smoothing {
            Smoothing::AddK(_) => None,
            Smoothing::KneserNey { discount } => Some(KneserNey::build(
                self.header.order,
                &self.pair_counts,
                discount,
                BOUNDARY,
            )),
        };
    }

    /// The smoothing.
    pub fn smoothing(&self) -> Smoothing {
        self.header.smoothing
    }

    /// How the training data was cut into sequences.
    pub fn mode(&self) -> NGramMode {
        self.header.mode
    }

    /// The Kneser–Ney discount D of each context length 0..n (None for add-k).
    pub fn discounts(&self) -> Option<&[f64]> {
        self.kn.as_ref().map(|kn| kn.discounts())
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
        match (self.header.mode, self.header.vocab.id('\n')) {
            (NGramMode::Text, Some(nl)) => {
                (0..self.header.order - 1).fold(0u64, |c, _| (c << 8) | nl as u64) & self.mask()
            }
            _ => 0,
        }
    }

    fn sym(&self, c: char) -> u16 {
        // The vocabulary has an unknown token, so the fallback is never used.
        self.header
            .vocab
            .id_or_unknown(c)
            .unwrap_or(UNKNOWN as usize) as u16
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
        match (self.header.smoothing, &self.kn) {
            (Smoothing::KneserNey { .. }, Some(kn)) => kn
                .prob(
                    ctx,
                    sym,
                    &self.pair_counts,
                    &self.context_counts,
                    self.vocab_size(),
                )
                .ln(),
            (Smoothing::AddK(k), _) => {
                let c = self.pair_counts.get(&(ctx, sym)).copied().unwrap_or(0) as f64;
                let t = self.context_counts.get(&ctx).copied().unwrap_or(0) as f64;
                ((c + k) / (t + k * self.vocab_size() as f64)).ln()
            }
            // `finish` builds the tables of every Kneser–Ney model.
            (Smoothing::KneserNey { .. }, None) => {
                unreachable!("Kneser-Ney tables are built with the counts")
            }
        }
    }

    /// log p(· | ctx) over all V symbols.
    fn log_p_all(&self, ctx: u64) -> Vec<f64> {
        match &self.kn {
            Some(kn) => kn
                .distribution(
                    ctx,
                    &self.pair_counts,
                    &self.context_counts,
                    self.vocab_size(),
                )
                .into_iter()
                .map(f64::ln)
                .collect(),
            None => (0..self.vocab_size() as u16)
                .map(|s| self.log_p(ctx, s))
                .collect(),
        }
    }

    /// The packed context after the start padding and `context` (symbol ids).
    fn context_of(&self, context: &[u32]) -> u64 {
        let mask = self.mask();
        context.iter().fold(self.start_context(), |c, &s| {
            ((c << 8) | (s as u64 & 0xff)) & mask
        })
    }

    /// The exact conditional log p(· | context) over all V symbol ids, after
    /// the start padding and the symbol ids `context` (the chain-rule factor
    /// [`Self::symbol_log_probs`] uses; only the last n − 1 ids matter).
    pub fn next_log_probs(&self, context: &[u32]) -> Vec<f64> {
        self.log_p_all(self.context_of(context))
    }

    /// Symbol ids of `s` (no end symbol); characters outside the vocabulary
    /// are the unknown id.
    pub fn encode(&self, s: &str) -> Vec<u32> {
        s.chars().map(|c| self.sym(c) as u32).collect()
    }

    /// The text of symbol ids, up to the first boundary (end) symbol.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .take_while(|&&id| id != BOUNDARY as u32)
            .filter_map(|&id| self.header.vocab.glyph(id as usize))
            .collect()
    }

    /// The end symbol id in line mode (text mode has none).
    pub fn end_symbol(&self) -> Option<u32> {
        (self.header.mode == NGramMode::Lines).then_some(BOUNDARY as u32)
    }

    /// Symbol ids the sampler never draws: the unknown symbol, and the
    /// boundary in text mode.
    pub fn never_sampled(&self) -> Vec<u32> {
        match self.header.mode {
            NGramMode::Lines => vec![UNKNOWN as u32],
            NGramMode::Text => vec![BOUNDARY as u32, UNKNOWN as u32],
        }
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
        let log_p = self.log_p_all(ctx);
        let mut logits: Vec<f64> = (0..self.vocab_size() as u16)
            .map(|s| {
                if s == UNKNOWN || (s == BOUNDARY && self.header.mode == NGramMode::Text) {
                    f64::NEG_INFINITY
                } else {
                    log_p[s as usize] / tau
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
            out.extend(self.header.vocab.glyph(sym as usize));
            ctx = ((ctx << 8) | sym as u64) & mask;
        }
        out
    }

    /// Writes the model in a compact binary form: magic, JSON header, count table.
    fn to_bytes(&self) -> Result<Vec<u8>> {
        let (add_k, smoothing) = match self.header.smoothing {
            Smoothing::AddK(k) => (Some(k), None),
            kn => (None, Some(kn)),
        };
        let stored = StoredHeader {
            order: self.header.order,
            add_k,
            mode: self.header.mode,
            vocab: self.header.vocab.iter().copied().collect(),
            smoothing,
        };
        let header = serde_json::to_vec(&stored)
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
        let header: StoredHeader =
            serde_json::from_slice(&r[..hlen]).map_err(|_| bad("header is not valid JSON"))?;
        r = &r[hlen..];
        r.read_exact(&mut len8)
            .map_err(|_| bad("truncated entry count"))?;
        let n = u64::from_le_bytes(len8) as usize;
        if r.len() != n.saturating_mul(14) {
            return Err(bad("count table size does not match its entry count"));
        }
        // The glyphs of the boundary and unknown symbols, then the characters.
        let vocab = CharVocab::from_chars(header.vocab.iter().skip(2).copied());
        let smoothing = match (header.smoothing, header.add_k) {
            (Some(s), _) => s,
            (None, Some(k)) => Smoothing::AddK(k),
            (None, None) => return Err(bad("header names no smoothing (add_k or smoothing)")),
        };
        let mut m = Self::empty(header.order, smoothing, header.mode, vocab)?;
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
        m.finish();
        Ok(m)
    }
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
    fn score(&self, x: &[String], options: &gen_core::ScoreOptions) -> Result<Scores> {
        options.only_default("ngram", "exact, chain rule")?;
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
        let (order, s) = (self.header.order, self.header.smoothing);
        *self = match batch {
            Corpus::Lines(l) => Self::fit_lines(l, order, s)?,
            Corpus::Text(t) => Self::fit_text(t, order, s)?,
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
    /// An unfitted model (for the trainer's learning step to fill); `smoothing`
    /// is a [`Smoothing`], or a bare `f64` for add-k.
    pub fn unfitted(order: usize, smoothing: impl Into<Smoothing>) -> Result<Self> {
        let mut m = Self::empty(
            order,
            smoothing.into(),
            NGramMode::Lines,
            CharVocab::from_chars([]),
        )?;
        m.finish();
        Ok(m)
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

    /// Σ_w p(w | ctx), summed symbol by symbol (the scoring path); also
    /// checks that the whole-distribution path (sampling) agrees with it.
    fn conditional_mass(m: &CharNGram, ctx: u64) -> f64 {
        let each: Vec<f64> = (0..m.vocab_size() as u16)
            .map(|s| m.log_p(ctx, s).exp())
            .collect();
        for (a, b) in each.iter().zip(m.log_p_all(ctx)) {
            assert!((a.ln() - b).abs() < 1e-12, "{} vs {b}", a.ln());
        }
        each.iter().sum()
    }

    /// Seen, partially seen (the full context never occurs but a suffix
    /// does) and unseen contexts of `m`, at most `limit` of each.
    fn contexts_by_kind(m: &CharNGram, limit: usize) -> [Vec<u64>; 3] {
        let n = m.order();
        let mut seen: Vec<u64> = m.context_counts.keys().copied().collect();
        seen.sort_unstable();
        seen.truncate(limit);
        let v = m.vocab_size() as u64;
        let (mut partial, mut unseen) = (Vec::new(), Vec::new());
        // Replace the oldest symbol of seen contexts, or put the unknown
        // symbol in every position.
        for &c in &seen {
            for s in 0..v {
                let alt = if n >= 2 {
                    (c & !(0xff << (8 * (n - 2)))) | (s << (8 * (n - 2)))
                } else {
                    c
                };
                if !m.context_counts.contains_key(&alt) && partial.len() < limit {
                    partial.push(alt);
                }
            }
        }
        let all_unknown = (0..n - 1).fold(0u64, |c, _| (c << 8) | UNKNOWN as u64);
        if !m.context_counts.contains_key(&all_unknown) {
            unseen.push(all_unknown);
        }
        // Symbols the vocabulary does not even have.
        let beyond = (0..n - 1).fold(0u64, |c, _| (c << 8) | 0xfe);
        unseen.push(beyond & m.mask());
        [seen, partial, unseen]
    }

    #[test]
    fn kneser_ney_conditionals_sum_to_one_in_every_context() {
        let lines = ["abba", "abc", "cab", "bacca", "a"];
        let text = "to be, or not to be: that is the question.\nwhether 'tis nobler";
        for order in 1..=5 {
            for discount in [None, Some(0.3), Some(1.0)] {
                let kn = Smoothing::KneserNey { discount };
                for m in [
                    CharNGram::fit_lines(&lines, order, kn).unwrap(),
                    CharNGram::fit_text(text, order, kn).unwrap(),
                ] {
                    let kinds = contexts_by_kind(&m, 400);
                    if order >= 2 {
                        assert!(kinds.iter().all(|k| !k.is_empty()), "order {order}");
                    }
                    for ctx in kinds.concat() {
                        let total = conditional_mass(&m, ctx);
                        assert!((total - 1.0).abs() < 1e-9, "order {order}: {total}");
                    }
                }
            }
        }
        let d = CharNGram::fit_lines(&lines, 3, Smoothing::KNESER_NEY).unwrap();
        let d = d.discounts().unwrap();
        assert_eq!(d.len(), 3);
        assert!(d.iter().all(|&x| x > 0.0 && x <= 1.0), "{d:?}");
        for bad in [0.0, 1.5, f64::NAN] {
            let s = Smoothing::KneserNey {
                discount: Some(bad),
            };
            assert!(CharNGram::fit_lines(&lines, 3, s).is_err());
        }
    }

    #[test]
    fn kneser_ney_uses_continuation_counts_in_lower_orders() {
        // "b" follows only "a" (many times); "c" follows four different
        // characters once each. The bigram counts say b is frequent, but as a
        // continuation c is the more versatile: after an unseen context the
        // unigram level (continuation counts) must prefer c.
        let text = "ab ab ab ab ab ab ab ab dc ec fc gc";
        let m = CharNGram::fit_text(text, 2, Smoothing::KNESER_NEY).unwrap();
        let unigram = CharNGram::fit_text(text, 1, Smoothing::KNESER_NEY).unwrap();
        let id = |c| m.header.vocab.id(c).unwrap() as u16;
        // After "c" (never followed by b or c) both come from the lower order.
        let ctx = id('c') as u64;
        assert!(m.log_p(ctx, id('c')) > m.log_p(ctx, id('b')));
        // The order-1 model, on raw counts, prefers b.
        assert!(unigram.log_p(0, id('b')) > unigram.log_p(0, id('c')));
    }

    #[test]
    fn kneser_ney_checkpoint_round_trip_and_old_add_k_headers() {
        let dir = std::env::temp_dir().join(format!("ngram-kn-ckpt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = CharNGram::fit_text("to be or not to be", 4, Smoothing::KNESER_NEY).unwrap();
        m.save_checkpoint(&dir).unwrap();
        let mut back = CharNGram::unfitted(2, 1.0).unwrap();
        back.load_checkpoint(&dir).unwrap();
        assert_eq!(back.smoothing(), Smoothing::KNESER_NEY);
        assert_eq!(back.discounts(), m.discounts());
        assert_eq!(back.log_prob("not be"), m.log_prob("not be"));
        // An add-k header is written exactly as before Kneser-Ney existed ...
        let a = CharNGram::fit_text("to be or not to be", 3, 0.5).unwrap();
        let bytes = a.to_bytes().unwrap();
        let hlen = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[16..16 + hlen]).unwrap();
        assert!(
            header.starts_with(r#"{"order":3,"add_k":0.5,"mode":"text","vocab":["#)
                && !header.contains("smoothing"),
            "{header}"
        );
        // ... and a header of that form loads as add-k.
        let back = CharNGram::from_bytes(&bytes, &dir).unwrap();
        assert_eq!(back.smoothing(), Smoothing::AddK(0.5));
        assert_eq!(back.log_prob("be or"), a.log_prob("be or"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The Shakespeare train text and add-k (0.01) and Kneser-Ney 5-grams of it, fitted once.
    fn shakespeare_5grams() -> &'static (String, CharNGram, CharNGram) {
        static CELL: std::sync::OnceLock<(String, CharNGram, CharNGram)> =
            std::sync::OnceLock::new();
        CELL.get_or_init(|| {
            let train = gen_data::shakespeare(gen_data::Split::Train).unwrap();
            let add_k = CharNGram::fit_text(&train, 5, 0.01).unwrap();
            let kn = CharNGram::fit_text(&train, 5, Smoothing::KNESER_NEY).unwrap();
            (train, add_k, kn)
        })
    }

    #[test]
    fn kneser_ney_on_shakespeare_normalises_and_beats_add_k() {
        let (_, add_k, kn) = shakespeare_5grams();
        let kinds = contexts_by_kind(kn, 300);
        assert!(kinds.iter().all(|k| !k.is_empty()));
        for ctx in kinds.concat() {
            let total = conditional_mass(kn, ctx);
            assert!((total - 1.0).abs() < 1e-9, "{ctx:x}: {total}");
        }
        let test = gen_data::shakespeare(gen_data::Split::Test).unwrap();
        let (a, k) = (add_k.nll_per_symbol(&test), kn.nll_per_symbol(&test));
        eprintln!("held-out NLL per char, order 5: add-k(0.01) {a:.4}, Kneser-Ney {k:.4}");
        assert!(k < a, "Kneser-Ney {k} vs add-k {a}");
    }

    #[test]
    fn kneser_ney_samples_use_bigrams_of_the_training_text() {
        let (train, _, kn) = shakespeare_5grams();
        let chars: Vec<char> = train.chars().collect();
        let seen: std::collections::HashSet<(char, char)> =
            chars.windows(2).map(|w| (w[0], w[1])).collect();
        let mut rng = rng_from_seed(7);
        let (mut total, mut novel) = (0usize, 0usize);
        for _ in 0..20 {
            let s: Vec<char> = kn.sample_one(1.0, 500, &mut rng).chars().collect();
            assert_eq!(s.len(), 500);
            for w in s.windows(2) {
                total += 1;
                novel += !seen.contains(&(w[0], w[1])) as usize;
            }
        }
        let frac = novel as f64 / total as f64;
        eprintln!("{novel} of {total} sampled bigrams never occur in training ({frac:.5})");
        assert!(frac < 0.01, "{novel} of {total} bigrams unseen");
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
