//! Probability building blocks on tensors shared by every family.

use burn::tensor::Tensor;

pub use crate::numerics::LN_2PI;

/// tanh(x) = 2σ(2x) − 1, the form every family's tanh goes through.
///
/// Why not `Tensor::tanh`: on the CPU backends tanh is one scalar libm
/// `tanhf` call per element (built on `expm1f`), and burn's autodiff calls
/// it again in the backward pass; in the reference VAE step the two took
/// about a fifth of the step (docs/performance.md). σ goes through `expf`,
/// several times cheaper, and the form is exact in real arithmetic; in f32
/// it differs from tanh by at most a few ulps of 1 (absolute error below
/// 2e-7, checked against f64 in the tests), which is below what an
/// activation's rounding matters for. Its derivative is 1 − tanh².
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    burn::tensor::activation::sigmoid(x * 2.0) * 2.0 - 1.0
}

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
    // softplus(l) = log(1 + eˡ) = max(l, 0) + log(1 + exp(−|l|)). The last
    // term is log(1 + u) rather than log1p(u): on the CPU backends libm's
    // log1pf costs three times logf, and with u ∈ (0, 1] the two differ by
    // at most 6e-8 in absolute value (where 1 + u rounds to 1), far below
    // what a loss summed over pixels resolves.
    let softplus = logits.clone() * pos + ((logits.clone() * sign).neg().exp() + 1.0).log();
    (logits * targets - softplus).neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::cpu_devices;
    use crate::tensor::{to_vec, vec_to_tensor};

    /// 2σ(2x) − 1 against f64 tanh, saturation included, and its gradient
    /// against 1 − tanh², on every CPU device.
    #[test]
    fn tanh_through_the_sigmoid_matches_tanh() {
        let xs: Vec<f32> = (-400..=400)
            .map(|i| i as f32 * 0.025)
            .chain([1e-8, -1e-8, 30.0, -30.0, 1e4, -1e4])
            .collect();
        for dev in cpu_devices() {
            let dev = dev.autodiff();
            let x = vec_to_tensor(&xs, &dev).require_grad();
            let y = tanh(x.clone());
            let grads = y.clone().sum().backward();
            let (y, g) = (to_vec(y).unwrap(), to_vec(x.grad(&grads).unwrap()).unwrap());
            for i in 0..xs.len() {
                let t = (xs[i] as f64).tanh();
                assert!(
                    (y[i] as f64 - t).abs() < 2e-7,
                    "tanh({}) = {} vs {t}",
                    xs[i],
                    y[i]
                );
                assert!(
                    (g[i] as f64 - (1.0 - t * t)).abs() < 1e-6,
                    "tanh'({}) = {}",
                    xs[i],
                    g[i]
                );
            }
        }
    }

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

    /// Values and gradients agree with the relu/abs/log1p formulation
    /// l·y − [relu(l) + log1p(exp(−|l|))] (gen-vae's Bernoulli
    /// log-likelihood before it used this function, and this function's
    /// form until log1p gave way to a cheaper log) to f32 rounding: row sums
    /// of 50 logits in ±20 within 1e-5 relative, gradients within 1e-6.
    #[test]
    fn bce_with_logits_agrees_with_the_relu_abs_log1p_formulation() {
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
            for (a, b) in plain.iter().zip(&ours) {
                assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "{a} vs {b}");
            }
            for (a, b) in plain_grad.iter().zip(&our_grad) {
                assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
            }
        }
    }
}
