//! FVSBN, the fully visible sigmoid belief network (Frey 1998).
//!
//! Logistic regression of every pixel on the pixels before it:
//!
//! ```text
//! p(x_i = 1 | x_<i) = σ(b_i + Σ_{j<i} W_{ji} x_j)
//! ```
//!
//! In matrix form ℓ = b + x (W ⊙ M) with the constant mask M_{ji} = 1[j < i]
//! (`[D_in, D_out]` layout; strictly lower triangular as an out × in matrix),
//! D(D − 1)/2 + D free parameters.

use burn::tensor::{Device, Tensor};
use gen_core::burn;
use gen_core::nn::MaskedLinear;
use gen_core::optim::OptimConfig;
use gen_core::{Result, Rng};

use super::{ArNet, BinaryAr, positive, raster_order};

/// Configuration of an [`Fvsbn`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FvsbnConfig {
    /// The data dimension D (pixels per image).
    pub d: usize,
    /// Optimiser settings (Adam by default).
    pub optim: OptimConfig,
}

impl FvsbnConfig {
    /// An FVSBN on `d` binary pixels with Adam.
    pub fn new(d: usize) -> Self {
        Self {
            d,
            optim: OptimConfig::default(),
        }
    }

    /// Errors unless D ≥ 1.
    pub fn validate(&self) -> Result<()> {
        positive(
            "fvsbn",
            "d",
            self.d,
            "give the number of pixels per image, e.g. 64 for 8x8 digits",
        )
    }
}

/// The FVSBN network: one masked linear layer.
#[derive(burn::module::Module, Debug)]
pub struct FvsbnNet {
    /// ℓ = x (W ⊙ M) + b.
    pub linear: MaskedLinear,
}

/// The mask M_{ji} = 1[j < i], row-major `[d, d]`.
pub fn fvsbn_mask(d: usize) -> Vec<f32> {
    let mut m = vec![0.0; d * d];
    for j in 0..d {
        for i in (j + 1)..d {
            m[j * d + i] = 1.0;
        }
    }
    m
}

impl ArNet for FvsbnNet {
    type Config = FvsbnConfig;
    const NAME: &'static str = "fvsbn";
    const LEARN_HOW: &'static str =
        "exact maximum likelihood, all D logistic regressions in one masked matmul (Adam)";
    const SCORE_HOW: &'static str = "exact, chain rule sum_i log p(x_i | x_<i)";

    fn dim(config: &FvsbnConfig) -> usize {
        config.d
    }
    fn optim(config: &FvsbnConfig) -> &OptimConfig {
        &config.optim
    }
    fn validate(config: &FvsbnConfig) -> Result<()> {
        config.validate()
    }
    fn init(config: &FvsbnConfig, rng: &mut Rng, device: &Device) -> Result<Self> {
        let d = config.d;
        Ok(Self {
            linear: MaskedLinear::new(d, d, fvsbn_mask(d), false, rng, device),
        })
    }
    fn orders(&self) -> Vec<Vec<usize>> {
        vec![raster_order(self.linear.weight.val().dims()[0])]
    }
    fn logits(&self, x: Tensor<2>, _k: usize) -> Tensor<2> {
        self.linear.forward(x)
    }
    fn chunk_rows(_config: &FvsbnConfig) -> usize {
        4096
    }
}

/// The fully visible sigmoid belief network.
pub type Fvsbn = BinaryAr<FvsbnNet>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_is_strictly_triangular_with_d_choose_2_ones() {
        let d = 5;
        let m = fvsbn_mask(d);
        assert_eq!(m.iter().sum::<f32>() as usize, d * (d - 1) / 2);
        for j in 0..d {
            for i in 0..d {
                assert_eq!(m[j * d + i] == 1.0, j < i);
            }
        }
    }
}
