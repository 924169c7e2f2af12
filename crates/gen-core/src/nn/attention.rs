//! Causal multi-head self-attention with a key/value cache (Vaswani et al.
//! 2017; the GPT decoder block's attention).
//!
//! For x `[B, T, D]` and H heads of width d_h = D/H, each head h computes
//! Q = x W_Q^h, K = x W_K^h, V = x W_V^h and
//! A_h = softmax(Q Kᵀ / √d_h + M) V with the causal mask M[i, j] = −∞ for
//! j > i (position i sees positions ≤ i only); the heads are concatenated
//! and projected: y = [A_1, …, A_H] W_O + b_O.
//!
//! Autoregressive decoding feeds the sequence piece by piece to
//! [`CausalSelfAttention::forward_cached`]: the keys and values of the earlier
//! positions are kept in a [`KvCache`], so each new token costs one row of
//! attention instead of a recomputation of the whole prefix. The new queries
//! at absolute positions P..P+t (P cached positions) see keys 0..=P+i.
//!
//! The attention itself is burn's fused `attention` op (flash attention where
//! the backend has one). With dropout active (p > 0, an autodiff device, a
//! module not turned into its `valid()` copy) the probabilities are formed
//! explicitly so that dropout can act on them. Dropout masks come from the
//! device RNG (seed it with `Device::seed`); the weights come from the host RNG.
//! Positions enter only through the mask: add a position embedding to x.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Tensor, activation};

use crate::error::{GenError, Result};
use crate::nn::linear::{Init, linear};
use crate::task::Rng;

/// Shape, dropout and initialisation of a [`CausalSelfAttention`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CausalSelfAttentionConfig {
    /// Model width D.
    pub d_model: usize,
    /// Number of heads H (divides D).
    pub n_heads: usize,
    /// Dropout probability on the attention weights and on the output, in [0, 1).
    pub dropout: f64,
    /// Initialisation of the query, key and value projections.
    pub init: Init,
    /// Initialisation of the output projection (GPT-2 uses N(0, (0.02/√(2L))²)
    /// for L layers, so the residual stream's variance does not grow with depth).
    pub out_init: Init,
}

impl CausalSelfAttentionConfig {
    /// `n_heads` heads over width `d_model`, no dropout, PyTorch's default
    /// `nn.Linear` initialisation.
    pub fn new(d_model: usize, n_heads: usize) -> Self {
        Self {
            d_model,
            n_heads,
            dropout: 0.0,
            init: Init::Default,
            out_init: Init::Default,
        }
    }

    /// Builds the layer; the projections are drawn from `rng` in the order
    /// query, key, value, output.
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<CausalSelfAttention> {
        let Self {
            d_model: d,
            n_heads: h,
            dropout,
            init,
            out_init,
        } = *self;
        if h == 0 || d == 0 || !d.is_multiple_of(h) {
            return Err(GenError::config(
                "attention heads",
                format!("{h} heads over width {d}"),
                "the number of heads must be positive and divide the model width",
                "e.g. 4 heads of width 32 for d_model = 128",
            ));
        }
        if !(0.0..1.0).contains(&dropout) {
            return Err(GenError::config(
                "attention dropout",
                dropout,
                "must lie in [0, 1)",
                "use 0.0 (none) to 0.1 (GPT-2)",
            ));
        }
        Ok(CausalSelfAttention {
            query: linear(d, d, init, rng, device),
            key: linear(d, d, init, rng, device),
            value: linear(d, d, init, rng, device),
            output: linear(d, d, out_init, rng, device),
            attn_dropout: DropoutConfig::new(dropout).init(),
            resid_dropout: DropoutConfig::new(dropout).init(),
            n_heads: h,
        })
    }
}

/// Causal multi-head self-attention (see the module docs).
#[derive(Module, Debug)]
pub struct CausalSelfAttention {
    /// Query projection W_Q (all heads side by side), `[D, D]`.
    pub query: Linear,
    /// Key projection W_K.
    pub key: Linear,
    /// Value projection W_V.
    pub value: Linear,
    /// Output projection W_O.
    pub output: Linear,
    /// Dropout on the attention weights.
    pub attn_dropout: Dropout,
    /// Dropout on the output.
    pub resid_dropout: Dropout,
    /// Number of heads H.
    #[module(skip)]
    pub n_heads: usize,
}

/// Keys and values of the positions already seen, per head:
/// `[batch, heads, positions, d_head]` each. One cache per layer and sequence
/// batch; start each new batch of sequences with an empty cache.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    keys: Option<Tensor<4>>,
    values: Option<Tensor<4>>,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of cached positions P.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.dims()[2])
    }

    /// Whether no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every cached position.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

impl CausalSelfAttention {
    /// Causal self-attention over a whole sequence.
    ///
    /// # Shapes
    /// - `x`: `[batch, T, D]` → `[batch, T, D]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let (q, k, v) = self.project(x);
        let ctx = self.attend(q, k, v, 0);
        self.merge(ctx, b, t, d)
    }

    /// Attention of `t` new positions over the cached ones and themselves;
    /// their keys and values are appended to `cache`. Feeding a sequence in
    /// pieces gives the rows of [`Self::forward`] on the whole sequence.
    ///
    /// # Shapes
    /// - `x_new`: `[batch, t, D]` → `[batch, t, D]` (the batch must match the cache's)
    pub fn forward_cached(&self, x_new: Tensor<3>, cache: &mut KvCache) -> Tensor<3> {
        let [b, t, d] = x_new.dims();
        let past = cache.len();
        let (q, k, v) = self.project(x_new);
        let (k, v) = match (cache.keys.take(), cache.values.take()) {
            (Some(pk), Some(pv)) => {
                assert_eq!(
                    pk.dims()[0],
                    b,
                    "KV cache holds batch {}, got batch {b}",
                    pk.dims()[0]
                );
                (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2))
            }
            _ => (k, v),
        };
        cache.keys = Some(k.clone());
        cache.values = Some(v.clone());
        let ctx = self.attend(q, k, v, past);
        self.merge(ctx, b, t, d)
    }

    /// Q, K, V split into heads: `[B, T, D]` → 3 × `[B, H, T, d_h]`.
    fn project(&self, x: Tensor<3>) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, t, d] = x.dims();
        let h = self.n_heads;
        let split = |y: Tensor<3>| y.reshape([b, t, h, d / h]).swap_dims(1, 2);
        (
            split(self.query.forward(x.clone())),
            split(self.key.forward(x.clone())),
            split(self.value.forward(x)),
        )
    }

    /// Heads concatenated and projected: `[B, H, t, d_h]` → `[B, t, D]`.
    fn merge(&self, ctx: Tensor<4>, b: usize, t: usize, d: usize) -> Tensor<3> {
        let y = self.output.forward(ctx.swap_dims(1, 2).reshape([b, t, d]));
        self.resid_dropout.forward(y)
    }

    /// softmax(Q Kᵀ/√d_h + M) V for queries at positions past..past+t and
    /// keys at 0..past+t.
    fn attend(&self, q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, past: usize) -> Tensor<4> {
        let drop = &self.attn_dropout;
        if drop.prob > 0.0 && drop.training.is_enabled() && q.device().is_autodiff() {
            return attend_explicit(q, k, v, past, Some(drop));
        }
        let [b, h, t, _] = q.dims();
        let s = k.dims()[2];
        // A single query sees every key; a square block is the plain causal
        // case; otherwise the mask is aligned at the bottom right explicitly.
        let (mask, is_causal) = match (t, past) {
            (1, _) => (None, false),
            (_, 0) => (None, true),
            _ => (Some(causal_mask(b, h, t, s, past, &q.device())), false),
        };
        burn::tensor::module::attention(
            q,
            k,
            v,
            mask,
            None,
            AttentionModuleOptions {
                is_causal,
                ..Default::default()
            },
        )
    }
}

/// The attention with the probabilities formed explicitly (and dropout, if
/// given, applied to them).
fn attend_explicit(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    past: usize,
    dropout: Option<&Dropout>,
) -> Tensor<4> {
    let [b, h, t, dh] = q.dims();
    let s = k.dims()[2];
    let device = q.device();
    let scores = q.matmul(k.swap_dims(2, 3)) * (1.0 / (dh as f64).sqrt());
    let scores = if t > 1 {
        scores.mask_fill(causal_mask(b, h, t, s, past, &device), f32::NEG_INFINITY)
    } else {
        scores
    };
    let p = activation::softmax(scores, 3);
    let p = match dropout {
        Some(d) => d.forward(p),
        None => p,
    };
    p.matmul(v)
}

/// `[b, h, t, s]`, true (masked) where key j lies after query i's absolute
/// position `past + i`.
fn causal_mask(
    b: usize,
    h: usize,
    t: usize,
    s: usize,
    past: usize,
    device: &Device,
) -> Tensor<4, Bool> {
    Tensor::<2, Bool>::tril_mask([t, s], past as i64, device)
        .reshape([1, 1, t, s])
        .expand([b, h, t, s])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host, max_abs_diff, t3};
    use crate::rng_from_seed;
    use crate::tensor::to_vec;

    const B: usize = 2;
    const T: usize = 7;
    const D: usize = 12;
    const H: usize = 3;

    fn layer(dev: &Device, dropout: f64) -> CausalSelfAttention {
        CausalSelfAttentionConfig {
            dropout,
            ..CausalSelfAttentionConfig::new(D, H)
        }
        .init(&mut rng_from_seed(7), dev)
        .unwrap()
    }

    /// Position `p` of a `[B, T, D]` host buffer: the D values of each example.
    fn at(v: &[f32], t: usize, p: usize) -> Vec<f32> {
        (0..B)
            .flat_map(|b| v[(b * t + p) * D..(b * t + p + 1) * D].to_vec())
            .collect()
    }

    #[test]
    fn changing_token_j_leaves_earlier_outputs_unchanged() {
        for dev in cpu_devices() {
            let attn = layer(&dev, 0.0);
            let xv = host(B * T * D, 1);
            let y0 = to_vec(attn.forward(t3(xv.clone(), [B, T, D], &dev))).unwrap();
            for j in 0..T {
                let mut x = xv.clone();
                for b in 0..B {
                    for i in 0..D {
                        x[(b * T + j) * D + i] += 0.5 + i as f32 * 0.1;
                    }
                }
                let y = to_vec(attn.forward(t3(x, [B, T, D], &dev))).unwrap();
                for p in 0..T {
                    let diff = max_abs_diff(&at(&y, T, p), &at(&y0, T, p));
                    if p < j {
                        assert!(diff < 1e-6, "token {j} moved output {p} by {diff}");
                    } else {
                        assert!(diff > 1e-4, "token {j} did not reach output {p}");
                    }
                }
            }
        }
    }

    /// Token by token, and in uneven chunks (3, 1, 2, 1: the explicit
    /// bottom-right mask), the cached outputs equal the full recomputation.
    #[test]
    fn kv_cache_decoding_equals_full_recomputation_at_every_position() {
        for dev in cpu_devices() {
            let attn = layer(&dev, 0.0);
            let xv = host(B * T * D, 2);
            let full = to_vec(attn.forward(t3(xv.clone(), [B, T, D], &dev))).unwrap();
            for chunks in [vec![1; T], vec![3, 1, 2, 1]] {
                let mut cache = KvCache::new();
                let mut start = 0;
                for len in chunks {
                    let piece: Vec<f32> = (0..B)
                        .flat_map(|b| xv[(b * T + start) * D..(b * T + start + len) * D].to_vec())
                        .collect();
                    let y = to_vec(attn.forward_cached(t3(piece, [B, len, D], &dev), &mut cache))
                        .unwrap();
                    for i in 0..len {
                        let got: Vec<f32> = (0..B)
                            .flat_map(|b| y[(b * len + i) * D..(b * len + i + 1) * D].to_vec())
                            .collect();
                        let diff = max_abs_diff(&got, &at(&full, T, start + i));
                        assert!(diff < 1e-4, "position {}: {diff}", start + i);
                    }
                    start += len;
                    assert_eq!(cache.len(), start);
                }
                cache.clear();
                assert!(cache.is_empty());
            }
        }
    }

    /// The same weights in burn's `MultiHeadAttention` with its
    /// autoregressive mask give the same outputs.
    #[test]
    fn matches_burns_multi_head_attention_with_an_autoregressive_mask() {
        use burn::nn::attention::{MhaInput, MultiHeadAttention, generate_autoregressive_mask};
        for dev in cpu_devices() {
            let attn = layer(&dev, 0.0);
            let reference = MultiHeadAttention {
                query: attn.query.clone(),
                key: attn.key.clone(),
                value: attn.value.clone(),
                output: attn.output.clone(),
                dropout: DropoutConfig::new(0.0).init(),
                activation: burn::nn::Gelu::new(),
                d_model: D,
                n_heads: H,
                d_k: D / H,
                min_float: -1.0e4,
                quiet_softmax: false,
            };
            let x = t3(host(B * T * D, 3), [B, T, D], &dev);
            let mask = generate_autoregressive_mask(B, T, &dev);
            let want = reference
                .forward(MhaInput::self_attn(x.clone()).mask_attn(mask))
                .context;
            let got = to_vec(attn.forward(x)).unwrap();
            let diff = max_abs_diff(&got, &to_vec(want).unwrap());
            assert!(diff < 1e-5, "{diff}");
        }
    }

    /// The explicit softmax path (used under dropout) equals the fused op,
    /// with and without cached positions.
    #[test]
    fn explicit_probabilities_equal_the_fused_attention() {
        let dh = D / H;
        for dev in cpu_devices() {
            let attn = layer(&dev, 0.0);
            for (t, past) in [(5, 0), (3, 4), (1, 6)] {
                let s = past + t;
                let q = Tensor::<4>::from_data(
                    burn::tensor::TensorData::new(host(B * H * t * dh, 4), [B, H, t, dh]),
                    &dev,
                );
                let k = Tensor::<4>::from_data(
                    burn::tensor::TensorData::new(host(B * H * s * dh, 5), [B, H, s, dh]),
                    &dev,
                );
                let v = Tensor::<4>::from_data(
                    burn::tensor::TensorData::new(host(B * H * s * dh, 6), [B, H, s, dh]),
                    &dev,
                );
                let fused = to_vec(attn.attend(q.clone(), k.clone(), v.clone(), past)).unwrap();
                let explicit = to_vec(attend_explicit(q, k, v, past, None)).unwrap();
                assert!(max_abs_diff(&fused, &explicit) < 1e-5, "t {t} past {past}");
            }
        }
    }

    /// Dropout acts only while training on an autodiff device; the `valid()`
    /// copy computes the dropout-free attention. Gradients stay finite
    /// through the −∞ mask.
    #[test]
    fn dropout_acts_only_in_training_and_gradients_are_finite() {
        for dev in cpu_devices() {
            let ad = dev.clone().autodiff();
            ad.seed(1);
            let attn = layer(&ad, 0.5);
            let xv = host(B * T * D, 8);
            let y1 = attn.forward(t3(xv.clone(), [B, T, D], &ad));
            let y2 = to_vec(attn.forward(t3(xv.clone(), [B, T, D], &ad))).unwrap();
            let plain = to_vec(layer(&dev, 0.0).forward(t3(xv.clone(), [B, T, D], &dev))).unwrap();
            let valid = to_vec(attn.valid().forward(t3(xv.clone(), [B, T, D], &dev))).unwrap();
            assert_eq!(valid, plain);
            assert!(max_abs_diff(&y2, &plain) > 1e-3, "dropout had no effect");
            let grads = y1.powf_scalar(2.0).sum().backward();
            for lin in [&attn.query, &attn.key, &attn.value, &attn.output] {
                let g = to_vec(lin.weight.val().grad(&grads).unwrap()).unwrap();
                assert!(g.iter().all(|x| x.is_finite()));
                assert!(g.iter().any(|&x| x != 0.0));
            }
        }
    }

    #[test]
    fn heads_must_divide_the_width_and_dropout_must_be_a_probability() {
        let dev = &cpu_devices()[0];
        let mut rng = rng_from_seed(0);
        assert!(
            CausalSelfAttentionConfig::new(10, 3)
                .init(&mut rng, dev)
                .is_err()
        );
        assert!(
            CausalSelfAttentionConfig::new(8, 0)
                .init(&mut rng, dev)
                .is_err()
        );
        let bad = CausalSelfAttentionConfig {
            dropout: 1.0,
            ..CausalSelfAttentionConfig::new(8, 2)
        };
        assert!(bad.init(&mut rng, dev).is_err());
    }
}
