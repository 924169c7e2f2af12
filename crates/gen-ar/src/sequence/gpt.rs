//! A character GPT as nanoGPT builds it (see the [module docs](super)).
//!
//! | piece | here | nanoGPT `model.py` |
//! |---|---|---|
//! | embeddings | `wte` (V × d) + `wpe` (block × d), dropout | `wte`, `wpe`, `drop` |
//! | block | x + Attn(LN₁(x)), then x + MLP(LN₂(x)) | `Block` |
//! | attention | [`CausalSelfAttention`] (H heads, causal, dropout) | `CausalSelfAttention` |
//! | MLP | d → 4d, GELU, 4d → d, dropout | `MLP` |
//! | head | LN_f, logits = h Eᵀ (tied to `wte`) | `ln_f`, `lm_head` tied |
//! | init | every weight N(0, 0.02²), biases 0, the two residual projections N(0, (0.02/√(2N))²), LayerNorm γ = 1, β = 0 | `_init_weights` |
//! | optimiser | AdamW β = (0.9, 0.99), weight decay 0.1 on matrices and embeddings only, global gradient norm clipped to 1 | `configure_optimizers`, `train_shakespeare_char.py` |
//!
//! Differences from nanoGPT: the linear layers always have biases (nanoGPT's
//! `bias` option on).
//!
//! makemore's Transformer is the same network with PyTorch's default
//! initialisation, an untied output layer and the tanh approximation of GELU:
//! [`GptConfig::makemore`] builds it.
//!
//! All weights come from the host RNG, so the same seed builds the same
//! model on every backend.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use gen_core::burn;
use gen_core::checkpoint::{read_json, write_json_atomic};
use gen_core::nn::{
    CausalSelfAttention, CausalSelfAttentionConfig, Init, KvCache, LayerNorm, LayerNormConfig,
    TokenEmbedding, TokenEmbeddingConfig, linear,
};
use gen_core::optim::{OptimConfig, OptimKind, Optimized};
use gen_core::tensor::to_vec;
use gen_core::{
    Capabilities, Checkpoint, GenError, Learn, Model, Result, Rng, Sample, SampleOptions, Score,
    ScoreOptions, Scores, StepContext, StepStats, TaskSupport, rng_from_seed,
};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::TokenWindows;
use crate::decoding::NextToken;

/// The name in the capability table.
pub const NAME: &str = "char-gpt";

/// How the model scores, in words.
const SCORE_HOW: &str = "exact chain rule: the sum over positions of log softmax of the next-token logits, one parallel causal pass (sequences of up to block + 1 tokens, conditioned on the first)";

/// Sequences scored per forward pass.
const SCORE_CHUNK: usize = 64;

/// Shape, dropout and optimiser of a [`CharGpt`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GptConfig {
    /// Vocabulary size V (token ids 0..V).
    pub vocab: usize,
    /// Block length: the most positions the model sees at once.
    pub block: usize,
    /// Number of Transformer blocks N.
    pub layers: usize,
    /// Attention heads H (divides `width`).
    pub heads: usize,
    /// Model width d.
    pub width: usize,
    /// Dropout probability (embeddings, attention weights, residual branches), in [0, 1).
    pub dropout: f64,
    /// Optimiser (nanoGPT: AdamW, β₂ = 0.99).
    pub optim: OptimConfig,
    /// How the weights start (nanoGPT's GPT-2 scheme by default).
    #[serde(default)]
    pub init: GptInit,
    /// Output logits h Eᵀ through the token table (nanoGPT's weight tying);
    /// `false` adds a separate bias-free `lm_head` (makemore).
    #[serde(default = "default_true")]
    pub tied_head: bool,
    /// The MLP's GELU: exact (nanoGPT's `nn.GELU()`) or the tanh
    /// approximation 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (makemore's `NewGELU`).
    #[serde(default)]
    pub gelu_tanh: bool,
}

fn default_true() -> bool {
    true
}

/// How a [`CharGpt`]'s weights start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GptInit {
    /// GPT-2 / nanoGPT `_init_weights`: embeddings and linear weights
    /// N(0, 0.02²), biases 0, the residual projections N(0, (0.02/√(2N))²).
    #[default]
    Gpt2,
    /// PyTorch's module defaults (makemore): embeddings N(0, 1), linear
    /// weights and biases U(−1/√fan_in, 1/√fan_in).
    Torch,
}

impl GptConfig {
    /// A GPT over `vocab` tokens with `layers` blocks of `heads` heads and
    /// width `width`, seeing `block` positions; no dropout, nanoGPT's
    /// optimiser ([`GptConfig::nanogpt_optim`]).
    pub fn new(vocab: usize, block: usize, layers: usize, heads: usize, width: usize) -> Self {
        Self {
            vocab,
            block,
            layers,
            heads,
            width,
            dropout: 0.0,
            optim: Self::nanogpt_optim(),
            init: GptInit::Gpt2,
            tied_head: true,
            gelu_tanh: false,
        }
    }

    /// makemore's `Transformer` (karpathy/makemore, `--type transformer`):
    /// `layers` blocks of `heads` heads at width `width` (its defaults: 4, 4,
    /// 64), PyTorch's initialisation, an untied bias-free output layer, the
    /// tanh GELU, and AdamW with weight decay 0.01 on every parameter, β =
    /// (0.9, 0.99), no clipping.
    pub fn makemore(vocab: usize, block: usize, layers: usize, heads: usize, width: usize) -> Self {
        Self {
            init: GptInit::Torch,
            tied_head: false,
            gelu_tanh: true,
            optim: OptimConfig {
                kind: OptimKind::AdamW,
                beta1: 0.9,
                beta2: 0.99,
                eps: 1e-8,
                weight_decay: 0.01,
                grad_clip_norm: None,
                decay_matrices_only: false,
            },
            ..Self::new(vocab, block, layers, heads, width)
        }
    }

    /// nanoGPT's CPU "baby" Shakespeare model: 4 layers, 4 heads, width 128,
    /// block 64, no dropout (`train_shakespeare_char.py` with the README's CPU overrides).
    pub fn baby_shakespeare(vocab: usize) -> Self {
        Self::new(vocab, 64, 4, 4, 128)
    }

    /// AdamW with β = (0.9, 0.99), ε = 1e-8, weight decay 0.1 on matrices and
    /// embeddings only (biases and LayerNorm parameters undecayed, nanoGPT's
    /// `configure_optimizers`) and the global gradient norm clipped to 1
    /// (nanoGPT's `train_shakespeare_char.py`).
    pub fn nanogpt_optim() -> OptimConfig {
        OptimConfig {
            kind: OptimKind::AdamW,
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.1,
            grad_clip_norm: Some(1.0),
            decay_matrices_only: true,
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
            "the context length, e.g. 64 (nanoGPT's CPU run) or 256",
        )?;
        positive("layers", self.layers, "e.g. 4 (nanoGPT's CPU run) or 6")?;
        positive("heads", self.heads, "e.g. 4 heads")?;
        positive("width", self.width, "e.g. 128 (nanoGPT's CPU run) or 384")?;
        if !self.width.is_multiple_of(self.heads) {
            return Err(GenError::config(
                format!("{NAME} heads"),
                format!("{} heads over width {}", self.heads, self.width),
                "the number of heads must divide the width (each head has width / heads channels)",
                format!(
                    "e.g. {} heads of width {} for width {}",
                    self.heads,
                    self.width.div_ceil(self.heads),
                    self.width.div_ceil(self.heads) * self.heads
                ),
            ));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(GenError::config(
                format!("{NAME} dropout"),
                self.dropout,
                "must lie in [0, 1)",
                "use 0.0 for small data or short runs, 0.2 for nanoGPT's Shakespeare run",
            ));
        }
        let o = &self.optim;
        for (field, b) in [("beta1", o.beta1), ("beta2", o.beta2)] {
            if !(b.is_finite() && (0.0..1.0).contains(&b)) {
                return Err(GenError::config(
                    format!("{NAME} optimiser {field}"),
                    b,
                    "must lie in [0, 1)",
                    "nanoGPT uses beta1 0.9 and beta2 0.99",
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
                "nanoGPT uses 0.1",
            ));
        }
        if let Some(c) = o.grad_clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(GenError::config(
                format!("{NAME} gradient clipping"),
                c,
                "must be finite and > 0",
                "nanoGPT clips the gradient norm to 1.0; use None for no clipping",
            ));
        }
        Ok(())
    }

    /// The number of parameters:
    /// V·d + block·d + N·(12d² + 13d) + 2d, plus d·V for an untied head.
    pub fn parameters(&self) -> usize {
        let d = self.width;
        let head = if self.tied_head { 0 } else { d * self.vocab };
        self.vocab * d + self.block * d + self.layers * (12 * d * d + 13 * d) + 2 * d + head
    }
}

/// One pre-LayerNorm Transformer block.
#[derive(Module, Debug)]
pub struct GptBlock {
    /// LayerNorm before the attention.
    pub ln_1: LayerNorm,
    /// Causal multi-head self-attention.
    pub attn: CausalSelfAttention,
    /// LayerNorm before the MLP.
    pub ln_2: LayerNorm,
    /// MLP expansion d → 4d.
    pub fc: Linear,
    /// MLP projection 4d → d.
    pub proj: Linear,
    /// Dropout on the MLP output.
    pub drop: Dropout,
    /// Tanh-approximate GELU instead of the exact one.
    #[module(skip)]
    pub gelu_tanh: bool,
}

impl GptBlock {
    fn mlp(&self, x: Tensor<3>) -> Tensor<3> {
        let u = self.fc.forward(x);
        let u = if self.gelu_tanh {
            activation::gelu_approximate(u)
        } else {
            activation::gelu(u)
        };
        self.drop.forward(self.proj.forward(u))
    }

    /// x + Attn(LN₁(x)), then + MLP(LN₂(x)).
    ///
    /// # Shapes
    /// - `x`: `[B, T, d]` → `[B, T, d]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x));
        x.clone() + self.mlp(self.ln_2.forward(x))
    }

    /// [`GptBlock::forward`] of new positions after the cached ones.
    pub fn forward_cached(&self, x: Tensor<3>, cache: &mut KvCache) -> Tensor<3> {
        let x = x.clone() + self.attn.forward_cached(self.ln_1.forward(x), cache);
        x.clone() + self.mlp(self.ln_2.forward(x))
    }
}

/// The network of a [`CharGpt`].
#[derive(Module, Debug)]
pub struct GptNet {
    /// Token table E, `[V, d]` (also the output layer).
    pub wte: TokenEmbedding,
    /// Position table, `[block, d]`.
    pub wpe: TokenEmbedding,
    /// Dropout on the summed embeddings.
    pub drop: Dropout,
    /// The Transformer blocks.
    pub blocks: Vec<GptBlock>,
    /// Final LayerNorm.
    pub ln_f: LayerNorm,
    /// Untied output layer `[d, V]` without bias; `None`: logits h Eᵀ.
    pub lm_head: Option<Linear>,
}

impl GptNet {
    /// Builds the network with weights drawn from `rng` in the order: token
    /// table, position table, then per block query, key, value, output, MLP
    /// expansion, MLP projection, and last the untied head if there is one.
    pub fn init(config: &GptConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        config.validate()?;
        let d = config.width;
        let (embed_std, weights, resid) = match config.init {
            GptInit::Gpt2 => (
                0.02,
                Init::GPT2,
                Init::Normal {
                    std: 0.02 / (2.0 * config.layers as f64).sqrt(),
                },
            ),
            GptInit::Torch => (1.0, Init::Default, Init::Default),
        };
        let table = |n: usize| TokenEmbeddingConfig {
            std: embed_std,
            ..TokenEmbeddingConfig::new(n, d)
        };
        let wte = table(config.vocab).init(rng, device)?;
        let wpe = table(config.block).init(rng, device)?;
        let mut blocks = Vec::with_capacity(config.layers);
        for _ in 0..config.layers {
            let attn = CausalSelfAttentionConfig {
                dropout: config.dropout,
                init: weights,
                out_init: resid,
                ..CausalSelfAttentionConfig::new(d, config.heads)
            }
            .init(rng, device)?;
            blocks.push(GptBlock {
                ln_1: LayerNormConfig::new(d).init(device)?,
                attn,
                ln_2: LayerNormConfig::new(d).init(device)?,
                fc: linear(d, 4 * d, weights, rng, device),
                proj: linear(4 * d, d, resid, rng, device),
                drop: DropoutConfig::new(config.dropout).init(),
                gelu_tanh: config.gelu_tanh,
            });
        }
        let lm_head = (!config.tied_head).then(|| Linear {
            bias: None,
            ..linear(d, config.vocab, weights, rng, device)
        });
        Ok(Self {
            wte,
            wpe,
            drop: DropoutConfig::new(config.dropout).init(),
            blocks,
            ln_f: LayerNormConfig::new(d).init(device)?,
            lm_head,
        })
    }

    /// Vocabulary size V.
    pub fn vocab(&self) -> usize {
        self.wte.vocab()
    }

    /// Next-token logits from final hidden states `[B, T, d]` → `[B, T, V]`.
    fn logits(&self, h: Tensor<3>) -> Tensor<3> {
        match &self.lm_head {
            Some(head) => head.forward(h),
            None => self.wte.tied_logits(h),
        }
    }

    /// Block length.
    pub fn block(&self) -> usize {
        self.wpe.vocab()
    }

    /// One empty key/value cache per block.
    pub fn new_caches(&self) -> Vec<KvCache> {
        vec![KvCache::new(); self.blocks.len()]
    }

    fn check_positions(&self, start: usize, t: usize) -> Result<()> {
        if start + t > self.block() {
            return Err(GenError::input(
                "GPT forward",
                format!(
                    "positions {start}..{} exceed the block length {}",
                    start + t,
                    self.block()
                ),
                format!(
                    "feed at most {} positions (crop the context to its last {} tokens)",
                    self.block(),
                    self.block()
                ),
            ));
        }
        Ok(())
    }

    /// Token plus position embeddings of positions start..start + T.
    fn embed(&self, tokens: Tensor<2, Int>, start: usize) -> Tensor<3> {
        let [b, t] = tokens.dims();
        let d = self.wte.d_model();
        let pos = self
            .wpe
            .weight
            .val()
            .slice([start..start + t, 0..d])
            .reshape([1, t, d])
            .expand([b, t, d]);
        self.drop.forward(self.wte.forward(tokens) + pos)
    }

    /// Next-token logits at every position.
    ///
    /// # Shapes
    /// - `tokens`: `[B, T]` (T ≤ block) → `[B, T, V]`
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Result<Tensor<3>> {
        self.check_positions(0, tokens.dims()[1])?;
        let mut x = self.embed(tokens, 0);
        for block in &self.blocks {
            x = block.forward(x);
        }
        Ok(self.logits(self.ln_f.forward(x)))
    }

    /// Logits of `t` new positions after the P positions already in
    /// `caches` (one per block, all holding P); their keys and values are
    /// appended. Feeding a sequence in pieces gives the rows of
    /// [`GptNet::forward`] on the whole sequence.
    ///
    /// # Shapes
    /// - `tokens`: `[B, t]` (P + t ≤ block) → `[B, t, V]`
    pub fn forward_cached(
        &self,
        tokens: Tensor<2, Int>,
        caches: &mut [KvCache],
    ) -> Result<Tensor<3>> {
        if caches.len() != self.blocks.len() {
            return Err(GenError::input(
                "GPT forward_cached",
                format!("{} caches for {} blocks", caches.len(), self.blocks.len()),
                "start from GptNet::new_caches",
            ));
        }
        let start = caches.first().map_or(0, KvCache::len);
        self.check_positions(start, tokens.dims()[1])?;
        let mut x = self.embed(tokens, start);
        for (block, cache) in self.blocks.iter().zip(caches.iter_mut()) {
            x = block.forward_cached(x, cache);
        }
        Ok(self.logits(self.ln_f.forward(x)))
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

/// The character GPT: configuration, network and AdamW state (see the
/// [module docs](super)).
#[derive(Debug)]
pub struct CharGpt {
    config: GptConfig,
    state: Optimized<GptNet>,
    /// Training device (autodiff).
    device: Device,
}

impl CharGpt {
    /// A new model on `device` (autodiff is added for training), weights
    /// drawn from `seed`.
    pub fn new(config: GptConfig, device: &Device, seed: u64) -> Result<Self> {
        config.validate()?;
        let train = device.clone().autodiff();
        let net = GptNet::init(&config, &mut rng_from_seed(seed), &train)?;
        Ok(Self {
            state: Optimized::new(net, &config.optim),
            config,
            device: train,
        })
    }

    /// Rebuilds a model from a folder written by [`Checkpoint::save_checkpoint`].
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let config: GptConfig = read_json(&Self::config_path(dir))?;
        let mut model = Self::new(config, device, 0)?;
        model.load_checkpoint(dir)?;
        Ok(model)
    }

    fn config_path(dir: &Path) -> PathBuf {
        dir.join("gpt_config.json")
    }

    /// The configuration.
    pub fn config(&self) -> &GptConfig {
        &self.config
    }

    /// The network (on the training device).
    pub fn net(&self) -> &GptNet {
        &self.state.model
    }

    /// The number of parameters of the network.
    pub fn num_params(&self) -> usize {
        self.state.model.num_params()
    }

    /// The network without autodiff (dropout off) and its device.
    fn eval(&self) -> (GptNet, Device) {
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

    fn check_windows(&self, batch: &TokenWindows, context: &str) -> Result<()> {
        let t = batch.context_len();
        if t > self.config.block {
            return Err(GenError::input(
                context,
                format!(
                    "windows of {} tokens predict {t} positions, more than the block length {}",
                    batch.window_len(),
                    self.config.block
                ),
                format!(
                    "use windows of at most block + 1 = {} tokens",
                    self.config.block + 1
                ),
            ));
        }
        self.check_tokens(batch.tokens(), context)
    }

    /// Next-token logits of one sequence at every position (`T × V`,
    /// row-major), without autodiff.
    pub fn logits(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        self.check_tokens(tokens, "GPT logits")?;
        let (net, dev) = self.eval();
        let t = tokens.len();
        let x = ids(tokens.iter().map(|&v| v as i64).collect(), 1, t, &dev);
        to_vec(net.forward(x)?)
    }

    /// Mean cross-entropy (nats per predicted token) of `batch` as a tensor.
    fn loss_tensor(net: &GptNet, batch: &TokenWindows, device: &Device) -> Result<Tensor<1>> {
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
        self.check_windows(batch, "GPT loss")?;
        let (net, dev) = self.eval();
        gen_core::tensor::scalar(Self::loss_tensor(&net, batch, &dev)?)
    }

    /// nanoGPT's `estimate_loss`: the mean of [`CharGpt::loss`] over `iters`
    /// batches of `batch` random windows of `stream`.
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

    /// A decoder for [`crate::decoding::generate`] with a KV cache, on a
    /// copy of the current weights.
    pub fn decoder(&self) -> GptDecoder {
        let (net, device) = self.eval();
        GptDecoder {
            net,
            device,
            end: None,
            text: None,
            use_cache: true,
            state: RefCell::new(DecodeState::default()),
        }
    }

    /// `n` continuations of `new_tokens` tokens each after `prompt`, drawn
    /// in parallel with one KV cache per block: each step feeds the tokens
    /// drawn last and draws the next from softmax(logits / τ) with a host
    /// uniform. The prompt plus the new tokens must fit in `block + 1`.
    pub fn sample_after(
        &self,
        prompt: &[u32],
        n: usize,
        new_tokens: usize,
        temperature: f64,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<u32>>> {
        SampleOptions::with_temperature(temperature).validate()?;
        self.check_tokens(prompt, "GPT sampling")?;
        if prompt.is_empty() {
            return Err(GenError::input(
                "GPT sampling",
                "an empty prompt",
                "start from a start token (e.g. '\\n' or the boundary id 0)",
            ));
        }
        let block = self.config.block;
        if prompt.len() + new_tokens > block + 1 {
            return Err(GenError::input(
                "GPT sampling",
                format!(
                    "{} prompt tokens plus {new_tokens} new ones exceed block + 1 = {} tokens",
                    prompt.len(),
                    block + 1
                ),
                "sample fewer tokens here, or use GptDecoder with crate::decoding::generate (it crops the context)",
            ));
        }
        let mut out = vec![Vec::with_capacity(new_tokens); n];
        if n == 0 || new_tokens == 0 {
            return Ok(out);
        }
        let (net, dev) = self.eval();
        let mut caches = net.new_caches();
        let feed: Vec<i64> = (0..n)
            .flat_map(|_| prompt.iter().map(|&t| t as i64))
            .collect();
        let mut x = ids(feed, n, prompt.len(), &dev);
        let v = self.config.vocab;
        loop {
            let logits = net.forward_cached(x, &mut caches)?;
            let t = logits.dims()[1];
            let last = to_vec(logits.slice([0..n, t - 1..t, 0..v]))?;
            let mut next = Vec::with_capacity(n);
            for (row, seq) in out.iter_mut().enumerate() {
                let scaled: Vec<f32> = last[row * v..(row + 1) * v]
                    .iter()
                    .map(|&l| (l as f64 / temperature) as f32)
                    .collect();
                let lp = log_softmax(&scaled);
                let mut u: f64 = rng.random();
                let mut token = v - 1;
                for (i, l) in lp.iter().enumerate() {
                    let p = l.exp();
                    if u < p {
                        token = i;
                        break;
                    }
                    u -= p;
                }
                seq.push(token as u32);
                next.push(token as i64);
            }
            if out[0].len() == new_tokens {
                return Ok(out);
            }
            x = ids(next, n, 1, &dev);
        }
    }
}

impl Model for CharGpt {
    fn capabilities(&self) -> Capabilities {
        capabilities()
    }
}

/// The capability row of `char-gpt`.
pub fn capabilities() -> Capabilities {
    Capabilities {
        model: NAME,
        family: crate::binary::FAMILY,
        learn: TaskSupport::exact(
            "maximum likelihood: mean next-token cross-entropy over all positions of a window in one parallel causal pass",
        ),
        score: TaskSupport::exact(SCORE_HOW),
        sample: TaskSupport::exact(
            "sequential ancestral sampling: O(T) steps, each feeding one new token through a key/value cache",
        ),
        infer: TaskSupport::none(
            "no latent variables: a fully visible autoregressive model has nothing to infer",
        ),
    }
}

impl Score for CharGpt {
    type Input = [Vec<u32>];

    /// log p(x_2..x_n | x_1) in nats for every sequence (see the module docs);
    /// a one-token sequence scores 0.
    fn score(&self, x: &[Vec<u32>], options: &ScoreOptions) -> Result<Scores> {
        options.only_default(NAME, SCORE_HOW)?;
        let block = self.config.block;
        if x.is_empty() {
            return Err(GenError::input(
                "GPT scoring",
                "no sequences",
                "pass at least one sequence",
            ));
        }
        for (i, s) in x.iter().enumerate() {
            if s.is_empty() {
                return Err(GenError::input(
                    "GPT scoring",
                    format!("sequence {i} is empty"),
                    "every sequence needs at least its start token",
                ));
            }
            if s.len() > block + 1 {
                return Err(GenError::input(
                    "GPT scoring",
                    format!(
                        "sequence {i} has {} tokens; the model's block length is {block}, so it scores sequences of at most block + 1 = {} tokens (a start token and {block} predicted ones)",
                        s.len(),
                        block + 1
                    ),
                    "score shorter pieces, or build the model with a longer block",
                ));
            }
            self.check_tokens(s, &format!("GPT scoring, sequence {i}"))?;
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
                        "GPT scoring",
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

impl Sample for CharGpt {
    type Output = Vec<Vec<u32>>;

    /// `n` sequences of `block` tokens after the start token 0 (`'\n'` in a
    /// Shakespeare vocabulary, the boundary of [`gen_data::CharVocab::with_boundary`]),
    /// drawn in parallel through the KV cache ([`CharGpt::sample_after`]).
    fn sample(&self, n: usize, options: &SampleOptions, rng: &mut Rng) -> Result<Self::Output> {
        options.validate()?;
        if options.condition.is_some() {
            return Err(GenError::Unsupported {
                model: NAME.into(),
                task: gen_core::Task::Sample,
                why: "the GPT takes a prompt, not a condition: use CharGpt::sample_after or GptDecoder with decoding::generate".into(),
            });
        }
        self.sample_after(&[0], n, self.config.block, options.temperature, rng)
    }
}

impl Learn for CharGpt {
    type Batch = TokenWindows;
    /// Windows split evenly over the ranks (data-parallel training).
    fn shard_batch(&self, batch: &TokenWindows, rank: usize, size: usize) -> Result<TokenWindows> {
        batch.shard(rank, size)
    }

    /// One AdamW step on the mean cross-entropy (nats per character) of the
    /// windows; also reports bits per character.
    fn learn_step(&mut self, batch: &TokenWindows, ctx: &mut StepContext<'_>) -> Result<StepStats> {
        self.check_windows(batch, "GPT learning")?;
        let loss = Self::loss_tensor(&self.state.model, batch, &self.device)?;
        let value = self.state.step(loss, ctx.lr)?;
        Ok(StepStats::loss(value).with("bits_per_char", value / std::f64::consts::LN_2))
    }
}

/// The configuration without the optimiser settings (which may change
/// between runs without changing the network).
fn architecture(c: &GptConfig) -> GptConfig {
    GptConfig {
        optim: OptimConfig::default(),
        ..c.clone()
    }
}

impl Checkpoint for CharGpt {
    /// Writes `gpt_config.json`, `char-gpt.model.bpk` and
    /// `char-gpt.optim.bpk`, each atomically.
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_json_atomic(&Self::config_path(dir), &self.config)?;
        self.state.save(dir, NAME)
    }

    fn load_checkpoint(&mut self, dir: &Path) -> Result<()> {
        let path = Self::config_path(dir);
        if path.exists() {
            let saved: GptConfig = read_json(&path)?;
            if architecture(&saved) != architecture(&self.config) {
                return Err(GenError::Format {
                    path,
                    problem: format!(
                        "the checkpoint holds a different {NAME} ({saved:?}) from this model ({:?})",
                        self.config
                    ),
                    fix: "build the model from the checkpoint's gpt_config.json (CharGpt::load)"
                        .into(),
                });
            }
        }
        self.state.load(dir, NAME)
    }
}

/// What a [`GptDecoder`] did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Calls of `next_log_probs`.
    pub calls: usize,
    /// Calls that extended the cache with the new tokens only.
    pub extended: usize,
    /// Calls that ran the whole (cropped) context from scratch.
    pub recomputed: usize,
    /// Calls answered from the last result (the same context again).
    pub repeated: usize,
    /// Token positions run through the network in total.
    pub positions: usize,
}

#[derive(Debug, Default)]
struct DecodeState {
    /// The (cropped) context whose keys and values the caches hold.
    seen: Vec<u32>,
    caches: Vec<KvCache>,
    /// Log-probabilities after `seen`.
    last: Vec<f64>,
    stats: CacheStats,
}

/// The GPT as a [`NextToken`] model with a key/value cache.
///
/// When a context extends the context of the previous call, only the new
/// tokens run through the network ([`GptNet::forward_cached`]); otherwise,
/// and when the context is longer than the block (it is cropped to its last
/// `block` tokens, whose positions then shift), the cropped context is run
/// from scratch. Sequential generation therefore costs one position per
/// token up to the block length; beam search, which alternates between
/// beams, recomputes.
#[derive(Debug)]
pub struct GptDecoder {
    net: GptNet,
    device: Device,
    end: Option<u32>,
    text: Option<gen_data::CharVocab>,
    use_cache: bool,
    state: RefCell<DecodeState>,
}

impl GptDecoder {
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

    /// With `false`, every call recomputes the whole (cropped) context, as
    /// a decoder without a cache does (for timing and checks).
    pub fn with_cache(mut self, use_cache: bool) -> Self {
        self.use_cache = use_cache;
        self
    }

    /// What the decoder did so far.
    pub fn stats(&self) -> CacheStats {
        self.state.borrow().stats
    }

    /// Forgets the cached context.
    pub fn reset(&self) {
        let mut s = self.state.borrow_mut();
        s.seen.clear();
        s.caches.clear();
        s.last.clear();
    }

    /// Log-probabilities of the last position of `logits` `[1, t, V]`.
    fn last_log_probs(&self, logits: Tensor<3>) -> Result<Vec<f64>> {
        let [_, t, v] = logits.dims();
        Ok(log_softmax(&to_vec(logits.slice([0..1, t - 1..t, 0..v]))?))
    }
}

impl NextToken for GptDecoder {
    fn vocab_size(&self) -> usize {
        self.net.vocab()
    }

    /// Normalised log-probabilities of the next token after the last
    /// `block` tokens of `context`.
    fn next_log_probs(&self, context: &[u32]) -> Result<Vec<f64>> {
        let v = self.net.vocab();
        if context.is_empty() {
            return Err(GenError::input(
                "GPT decoding",
                "an empty context: the GPT conditions on at least one token",
                "start the prompt with a start token (e.g. '\\n' or the boundary id 0)",
            ));
        }
        if let Some(p) = context.iter().position(|&t| t as usize >= v) {
            return Err(GenError::input(
                "GPT decoding",
                format!(
                    "token {} at position {p} is outside the vocabulary of {v} ids",
                    context[p]
                ),
                "encode the prompt with the vocabulary the model was built for",
            ));
        }
        let block = self.net.block();
        let window = &context[context.len().saturating_sub(block)..];
        let mut s = self.state.borrow_mut();
        s.stats.calls += 1;
        let hit = self.use_cache && !s.seen.is_empty() && window.starts_with(&s.seen);
        if hit && window.len() == s.seen.len() {
            s.stats.repeated += 1;
            return Ok(s.last.clone());
        }
        let (new, from_scratch) = if hit {
            (&window[s.seen.len()..], false)
        } else {
            (window, true)
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
            if from_scratch {
                s.caches = self.net.new_caches();
                s.seen.clear();
            }
            self.net.forward_cached(x, &mut s.caches)?
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
