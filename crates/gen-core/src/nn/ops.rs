//! Probability building blocks on tensors shared by every family.

use burn::tensor::Tensor;

/// ln(2π).
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// log Σ_j exp(x_j) along `dim`, stably: m + log Σ exp(x − m), m = max x.
pub fn logsumexp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    m.clone() + (x - m).exp().sum_dim(dim).log()
}

/// Σ_d log N(x_d; 0, 1) = −½ Σ_d x_d² − (D/2) log 2π, per row.
///
/// # Shapes
/// - `x`: `[batch, D]` → `[batch]`
pub fn standard_normal_log_prob(x: Tensor<2>) -> Tensor<1> {
    let [_, d] = x.dims();
    (x.powf_scalar(2.0).sum_dim(1) * (-0.5) - 0.5 * d as f64 * LN_2PI).squeeze_dim(1)
}

/// Σ_d log N(x_d; μ_d, exp(logvar_d)), per row.
///
/// # Shapes
/// - `x`, `mu`, `logvar`: `[batch, D]` → `[batch]`
pub fn diag_normal_log_prob(x: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let diff2 = (x - mu).powf_scalar(2.0);
    let per = (diff2 * logvar.clone().neg().exp() + logvar + LN_2PI) * (-0.5);
    per.sum_dim(1).squeeze_dim(1)
}

/// KL(N(μ, diag σ²) ‖ N(0, I)) = ½ Σ_d (μ_d² + σ_d² − log σ_d² − 1), per row.
///
/// # Shapes
/// - `mu`, `logvar`: `[batch, D]` → `[batch]`
pub fn kl_diag_normal_standard(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    ((mu.powf_scalar(2.0) + logvar.clone().exp() - logvar - 1.0) * 0.5)
        .sum_dim(1)
        .squeeze_dim(1)
}
