//! A flow: a base density (N(0, I) or a learned mixture, see [`crate::base`])
//! and a composition of bijections.
//!
//! x = f_K ∘ … ∘ f_1(z), z ~ p_Z:
//!
//! ```text
//! log p(x) = log p_Z(f⁻¹(x)) + Σ_k log|det ∂f_k⁻¹/∂h_k|
//! ```
//!
//! Layers are stored in generative order (`layers[0]` acts on z).

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::tensor::{to_matrix, to_tensor};
use gen_core::{Matrix, Result};

use crate::base::{LearnedBase, base_log_prob};
use crate::bijection::{Bijection, zero_logdet};
use crate::transforms::{
    ActNorm, Coupling, Logit, LuLinear, MaskedAutoregressive, Permutation, SplineAutoregressive,
    SplineCoupling,
};

/// One layer of a flow.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum FlowLayer {
    /// Affine or additive coupling.
    Coupling(Coupling),
    /// Fixed permutation.
    Permutation(Permutation),
    /// ActNorm.
    ActNorm(ActNorm),
    /// LU invertible linear map.
    LuLinear(LuLinear),
    /// Glow's invertible 1×1 convolution (channel mixing per pixel).
    Conv1x1(crate::transforms::Conv1x1),
    /// MAF / IAF layer.
    Autoregressive(MaskedAutoregressive),
    /// Logit pre-processing.
    Logit(Logit),
    /// Continuous normalizing flow block (FFJORD).
    Cnf(crate::transforms::Cnf),
    /// Rational-quadratic spline coupling (NSF).
    Spline(SplineCoupling),
    /// Autoregressive rational-quadratic spline layer (NSF-AR).
    SplineAutoregressive(SplineAutoregressive),
}

impl FlowLayer {
    fn as_bijection(&self) -> &dyn Bijection {
        match self {
            FlowLayer::Coupling(l) => l,
            FlowLayer::Permutation(l) => l,
            FlowLayer::ActNorm(l) => l,
            FlowLayer::LuLinear(l) => l,
            FlowLayer::Conv1x1(l) => l,
            FlowLayer::Autoregressive(l) => l,
            FlowLayer::Logit(l) => l,
            FlowLayer::Cnf(l) => l,
            FlowLayer::Spline(l) => l,
            FlowLayer::SplineAutoregressive(l) => l,
        }
    }
}

impl Bijection for FlowLayer {
    fn dim(&self) -> usize {
        self.as_bijection().dim()
    }
    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        self.as_bijection().forward(x, context)
    }
    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)> {
        self.as_bijection().inverse(y, context)
    }
}

/// Base density plus layers (generative order).
#[derive(Module, Debug)]
pub struct Flow {
    /// Layers; `layers[0]` acts on the base variable z.
    pub layers: Vec<FlowLayer>,
    /// Learned base density (None: N(0, I)).
    pub base: Option<LearnedBase>,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// Context width C (0: unconditional).
    #[module(skip)]
    pub context_dim: usize,
}

impl Flow {
    /// x = f(z) with log|det ∂f/∂z| per row.
    pub fn forward(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = z.dims();
        let mut ld = zero_logdet(n, &z.device());
        let mut h = z;
        for layer in &self.layers {
            let (h2, l) = layer.forward(h, context)?;
            h = h2;
            ld = ld + l;
        }
        Ok((h, ld))
    }

    /// z = f⁻¹(x) with log|det ∂f⁻¹/∂x| per row (exact inference: the encoding).
    pub fn inverse(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let mut ld = zero_logdet(n, &x.device());
        let mut h = x;
        for layer in self.layers.iter().rev() {
            let (h2, l) = layer.inverse(h, context)?;
            h = h2;
            ld = ld + l;
        }
        Ok((h, ld))
    }

    /// Exact log p(x) per row (nats).
    pub fn log_prob(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<Tensor<1>> {
        let (z, ld) = self.inverse(x, context)?;
        Ok(base_log_prob(self.base.as_ref(), z, context) + ld)
    }

    /// x = f(z) for z drawn from the base at temperature τ (N(0, I): z = τ ε),
    /// from host standard normals `eps` and uniforms `u` (both `[n, D]`; `u`
    /// picks mixture components), with the model's exact log p(x).
    pub fn sample_and_log_prob(
        &self,
        eps: &Matrix,
        u: &Matrix,
        temperature: f64,
        context: Option<&Tensor<2>>,
        device: &Device,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let z = match &self.base {
            None => to_tensor(eps, device) * temperature,
            Some(b) => to_tensor(&b.sample(eps, u, temperature, context, device)?, device),
        };
        let (x, ld) = self.forward(z.clone(), context)?;
        Ok((x, base_log_prob(self.base.as_ref(), z, context) - ld))
    }

    /// Sets the Hutchinson noise seed of every CNF layer (layer i gets a seed
    /// derived from `seed` and i); `None` makes them use the exact trace.
    /// [`crate::FlowModel`] sets a fresh seed for each learning step and
    /// clears it afterwards, so scoring and sampling use the exact trace.
    pub fn set_noise_seed(&mut self, seed: Option<u64>) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            if let FlowLayer::Cnf(c) = layer {
                c.noise_seed = seed.map(|s| {
                    s.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        .wrapping_add(i as u64)
                        .rotate_left(17)
                });
            }
        }
    }

    /// Data-dependent initialisation: pushes `x` through the layers in the
    /// normalizing direction and initialises every ActNorm on what reaches
    /// it, then a Gaussian-mixture base on the resulting z.
    pub fn initialize(&mut self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<()> {
        let mut h = x;
        for layer in self.layers.iter_mut().rev() {
            if let FlowLayer::ActNorm(a) = layer {
                a.initialize(h.clone().detach())?;
            }
            h = layer.inverse(h, context)?.0.detach();
        }
        if let Some(LearnedBase::Gmm(g)) = &mut self.base {
            g.initialize(&to_matrix(h)?)?;
        }
        Ok(())
    }
}
