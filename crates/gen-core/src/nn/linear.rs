//! Linear layers initialised from the host RNG, so every backend starts from
//! the same weights (burn's own initialisers use per-backend device RNGs).

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng as _;

use crate::task::Rng;

/// How a layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// PyTorch's `nn.Linear` default: W, b ~ U(−1/√fan_in, 1/√fan_in).
    Default,
    /// All zeros (e.g. the last layer of a flow conditioner, so the flow starts at identity).
    Zeros,
    /// W ~ N(0, std²), b = 0. GPT-2 and DCGAN use `std = 0.02`
    /// ([`Init::GPT2`]).
    Normal {
        /// Standard deviation of the weights.
        std: f64,
    },
}

impl Init {
    /// N(0, 0.02²) weights and zero biases, as GPT-2 and DCGAN initialise.
    pub const GPT2: Init = Init::Normal { std: 0.02 };

    /// `n` weights of a layer with fan-in `fan_in`, drawn from `rng`.
    pub fn weights(self, n: usize, fan_in: usize, rng: &mut Rng) -> Vec<f32> {
        match self {
            Init::Default => uniform(n, fan_in, rng),
            Init::Zeros => vec![0.0; n],
            Init::Normal { std } => normal(n, std, rng),
        }
    }

    /// `n` biases of a layer with fan-in `fan_in`, drawn from `rng` (after its weights).
    pub fn biases(self, n: usize, fan_in: usize, rng: &mut Rng) -> Vec<f32> {
        match self {
            Init::Default => uniform(n, fan_in, rng),
            Init::Zeros | Init::Normal { .. } => vec![0.0; n],
        }
    }
}

/// `n` draws from U(−1/√fan_in, 1/√fan_in).
fn uniform(n: usize, fan_in: usize, rng: &mut Rng) -> Vec<f32> {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
}

/// `n` draws from N(0, std²) on the host RNG (Box–Muller in f64 by
/// [`crate::numerics::normals`], rounded to f32).
pub fn normal(n: usize, std: f64, rng: &mut Rng) -> Vec<f32> {
    crate::numerics::normals(n, std, rng)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// `y = x W + b` with `W: [d_in, d_out]`, initialised per `init` from `rng`.
pub fn linear(d_in: usize, d_out: usize, init: Init, rng: &mut Rng, device: &Device) -> Linear {
    let w = init.weights(d_in * d_out, d_in, rng);
    let b = init.biases(d_out, d_in, rng);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(b, [d_out]),
            device,
        ))),
    }
}

/// `y = x W + b` for a layer made by [`linear`], as `layer.forward(x)`
/// computes it, except that a layer with one input feature (`W: [1, d_out]`,
/// the first layer of a coupling network on 2-D data) forms the outer
/// product x W as a broadcast multiply: a matrix product with k = 1 takes
/// the CPU GEMM's slowest path, about ten times the multiply's time
/// (docs/performance.md).
///
/// # Shapes
/// - `x`: `[batch, d_in]` → `[batch, d_out]`
pub fn apply(layer: &Linear, x: Tensor<2>) -> Tensor<2> {
    let w = layer.weight.val();
    if w.dims()[0] != 1 {
        return layer.forward(x);
    }
    let y = x * w;
    match &layer.bias {
        Some(b) => y + b.val().unsqueeze_dim::<2>(0),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::cpu_devices;
    use crate::rng_from_seed;
    use crate::tensor::to_vec;

    /// `apply` is `Linear::forward`, values and gradients, with one input
    /// feature (the broadcast path) and with several.
    #[test]
    fn apply_equals_the_layer_forward() {
        for dev in cpu_devices() {
            let dev = dev.autodiff();
            for d_in in [1, 3] {
                let layer = linear(d_in, 5, Init::Default, &mut rng_from_seed(4), &dev);
                let x: Vec<f32> = (0..7 * d_in).map(|i| (i as f32 * 0.37).sin()).collect();
                let run = |fast: bool| {
                    let x = Tensor::<2>::from_data(TensorData::new(x.clone(), [7, d_in]), &dev)
                        .require_grad();
                    let y = if fast {
                        apply(&layer, x.clone())
                    } else {
                        layer.forward(x.clone())
                    };
                    let g = (y.clone() * y.clone()).sum().backward();
                    let gw = layer.weight.val().grad(&g).unwrap();
                    (
                        to_vec(y).unwrap(),
                        to_vec(x.grad(&g).unwrap()).unwrap(),
                        to_vec(gw).unwrap(),
                    )
                };
                let (a, b) = (run(true), run(false));
                for (u, v) in [(&a.0, &b.0), (&a.1, &b.1), (&a.2, &b.2)] {
                    assert_eq!(u.len(), v.len());
                    for (p, q) in u.iter().zip(v.iter()) {
                        assert!((p - q).abs() < 1e-5, "d_in {d_in}: {p} vs {q}");
                    }
                }
            }
        }
    }

    /// Mean, standard deviation and kurtosis E[(w − μ)⁴]/σ⁴ of `v`.
    fn moments(v: &[f32]) -> (f64, f64, f64) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let m2 = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        let m4 = v.iter().map(|&x| (x as f64 - mean).powi(4)).sum::<f64>() / n;
        (mean, m2.sqrt(), m4 / (m2 * m2))
    }

    /// A 512 × 512 layer (262,144 weights): the sample std of N(0, σ²) draws
    /// has relative standard error 1/√(2n) ≈ 0.14 %, so 1 % is a 7-sigma band;
    /// kurtosis 3 (a uniform with the same std has 1.8) shows the draws are Gaussian.
    #[test]
    fn normal_init_has_the_requested_std_and_zero_bias() {
        for dev in cpu_devices() {
            let layer = linear(512, 512, Init::GPT2, &mut rng_from_seed(3), &dev);
            let w = to_vec(layer.weight.val()).unwrap();
            let (mean, std, kurt) = moments(&w);
            assert!(mean.abs() < 0.02 * 0.01, "mean {mean}");
            assert!((std / 0.02 - 1.0).abs() < 0.01, "std {std}");
            assert!((kurt - 3.0).abs() < 0.1, "kurtosis {kurt}");
            let b = to_vec(layer.bias.unwrap().val()).unwrap();
            assert!(b.iter().all(|&x| x == 0.0));
        }
    }

    #[test]
    fn default_init_is_uniform_within_one_over_root_fan_in() {
        let dev = &cpu_devices()[0];
        let layer = linear(256, 300, Init::Default, &mut rng_from_seed(4), dev);
        let w = to_vec(layer.weight.val()).unwrap();
        let bound = 1.0 / 16.0;
        assert!(w.iter().all(|x| x.abs() <= bound));
        // U(−a, a) has std a/√3 and kurtosis 1.8.
        let (_, std, kurt) = moments(&w);
        assert!(
            (std / (bound as f64 / 3f64.sqrt()) - 1.0).abs() < 0.01,
            "std {std}"
        );
        assert!((kurt - 1.8).abs() < 0.05, "kurtosis {kurt}");
    }

    #[test]
    fn normal_draws_are_reproducible_and_of_the_requested_length() {
        let a = normal(7, 1.5, &mut rng_from_seed(9));
        let b = normal(7, 1.5, &mut rng_from_seed(9));
        assert_eq!(a.len(), 7);
        assert_eq!(a, b);
        assert!(normal(0, 1.0, &mut rng_from_seed(9)).is_empty());
    }
}
