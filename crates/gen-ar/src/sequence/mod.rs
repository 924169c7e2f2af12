//! Autoregressive models of token sequences: a character GPT as nanoGPT
//! builds it (Radford et al. 2019; Karpathy's nanoGPT) and a character LSTM
//! (Hochreiter & Schmidhuber 1997; Karpathy's char-rnn).
//!
//! # Mathematics
//!
//! A sequence x = (x_1, …, x_n) of token ids in 0..V is factorised by the
//! chain rule, conditioned on its first token (the start token: `'\n'` for
//! Shakespeare as nanoGPT samples it, or [`gen_data::CharVocab::with_boundary`]'s
//! boundary id 0):
//!
//! ```text
//! log p(x_2..x_n | x_1) = Σ_{t=2}^{n} log softmax(f_θ(x_<t))[x_t]
//! ```
//!
//! f_θ is a decoder-only Transformer: token plus learned position
//! embeddings, N pre-LayerNorm blocks x ← x + Attn(LN(x)), x ← x + MLP(LN(x))
//! with causal multi-head self-attention (position t sees positions ≤ t
//! only) and a GELU MLP of 4× width, a final LayerNorm and tied output
//! weights (logits = h Eᵀ with the token table E). Causality makes all n − 1
//! conditionals one parallel pass, so scoring is exact and learning is exact
//! maximum likelihood (mean cross-entropy, nats per character); sampling is
//! sequential, one new token per step through a key/value cache
//! ([`GptDecoder`], [`gen_core::nn::KvCache`]).
//!
//! The model sees at most `block` positions: it scores sequences of up to
//! `block + 1` tokens (a training window) and, when decoding, crops the
//! context to its last `block` tokens (nanoGPT's `idx_cond`).
//!
//! For the LSTM, f_θ is a stack of LSTM layers over token embeddings whose
//! state (h_t, c_t) summarises x_≤t (equations in [`lstm`]). The same chain
//! rule makes scoring exact and learning maximum likelihood, but the pass is
//! sequential in t; sampling carries (h, c) from token to token
//! ([`LstmDecoder`]), and the context is never cropped: `block` is only the
//! training window (truncated back-propagation through time).
//!
//! | model | file | context | decoding cache |
//! |---|---|---|---|
//! | character GPT (`char-gpt`) | [`gpt`] | the last `block` tokens | keys and values per block |
//! | character LSTM (`lstm`) | [`lstm`] | all tokens, through (h, c) | the recurrent state |
//!
//! [`words`] makes either of them a generator of the KM game's words bridge.

pub mod gpt;
pub mod lstm;
#[cfg(test)]
mod lstm_tests;
#[cfg(test)]
mod tests;
pub mod words;

use gen_core::{GenError, Result, Rng};
use rand::Rng as _;

pub use gpt::{CacheStats, CharGpt, GptBlock, GptConfig, GptDecoder, GptNet};
pub use lstm::{CharLstm, LstmConfig, LstmDecoder, LstmLayer, LstmNet, LstmState};
pub use words::{CharWordsGenerator, WordsModel};

/// A batch of B token windows of equal length T + 1, on the host: row b is
/// the input x_1..x_T followed by the last target (the targets are the row
/// shifted by one, x_2..x_{T+1}).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenWindows {
    tokens: Vec<u32>,
    batch: usize,
    len: usize,
    /// Weight of each target `[B, T]` (1 = scored, 0 = padding), when the
    /// rows are sequences of different lengths padded to one length.
    mask: Option<Vec<f32>>,
}

impl TokenWindows {
    /// `batch` windows of `len` tokens each, row-major in `tokens`
    /// (`len ≥ 2`: one input and one target at least).
    pub fn new(tokens: Vec<u32>, batch: usize, len: usize) -> Result<Self> {
        if batch == 0 || len < 2 {
            return Err(GenError::config(
                "token windows",
                format!("{batch} windows of {len} tokens"),
                "a batch needs at least one window of at least 2 tokens (an input and its target)",
                "use windows of block + 1 tokens",
            ));
        }
        if tokens.len() != batch * len {
            return Err(GenError::shape(
                "token windows",
                format!("{batch} × {len} = {} tokens", batch * len),
                format!("{} tokens", tokens.len()),
                "pass batch × window-length tokens, row-major",
            ));
        }
        Ok(Self {
            tokens,
            batch,
            len,
            mask: None,
        })
    }

    /// Rank `rank`'s equal share of the windows in data-parallel training
    /// (contiguous rows, [`gen_core::distributed::shard_range`]). With a
    /// padding mask the ranks' losses are means over different numbers of
    /// scored targets, so their averaged gradient weights targets slightly
    /// unequally; without one it is exactly the whole batch's.
    pub fn shard(&self, rank: usize, size: usize) -> Result<Self> {
        let rows = gen_core::distributed::shard_range(self.batch, rank, size)?;
        let cells = rows.start * self.len..rows.end * self.len;
        Ok(Self {
            tokens: self.tokens[cells.clone()].to_vec(),
            batch: rows.len(),
            len: self.len,
            mask: self.mask.as_ref().map(|m| {
                let t = self.len - 1;
                m[rows.start * t..rows.end * t].to_vec()
            }),
        })
    }

    /// Whole sequences of different lengths as one batch (makemore's
    /// `CharDataset`): each row is a sequence padded with `pad` to `len`
    /// tokens, and only the targets inside a sequence count in the loss,
    ///
    /// ```text
    /// loss = Σ_{b,t} m_{b,t} · (−log p(x_{b,t+1} | x_{b,≤t})) / Σ_{b,t} m_{b,t},
    /// m_{b,t} = 1 if t + 1 < len(sequence b), else 0
    /// ```
    ///
    /// (the padding's own predictions are ignored; causality keeps it out of
    /// the scored positions).
    pub fn padded(sequences: &[Vec<u32>], len: usize, pad: u32) -> Result<Self> {
        if let Some((i, s)) = sequences
            .iter()
            .enumerate()
            .find(|(_, s)| s.len() < 2 || s.len() > len)
        {
            return Err(GenError::input(
                "padded token windows",
                format!(
                    "sequence {i} has {} tokens; every sequence needs 2 to {len} tokens",
                    s.len()
                ),
                "start every sequence with its start token and use a window length of at least the longest sequence",
            ));
        }
        let t = len.saturating_sub(1);
        let mut tokens = Vec::with_capacity(sequences.len() * len);
        let mut mask = Vec::with_capacity(sequences.len() * t);
        for s in sequences {
            tokens.extend_from_slice(s);
            tokens.extend(std::iter::repeat_n(pad, len - s.len()));
            mask.extend((0..t).map(|p| if p + 1 < s.len() { 1.0 } else { 0.0 }));
        }
        let mut w = Self::new(tokens, sequences.len(), len)?;
        w.mask = Some(mask);
        Ok(w)
    }

    /// The weight of every target `[B, T]`, row-major, when the rows are
    /// padded sequences ([`TokenWindows::padded`]); `None` when every target counts.
    pub fn target_mask(&self) -> Option<&[f32]> {
        self.mask.as_deref()
    }

    /// `batch` windows of `block + 1` consecutive tokens of `stream`, each
    /// starting at an offset drawn uniformly from 0..=n − block − 1
    /// (nanoGPT's `get_batch`).
    pub fn random(stream: &[u32], batch: usize, block: usize, rng: &mut Rng) -> Result<Self> {
        let len = block + 1;
        if stream.len() < len {
            return Err(GenError::input(
                "token windows",
                format!(
                    "the token stream has {} tokens, fewer than one window of block + 1 = {len}",
                    stream.len()
                ),
                "use more text or a smaller block",
            ));
        }
        let mut tokens = Vec::with_capacity(batch * len);
        for _ in 0..batch {
            let start = rng.random_range(0..=stream.len() - len);
            tokens.extend_from_slice(&stream[start..start + len]);
        }
        Self::new(tokens, batch, len)
    }

    /// Number of windows B.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Tokens per window, T + 1.
    pub fn window_len(&self) -> usize {
        self.len
    }

    /// Predicted positions per window, T.
    pub fn context_len(&self) -> usize {
        self.len - 1
    }

    /// Window `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.tokens[i * self.len..(i + 1) * self.len]
    }

    /// All tokens, row-major.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Inputs x_1..x_T and targets x_2..x_{T+1} of every row, row-major `[B, T]`.
    pub(crate) fn inputs_targets(&self) -> (Vec<i64>, Vec<i64>) {
        let t = self.len - 1;
        let mut inputs = Vec::with_capacity(self.batch * t);
        let mut targets = Vec::with_capacity(self.batch * t);
        for b in 0..self.batch {
            let row = self.row(b);
            inputs.extend(row[..t].iter().map(|&v| v as i64));
            targets.extend(row[1..].iter().map(|&v| v as i64));
        }
        (inputs, targets)
    }
}

/// `text` as token ids of `vocab` (u32, as [`crate::decoding::NextToken`] takes them).
pub fn encode(vocab: &gen_data::CharVocab, text: &str) -> Result<Vec<u32>> {
    Ok(vocab.encode(text)?.into_iter().map(|i| i as u32).collect())
}

/// The text of token ids of `vocab` (special tokens as their glyphs).
pub fn decode(vocab: &gen_data::CharVocab, tokens: &[u32]) -> String {
    tokens
        .iter()
        .map(|&t| {
            vocab
                .glyph(t as usize)
                .unwrap_or(gen_data::vocab::UNKNOWN_GLYPH)
        })
        .collect()
}
