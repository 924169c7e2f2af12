//! Probability building blocks on tensors shared by every family.

use burn::tensor::Tensor;

pub use crate::numerics::LN_2PI;

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

/// KL(N(μ, diag σ²) ‖ N(0, I)) per dimension: ½ (μ_d² + σ_d² − log σ_d² − 1)
/// (the tensor form of [`crate::numerics::kl_normal_standard`]; free bits
/// act on it dimension by dimension).
///
/// # Shapes
/// - `mu`, `logvar`: `[batch, D]` → `[batch, D]`
pub fn kl_diag_normal_standard_per_dim(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    (mu.powf_scalar(2.0) + logvar.clone().exp() - logvar - 1.0) * 0.5
}

/// Binary cross-entropy with logits, element-wise and numerically stable:
/// ℓ(l, y) = −[y log σ(l) + (1 − y) log(1 − σ(l))]
///         = max(l, 0) − l·y + log(1 + exp(−|l|)),
/// finite for every finite logit (no exp overflow, no log 0). Its negation is
/// log Bernoulli(y; σ(l)) for y ∈ {0, 1}; targets in [0, 1] are allowed.
///
/// The gradient is σ(l) − y everywhere, l = 0 included: max(l, 0) and |l| are
/// formed as l·1[l ≥ 0] and l·(±1) with constant masks, so their derivatives
/// at 0 are 1 and +1 (relu′(0) = sign(0) = 0 would give −y there, which
/// matters when a zero-initialised layer emits logits of exactly 0).
///
/// # Shapes
/// - `logits`, `targets`: any equal shape → the same shape
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, targets: Tensor<D>) -> Tensor<D> {
    let pos = logits.clone().greater_equal_elem(0.0).float();
    let sign = pos.clone() * 2.0 - 1.0;
    // softplus(l) = log(1 + eˡ) = max(l, 0) + log(1 + exp(−|l|)).
    let softplus = logits.clone() * pos + (logits.clone() * sign).neg().exp().log1p();
    // −(l·y − softplus) rather than softplus − l·y: the same value, and the
    // gradient terms are summed in the order of gen-vae's earlier Bernoulli
    // log-likelihood, which therefore trains bit for bit as before.
    (logits * targets - softplus).neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::cpu_devices;
    use crate::tensor::{to_vec, vec_to_tensor};

    /// Against −[y ln σ(l) + (1 − y) ln(1 − σ(l))] in f64 where that is
    /// representable, and against its asymptotes l⁺ − l·y for |l| up to 1e4,
    /// where the naive formula gives inf or NaN in f32.
    #[test]
    fn bce_with_logits_matches_a_hand_computation_without_overflow() {
        let logits = [-8.0f32, -1.5, -0.1, 0.0, 0.3, 2.0, 9.0];
        let targets = [0.0f32, 1.0, 0.5, 1.0, 0.0, 0.25, 1.0];
        let big = [1e4f32, -1e4, 100.0, -100.0, 88.0, -88.0];
        let big_y = [0.0f32, 1.0, 1.0, 0.0, 0.3, 0.7];
        for dev in cpu_devices() {
            let got = to_vec(bce_with_logits(
                vec_to_tensor(&logits, &dev),
                vec_to_tensor(&targets, &dev),
            ))
            .unwrap();
            for i in 0..logits.len() {
                let (l, y) = (logits[i] as f64, targets[i] as f64);
                let s = 1.0 / (1.0 + (-l).exp());
                let want = -(y * s.ln() + (1.0 - y) * (1.0 - s).ln());
                assert!(
                    (got[i] as f64 - want).abs() < 1e-5,
                    "l {l} y {y}: {} vs {want}",
                    got[i]
                );
            }
            let got = to_vec(bce_with_logits(
                vec_to_tensor(&big, &dev),
                vec_to_tensor(&big_y, &dev),
            ))
            .unwrap();
            for i in 0..big.len() {
                let (l, y) = (big[i] as f64, big_y[i] as f64);
                // max(l, 0) − l·y + ln(1 + e^{−|l|}), the last term below 1e-38.
                let want = l.max(0.0) - l * y + (-l.abs()).exp().ln_1p();
                assert!(got[i].is_finite(), "l {l}: {}", got[i]);
                assert!((got[i] as f64 - want).abs() <= 1e-6 * want.abs().max(1.0));
            }
        }
    }

    /// ∂ℓ/∂l = σ(l) − y, also for saturated logits and at l = 0.
    #[test]
    fn bce_with_logits_gradient_is_sigmoid_minus_target() {
        let logits = [-50.0f32, -2.0, 0.0, 0.0, 0.0, 1.0, 50.0];
        let targets = [1.0f32, 0.0, 0.0, 0.5, 1.0, 1.0, 0.0];
        for dev in cpu_devices() {
            let dev = dev.autodiff();
            let l = vec_to_tensor(&logits, &dev).require_grad();
            let grads = bce_with_logits(l.clone(), vec_to_tensor(&targets, &dev))
                .sum()
                .backward();
            let g = to_vec(l.grad(&grads).unwrap()).unwrap();
            for i in 0..logits.len() {
                let want = 1.0 / (1.0 + (-logits[i] as f64).exp()) - targets[i] as f64;
                assert!(
                    (g[i] as f64 - want).abs() < 1e-6,
                    "l {}: {} vs {want}",
                    logits[i],
                    g[i]
                );
            }
        }
    }

    /// Away from l = 0, values and gradients equal those of the plain
    /// relu/abs formulation l·y − [relu(l) + log1p(exp(−|l|))] (gen-vae's
    /// Bernoulli log-likelihood before it used this function) bit for bit.
    #[test]
    fn bce_with_logits_reproduces_the_relu_abs_formulation_bit_for_bit() {
        use crate::nn::test_util::host;
        use burn::tensor::{TensorData, activation};
        let (n, d) = (64, 50);
        let lv: Vec<f32> = host(n * d, 1).iter().map(|v| v * 20.0).collect();
        let xv: Vec<f32> = host(n * d, 2)
            .iter()
            .map(|v| if *v > 0.0 { 1.0 } else { 0.0 })
            .collect();
        let wv = host(n, 3);
        for dev in cpu_devices() {
            let dev = dev.autodiff();
            let run = |plain: bool| {
                let l = Tensor::<2>::from_data(TensorData::new(lv.clone(), [n, d]), &dev)
                    .require_grad();
                let x = Tensor::<2>::from_data(TensorData::new(xv.clone(), [n, d]), &dev);
                let log_p: Tensor<1> = if plain {
                    let sp = activation::relu(l.clone()) + l.clone().abs().neg().exp().log1p();
                    (x * l.clone() - sp).sum_dim(1).squeeze_dim(1)
                } else {
                    bce_with_logits(l.clone(), x)
                        .neg()
                        .sum_dim(1)
                        .squeeze_dim(1)
                };
                let grads = (log_p.clone() * vec_to_tensor(&wv, &dev)).sum().backward();
                (
                    to_vec(log_p).unwrap(),
                    to_vec(l.grad(&grads).unwrap()).unwrap(),
                )
            };
            let (plain, plain_grad) = run(true);
            let (ours, our_grad) = run(false);
            assert_eq!(plain, ours);
            assert_eq!(plain_grad, our_grad);
        }
    }
}
