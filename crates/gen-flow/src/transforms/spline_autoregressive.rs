//! Autoregressive rational-quadratic neural spline flow (Durkan et al. 2019,
//! "Neural Spline Flows", §3.2 "autoregressive"; nflows'
//! `MaskedPiecewiseRationalQuadraticAutoregressiveTransform`).
//!
//! A MADE (Germain et al. 2015) with input degrees given by an order outputs,
//! for every coordinate i, the 3K − 1 unnormalised parameters θ_i(x_{<i}) of
//! a monotone rational-quadratic spline g_θ on [−B, B] with identity tails
//! ([`crate::transforms::spline::rq_spline`], eqs. 4–8). As in MAF
//! (Papamakarios et al. 2017) the flow is
//!
//! ```text
//! normalizing:  z_i = g(x_i; θ_i(x_{<i}))       (one parallel pass)
//! generative:   x_i = g⁻¹(z_i; θ_i(x_{<i}))     (D sequential passes)
//! log|det ∂z/∂x| = Σ_i log g'(x_i; θ_i(x_{<i}))
//! ```
//!
//! The Jacobian ∂z/∂x is triangular in the MADE order (∂z_i/∂x_j = 0 when
//! order(j) > order(i)), so its log-determinant is the sum of the diagonal
//! log-derivatives. The generative pass starts from x = 0 and applies g⁻¹
//! with parameters from the current x D times: after pass k every coordinate
//! of degree ≤ k is final.
//!
//! MADE's output j·D + i is parameter j of coordinate i (degree `order[i]`);
//! the `(3K − 1)·D` outputs are reshaped to `[n, 3K − 1, D]` and transposed
//! to the `[n, D, 3K − 1]` layout `rq_spline` reads. The last layer starts at
//! zero, so every spline starts as the identity (equal bins, unit slopes).
//!
//! [`SplineAutoregressive::inverted`] swaps the directions (IAF-style: a
//! one-pass generative map, sequential density evaluation).

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::nn::{Activation, Made};
use gen_core::{Result, Rng};

use crate::bijection::row_sum;
use crate::transforms::autoregressive::{AutoregressiveLayer, solve_sequentially};
use crate::transforms::spline::{check_bins_and_bound, params_per_dim, rq_spline};

/// A MADE-conditioned rational-quadratic spline autoregressive layer (NSF-AR).
#[derive(Module, Debug)]
pub struct SplineAutoregressive {
    /// MADE outputting the 3K − 1 spline parameters of every coordinate.
    pub made: Made,
    /// D.
    #[module(skip)]
    pub dim: usize,
    /// Number of bins K.
    #[module(skip)]
    pub bins: usize,
    /// Half-width B of the interval [−B, B] the splines cover.
    #[module(skip)]
    pub bound: f64,
    /// `false`: MAF-style (parallel density); `true`: IAF-style (parallel sampling).
    #[module(skip)]
    pub inverted: bool,
}

impl SplineAutoregressive {
    /// An NSF-AR layer on `order.len()` coordinates with autoregressive
    /// `order` (degrees 1..=D), MADE hidden widths `hidden` (each ≥ 1),
    /// splines of `bins` bins on [−`bound`, `bound`], an optional context of
    /// width `context_dim`, and a zero output layer (identity start) unless
    /// `zero_last` is false.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        order: Vec<usize>,
        hidden: &[usize],
        activation: Activation,
        context_dim: usize,
        bins: usize,
        bound: f64,
        zero_last: bool,
        rng: &mut Rng,
        device: &Device,
    ) -> Result<Self> {
        check_bins_and_bound(bins, bound)?;
        let made = Made::new(
            order,
            hidden,
            params_per_dim(bins),
            activation,
            context_dim,
            zero_last,
            rng,
            device,
        )?;
        Ok(Self {
            dim: made.dim(),
            made,
            bins,
            bound,
            inverted: false,
        })
    }

    /// The same layer with forward and inverse swapped (MAF-style ↔ IAF-style).
    pub fn inverted(mut self) -> Self {
        self.inverted = !self.inverted;
        self
    }

    /// Unnormalised spline parameters θ(x) from MADE, `[n, D, 3K − 1]`;
    /// row i depends only on the coordinates of smaller degree.
    pub fn params(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<3> {
        self.made.forward(x, context)
    }
}

impl AutoregressiveLayer for SplineAutoregressive {
    fn ar_dim(&self) -> usize {
        self.dim
    }

    fn is_inverted(&self) -> bool {
        self.inverted
    }

    /// One pass: z = g(x; θ(x)), log|det ∂z/∂x| = Σ_i log g'(x_i).
    fn parallel(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        let raw = self.params(x.clone(), context);
        let (z, ld) = rq_spline(x, raw, self.bins, self.bound, false);
        (z, row_sum(ld))
    }

    /// D passes: x = g⁻¹(z; θ(x)), log|det ∂x/∂z| = −Σ_i log g'(x_i).
    fn sequential(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<1>) {
        solve_sequentially(self.dim, &z, |x| {
            let raw = self.params(x, context);
            rq_spline(z.clone(), raw, self.bins, self.bound, true)
        })
    }
}

#[cfg(test)]
impl SplineAutoregressive {
    /// A layer on flex with a random order and a random (non-zero) last MADE
    /// layer, hidden 16-16 tanh: a non-trivial map for the tests here and in
    /// `crate::tests`.
    pub(crate) fn random_for_tests(
        d: usize,
        ctx_dim: usize,
        bins: usize,
        bound: f64,
        seed: u64,
    ) -> Self {
        let dev = gen_core::Backend::Flex
            .device()
            .expect("flex is compiled in");
        let mut rng = gen_core::rng_from_seed(seed);
        let order = gen_core::nn::masked_linear::random_order(d, &mut rng);
        Self::new(
            order,
            &[16, 16],
            gen_core::nn::Activation::Tanh,
            ctx_dim,
            bins,
            bound,
            false,
            &mut rng,
            &dev,
        )
        .expect("valid test layer")
    }
}

#[cfg(test)]
mod tests {
    use gen_core::burn::tensor::Tensor;
    use gen_core::nn::Activation;
    use gen_core::tensor::{to_tensor, to_vec};
    use gen_core::{Backend, Matrix, rng_from_seed};
    use proptest::prelude::*;

    use super::SplineAutoregressive;
    use crate::bijection::Bijection;
    use crate::test_util::{check_layer_fd, fd_jacobian, normal_rows};

    fn device() -> gen_core::burn::tensor::Device {
        Backend::Flex.device().expect("flex is compiled in")
    }

    /// max |f(x) − x| over rows: how far the layer is from the identity.
    fn distance_from_identity(l: &SplineAutoregressive, x: &Matrix) -> f64 {
        let y = to_vec(l.inverse(to_tensor(x, &device()), None).unwrap().0).unwrap();
        x.as_slice()
            .iter()
            .zip(y)
            .map(|(a, b)| (a - b as f64).abs())
            .fold(0.0, f64::max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10))]

        #[test]
        fn nsf_ar_inverts_and_logdet_matches_finite_differences(
            d in 2usize..6, n in 1usize..6, bins in 2usize..10, bound in 0.5f64..3.0,
            ctx_dim in 0usize..3, iaf in any::<bool>(), seed in 0u64..1000) {
            // B ∈ [0.5, 3) with N(0, 1) rows exercises both the splines and the identity tails.
            let l = SplineAutoregressive::random_for_tests(d, ctx_dim, bins, bound, seed);
            let l = if iaf { l.inverted() } else { l };
            let ctx = (ctx_dim > 0).then(|| normal_rows(n, ctx_dim, 1.0, seed + 1));
            check_layer_fd(&l, n, seed, ctx.as_ref(), &device(), 1e-3);
        }
    }

    #[test]
    fn random_layers_are_not_the_identity_but_zero_init_is() {
        let x = normal_rows(64, 3, 1.0, 4);
        let moved =
            distance_from_identity(&SplineAutoregressive::random_for_tests(3, 0, 8, 3.0, 1), &x);
        assert!(
            moved > 1e-2,
            "random NSF-AR layer moved points by only {moved}"
        );
        let dev = device();
        let mut rng = rng_from_seed(2);
        let id = SplineAutoregressive::new(
            vec![1, 2, 3],
            &[8],
            Activation::Relu,
            0,
            8,
            3.0,
            true,
            &mut rng,
            &dev,
        )
        .unwrap();
        let (y, ld) = id.forward(to_tensor(&x, &dev), None).unwrap();
        let y = to_vec(y).unwrap();
        assert!(
            x.as_slice()
                .iter()
                .zip(&y)
                .all(|(a, b)| (a - *b as f64).abs() < 1e-5)
        );
        assert!(to_vec(ld).unwrap().iter().all(|v| v.abs() < 1e-5));
    }

    #[test]
    fn params_of_coordinate_i_ignore_inputs_of_degree_at_least_order_i() {
        // MADE's autoregressive property, checked on the spline parameters:
        // θ_i is unchanged when x_j with order[j] ≥ order[i] moves.
        let dev = device();
        let mut rng = rng_from_seed(7);
        let order = vec![3, 1, 4, 2];
        let l = SplineAutoregressive::new(
            order.clone(),
            &[16, 16],
            Activation::Tanh,
            0,
            6,
            3.0,
            false,
            &mut rng,
            &dev,
        )
        .unwrap();
        let base = [0.3, -1.0, 0.7, 1.2];
        let p = 3 * 6 - 1;
        let at = |x: &[f64]| -> Vec<f32> {
            let m = Matrix::from_rows(&[x.to_vec()]).unwrap();
            to_vec(l.params(to_tensor(&m, &dev), None).reshape([4 * p])).unwrap()
        };
        let p0 = at(&base);
        for j in 0..4 {
            let mut x = base;
            x[j] += 0.5;
            let pj = at(&x);
            for i in 0..4 {
                let changed = (0..p)
                    .map(|q| (pj[i * p + q] - p0[i * p + q]).abs())
                    .fold(0.0f32, f32::max);
                if order[j] >= order[i] {
                    assert!(changed == 0.0, "θ_{i} moved by {changed} when x_{j} moved");
                } else {
                    assert!(
                        changed > 0.0,
                        "θ_{i} ignores x_{j} (order {} < {})",
                        order[j],
                        order[i]
                    );
                }
            }
        }
    }

    #[test]
    fn normalizing_jacobian_is_triangular_in_the_made_order() {
        // ∂z_i/∂x_j = 0 whenever order[j] > order[i]; the diagonal is positive (monotone splines).
        let dev = device();
        let mut rng = rng_from_seed(5);
        let order = vec![2, 4, 1, 3];
        let l = SplineAutoregressive::new(
            order.clone(),
            &[16],
            Activation::Tanh,
            0,
            5,
            3.0,
            false,
            &mut rng,
            &dev,
        )
        .unwrap();
        let f = |t: Tensor<2>| l.inverse(t, None).unwrap().0;
        let jac = fd_jacobian(&f, &[0.3, -1.0, 0.7, 1.2], 1e-3, &dev);
        for i in 0..4 {
            for j in 0..4 {
                if order[j] > order[i] {
                    assert!(
                        jac[i * 4 + j].abs() < 1e-6,
                        "∂z_{i}/∂x_{j} = {}",
                        jac[i * 4 + j]
                    );
                }
            }
            assert!(jac[i * 4 + i] > 0.0, "∂z_{i}/∂x_{i} = {}", jac[i * 4 + i]);
        }
    }

    #[test]
    fn one_dimensional_layer_is_a_learnable_spline() {
        // D = 1: MADE's output has no inputs (degree 1 sees nothing), only biases.
        let l = SplineAutoregressive::random_for_tests(1, 0, 4, 2.0, 9);
        check_layer_fd(&l, 5, 1, None, &device(), 1e-3);
    }
}
