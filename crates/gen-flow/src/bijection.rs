//! The bijection abstraction every flow layer implements.
//!
//! A normalizing flow writes data as x = f(z) with z ~ p_Z a simple base
//! density and f = f_K ∘ … ∘ f_1 a composition of invertible maps. The change
//! of variables formula (tutorial, chapter 10; Rezende & Mohamed 2015,
//! Dinh et al. 2017) gives the exact density
//!
//! ```text
//! log p_X(x) = log p_Z(f⁻¹(x)) + log |det ∂f⁻¹/∂x (x)|
//!            = log p_Z(z) − Σ_k log |det ∂f_k/∂h_{k−1}|,   h_0 = z, h_K = x.
//! ```
//!
//! Convention of this crate: [`Bijection::forward`] is the *generative*
//! direction (base space → data space), [`Bijection::inverse`] the
//! *normalizing* direction (data → base). Each returns the transformed rows
//! and, per row, the log-absolute-determinant of the Jacobian of the map it
//! applied, so `forward` and `inverse` log-determinants are negatives of each
//! other at corresponding points.

use gen_core::Result;
use gen_core::burn::tensor::{Device, Int, Tensor, TensorData};

/// An invertible map of `R^D` (optionally conditioned on a context vector).
pub trait Bijection {
    /// The dimension D of the rows it maps.
    fn dim(&self) -> usize;

    /// Generative direction y = f(x): returns `(y, log|det ∂f/∂x|)`.
    ///
    /// # Shapes
    /// - `x`: `[batch, D]`, `context`: `[batch, C]` → (`[batch, D]`, `[batch]`)
    fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)>;

    /// Normalizing direction x = f⁻¹(y): returns `(x, log|det ∂f⁻¹/∂y|)`.
    ///
    /// # Shapes
    /// - `y`: `[batch, D]`, `context`: `[batch, C]` → (`[batch, D]`, `[batch]`)
    fn inverse(&self, y: Tensor<2>, context: Option<&Tensor<2>>) -> Result<(Tensor<2>, Tensor<1>)>;
}

/// A `[batch]` vector of zeros: the log-determinant of a volume-preserving map.
pub(crate) fn zero_logdet(batch: usize, device: &Device) -> Tensor<1> {
    Tensor::zeros([batch], device)
}

/// Row sums of a `[batch, D]` tensor as `[batch]`.
pub(crate) fn row_sum(t: Tensor<2>) -> Tensor<1> {
    t.sum_dim(1).squeeze_dim(1)
}

/// `[1, D]` constant row from host values.
pub(crate) fn const_row(v: &[f32], device: &Device) -> Tensor<2> {
    gen_core::tensor::vec_to_tensor(v, device).unsqueeze_dim(0)
}

/// A `[k]` integer tensor of column indices, for `select`.
pub(crate) fn index_tensor(idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let v: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [idx.len()]), device)
}
