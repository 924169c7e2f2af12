//! Invertible linear map with an LU parameterisation (Glow's invertible 1×1
//! convolution, Kingma & Dhariwal 2018, section 3.2, applied to vectors).
//!
//! W = P L (U + diag(sign ⊙ exp(log|s|))) with P a fixed permutation, L unit
//! lower-triangular and U strictly upper-triangular, so
//! log|det W| = Σ_d log|s_d| costs O(D) and W is invertible for every value
//! of the parameters.
//!
//! In this layer the *normalizing* direction is z = y W (differentiable in
//! the parameters, used for training by maximum likelihood) with
//! log|det| = Σ log|s|; the generative direction y = z W⁻¹ inverts W on the
//! host in f64 (Gauss–Jordan with partial pivoting) and carries no gradient
//! to the parameters, which is all that sampling needs.

use gen_core::burn::module::{Module, Param};
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::{GenError, Result, Rng};
use rand::Rng as _;

use crate::bijection::Bijection;

/// LU-parameterised invertible linear layer.
#[derive(Module, Debug)]
pub struct LuLinear {
    /// Entries of L below the diagonal (the rest is ignored): `[D, D]`.
    pub lower: Param<Tensor<2>>,
    /// Entries of U above the diagonal (the rest is ignored): `[D, D]`.
    pub upper: Param<Tensor<2>>,
    /// log|s_d|: `[D]`.
    pub log_diag: Param<Tensor<1>>,
    /// sign(s_d) (fixed): `[1, D]`.
    pub sign: Tensor<2>,
    /// The permutation matrix P: `[D, D]`.
    pub perm: Tensor<2>,
    /// 1 strictly below the diagonal: `[D, D]`.
    pub lower_mask: Tensor<2>,
    /// 1 strictly above the diagonal: `[D, D]`.
    pub upper_mask: Tensor<2>,
    /// The identity: `[D, D]`.
    pub eye: Tensor<2>,
}

impl LuLinear {
    /// A layer on `d` coordinates with a random permutation P and
    /// L, U, log|s| entries drawn from U(−scale, scale) (signs random when
    /// `scale > 0`). `scale = 0` starts at W = P.
    pub fn new(d: usize, scale: f32, rng: &mut Rng, device: &Device) -> Self {
        use rand::seq::SliceRandom;
        let mut draw = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    if scale > 0.0 {
                        rng.random_range(-scale..scale)
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        let lower = draw(d * d);
        let upper = draw(d * d);
        let log_diag = draw(d);
        let sign: Vec<f32> = (0..d)
            .map(|_| {
                if scale > 0.0 && rng.random_bool(0.5) {
                    -1.0
                } else {
                    1.0
                }
            })
            .collect();
        let mut idx: Vec<usize> = (0..d).collect();
        idx.shuffle(rng);
        let mut p = vec![0f32; d * d];
        for (i, &j) in idx.iter().enumerate() {
            p[i * d + j] = 1.0;
        }
        let tri = |f: &dyn Fn(usize, usize) -> bool| -> Vec<f32> {
            (0..d * d)
                .map(|k| if f(k / d, k % d) { 1.0 } else { 0.0 })
                .collect()
        };
        let t2 = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [d, d]), device);
        Self {
            lower: Param::from_tensor(t2(lower)),
            upper: Param::from_tensor(t2(upper)),
            log_diag: Param::from_tensor(gen_core::tensor::vec_to_tensor(&log_diag, device)),
            sign: gen_core::tensor::vec_to_tensor(&sign, device).unsqueeze_dim(0),
            perm: t2(p),
            lower_mask: t2(tri(&|i, j| i > j)),
            upper_mask: t2(tri(&|i, j| i < j)),
            eye: t2(tri(&|i, j| i == j)),
        }
    }

    /// W = P L U on the device.
    pub fn weight(&self) -> Tensor<2> {
        let l = self.lower.val() * self.lower_mask.clone() + self.eye.clone();
        let s = self.sign.clone() * self.log_diag.val().exp().unsqueeze_dim(0);
        let u = self.upper.val() * self.upper_mask.clone() + self.eye.clone() * s;
        self.perm.clone().matmul(l).matmul(u)
    }

    /// W⁻¹ computed on the host in f64.
    pub fn inverse_weight(&self) -> Result<Tensor<2>> {
        let w = self.weight();
        let device = w.device();
        let [d, _] = w.dims();
        let v: Vec<f64> = gen_core::tensor::to_vec(w)?
            .iter()
            .map(|x| *x as f64)
            .collect();
        let inv = invert(&v, d)?;
        let f: Vec<f32> = inv.iter().map(|x| *x as f32).collect();
        Ok(Tensor::from_data(TensorData::new(f, [d, d]), &device))
    }
}

/// Inverse of a row-major `d × d` matrix by Gauss–Jordan elimination with
/// partial pivoting; errors if the matrix is numerically singular.
pub fn invert(a: &[f64], d: usize) -> Result<Vec<f64>> {
    let mut m = a.to_vec();
    let mut inv: Vec<f64> = (0..d * d)
        .map(|k| if k / d == k % d { 1.0 } else { 0.0 })
        .collect();
    for c in 0..d {
        let p = (c..d)
            .max_by(|&i, &j| m[i * d + c].abs().total_cmp(&m[j * d + c].abs()))
            .unwrap_or(c);
        if m[p * d + c].abs().is_nan() || m[p * d + c].abs() <= 1e-12 {
            return Err(GenError::input(
                "LU linear layer",
                "the weight matrix is numerically singular",
                "the log-diagonal went to −∞: lower the learning rate",
            ));
        }
        for k in 0..d {
            m.swap(c * d + k, p * d + k);
            inv.swap(c * d + k, p * d + k);
        }
        let piv = m[c * d + c];
        for k in 0..d {
            m[c * d + k] /= piv;
            inv[c * d + k] /= piv;
        }
        for r in 0..d {
            if r != c {
                let f = m[r * d + c];
                if f != 0.0 {
                    for k in 0..d {
                        m[r * d + k] -= f * m[c * d + k];
                        inv[r * d + k] -= f * inv[c * d + k];
                    }
                }
            }
        }
    }
    Ok(inv)
}

impl Bijection for LuLinear {
    fn dim(&self) -> usize {
        self.eye.dims()[0]
    }

    fn forward(
        &self,
        x: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let winv = self.inverse_weight()?;
        let ld = self.log_diag.val().sum().neg().repeat_dim(0, n);
        Ok((x.matmul(winv), ld))
    }

    fn inverse(
        &self,
        y: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = y.dims();
        let ld = self.log_diag.val().sum().repeat_dim(0, n);
        Ok((y.matmul(self.weight()), ld))
    }
}

#[cfg(test)]
mod tests {
    use super::invert;

    #[test]
    fn gauss_jordan_inverts() {
        let a = [0.0, 2.0, 1.0, 1.0, 0.0, 3.0, 4.0, 1.0, 0.0];
        let inv = invert(&a, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| a[i * 3 + k] * inv[k * 3 + j]).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!(invert(&[1.0, 2.0, 2.0, 4.0], 2).is_err());
    }
}
