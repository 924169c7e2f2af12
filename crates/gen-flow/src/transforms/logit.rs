//! Logit pre-processing for data in [0, 1] (Dinh et al. 2017, section 4.1).
//!
//! Dequantized pixels x ∈ [0, 1] are mapped to the real line by
//! y = logit(α + (1 − 2α) x) so that the flow models an unbounded variable;
//! the map's log-determinant enters the likelihood so that reported
//! densities stay densities of x:
//!
//! ```text
//! normalizing: y = log p − log(1 − p),  p = α + (1 − 2α) x
//!              log|det ∂y/∂x| = Σ_d [log(1 − 2α) − log p_d − log(1 − p_d)]
//! generative:  x = (σ(y) − α)/(1 − 2α)
//! ```

use gen_core::Result;
use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Tensor, activation};

use crate::bijection::{Bijection, row_sum};

/// The fixed logit layer (no parameters). In a [`crate::Flow`] it is the
/// last layer (closest to the data).
#[derive(Module, Debug)]
pub struct Logit {
    /// α, e.g. 1e-6 (Dinh et al. use 0.05 on CIFAR).
    #[module(skip)]
    pub alpha: f64,
    /// D.
    #[module(skip)]
    pub dim: usize,
}

impl Bijection for Logit {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward(
        &self,
        y: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let a = self.alpha;
        let x = (activation::sigmoid(y.clone()) - a) / (1.0 - 2.0 * a);
        // log σ(y) + log(1 − σ(y)) = −softplus(−y) − softplus(y)
        let ld = (activation::softplus(y.clone().neg(), 1.0) + activation::softplus(y, 1.0)).neg()
            - (1.0 - 2.0 * a).ln();
        Ok((x, row_sum(ld)))
    }

    fn inverse(
        &self,
        x: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let a = self.alpha;
        let p = x * (1.0 - 2.0 * a) + a;
        let lp = p.clone().log();
        let l1p = p.neg().add_scalar(1.0).log();
        let y = lp.clone() - l1p.clone();
        let ld = (lp + l1p).neg() + (1.0 - 2.0 * a).ln();
        Ok((y, row_sum(ld)))
    }
}
