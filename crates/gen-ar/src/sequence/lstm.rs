//! A character LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of
//! Gers et al. 2000), as Karpathy's char-rnn and Zaremba et al. (2014) use it.
//!
//! # Mathematics
//!
//! Token x_t is embedded, e_t = E\[x_t\] (E: V × e), and runs through L
//! stacked LSTM layers. Layer l has input u_t (e_t for the first layer, the
//! previous layer's h_t above it, width d_l), hidden state h_t and cell c_t
//! (width H), both zero before the first token, and one fused linear map W_l
//! ((d_l + H) × 4H) with bias b_l (4H) on the concatenation [u_t, h_{t−1}]:
//!
//! ```text
//! z_t = [u_t, h_{t−1}] W_l + b_l = (z_i, z_f, z_g, z_o)   (four blocks of H)
//! i_t = σ(z_i)        input gate
//! f_t = σ(z_f)        forget gate
//! g_t = tanh(z_g)     candidate cell
//! o_t = σ(z_o)        output gate
//! c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
//! h_t = o_t ⊙ tanh(c_t)
//! ```
//!
//! The logits of the next token are a linear head on the top layer,
//! ℓ_t = h_t^L W_out + b_out (H → V), and
//!
//! ```text
//! log p(x_2..x_n | x_1) = Σ_{t=1}^{n−1} log softmax(ℓ_t)[x_{t+1}]
//! ```
//!
//! ℓ_t depends on x_1..x_t only (causality), so scoring is exact for a
//! sequence of any length. The recurrence is sequential in t: one forward
//! pass runs T steps of L layers (scoring and learning are still one pass
//! over a batch of sequences, but not parallel in time as the GPT's are).
//!
//! | piece | here | char-rnn / PyTorch `nn.LSTM` |
//! |---|---|---|
//! | embedding | `embed` (V × e), N(0, 1) | `nn.Embedding` (N(0, 1)); char-rnn: one-hot |
//! | layers | L layers, gates i, f, g, o from one fused linear on [u, h] | `nn.LSTM` (gate order i, f, g, o; two biases) |
//! | init | W, b ~ U(±1/√(d_l + H)); forget-gate bias 1 | PyTorch U(±1/√H); forget bias 1: Jozefowicz et al. (2015) |
//! | dropout | on the embeddings, between layers and before the head (never on the recurrence) | Zaremba et al. (2014); `nn.LSTM(dropout=)` between layers |
//! | head | linear H → V | `nn.Linear` |
//! | training | windows of `block + 1` characters, each from the zero state (truncated back-propagation through `block` steps) | char-rnn `seq_length` |
//! | optimiser | AdamW β = (0.9, 0.99), weight decay 0.01, global gradient norm clipped to 5 | Zaremba: clip norm 5 |
//!
//! The block length limits training only: every training window starts from
//! the zero state, so the model learns to use up to `block` characters of
//! context, but it scores and decodes sequences of any length, the state
//! (h, c) carrying the whole context ([`LstmDecoder`] never crops).
//!
//! All weights come from the host RNG, so the same seed builds the same
//! model on every backend.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::{Init, TokenEmbedding, TokenEmbeddingConfig, linear};
use gen_core::optim::{OptimConfig, OptimKind, Optimized};
use gen_core::tensor::to_vec;
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Model, Result, Rng, Sample, SampleOptions, Score,
    ScoreOptions, Scores, StepContext, StepStats, TaskSupport, rng_from_seed,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::TokenWindows;
use super::gpt::CacheStats;
use crate::decoding::NextToken;

/// The name in the capability table.
pub const NAME: &str = "lstm";

/// How the model scores, in words.
const SCORE_HOW: &str = "exact chain rule: the sum over positions of log softmax of the next-token logits, one recurrent pass from the zero state (sequences of any length, conditioned on the first token)";

/// Sequences scored per forward pass.
const SCORE_CHUNK: usize = 64;

/// Shape, dropout and optimiser of a [`CharLstm`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LstmConfig {
    /// Vocabulary size V (token ids 0..V).
    pub vocab: usize,
    /// Training window: positions per window, the length of truncated
    /// back-propagation through time (decoding and scoring are not limited to it).
    pub block: usize,
    /// Embedding width e.
    pub embed: usize,
    /// Hidden (and cell) width H of every layer.
    pub hidden: usize,
    /// Stacked LSTM layers L.
    pub layers: usize,
    /// Dropout probability on the non-recurrent connections, in [0, 1).
    pub dropout: f64,
    /// Optimiser ([`LstmConfig::default_optim`]).
    pub optim: OptimConfig,
}

impl LstmConfig {
    /// An LSTM over `vocab` tokens with embedding width `embed` and `layers`
    /// layers of width `hidden`, trained on windows of `block` positions;
    /// no dropout, [`LstmConfig::default_optim`].
    pub fn new(vocab: usize, block: usize, embed: usize, hidden: usize, layers: usize) -> Self {
        Self {
            vocab,
            block,
            embed,
            hidden,
            layers,
            dropout: 0.0,
            optim: Self::default_optim(),
        }
    }

    /// Karpathy's char-rnn defaults: 2 layers of 128 units, windows of 50
    /// characters (char-rnn feeds one-hot characters; here an embedding of
    /// width 64).
    pub fn char_rnn(vocab: usize) -> Self {
        Self::new(vocab, 50, 64, 128, 2)
    }

    /// AdamW with β = (0.9, 0.99), ε = 1e-8, weight decay 0.01 and the global
    /// gradient norm clipped to 5 (Zaremba et al. 2014 clip at 5: the
    /// recurrence can make gradients explode).
    pub fn default_optim() -> OptimConfig {
        OptimConfig {
            kind: OptimKind::AdamW,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
            grad_clip_norm: Some(5.0),
            decay_matrices_only: false,
        }
    }

    /// Errors, naming the field and a fix, unless the configuration builds a model.
    pub fn validate(&self) -> Result<()> {
        let positive = |field: &str, v: usize, fix: &str| {
            if v == 0 {
                Err(GenError::config(
                    format!("{NAME} {field}"),
                    v,
                    "must be at least 1",
                    fix,
                ))
            } else {
                Ok(())
            }
        };
        positive(
            "vocab",
            self.vocab,
            "use the vocabulary size of the tokenizer (CharVocab::len)",
        )?;
        positive(
            "block",
            self.block,
            "the training window, e.g. 50 (char-rnn) or 64",
        )?;
        positive("embed", self.embed, "e.g. an embedding width of 64")?;
        positive("hidden", self.hidden, "e.g. 128 (char-rnn) or 256 units")?;
        positive("layers", self.layers, "e.g. 2 layers (char-rnn)")?;
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(GenError::config(
                format!("{NAME} dropout"),
                self.dropout,
                "must lie in [0, 1)",
                "use 0.0 for small data or short runs, 0.2 to 0.5 for long ones (Zaremba et al.)",
            ));
        }
        let o = &self.optim;
        for (field, b) in [("beta1", o.beta1), ("beta2", o.beta2)] {
            if !(b.is_finite() && (0.0..1.0).contains(&b)) {
                return Err(GenError::config(
                    format!("{NAME} optimiser {field}"),
                    b,
                    "must lie in [0, 1)",
                    "use beta1 0.9 and beta2 0.99",
                ));
            }
        }
        if !(o.eps.is_finite() && o.eps > 0.0) {
            return Err(GenError::config(
                format!("{NAME} optimiser eps"),
                o.eps,
                "must be finite and > 0",
                "use 1e-8",
            ));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return Err(GenError::config(
                format!("{NAME} weight decay"),
                o.weight_decay,
                "must be finite and ≥ 0",
                "use 0.01, or 0 for none",
            ));
        }
        if let Some(c) = o.grad_clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(GenError::config(
                format!("{NAME} gradient clipping"),
                c,
                "must be finite and > 0",
                "clip the gradient norm to 5.0 (Zaremba et al.); use None for no clipping",
            ));
        }
        Ok(())
    }

    /// The number of parameters:
    /// V·e + Σ_l 4H·(d_l + H + 1) + H·V + V, with d_1 = e and d_l = H above.
    pub fn parameters(&self) -> usize {
        let h = self.hidden;
        let layers: usize = (0..self.layers)
            .map(|l| {
                let d = if l == 0 { self.embed } else { h };
                4 * h * (d + h + 1)
            })
            .sum();
        self.vocab * self.embed + layers + h * self.vocab + self.vocab
    }
}

/// One LSTM layer: the four gates from one fused linear map on [u, h].
#[derive(Module, Debug)]
pub struct LstmLayer {
    /// W `[d_in + H, 4H]` and b `[4H]`; the columns are the gate blocks
    /// i, f, g, o, the rows the input u (first d_in) then h (last H).
    pub gates: Linear,
}

impl LstmLayer {
    /// A layer from `d_in` inputs to `hidden` units with W, b ~
    /// U(±1/√(d_in + H)) drawn from `rng` (weights, then biases) and the
    /// forget-gate biases set to 1, so the cell starts out remembering.
    pub fn init(d_in: usize, hidden: usize, rng: &mut Rng, device: &Device) -> Self {
        let fan_in = d_in + hidden;
        let w = Init::Default.weights(fan_in * 4 * hidden, fan_in, rng);
        let mut b = Init::Default.biases(4 * hidden, fan_in, rng);
        b[hidden..2 * hidden].fill(1.0);
        Self {
            gates: Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(w, [fan_in, 4 * hidden]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(b, [4 * hidden]),
                    device,
                ))),
            },
        }
    }

    /// Hidden width H.
    pub fn hidden(&self) -> usize {
        self.gates.weight.dims()[1] / 4
    }

    /// Input width d_in.
    pub fn d_in(&self) -> usize {
        self.gates.weight.dims()[0] - self.hidden()
    }

    /// One position of the recurrence (see the [module docs](self)):
    /// z = [u, h] W + b, then the new (h, c).
    ///
    /// # Shapes
    /// - `u`: `[B, d_in]`, `h`, `c`: `[B, H]` → `[B, H]`, `[B, H]`
    pub fn step(&self, u: Tensor<2>, h: Tensor<2>, c: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let [b, hid] = h.dims();
        let z = self.gates.forward(Tensor::cat(vec![u, h], 1));
        let i = activation::sigmoid(z.clone().slice([0..b, 0..hid]));
        let f = activation::sigmoid(z.clone().slice([0..b, hid..2 * hid]));
        let g = gen_core::nn::ops::tanh(z.clone().slice([0..b, 2 * hid..3 * hid]));
        let o = activation::sigmoid(z.slice([0..b, 3 * hid..4 * hid]));
        let c = f * c + i * g;
        let h = o * gen_core::nn::ops::tanh(c.clone());
        (h, c)
    }
}

/// The recurrent state of an [`LstmNet`]: (h, c) of every layer after the
/// positions fed so far.
#[derive(Debug, Clone)]
pub struct LstmState {
    /// h of every layer, `[B, H]` each.
    pub h: Vec<Tensor<2>>,
    /// c of every layer, `[B, H]` each.
    pub c: Vec<Tensor<2>>,
    positions: usize,
}

impl LstmState {
    /// Positions fed through this state so far.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// Rows B.
    pub fn batch(&self) -> usize {
        self.h.first().map_or(0, |h| h.dims()[0])
    }
}

/// The network of a [`CharLstm`].
#[derive(Module, Debug)]
pub struct LstmNet {
    /// Token table E, `[V, e]`.
    pub embed: TokenEmbedding,
    /// The stacked LSTM layers.
    pub layers: Vec<LstmLayer>,
    /// Dropout on the embeddings, between layers and before the head.
    pub drop: Dropout,
    /// Output layer H → V.
    pub head: Linear,
}

impl LstmNet {
    /// Builds the network with weights drawn from `rng` in the order: token
    /// table, each layer's gates (weights, then biases), the head.
    pub fn init(config: &LstmConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        config.validate()?;
        let embed = TokenEmbeddingConfig {
            std: 1.0,
            ..TokenEmbeddingConfig::new(config.vocab, config.embed)
        }
        .init(rng, device)?;
        let layers = (0..config.layers)
            .map(|l| {
                let d_in = if l == 0 { config.embed } else { config.hidden };
                LstmLayer::init(d_in, config.hidden, rng, device)
            })
            .collect();
        Ok(Self {
            embed,
            layers,
            drop: DropoutConfig::new(config.dropout).init(),
            head: linear(config.hidden, config.vocab, Init::Default, rng, device),
        })
    }

    /// Vocabulary size V.
    pub fn vocab(&self) -> usize {
        self.embed.vocab()
    }

    /// Hidden width H.
    pub fn hidden(&self) -> usize {
        self.head.weight.dims()[0]
    }

    /// The zero state (h = c = 0 in every layer) of `batch` rows, on the
    /// network's device.
    pub fn new_state(&self, batch: usize) -> LstmState {
        let device = self.head.weight.val().device();
        let zeros = || Tensor::<2>::zeros([batch, self.hidden()], &device);
        LstmState {
            h: self.layers.iter().map(|_| zeros()).collect(),
            c: self.layers.iter().map(|_| zeros()).collect(),
            positions: 0,
        }
    }

    /// Next-token logits at every position, from the zero state.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` (any T ≥ 1) → `[B, T, V]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Result<Tensor<3>> {
        let mut state = self.new_state(tokens.dims()[0]);
        self.forward_step(tokens, &mut state)
    }

    /// Logits of `t` new positions after the P positions already in `state`,
    /// which moves on to P + t. Feeding a sequence in pieces gives the rows
    /// of [`LstmNet::forward`] on the whole sequence. On an error the state
    /// is left as it was.
    ///
    /// # Shapes
    /// - `tokens`: `[B, t]` (t ≥ 1, B the state's rows) → `[B, t, V]`
    pub fn forward_step(&self, tokens: Tensor<2, Int>, state: &mut LstmState) -> Result<Tensor<3>> {
        let [b, t] = tokens.dims();
        if state.h.len() != self.layers.len() || state.c.len() != self.layers.len() {
            return Err(GenError::input(
                "LSTM forward_step",
                format!(
                    "a state of {} layers for a network of {}",
                    state.h.len(),
                    self.layers.len()
                ),
                "start from LstmNet::new_state",
            ));
        }
        if state.batch() != b {
            return Err(GenError::shape(
                "LSTM forward_step",
                format!("{} rows (the state's)", state.batch()),
                format!("{b} rows of tokens"),
                "feed as many rows as LstmNet::new_state was given",
            ));
        }
        if t == 0 {
            return Err(GenError::input(
                "LSTM forward_step",
                "no positions",
                "feed at least one token",
            ));
        }
        // Position by position, every layer: only the (integer) tokens are
        // sliced, so back-propagation never pads a gradient to [B, T, ·].
        let mut h = state.h.clone();
        let mut c = state.c.clone();
        let mut top = Vec::with_capacity(t);
        let e = self.embed.d_model();
        for s in 0..t {
            let token = tokens.clone().slice([0..b, s..s + 1]);
            let mut u = self.drop.forward(self.embed.forward(token).reshape([b, e]));
            for (l, layer) in self.layers.iter().enumerate() {
                let (hn, cn) = layer.step(u, h[l].clone(), c[l].clone());
                u = self.drop.forward(hn.clone());
                h[l] = hn;
                c[l] = cn;
            }
            top.push(u);
        }
        state.h = h;
        state.c = c;
        state.positions += t;
        let x: Tensor<3> = Tensor::stack(top, 1);
        let hid = self.hidden();
        Ok(self
            .head
            .forward(x.reshape([b * t, hid]))
            .reshape([b, t, self.vocab()]))
    }
}

/// `[rows, cols]` token ids on `device`.
fn ids(v: Vec<i64>, rows: usize, cols: usize, device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// log softmax of host logits in f64.
fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let m = logits
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64));
    let lse = m + logits
        .iter()
        .map(|&l| (l as f64 - m).exp())
        .sum::<f64>()
        .ln();
    logits.iter().map(|&l| l as f64 - lse).collect()
}

/// One token drawn from softmax(logits / τ) with one host uniform u: the
/// first i with u < p_0 + … + p_i (the last token if rounding leaves u above
/// the total).
fn draw(logits: &[f32], temperature: f64, rng: &mut Rng) -> u32 {
    let scaled: Vec<f32> = logits
        .iter()
        .map(|&l| (l as f64 / temperature) as f32)
        .collect();
    let mut u: f64 = rng.random();
    let mut token = logits.len().saturating_sub(1);
    for (i, l) in log_softmax(&scaled).iter().enumerate() {
        let p = l.exp();
        if u < p {
            token = i;
            break;
        }
        u -= p;
    }
    token as u32
}

/// The character LSTM: configuration, network and AdamW state (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct CharLstm {
    config: LstmConfig,
    state: Optimized<LstmNet>,
    /// Training device (autodiff).
    device: Device,
}

impl CharLstm {
    /// A new model on `device` (autodiff is added for training), weights
    /// drawn from `seed`.
    pub fn new(config: LstmConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        let net = LstmNet::init(&config, &mut rng_from_seed(seed), &train)?;
        Ok(Self {
            state: Optimized::new(net, &config.optim),
            config,
            device: train,
        })
    }

    /// Rebuilds a model from a folder written by [`Checkpoint::save_checkpoint`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: LstmConfig = read_json(&Self::config_path(dir))?;
        let mut model = Self::new(config, device, 0)?;
        model.load_checkpoint(dir)?;
        Ok(model)
    }

    fn config_path(dir: &Path) -> PathBuf {
        dir.join("lstm_config.json")
    }

    /// The configuration.
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// The network (on the training device).
    pub fn net(&self) -> &LstmNet {
        &self.state.model
    }

    /// The number of parameters of the network.
    pub fn num_params(&self) -> usize {
        self.state.model.num_params()
    }

    /// The network without autodiff (dropout off) and its device.
    fn eval(&self) -> (LstmNet, Device) {
        (self.state.model.valid(), self.device.clone().inner())
    }

    fn check_tokens(&self, tokens: &[u32], context: &str) -> Result<()> {
        let v = self.config.vocab;
        if let Some(p) = tokens.iter().position(|&t| t as usize >= v) {
            return Err(GenError::input(
                context,
                format!(
                    "token {} at position {p} is outside the vocabulary of {v} ids",
                    tokens[p]
                ),
                "encode the text with the vocabulary the model was built for",
            ));
        }
        Ok(())
    }

    /// Next-token logits of one sequence at every position (`T × V`,
    /// row-major), from the zero state, without autodiff.
    pub fn logits(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.check_tokens(tokens, "LSTM logits")?;
        if tokens.is_empty() {
            return Err(GenError::input(
                "LSTM logits",
                "an empty sequence",
                "pass at least one token",
            ));
        }
        let (net, dev) = self.eval();
        let t = tokens.len();
        let x = ids(tokens.iter().map(|&v| v as i64).collect(), 1, t, &dev);
        to_vec(net.forward(x)?)
    }

    /// Mean cross-entropy (nats per predicted token) of `batch` as a tensor;
    /// with a target mask ([`TokenWindows::padded`]) the mean over the
    /// targets inside the sequences.
    fn loss_tensor(net: &LstmNet, batch: &TokenWindows, device: &Device) -> Result<Tensor<1>> {
        let (b, t) = (batch.batch(), batch.context_len());
        let (inputs, targets) = batch.inputs_targets();
        let logits = net.forward(ids(inputs, b, t, device))?;
        let v = logits.dims()[2];
        let lp = activation::log_softmax(logits.reshape([b * t, v]), 1);
        let picked = lp.gather(1, ids(targets, b * t, 1, device));
        Ok(match batch.target_mask() {
            None => picked.mean().neg(),
            Some(mask) => {
                let m = Tensor::<2>::from_data(TensorData::new(mask.to_vec(), [b * t, 1]), device);
                let count = mask.iter().sum::<f32>().max(1.0);
                (picked * m).sum().div_scalar(count).neg()
            }
        })
    }

    /// The mean cross-entropy of `batch` in nats per predicted token,
    /// without a gradient step (dropout off).
    pub fn loss(&self, batch: &TokenWindows) -> Result<f64> {
        self.check_tokens(batch.tokens(), "LSTM loss")?;
        let (net, dev) = self.eval();
        gen_core::tensor::scalar(Self::loss_tensor(&net, batch, &dev)?)
    }

    /// The mean of [`CharLstm::loss`] over `iters` batches of `batch` random
    /// windows of `block + 1` tokens of `stream` (nanoGPT's `estimate_loss`).
    pub fn estimate_loss(
        &self,
        stream: &[u32],
        iters: usize,
        batch: usize,
        rng: &mut Rng,
    ) -> Result<f64> {
        let mut total = 0.0;
        for _ in 0..iters.max(1) {
            let w = TokenWindows::random(stream, batch, self.config.block, rng)?;
            total += self.loss(&w)?;
        }
        Ok(total / iters.max(1) as f64)
    }

    /// A decoder for [`crate::decoding::generate`] that carries the
    /// recurrent state between calls, on a copy of the current weights.
    pub fn decoder(&self) -> LstmDecoder {
        let (net, device) = self.eval();
        LstmDecoder {
            net,
            device,
            end: None,
            text: None,
            use_cache: true,
            state: RefCell::new(DecodeState::default()),
        }
    }

    /// `n` continuations of `new_tokens` tokens each after `prompt`, drawn
    /// in parallel carrying one recurrent state of `n` rows: each step feeds
    /// the tokens drawn last and draws the next from softmax(logits / τ)
    /// with a host uniform. Any lengths: the state carries the whole context.
    pub fn sample_after(
        &self,
        prompt: &[u32],
        n: usize,
        new_tokens: usize,
        temperature: f64,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<u32>>> {
        SampleOptions::with_temperature(temperature).validate()?;
        self.check_tokens(prompt, "LSTM sampling")?;
        if prompt.is_empty() {
            return Err(GenError::input(
                "LSTM sampling",
                "an empty prompt",
                "start from a start token (e.g. '\\n' or the boundary id 0)",
            ));
        }
        let mut out = vec![Vec::with_capacity(new_tokens); n];
        if n == 0 || new_tokens == 0 {
            return Ok(out);
        }
        let (net, dev) = self.eval();
        let mut state = net.new_state(n);
        let feed: Vec<i64> = (0..n)
            .flat_map(|_| prompt.iter().map(|&t| t as i64))
            .collect();
        let mut x = ids(feed, n, prompt.len(), &dev);
        let v = self.config.vocab;
        loop {
            let logits = net.forward_step(x, &mut state)?;
            let t = logits.dims()[1];
            let last = to_vec(logits.slice([0..n, t - 1..t, 0..v]))?;
            let mut next = Vec::with_capacity(n);
            for (row, seq) in out.iter_mut().enumerate() {
                let token = draw(&last[row * v..(row + 1) * v], temperature, rng);
                seq.push(token);
                next.push(token as i64);
            }
            if out[0].len() == new_tokens {
                return Ok(out);
            }
            x = ids(next, n, 1, &dev);
        }
    }
}

impl Model for CharLstm {
    fn capabilities(&self) -> Capabilities {
        capabilities()
    }
}

/// The capability row of `lstm`.
pub fn capabilities() -> Capabilities {
    Capabilities {
        model: NAME,
        family: crate::binary::FAMILY,
        learn: TaskSupport::exact(
            "maximum likelihood: mean next-token cross-entropy over all positions of a window, back-propagated through time over the window from the zero state (truncated BPTT of block steps)",
        ),
        score: TaskSupport::exact(SCORE_HOW),
        sample: TaskSupport::exact(
            "sequential ancestral sampling: O(T) steps, each feeding one new token through the recurrent state (h, c)",
        ),
        infer: TaskSupport::none(
            "no latent variables: the recurrent state is a deterministic function of the prefix, so there is nothing to infer",
        ),
    }
}

impl Score for CharLstm {
    type Input = [Vec<u32>];

    /// log p(x_2..x_n | x_1) in nats for every sequence (see the module
    /// docs), of any length; a one-token sequence scores 0.
    fn score(&self, x: &[Vec<u32>], options: &ScoreOptions) -> Result<Scores> {
        options.only_default(NAME, SCORE_HOW)?;
        if x.is_empty() {
            return Err(GenError::input(
                "LSTM scoring",
                "no sequences",
                "pass at least one sequence",
            ));
        }
        for (i, s) in x.iter().enumerate() {
            if s.is_empty() {
                return Err(GenError::input(
                    "LSTM scoring",
                    format!("sequence {i} is empty"),
                    "every sequence needs at least its start token",
                ));
            }
            self.check_tokens(s, &format!("LSTM scoring, sequence {i}"))?;
        }
        let (net, dev) = self.eval();
        let mut values = Vec::with_capacity(x.len());
        for chunk in x.chunks(SCORE_CHUNK) {
            let t = chunk.iter().map(Vec::len).max().unwrap_or(1) - 1;
            if t == 0 {
                values.extend(std::iter::repeat_n(0.0, chunk.len()));
                continue;
            }
            let b = chunk.len();
            // Shorter sequences are padded at the end with token 0: causality
            // keeps the padding out of the positions that are summed.
            let mut inputs = vec![0i64; b * t];
            let mut targets = vec![0i64; b * t];
            for (r, s) in chunk.iter().enumerate() {
                for p in 0..s.len() - 1 {
                    inputs[r * t + p] = s[p] as i64;
                    targets[r * t + p] = s[p + 1] as i64;
                }
            }
            let logits = net.forward(ids(inputs, b, t, &dev))?;
            let lp = activation::log_softmax(logits, 2);
            let picked = to_vec(lp.gather(2, ids(targets, b, t, &dev).reshape([b, t, 1])))?;
            for (r, s) in chunk.iter().enumerate() {
                let lp: f64 = picked[r * t..r * t + s.len() - 1]
                    .iter()
                    .map(|&l| l as f64)
                    .sum();
                if !lp.is_finite() {
                    return Err(GenError::input(
                        "LSTM scoring",
                        "a log-probability is not finite",
                        "the model's parameters are not finite: retrain or load a good checkpoint",
                    ));
                }
                values.push(lp);
            }
        }
        Ok(Scores::exact(values))
    }
}

impl Sample for CharLstm {
    type Output = Vec<Vec<u32>>;

    /// `n` sequences of `block` tokens after the start token 0 (`'\n'` in a
    /// Shakespeare vocabulary, the boundary of [`gen_data::CharVocab::with_boundary`]),
    /// drawn in parallel carrying the recurrent state ([`CharLstm::sample_after`]).
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Self::Output> {
        options.validate()?;
        if options.condition.is_some() {
            return Err(GenError::Unsupported {
                model: NAME.into(),
                task: gen_core::Task::Sample,
                why: "the LSTM takes a prompt, not a condition: use CharLstm::sample_after or LstmDecoder with decoding::generate".into(),
            });
        }
        self.sample_after(&[0], n, self.config.block, options.temperature, rng)
    }
}

impl Learn for CharLstm {
    type Batch = TokenWindows;
    /// Windows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &TokenWindows, rank: usize, size: usize) -> Result<TokenWindows> {
        batch.shard(rank, size)
    }

    /// One AdamW step on the mean cross-entropy (nats per character) of the
    /// windows, back-propagated through every position of each window from
    /// the zero state (windows of any length; `block + 1` in training);
    /// also reports bits per character.
    fn learn_step(&mut self, batch: &TokenWindows, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        self.check_tokens(batch.tokens(), "LSTM learning")?;
        let loss = Self::loss_tensor(&self.state.model, batch, &self.device)?;
        let value = self.state.step(loss, ctx.lr)?;
        Ok(StepStats::loss(value).with("bits_per_char", value / std::f64::consts::LN_2))
    }
}

/// The configuration without the optimiser settings, the training window
/// and dropout (which may change between runs without changing the network).
fn architecture(c: &LstmConfig) -> LstmConfig {
    LstmConfig {
        optim: OptimConfig::default(),
        block: 1,
        dropout: 0.0,
        ..c.clone()
    }
}

impl Checkpoint for CharLstm {
    /// Writes `lstm_config.json`, `lstm.model.bpk` and `lstm.optim.bpk`,
    /// each atomically.
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&Self::config_path(dir), &self.config)?;
        self.state.save(dir, NAME)
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = Self::config_path(dir);
        if path.exists() {
            let saved: LstmConfig = read_json(&path)?;
            if architecture(&saved) != architecture(&self.config) {
                return Err(GenError::Format {
                    path,
                    problem: format!(
                        "the checkpoint holds a different {NAME} ({saved:?}) from this model ({:?})",
                        self.config
                    ),
                    fix: "build the model from the checkpoint's lstm_config.json (CharLstm::load)"
                        .into(),
                });
            }
        }
        self.state.load(dir, NAME)
    }
}

#[derive(Debug, Default)]
struct DecodeState {
    /// The context the recurrent state has consumed.
    seen: Vec<u32>,
    /// (h, c) after `seen` (one row).
    state: Option<LstmState>,
    /// Log-probabilities after `seen`.
    last: Vec<f64>,
    stats: CacheStats,
}

/// The LSTM as a [`NextToken`] model that carries its recurrent state
/// between calls (the analogue of the GPT's key/value cache).
///
/// When a context extends the context of the previous call, only the new
/// tokens run through the network, from the saved (h, c)
/// ([`LstmNet::forward_step`]); otherwise the whole context is run from the
/// zero state. The context is never cropped: unlike the GPT, the LSTM is not
/// limited to a block when decoding, the state summarising everything
/// before. Sequential generation therefore costs one position per token
/// however long the text grows; beam search, which alternates between
/// beams, recomputes (O(T) per call).
#[derive(Debug)]
pub struct LstmDecoder {
    net: LstmNet,
    device: Device,
    end: Option<u32>,
    text: Option<gen_data::CharVocab>,
    use_cache: bool,
    state: RefCell<DecodeState>,
}

impl LstmDecoder {
    /// Stops decoding at `token` (e.g. [`gen_data::CharVocab::eos`]).
    pub fn with_end_token(mut self, token: u32) -> Self {
        self.end = Some(token);
        self
    }

    /// Gives tokens the text of `vocab` (for stop strings).
    pub fn with_vocab(mut self, vocab: gen_data::CharVocab) -> Self {
        self.text = Some(vocab);
        self
    }

    /// With `false`, every call runs the whole context from the zero state,
    /// as a decoder without a state cache does (for timing and checks).
    pub fn with_cache(mut self, use_cache: bool) -> Self {
        self.use_cache = use_cache;
        self
    }

    /// What the decoder did so far.
    pub fn stats(&self) -> CacheStats {
        self.state.borrow().stats
    }

    /// Forgets the carried state.
    pub fn reset(&self) {
        let mut s = self.state.borrow_mut();
        s.seen.clear();
        s.state = None;
        s.last.clear();
    }

    /// Log-probabilities of the last position of `logits` `[1, t, V]`.
    fn last_log_probs(&self, logits: Tensor<3>) -> Result<Vec<f64>> {
        let [_, t, v] = logits.dims();
        Ok(log_softmax(&to_vec(logits.slice([0..1, t - 1..t, 0..v]))?))
    }
}

impl NextToken for LstmDecoder {
    fn vocab_size(&self) -> usize {
        self.net.vocab()
    }

    /// Normalised log-probabilities of the next token after the whole `context`.
    fn next_log_probs(&self, context: &[u32]) -> Result<Vec<f64>> {
        let v = self.net.vocab();
        if context.is_empty() {
            return Err(GenError::input(
                "LSTM decoding",
                "an empty context: the LSTM conditions on at least one token",
                "start the prompt with a start token (e.g. '\\n' or the boundary id 0)",
            ));
        }
        if let Some(p) = context.iter().position(|&t| t as usize >= v) {
            return Err(GenError::input(
                "LSTM decoding",
                format!(
                    "token {} at position {p} is outside the vocabulary of {v} ids",
                    context[p]
                ),
                "encode the prompt with the vocabulary the model was built for",
            ));
        }
        let mut s = self.state.borrow_mut();
        s.stats.calls += 1;
        let hit = self.use_cache
            && s.state.is_some()
            && !s.seen.is_empty()
            && context.starts_with(&s.seen);
        if hit && context.len() == s.seen.len() {
            s.stats.repeated += 1;
            return Ok(s.last.clone());
        }
        let (new, from_scratch) = if hit {
            (&context[s.seen.len()..], false)
        } else {
            (context, true)
        };
        let x = ids(
            new.iter().map(|&t| t as i64).collect(),
            1,
            new.len(),
            &self.device,
        );
        let logits = if !self.use_cache {
            self.net.forward(x)?
        } else {
            let mut state = match s.state.take() {
                Some(st) if !from_scratch => st,
                _ => {
                    s.seen.clear();
                    self.net.new_state(1)
                }
            };
            let logits = self.net.forward_step(x, &mut state);
            s.state = Some(state);
            logits?
        };
        s.stats.positions += new.len();
        if from_scratch {
            s.stats.recomputed += 1;
        } else {
            s.stats.extended += 1;
        }
        let lp = self.last_log_probs(logits)?;
        if self.use_cache {
            s.seen.extend_from_slice(new);
            s.last = lp.clone();
        }
        Ok(lp)
    }

    fn end_token(&self) -> Option<u32> {
        self.end
    }

    fn token_text(&self, token: u32) -> Option<String> {
        let vocab = self.text.as_ref()?;
        vocab.glyph(token as usize).map(String::from)
    }
}
