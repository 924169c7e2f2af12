//! One decoding interface for every next-token model, from the character
//! n-gram to the LSTM and the Transformer.
//!
//! A model implements [`NextToken`] (its next-token logits given a context);
//! [`generate`] turns it into text with any of
//!
//! | strategy | options |
//! |---|---|
//! | greedy (argmax) | `greedy: true` |
//! | ancestral sampling | `temperature`, `top_k`, `top_p` (nucleus), `min_p` |
//! | beam search | `beam_width`, `length_penalty` |
//!
//! plus a `repetition_penalty` for all three, and stopping on an end token,
//! a stop string or `max_tokens`. One sampling step follows the
//! Hugging Face order:
//!
//! 1. repetition penalty θ on every token already in the context (prompt and
//!    generated): a positive logit is divided by θ, a negative one multiplied
//!    (Keskar et al. 2019, CTRL);
//! 2. temperature τ: logits / τ, then softmax;
//! 3. top-k: the k most probable tokens;
//! 4. top-p: the smallest set of most probable tokens whose mass is ≥ p;
//! 5. min-p: the tokens with p ≥ min_p · p_max;
//!
//! renormalising after each filter ([`next_token_distribution`]). Ties are
//! broken towards the lower token id everywhere, so top-k = 1, top-p → 0 and
//! beam width 1 all reproduce greedy decoding exactly.

use gen_core::{GenError, Result, Rng, rng_from_seed};
use rand::Rng as _;

/// A model of the next token given the tokens before it.
pub trait NextToken {
    /// The number of token ids V.
    fn vocab_size(&self) -> usize;

    /// V logits of the next token after `context` (the prompt followed by
    /// the tokens generated so far): normalised log-probabilities or raw
    /// logits (the decoder applies a softmax). −∞ marks a token that cannot
    /// come next.
    fn next_log_probs(&self, context: &[u32]) -> Result<Vec<f64>>;

    /// The token that ends a sequence, if the model has one (it stops
    /// decoding and is not part of the output).
    fn end_token(&self) -> Option<u32> {
        None
    }

    /// The text of a token, for stop strings (`None`: the model has no text).
    fn token_text(&self, _token: u32) -> Option<String> {
        None
    }
}

/// The character n-gram: symbol ids of [`gen_classical::CharNGram::encode`],
/// the start padding before the context, and the distribution its own
/// sampler draws from (the unknown symbol, and the boundary of a text model,
/// are never generated).
impl NextToken for gen_classical::CharNGram {
    fn vocab_size(&self) -> usize {
        gen_classical::CharNGram::vocab_size(self)
    }

    fn next_log_probs(&self, context: &[u32]) -> Result<Vec<f64>> {
        let v = gen_classical::CharNGram::vocab_size(self);
        if let Some(&bad) = context.iter().find(|&&t| t as usize >= v) {
            return Err(GenError::input(
                "CharNGram::next_log_probs",
                format!("token {bad} is outside the vocabulary of {v} symbols"),
                "encode the prompt with CharNGram::encode",
            ));
        }
        let mut lp = gen_classical::CharNGram::next_log_probs(self, context);
        for t in self.never_sampled() {
            lp[t as usize] = f64::NEG_INFINITY;
        }
        Ok(log_softmax(&lp))
    }

    fn end_token(&self) -> Option<u32> {
        self.end_symbol()
    }

    fn token_text(&self, token: u32) -> Option<String> {
        Some(self.decode(&[token]))
    }
}

/// How to decode: strategy, filters, penalties, stopping and seed.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    /// The most tokens to generate (the end token not counted).
    pub max_tokens: usize,
    /// Take the most probable token at every step (after the repetition penalty).
    pub greedy: bool,
    /// Temperature τ > 0 of sampling: logits / τ (1 samples the model).
    pub temperature: f64,
    /// Sample among the k most probable tokens only (k ≥ 1).
    pub top_k: Option<usize>,
    /// Nucleus sampling: the smallest set of most probable tokens with mass ≥ p, p in (0, 1].
    pub top_p: Option<f64>,
    /// Keep the tokens with p ≥ min_p · p_max, min_p in [0, 1].
    pub min_p: Option<f64>,
    /// θ > 0 on the logits of tokens already in the context (1 = none; > 1 discourages repeats).
    pub repetition_penalty: f64,
    /// Beam search with this many beams (≥ 1) instead of greedy or sampling.
    pub beam_width: Option<usize>,
    /// Beam search ranks finished sequences by log p / length^α with this α
    /// (the Hugging Face convention; 0 = raw log-probability, > 0 favours longer sequences).
    pub length_penalty: f64,
    /// Stop once the generated text contains any of these (the token that
    /// completes it is kept).
    pub stop: Vec<String>,
    /// Seed of the sampler.
    pub seed: u64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            greedy: false,
            temperature: 1.0,
            top_k: None,
            top_p: None,
            min_p: None,
            repetition_penalty: 1.0,
            beam_width: None,
            length_penalty: 1.0,
            stop: Vec::new(),
            seed: 0,
        }
    }
}

impl DecodeOptions {
    /// Greedy decoding of at most `max_tokens` tokens.
    pub fn greedy(max_tokens: usize) -> Self {
        Self {
            max_tokens,
            greedy: true,
            ..Self::default()
        }
    }

    /// Ancestral sampling at temperature `temperature` with `seed`.
    pub fn sampling(max_tokens: usize, temperature: f64, seed: u64) -> Self {
        Self {
            max_tokens,
            temperature,
            seed,
            ..Self::default()
        }
    }

    /// Beam search with `width` beams and length penalty α = `length_penalty`.
    pub fn beam(max_tokens: usize, width: usize, length_penalty: f64) -> Self {
        Self {
            max_tokens,
            beam_width: Some(width),
            length_penalty,
            ..Self::default()
        }
    }

    /// Errors, saying what to use instead, for any option out of its range
    /// or combination that would be silently ignored.
    pub fn validate(&self) -> Result<()> {
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(GenError::config(
                "temperature",
                t,
                "must be finite and > 0 (it divides the logits)",
                "for the most probable token at every step use greedy decoding (greedy: true); \
                 otherwise use 1.0 to sample the model, below 1 for sharper samples",
            ));
        }
        if self.top_k == Some(0) {
            return Err(GenError::config(
                "top_k",
                0,
                "must be at least 1 (top-k 0 would keep no token)",
                "use 1 for greedy, 40 as a common choice, or leave top_k unset for no limit",
            ));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(GenError::config(
                "top_p",
                p,
                "must be in (0, 1] (the probability mass to keep)",
                "use 0.9 or 0.95; 1 keeps every token",
            ));
        }
        if let Some(m) = self.min_p
            && !(0.0..=1.0).contains(&m)
        {
            return Err(GenError::config(
                "min_p",
                m,
                "must be in [0, 1] (a fraction of the top token's probability)",
                "use 0.05 or 0.1; 0 keeps every token",
            ));
        }
        let r = self.repetition_penalty;
        if !(r.is_finite() && r > 0.0) {
            return Err(GenError::config(
                "repetition_penalty",
                r,
                "must be finite and > 0",
                "use 1.0 for none, 1.1 to 1.3 to discourage repeats",
            ));
        }
        if !self.length_penalty.is_finite() {
            return Err(GenError::config(
                "length_penalty",
                self.length_penalty,
                "must be finite",
                "use 1.0 (the Hugging Face default) or 0 for raw log-probabilities",
            ));
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(GenError::config(
                "stop",
                "\"\"",
                "an empty stop string would stop before the first token",
                "remove the empty string",
            ));
        }
        if let Some(w) = self.beam_width {
            if w == 0 {
                return Err(GenError::config(
                    "beam_width",
                    0,
                    "must be at least 1",
                    "use 1 (the same as greedy) to 5, or leave beam_width unset to sample",
                ));
            }
            let sampling = [
                (self.greedy, "greedy"),
                (self.top_k.is_some(), "top_k"),
                (self.top_p.is_some(), "top_p"),
                (self.min_p.is_some(), "min_p"),
                (t != 1.0, "temperature"),
            ];
            if let Some((_, name)) = sampling.iter().find(|(set, _)| *set) {
                return Err(GenError::config(
                    *name,
                    "set",
                    "beam search ranks sequences by the model's probabilities; \
                     greedy, temperature and the sampling filters do not apply",
                    format!("drop {name}, or drop beam_width to sample"),
                ));
            }
        }
        Ok(())
    }
}

/// log softmax of `logits` (−∞ stays −∞).
fn log_softmax(logits: &[f64]) -> Vec<f64> {
    let lse = gen_core::numerics::log_sum_exp(logits);
    if lse == f64::NEG_INFINITY {
        return logits.to_vec();
    }
    logits.iter().map(|l| l - lse).collect()
}

/// Applies the repetition penalty θ to the logits of the tokens in
/// `context`, once per distinct token: l / θ if l > 0, else l · θ.
pub fn apply_repetition_penalty(logits: &mut [f64], context: &[u32], penalty: f64) {
    if penalty == 1.0 {
        return;
    }
    let mut seen = vec![false; logits.len()];
    for &t in context {
        if let Some(s) = seen.get_mut(t as usize)
            && !*s
        {
            *s = true;
            let l = &mut logits[t as usize];
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

/// Token ids by decreasing probability, ties towards the lower id.
fn ranked(probs: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
}

/// Zeroes every token outside `keep` (the first `n` of `order`) and renormalises.
fn keep_first(probs: &mut [f64], order: &[usize], n: usize) {
    for &i in &order[n..] {
        probs[i] = 0.0;
    }
    renormalise(probs);
}

fn renormalise(probs: &mut [f64]) {
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
}

/// The distribution the sampler draws the next token from, given the
/// model's `logits` after `context`: repetition penalty, temperature,
/// softmax, then top-k, top-p and min-p, renormalising after each (filtered
/// tokens have probability 0).
pub fn next_token_distribution(
    logits: &[f64],
    context: &[u32],
    opts: &DecodeOptions,
) -> Result<Vec<f64>> {
    opts.validate()?;
    let mut l = checked(logits)?;
    apply_repetition_penalty(&mut l, context, opts.repetition_penalty);
    let scaled: Vec<f64> = l.iter().map(|x| x / opts.temperature).collect();
    let mut probs: Vec<f64> = log_softmax(&scaled).into_iter().map(f64::exp).collect();
    let order = ranked(&probs);
    if let Some(k) = opts.top_k {
        let n = k.min(probs.len());
        keep_first(&mut probs, &order, n);
    }
    if let Some(p) = opts.top_p {
        // The smallest prefix of the ranking with mass >= p (at least one token).
        let mut mass = 0.0;
        let mut n = 0;
        for &i in &order {
            if probs[i] == 0.0 {
                break;
            }
            mass += probs[i];
            n += 1;
            if mass >= p {
                break;
            }
        }
        keep_first(&mut probs, &order, n.max(1));
    }
    if let Some(m) = opts.min_p {
        let floor = m * probs[order[0]];
        let n = order.iter().take_while(|&&i| probs[i] >= floor).count();
        keep_first(&mut probs, &order, n.max(1));
    }
    Ok(probs)
}

/// The logits as a vector, refusing NaN, +∞ and all-impossible rows.
fn checked(logits: &[f64]) -> Result<Vec<f64>> {
    let bad = logits.iter().any(|l| l.is_nan() || *l == f64::INFINITY);
    if bad || logits.iter().all(|l| *l == f64::NEG_INFINITY) {
        return Err(GenError::input(
            "decoding",
            "the model's next-token logits contain NaN or +inf, or rule out every token",
            "check the model (a diverged checkpoint gives NaN logits)",
        ));
    }
    Ok(logits.to_vec())
}

/// The model's logits after `context`, checked to have V entries.
fn logits_of<M: NextToken + ?Sized>(model: &M, context: &[u32]) -> Result<Vec<f64>> {
    let l = model.next_log_probs(context)?;
    if l.len() != model.vocab_size() {
        return Err(GenError::input(
            "decoding",
            format!(
                "the model returned {} logits for a vocabulary of {}",
                l.len(),
                model.vocab_size()
            ),
            "return one logit per token id from next_log_probs",
        ));
    }
    Ok(l)
}

/// The first id of the largest value.
fn argmax(x: &[f64]) -> usize {
    ranked(x)[0]
}

fn sample_from(probs: &[f64], rng: &mut Rng) -> usize {
    let mut u: f64 = rng.random();
    let mut last = 0;
    for (i, &p) in probs.iter().enumerate() {
        if p > 0.0 {
            if u < p {
                return i;
            }
            u -= p;
            last = i;
        }
    }
    last
}

/// Tracks the generated text for stop strings.
struct StopCheck<'a> {
    stop: &'a [String],
    text: String,
}

impl<'a> StopCheck<'a> {
    fn new<M: NextToken + ?Sized>(model: &M, stop: &'a [String]) -> Result<Self> {
        if !stop.is_empty() && model.token_text(0).is_none() {
            return Err(GenError::config(
                "stop",
                stop.join(", "),
                "this model has no text for its tokens, so stop strings cannot match",
                "stop on max_tokens or the end token instead",
            ));
        }
        Ok(Self {
            stop,
            text: String::new(),
        })
    }

    /// Appends a token's text; true if the text now contains a stop string.
    fn push<M: NextToken + ?Sized>(&mut self, model: &M, token: u32) -> bool {
        if self.stop.is_empty() {
            return false;
        }
        let piece = model.token_text(token).unwrap_or_default();
        self.text.push_str(&piece);
        // A match that was not there before ends inside the new piece.
        let longest = self.stop.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut start = self.text.len().saturating_sub(longest + piece.len());
        while !self.text.is_char_boundary(start) {
            start -= 1;
        }
        let tail = &self.text[start..];
        self.stop.iter().any(|s| tail.contains(s.as_str()))
    }
}

/// Generates up to `opts.max_tokens` tokens after `prompt`: greedy,
/// sampling or beam search as `opts` says. Each generated token is passed to
/// `on_token` as soon as it is chosen (beam search passes the best sequence
/// when it is done). Returns the generated tokens, without the prompt and
/// without the end token.
pub fn generate<M: NextToken + ?Sized>(
    model: &M,
    prompt: &[u32],
    opts: &DecodeOptions,
    mut on_token: impl FnMut(u32),
) -> Result<Vec<u32>> {
    opts.validate()?;
    if opts.beam_width.is_some() {
        let hypotheses = beam_search(model, prompt, opts)?;
        let best = hypotheses.into_iter().next().map(|h| h.tokens);
        let best = best.unwrap_or_default();
        best.iter().for_each(|&t| on_token(t));
        return Ok(best);
    }
    let mut rng = rng_from_seed(opts.seed);
    let mut stop = StopCheck::new(model, &opts.stop)?;
    let mut context = prompt.to_vec();
    let mut out = Vec::new();
    while out.len() < opts.max_tokens {
        let logits = logits_of(model, &context)?;
        let token = if opts.greedy {
            let mut l = checked(&logits)?;
            apply_repetition_penalty(&mut l, &context, opts.repetition_penalty);
            argmax(&l)
        } else {
            sample_from(&next_token_distribution(&logits, &context, opts)?, &mut rng)
        } as u32;
        if Some(token) == model.end_token() {
            break;
        }
        context.push(token);
        out.push(token);
        on_token(token);
        if stop.push(model, token) {
            break;
        }
    }
    Ok(out)
}

/// A finished beam-search hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The generated tokens (without the prompt and the end token).
    pub tokens: Vec<u32>,
    /// Σ log p of its tokens (the end token included when it ended on one),
    /// under the model's logits after the repetition penalty.
    pub log_prob: f64,
    /// The rank score log_prob / length^α, length counting the end token.
    pub score: f64,
}

struct Beam<'a> {
    tokens: Vec<u32>,
    log_prob: f64,
    stop: StopCheck<'a>,
}

/// Beam search with `opts.beam_width` beams: at each step every live beam is
/// extended by every token, and the `width` best extensions by total
/// log-probability stay live; an extension ending in the end token or a stop
/// string is finished, ranked by log p / length^α (only the first `width`
/// candidates of a step may finish, as in Hugging Face). The search stops
/// after `max_tokens` steps, or once `width` hypotheses are finished and
/// no live beam scores above the worst of them. Returns up to `width`
/// hypotheses, best first.
pub fn beam_search<M: NextToken + ?Sized>(
    model: &M,
    prompt: &[u32],
    opts: &DecodeOptions,
) -> Result<Vec<Hypothesis>> {
    opts.validate()?;
    let width = opts.beam_width.unwrap_or(1);
    let alpha = opts.length_penalty;
    let score = |log_prob: f64, len: usize| log_prob / (len.max(1) as f64).powf(alpha);
    let mut live = vec![Beam {
        tokens: Vec::new(),
        log_prob: 0.0,
        stop: StopCheck::new(model, &opts.stop)?,
    }];
    let mut finished: Vec<Hypothesis> = Vec::new();
    let by_score = |a: &Hypothesis, b: &Hypothesis| b.score.total_cmp(&a.score);
    for step in 0..opts.max_tokens {
        let len = step + 1;
        let mut candidates: Vec<(f64, usize, u32)> = Vec::new();
        for (b, beam) in live.iter().enumerate() {
            let context: Vec<u32> = prompt.iter().chain(&beam.tokens).copied().collect();
            let mut l = checked(&logits_of(model, &context)?)?;
            apply_repetition_penalty(&mut l, &context, opts.repetition_penalty);
            for (t, lp) in log_softmax(&l).into_iter().enumerate() {
                if lp > f64::NEG_INFINITY {
                    candidates.push((beam.log_prob + lp, b, t as u32));
                }
            }
        }
        candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2))));
        let mut next: Vec<Beam> = Vec::new();
        for (rank, &(log_prob, b, t)) in candidates.iter().enumerate() {
            if next.len() == width {
                break;
            }
            let parent = &live[b];
            if Some(t) == model.end_token() {
                if rank < width {
                    finished.push(Hypothesis {
                        tokens: parent.tokens.clone(),
                        log_prob,
                        score: score(log_prob, len),
                    });
                }
                continue;
            }
            let mut tokens = parent.tokens.clone();
            tokens.push(t);
            let mut stop = StopCheck {
                stop: parent.stop.stop,
                text: parent.stop.text.clone(),
            };
            if stop.push(model, t) {
                if rank < width {
                    finished.push(Hypothesis {
                        tokens,
                        log_prob,
                        score: score(log_prob, len),
                    });
                }
                continue;
            }
            next.push(Beam {
                tokens,
                log_prob,
                stop,
            });
        }
        finished.sort_by(by_score);
        finished.truncate(width);
        live = next;
        let best_live = live
            .first()
            .map_or(f64::NEG_INFINITY, |b| score(b.log_prob, len));
        if live.is_empty()
            || (finished.len() == width && finished.last().is_some_and(|w| best_live <= w.score))
        {
            live.clear();
            break;
        }
    }
    for b in live {
        let len = b.tokens.len();
        finished.push(Hypothesis {
            score: score(b.log_prob, len),
            tokens: b.tokens,
            log_prob: b.log_prob,
        });
    }
    finished.sort_by(by_score);
    finished.truncate(width);
    Ok(finished)
}
