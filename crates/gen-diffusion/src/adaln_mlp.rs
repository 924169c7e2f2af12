//! The residual MLP denoiser with adaLN-Zero conditioning
//! ([`crate::DenoiserArch::AdaLnMlp`]), for vector data such as latent codes.
//!
//! The plain MLP sees the timestep only at its input; here the timestep's
//! embedding modulates every block (gen-core's [`AdaLnMlpBlock`]), the
//! design of DiT's adaLN-Zero and of the per-token denoiser of Li et al.
//! 2024 (MAR):
//!
//! ```text
//! c  = W_t2 σ(W_t1 [e(t), e(y)] + b_t1) + b_t2          (time, and class, embedding; width W)
//! h₀ = W_in [x_t, e(25 x_t)] + b_in                      (width W)
//! h_k = AdaLnBlock_k(h_{k−1}, c)                         (k = 1 … K)
//! (shift, scale) = W_f σ(c) + b_f                        (zero-initialised)
//! out = W_out (norm(h_K) ⊙ (1 + scale) + shift) + b_out  (zero-initialised)
//! ```
//!
//! Every block starts as the identity and the output layer at zero, so the
//! untrained network predicts 0 (as diffusers' zero-initialised U-Net
//! output). Weights are drawn from the host RNG in the order written above.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use gen_core::Rng;
use gen_core::burn;
use gen_core::nn::adaln::modulate;
use gen_core::nn::{Activation, AdaLnMlpBlock, Init, linear};

/// The adaLN residual MLP (module docs).
#[derive(Module, Debug)]
pub struct AdaLnMlp {
    /// Input features → the residual stream.
    pub input: Linear,
    /// Condition features → hidden (first layer of the condition MLP).
    pub cond1: Linear,
    /// Hidden → c (second layer of the condition MLP).
    pub cond2: Linear,
    /// The K residual blocks.
    pub blocks: Vec<AdaLnMlpBlock>,
    /// c ↦ the final (shift, scale), zero-initialised.
    pub final_modulation: Linear,
    /// The residual stream → the output, zero-initialised.
    pub output: Linear,
}

impl AdaLnMlp {
    /// A network from `d_in` input features and `d_cond` condition features
    /// to `d_out` outputs, with `blocks` blocks of width `width`.
    pub fn new(
        d_in: usize,
        d_cond: usize,
        d_out: usize,
        width: usize,
        blocks: usize,
        rng: &mut Rng,
        device: &Device,
    ) -> Self {
        let cond1 = linear(d_cond, width, Init::Default, rng, device);
        let cond2 = linear(width, width, Init::Default, rng, device);
        let input = linear(d_in, width, Init::Default, rng, device);
        let blocks = (0..blocks)
            .map(|_| AdaLnMlpBlock::new(width, width, rng, device))
            .collect();
        Self {
            input,
            cond1,
            cond2,
            blocks,
            final_modulation: linear(width, 2 * width, Init::Zeros, rng, device),
            output: linear(width, d_out, Init::Zeros, rng, device),
        }
    }

    /// # Shapes
    /// - `x`: `[batch, d_in]`, `cond`: `[batch, d_cond]` → `[batch, d_out]`
    pub fn forward(&self, x: Tensor<2>, cond: Tensor<2>) -> Tensor<2> {
        let silu = Activation::Silu;
        let c = self.cond2.forward(silu.forward(self.cond1.forward(cond)));
        let mut h = self.input.forward(x);
        for block in &self.blocks {
            h = block.forward(h, c.clone());
        }
        let m = self.final_modulation.forward(silu.forward(c));
        let [n, two_w] = m.dims();
        let w = two_w / 2;
        let shift = m.clone().slice([0..n, 0..w]);
        let scale = m.slice([0..n, w..two_w]);
        self.output.forward(modulate(h, shift, scale))
    }
}
