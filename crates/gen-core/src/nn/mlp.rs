//! Multi-layer perceptron: h₀ = x, hᵢ = σ(hᵢ₋₁ Wᵢ + bᵢ), y = h_{L−1} W_L + b_L.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};

use crate::error::{GenError, Result};
use crate::nn::activation::Activation;
use crate::nn::linear::{Init, linear};
use crate::task::Rng;

/// Shape and initialisation of an [`Mlp`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpConfig {
    /// Input width.
    pub d_in: usize,
    /// Hidden widths, e.g. `[64, 64]`.
    pub hidden: Vec<usize>,
    /// Output width.
    pub d_out: usize,
    /// Hidden non-linearity.
    pub activation: Activation,
    /// Zero-initialise the output layer (flows then start at the identity map).
    pub zero_last: bool,
}

impl MlpConfig {
    /// Builds the MLP with weights drawn from `rng`.
    pub fn init(&self, rng: &mut Rng, device: &Device) -> Result<Mlp> {
        if self.d_in == 0 || self.d_out == 0 || self.hidden.contains(&0) {
            return Err(GenError::config(
                "mlp widths",
                format!("{} -> {:?} -> {}", self.d_in, self.hidden, self.d_out),
                "every layer needs at least one unit",
                "give positive input, hidden and output widths",
            ));
        }
        let mut widths = vec![self.d_in];
        widths.extend(&self.hidden);
        widths.push(self.d_out);
        let n = widths.len() - 1;
        let layers = (0..n)
            .map(|i| {
                let init = if i + 1 == n && self.zero_last {
                    Init::Zeros
                } else {
                    Init::Default
                };
                linear(widths[i], widths[i + 1], init, rng, device)
            })
            .collect();
        Ok(Mlp {
            layers,
            activation: self.activation,
        })
    }
}

/// A multi-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The affine layers, input to output.
    pub layers: Vec<Linear>,
    /// Hidden activation.
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    /// # Shapes
    /// - `x`: `[batch, d_in]` → `[batch, d_out]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let n = self.layers.len();
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = super::linear::apply(layer, h);
            if i + 1 < n {
                h = self.activation.forward(h);
            }
        }
        h
    }

    /// The output and its Jacobian-vector products in forward mode: for
    /// tangents v (k directions per row) of the input, returns y = f(x) and
    /// J_f(x)·v, propagated layer by layer as v ← W v, then v ← σ'(h) ⊙ v
    /// (first-order tensor operations only, so autodiff can train through
    /// them and no double backward is needed).
    ///
    /// # Shapes
    /// - `x`: `[batch, d_in]`, `v`: `[batch, k, d_in]` →
    ///   (`[batch, d_out]`, `[batch, k, d_out]`)
    pub fn forward_jvp(&self, x: Tensor<2>, v: Tensor<3>) -> (Tensor<2>, Tensor<3>) {
        let n = self.layers.len();
        let [b, k, _] = v.dims();
        let mut h = x;
        let mut v = v;
        for (i, layer) in self.layers.iter().enumerate() {
            let pre = super::linear::apply(layer, h);
            let w = layer.weight.val();
            let [d_in, d_out] = w.dims();
            v = v.reshape([b * k, d_in]).matmul(w).reshape([b, k, d_out]);
            if i + 1 < n {
                let post = self.activation.forward(pre.clone());
                let slope = self.activation.derivative(pre, post.clone());
                v = v * slope.unsqueeze_dim::<3>(1);
                h = post;
            } else {
                h = pre;
            }
        }
        (h, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng_from_seed;
    use crate::tensor::to_vec;
    use burn::tensor::TensorData;

    /// J·v from `forward_jvp` matches central differences of `forward` in
    /// f64-accurate directions, for every activation (GELU and SiLU are the
    /// smooth ones; ReLU-type are checked away from their kinks by chance of
    /// the draw, with a looser tolerance).
    #[test]
    fn forward_jvp_matches_finite_differences() {
        #[allow(deprecated)]
        let d = Device::ndarray();
        for act in [
            Activation::Silu,
            Activation::Tanh,
            Activation::Gelu,
            Activation::Relu,
            Activation::LeakyRelu,
        ] {
            let mlp = MlpConfig {
                d_in: 3,
                hidden: vec![16, 16],
                d_out: 2,
                activation: act,
                zero_last: false,
            }
            .init(&mut rng_from_seed(4), &d)
            .unwrap();
            let x0 = [0.3f32, -0.7, 1.1, -0.2, 0.5, 0.9];
            let x = Tensor::<2>::from_data(TensorData::new(x0.to_vec(), [2, 3]), &d);
            // Two directions per row: e_0 and (0, 1, −1).
            let dirs = [[1.0f32, 0.0, 0.0], [0.0, 1.0, -1.0]];
            let v: Vec<f32> = (0..2)
                .flat_map(|_| dirs.iter().flatten().copied())
                .collect();
            let v = Tensor::<3>::from_data(TensorData::new(v, [2, 2, 3]), &d);
            let (y, jv) = mlp.forward_jvp(x.clone(), v);
            assert_eq!(to_vec(y).unwrap(), to_vec(mlp.forward(x)).unwrap());
            let jv = to_vec(jv).unwrap();
            let h = 1e-3f32;
            for (k, dir) in dirs.iter().enumerate() {
                let shifted = |s: f32| {
                    let xs: Vec<f32> = x0
                        .iter()
                        .enumerate()
                        .map(|(i, v)| v + s * h * dir[i % 3])
                        .collect();
                    to_vec(mlp.forward(Tensor::from_data(TensorData::new(xs, [2, 3]), &d))).unwrap()
                };
                let (up, down) = (shifted(1.0), shifted(-1.0));
                for row in 0..2 {
                    for o in 0..2 {
                        let fd = (up[row * 2 + o] - down[row * 2 + o]) / (2.0 * h);
                        let got = jv[(row * 2 + k) * 2 + o];
                        assert!(
                            (fd - got).abs() < 2e-3 * (1.0 + fd.abs()),
                            "{act:?} row {row} dir {k} out {o}: fd {fd} vs jvp {got}"
                        );
                    }
                }
            }
        }
    }
}
