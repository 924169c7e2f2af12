//! Layer and group normalisation with a learned per-feature affine map.
//!
//! - LayerNorm (Ba et al. 2016) normalises each vector over its last axis:
//!   y = (x − μ) / √(σ² + ε) · γ + β, μ and σ² (biased) over the d features.
//! - GroupNorm (Wu & He 2018) splits the C channels of `[B, C, …]` into G
//!   groups and normalises each (example, group) over its C/G channels and all
//!   spatial positions: y = (x − μ_g) / √(σ²_g + ε) · γ_c + β_c.
//!
//! Both start with γ = 1, β = 0. This initialisation is deterministic, so it
//! needs no random numbers and draws nothing from the run's RNG: a model that
//! adds a normalisation layer keeps the weights every other layer drew. The
//! numbers equal burn's `LayerNorm` / `GroupNorm` with the same γ, β and ε.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use crate::error::{GenError, Result};

/// ε of PyTorch and burn.
pub const NORM_EPSILON: f64 = 1e-5;

/// Width and ε of a [`LayerNorm`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerNormConfig {
    /// Feature width d (the last axis).
    pub d_model: usize,
    /// ε added to the variance.
    pub epsilon: f64,
}

impl LayerNormConfig {
    /// Width `d_model`, ε = 1e-5.
    pub fn new(d_model: usize) -> Self {
        Self {
            d_model,
            epsilon: NORM_EPSILON,
        }
    }

    /// γ = 1, β = 0 on `device`.
    pub fn init(&self, device: &Device) -> Result<LayerNorm> {
        check_epsilon(self.epsilon)?;
        if self.d_model == 0 {
            return Err(GenError::config(
                "layer norm width",
                0,
                "must be at least 1",
                "pass the feature width of the normalised axis",
            ));
        }
        Ok(LayerNorm {
            gamma: Param::from_tensor(Tensor::ones([self.d_model], device)),
            beta: Param::from_tensor(Tensor::zeros([self.d_model], device)),
            epsilon: self.epsilon,
        })
    }
}

/// Layer normalisation over the last axis (see the module docs).
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// Scale γ, `[d_model]`.
    pub gamma: Param<Tensor<1>>,
    /// Shift β, `[d_model]`.
    pub beta: Param<Tensor<1>>,
    /// ε added to the variance.
    #[module(skip)]
    pub epsilon: f64,
}

impl LayerNorm {
    /// # Shapes
    /// - `x`: `[…, d_model]` → same shape
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        burn::tensor::module::layer_norm(x, self.gamma.val(), Some(self.beta.val()), self.epsilon)
    }
}

/// Groups, channels and ε of a [`GroupNorm`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupNormConfig {
    /// Number of groups G (divides `channels`).
    pub groups: usize,
    /// Channels C (axis 1).
    pub channels: usize,
    /// ε added to the variance.
    pub epsilon: f64,
}

impl GroupNormConfig {
    /// `groups` groups over `channels` channels, ε = 1e-5.
    pub fn new(groups: usize, channels: usize) -> Self {
        Self {
            groups,
            channels,
            epsilon: NORM_EPSILON,
        }
    }

    /// γ = 1, β = 0 on `device`.
    pub fn init(&self, device: &Device) -> Result<GroupNorm> {
        check_epsilon(self.epsilon)?;
        if self.groups == 0 || self.channels == 0 || !self.channels.is_multiple_of(self.groups) {
            return Err(GenError::config(
                "group norm groups",
                format!("{} groups over {} channels", self.groups, self.channels),
                "the number of groups must be positive and divide the channels",
                "e.g. 32 groups for 128 channels, or min(32, C) when C is small",
            ));
        }
        Ok(GroupNorm {
            gamma: Param::from_tensor(Tensor::ones([self.channels], device)),
            beta: Param::from_tensor(Tensor::zeros([self.channels], device)),
            groups: self.groups,
            epsilon: self.epsilon,
        })
    }
}

/// Group normalisation of `[B, C, …]` (see the module docs).
#[derive(Module, Debug)]
pub struct GroupNorm {
    /// Per-channel scale γ, `[C]`.
    pub gamma: Param<Tensor<1>>,
    /// Per-channel shift β, `[C]`.
    pub beta: Param<Tensor<1>>,
    /// Number of groups G.
    #[module(skip)]
    pub groups: usize,
    /// ε added to the variance.
    #[module(skip)]
    pub epsilon: f64,
}

impl GroupNorm {
    /// # Shapes
    /// - `x`: `[batch, C, …]` (rank ≥ 3) → same shape
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        assert!(
            D >= 3,
            "GroupNorm needs [batch, channels, ...], got rank {D}"
        );
        let dims = x.dims();
        let [c] = self.gamma.dims();
        assert_eq!(dims[1], c, "GroupNorm over {c} channels got {dims:?}");
        let per_group = dims[1..].iter().product::<usize>() / self.groups;
        let g = x.reshape([dims[0], self.groups, per_group]);
        let centered = g.clone() - g.mean_dim(2);
        let var = centered.clone().square().mean_dim(2);
        let normed = (centered / (var + self.epsilon).sqrt()).reshape(dims);
        let mut affine = [1; D];
        affine[1] = c;
        normed * self.gamma.val().reshape(affine) + self.beta.val().reshape(affine)
    }
}

fn check_epsilon(epsilon: f64) -> Result<()> {
    if epsilon.is_finite() && epsilon > 0.0 {
        Ok(())
    } else {
        Err(GenError::config(
            "normalisation epsilon",
            epsilon,
            "must be finite and positive (it keeps 1/√(σ² + ε) finite)",
            "use 1e-5",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::test_util::{cpu_devices, host, max_abs_diff, t3, t4};
    use crate::tensor::to_vec;
    use burn::tensor::TensorData;

    fn param(v: Vec<f32>, dev: &Device) -> Param<Tensor<1>> {
        let n = v.len();
        Param::from_tensor(Tensor::from_data(TensorData::new(v, [n]), dev))
    }

    /// Normalises `x` in consecutive blocks of `block` values in f64, then
    /// applies γ, β indexed by `feature(position)`.
    fn host_norm(
        x: &[f32],
        block: usize,
        eps: f64,
        gamma: &[f32],
        beta: &[f32],
        feature: impl Fn(usize) -> usize,
    ) -> Vec<f32> {
        let mut out = vec![0.0; x.len()];
        for (k, chunk) in x.chunks(block).enumerate() {
            let n = block as f64;
            let mean = chunk.iter().map(|&v| v as f64).sum::<f64>() / n;
            let var = chunk
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>()
                / n;
            for (i, &v) in chunk.iter().enumerate() {
                let p = k * block + i;
                let f = feature(p);
                out[p] = ((v as f64 - mean) / (var + eps).sqrt() * gamma[f] as f64 + beta[f] as f64)
                    as f32;
            }
        }
        out
    }

    #[test]
    fn layer_norm_matches_the_formula_and_burns_layer_norm() {
        let (b, t, d) = (2, 3, 8);
        for dev in cpu_devices() {
            let mut ln = LayerNormConfig::new(d).init(&dev).unwrap();
            // The initial map standardises each row: mean 0, variance 1/(1 + ε/σ²).
            let xv: Vec<f32> = host(b * t * d, 1).iter().map(|v| 3.0 * v + 1.5).collect();
            let y0 = to_vec(ln.forward(t3(xv.clone(), [b, t, d], &dev))).unwrap();
            let ones = vec![1.0; d];
            let zeros = vec![0.0; d];
            let want0 = host_norm(&xv, d, 1e-5, &ones, &zeros, |p| p % d);
            assert!(max_abs_diff(&y0, &want0) < 1e-5);
            // A non-trivial γ, β.
            let (gamma, beta) = (host(d, 2), host(d, 3));
            ln.gamma = param(gamma.clone(), &dev);
            ln.beta = param(beta.clone(), &dev);
            let y = to_vec(ln.forward(t3(xv.clone(), [b, t, d], &dev))).unwrap();
            let want = host_norm(&xv, d, 1e-5, &gamma, &beta, |p| p % d);
            assert!(max_abs_diff(&y, &want) < 1e-5);
            // burn's LayerNorm with the same parameters.
            let mut reference = burn::nn::LayerNormConfig::new(d).init(&dev);
            reference.gamma = param(gamma.clone(), &dev);
            reference.beta = Some(param(beta.clone(), &dev));
            let r = to_vec(reference.forward(t3(xv, [b, t, d], &dev))).unwrap();
            assert!(max_abs_diff(&y, &r) < 1e-6);
        }
    }

    #[test]
    fn group_norm_matches_the_formula_and_burns_group_norm() {
        let (b, c, h, w, g) = (2, 6, 3, 4, 3);
        for dev in cpu_devices() {
            let mut gn = GroupNormConfig::new(g, c).init(&dev).unwrap();
            let xv: Vec<f32> = host(b * c * h * w, 4)
                .iter()
                .map(|v| 2.0 * v - 0.7)
                .collect();
            let (gamma, beta) = (host(c, 5), host(c, 6));
            gn.gamma = param(gamma.clone(), &dev);
            gn.beta = param(beta.clone(), &dev);
            let y = to_vec(gn.forward(t4(xv.clone(), [b, c, h, w], &dev))).unwrap();
            // Row-major [b, c, h, w]: each (example, group) is a contiguous block
            // of (C/G)·h·w values; the channel of position p is (p / hw) mod C.
            let block = c / g * h * w;
            let want = host_norm(&xv, block, 1e-5, &gamma, &beta, |p| (p / (h * w)) % c);
            assert!(max_abs_diff(&y, &want) < 1e-5);
            let mut reference = burn::nn::GroupNormConfig::new(g, c).init(&dev);
            reference.gamma = Some(param(gamma.clone(), &dev));
            reference.beta = Some(param(beta.clone(), &dev));
            let r = to_vec(reference.forward(t4(xv.clone(), [b, c, h, w], &dev))).unwrap();
            assert!(max_abs_diff(&y, &r) < 1e-6);
            // Rank 3 ([B, C, L]) as well; G = C is instance norm, G = 1 layer norm over C·L.
            for groups in [1, c] {
                let mut gn = GroupNormConfig::new(groups, c).init(&dev).unwrap();
                gn.gamma = param(gamma.clone(), &dev);
                gn.beta = param(beta.clone(), &dev);
                let y = to_vec(gn.forward(t3(xv.clone(), [b, c, h * w], &dev))).unwrap();
                let want = host_norm(&xv, c / groups * h * w, 1e-5, &gamma, &beta, |p| {
                    (p / (h * w)) % c
                });
                assert!(max_abs_diff(&y, &want) < 1e-5, "groups {groups}");
            }
        }
    }

    #[test]
    fn norms_start_at_unit_scale_and_zero_shift_and_refuse_bad_shapes() {
        let dev = &cpu_devices()[0];
        let ln = LayerNormConfig::new(4).init(dev).unwrap();
        assert_eq!(to_vec(ln.gamma.val()).unwrap(), vec![1.0; 4]);
        assert_eq!(to_vec(ln.beta.val()).unwrap(), vec![0.0; 4]);
        let gn = GroupNormConfig::new(2, 4).init(dev).unwrap();
        assert_eq!(to_vec(gn.gamma.val()).unwrap(), vec![1.0; 4]);
        assert_eq!(to_vec(gn.beta.val()).unwrap(), vec![0.0; 4]);
        assert!(GroupNormConfig::new(3, 4).init(dev).is_err());
        assert!(GroupNormConfig::new(0, 4).init(dev).is_err());
        assert!(LayerNormConfig::new(0).init(dev).is_err());
        let neg = LayerNormConfig {
            d_model: 4,
            epsilon: -1.0,
        };
        assert!(neg.init(dev).is_err());
    }
}
