//! Masked linear layer and MADE degree masks (Germain et al. 2015).
//!
//! y = x (W ⊙ M) + b. With degrees m(k) for hidden unit k and input degrees
//! 1..D, the masks M[k', k] = 1[m(k) ≥ m(k')] for hidden layers and
//! M[k, d] = 1[d > m(k)] for the output layer make output d depend only on
//! inputs < d: the autoregressive property.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng as _;

use crate::task::Rng;

/// A linear layer whose weight is multiplied by a fixed 0/1 mask.
#[derive(Module, Debug)]
pub struct MaskedLinear {
    /// Weight `[d_in, d_out]`.
    pub weight: Param<Tensor<2>>,
    /// Bias `[d_out]`.
    pub bias: Param<Tensor<1>>,
    /// The constant mask `[d_in, d_out]` (not trained).
    pub mask: Tensor<2>,
}

impl MaskedLinear {
    /// A layer with the given `mask` (row-major `[d_in, d_out]`, entries 0 or 1);
    /// `zero` initialises weights and bias to zero.
    pub fn new(
        d_in: usize,
        d_out: usize,
        mask: Vec<f32>,
        zero: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let bound = 1.0 / (d_in.max(1) as f32).sqrt();
        let mut draw = |n: usize| -> Vec<f32> {
            if zero {
                vec![0.0; n]
            } else {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            }
        };
        let w = draw(d_in * d_out);
        let b = draw(d_out);
        Self {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [d_in, d_out]),
                device,
            )),
            bias: Param::from_tensor(Tensor::from_data(TensorData::new(b, [d_out]), device)),
            mask: Tensor::from_data(TensorData::new(mask, [d_in, d_out]), device),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, d_in]` → `[batch, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let w = self.weight.val() * self.mask.clone();
        x.matmul(w) + self.bias.val().unsqueeze_dim(0)
    }
}

/// Degrees of a MADE network with `d` inputs and the given hidden widths.
///
/// Inputs get degrees 1..=d in `order`; hidden degrees cycle through
/// 1..=d−1 (deterministic, as nflows does), so every unit is used.
pub fn made_degrees(d: usize, hidden: &[usize], order: &[usize]) -> Vec<Vec<usize>> {
    let mut degrees = vec![order.to_vec()];
    for &h in hidden {
        let span = d.saturating_sub(1).max(1);
        degrees.push((0..h).map(|k| k % span + 1).collect());
    }
    degrees
}

/// Mask between layers with degrees `prev` → `next` (hidden): 1[next ≥ prev].
pub fn hidden_mask(prev: &[usize], next: &[usize]) -> Vec<f32> {
    let mut m = Vec::with_capacity(prev.len() * next.len());
    for &p in prev {
        for &n in next {
            m.push(if n >= p { 1.0 } else { 0.0 });
        }
    }
    m
}

/// Output mask from the last hidden degrees to `d` outputs repeated `mult`
/// times (output j·d + i has degree `order[i]`): 1[out > hidden].
pub fn output_mask(prev: &[usize], order: &[usize], mult: usize) -> Vec<f32> {
    let mut m = Vec::with_capacity(prev.len() * order.len() * mult);
    for &p in prev {
        for _ in 0..mult {
            for &o in order {
                m.push(if o > p { 1.0 } else { 0.0 });
            }
        }
    }
    m
}

/// A random input order (a permutation of 1..=d) drawn from `rng`.
pub fn random_order(d: usize, rng: &mut Rng) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut o: Vec<usize> = (1..=d).collect();
    o.shuffle(rng);
    o
}
