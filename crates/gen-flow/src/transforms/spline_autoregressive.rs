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
mod tests {
    use gen_core::burn::tensor::Tensor;
    use gen_core::nn::Activation;
    use gen_core::nn::masked_linear::random_order;
    use gen_core::tensor::{to_tensor, to_vec};
    use gen_core::{Backend, Learn, Matrix, StepContext, rng_from_seed};
    use gen_data::toy2d::Toy2d;
    use proptest::prelude::*;

    use super::SplineAutoregressive;
    use crate::bijection::Bijection;
    use crate::flow::{Flow, FlowLayer};
    use crate::model::{FlowBatch, FlowConfig, FlowKind, FlowModel};
    use crate::tests::{check_layer_fd, fd_jacobian, normal_rows};

    fn device() -> gen_core::burn::tensor::Device {
        Backend::Flex.device().expect("flex is compiled in")
    }

    /// A layer with a random (non-zero) last MADE layer: a non-trivial map.
    fn random_layer(
        d: usize,
        ctx_dim: usize,
        bins: usize,
        bound: f64,
        seed: u64,
    ) -> SplineAutoregressive {
        let dev = device();
        let mut rng = rng_from_seed(seed);
        let order = random_order(d, &mut rng);
        SplineAutoregressive::new(
            order,
            &[16, 16],
            Activation::Tanh,
            ctx_dim,
            bins,
            bound,
            false,
            &mut rng,
            &dev,
        )
        .unwrap()
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
            let l = random_layer(d, ctx_dim, bins, bound, seed);
            let l = if iaf { l.inverted() } else { l };
            let ctx = (ctx_dim > 0).then(|| normal_rows(n, ctx_dim, 1.0, seed + 1));
            check_layer_fd(&l, n, seed, ctx.as_ref(), &device(), 1e-3);
        }
    }

    #[test]
    fn random_layers_are_not_the_identity_but_zero_init_is() {
        let x = normal_rows(64, 3, 1.0, 4);
        let moved = distance_from_identity(&random_layer(3, 0, 8, 3.0, 1), &x);
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
    fn sixteen_bins_on_a_wide_bound_invert() {
        let l = random_layer(3, 0, 16, 5.0, 21);
        // N(0, 1) rows: the 16-bin splines on [−5, 5] act on all of them.
        check_layer_fd(&l, 8, 3, None, &device(), 1e-3);
        let l = random_layer(2, 2, 16, 5.0, 22).inverted();
        let ctx = normal_rows(8, 2, 1.0, 5);
        check_layer_fd(&l, 8, 4, Some(&ctx), &device(), 1e-3);
        // And through the flow configuration (--bins 16 --bound 5).
        let cfg = FlowConfig {
            spline_bins: 16,
            spline_bound: 5.0,
            layers: 2,
            hidden: vec![16],
            ..FlowConfig::new(FlowKind::NsfAr, 3)
        };
        let m = FlowModel::new(cfg, &device()).unwrap();
        let x = normal_rows(20, 3, 2.0, 8);
        let back = m.decode(&m.encode(&x, None).unwrap(), None).unwrap();
        for (a, b) in x.as_slice().iter().zip(back.as_slice()) {
            assert!((a - b).abs() < 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
        }
    }

    #[test]
    fn one_dimensional_layer_is_a_learnable_spline() {
        // D = 1: MADE's output has no inputs (degree 1 sees nothing), only biases.
        let l = random_layer(1, 0, 4, 2.0, 9);
        check_layer_fd(&l, 5, 1, None, &device(), 1e-3);
    }

    #[test]
    fn random_nsf_ar_density_integrates_to_one() {
        // Two random layers with a reversal: ∫ p(x) dx over [−7, 7]² by a
        // midpoint sum; N(0, I) mass outside is < 1e-10 and the splines only
        // act on [−2.5, 2.5], so any log-det error shows up in the total.
        let dev = device();
        let mut rng = rng_from_seed(13);
        let mut layers = Vec::new();
        for _ in 0..2 {
            layers.push(FlowLayer::SplineAutoregressive(
                SplineAutoregressive::new(
                    vec![1, 2],
                    &[16, 16],
                    Activation::Tanh,
                    0,
                    6,
                    2.5,
                    false,
                    &mut rng,
                    &dev,
                )
                .unwrap(),
            ));
            layers.push(FlowLayer::Permutation(
                crate::transforms::Permutation::reverse(2, &dev).unwrap(),
            ));
        }
        let flow = Flow {
            layers,
            base: None,
            dim: 2,
            context_dim: 0,
        };
        let (grid, cell) = gen_data::toy2d::midpoint_grid(400, -7.0, 7.0);
        let lp = to_vec(flow.log_prob(to_tensor(&grid, &dev), None).unwrap()).unwrap();
        let mass: f64 = lp.iter().map(|l| (*l as f64).exp() * cell).sum();
        assert!((mass - 1.0).abs() < 5e-3, "density integrates to {mass}");
    }

    #[test]
    fn training_on_eight_gaussians_lowers_the_nll() {
        let dev = device();
        let cfg = FlowConfig {
            layers: 2,
            hidden: vec![32, 32],
            ..FlowConfig::new(FlowKind::NsfAr, 2)
        };
        let mut model = FlowModel::new(cfg, &dev).unwrap();
        let test = Toy2d::EightGaussians.sample(2000, 99);
        let mut rng = rng_from_seed(0);
        let mut first = None;
        for step in 0..300 {
            let batch = FlowBatch::from(Toy2d::EightGaussians.sample_with(256, &mut rng));
            let mut ctx = StepContext {
                step,
                lr: 3e-3,
                rng: &mut rng,
            };
            model.learn_step(&batch, &mut ctx).unwrap();
            if first.is_none() {
                first = Some(-mean(&model.log_prob(&test, None).unwrap()));
            }
        }
        let (before, after) = (first.unwrap(), -mean(&model.log_prob(&test, None).unwrap()));
        let true_nll = -mean(&Toy2d::EightGaussians.log_prob(&test).unwrap().unwrap());
        eprintln!("NSF-AR eight-gaussians: test NLL {before:.3} → {after:.3} (true {true_nll:.3})");
        assert!(after < before - 0.5, "test NLL {before} → {after}");
        assert!(
            after > true_nll - 0.1,
            "test NLL {after} below the true NLL {true_nll}"
        );
    }

    #[test]
    fn training_step_and_both_directions_agree_across_backends() {
        // One Adam step (parallel density pass + backward) and the loss after it.
        let batch = FlowBatch::from(Toy2d::EightGaussians.sample(64, 3));
        let cfg = FlowConfig {
            layers: 3,
            hidden: vec![16, 16],
            ..FlowConfig::new(FlowKind::NsfAr, 2)
        };
        gen_core::parity::check_parity("nsf-ar step", true, 1e-4, 1e-4, |device| {
            let mut m = FlowModel::new(cfg.clone(), device)?;
            let mut rng = rng_from_seed(0);
            let mut ctx = StepContext {
                step: 0,
                lr: 1e-2,
                rng: &mut rng,
            };
            let s0 = m.learn_step(&batch, &mut ctx)?;
            let l1 = gen_core::tensor::scalar(m.loss(&batch)?)?;
            Ok(vec![s0.loss as f32, l1 as f32])
        })
        .unwrap();
        // A random conditional layer (weights from the host Rng): the sequential
        // generative pass and the parallel normalizing pass with their log-dets.
        // (Samples after an Adam step are not compared: Adam's first update is
        // lr·sign(g), and gradients at rounding level flip sign between backends.)
        let x = normal_rows(16, 3, 1.5, 2);
        let c = normal_rows(16, 2, 1.0, 3);
        gen_core::parity::check_parity("nsf-ar layer", false, 1e-4, 1e-4, |device| {
            let mut rng = rng_from_seed(4);
            let l = SplineAutoregressive::new(
                vec![2, 3, 1],
                &[16, 16],
                Activation::Tanh,
                2,
                6,
                2.5,
                false,
                &mut rng,
                device,
            )?;
            let ct = to_tensor(&c, device);
            let (y, ld_f) = l.forward(to_tensor(&x, device), Some(&ct))?;
            let (z, ld_i) = l.inverse(to_tensor(&x, device), Some(&ct))?;
            let mut out = to_vec(y)?;
            for t in [ld_f, ld_i] {
                out.extend(to_vec(t)?);
            }
            out.extend(to_vec(z)?);
            Ok(out)
        })
        .unwrap();
    }

    #[test]
    fn nsf_ar_names_config_defaults_and_bad_spline_settings() {
        for name in ["nsf-ar", "nsfar", "ar-nsf", "NSF_AR"] {
            assert_eq!(name.parse::<FlowKind>().unwrap(), FlowKind::NsfAr, "{name}");
        }
        assert_eq!(FlowKind::NsfAr.name(), "nsf-ar");
        assert!(FlowKind::ALL.contains(&FlowKind::NsfAr) && FlowKind::NsfAr.implemented());
        assert_eq!(
            serde_json::to_string(&FlowKind::NsfAr).unwrap(),
            "\"nsf-ar\""
        );
        // Configs written before the spline fields existed still load, with K = 8, B = 3.
        let mut old = serde_json::to_value(FlowConfig::new(FlowKind::Nsf, 2)).unwrap();
        let obj = old.as_object_mut().unwrap();
        obj.remove("spline_bins");
        obj.remove("spline_bound");
        let cfg: FlowConfig = serde_json::from_value(old).unwrap();
        assert_eq!((cfg.spline_bins, cfg.spline_bound), (8, 3.0));
        let cfg = FlowConfig::new(FlowKind::NsfAr, 2);
        assert_eq!(
            (cfg.layers, cfg.actnorm, cfg.hidden.clone()),
            (5, true, vec![64, 64])
        );
        // Bad bins / bound are configuration errors that say how to fix them.
        for (bins, bound, want) in [
            (1, 3.0, "K ≥ 2"),
            (8, 0.0, "B > 0"),
            (8, f64::NAN, "B > 0"),
            (2000, 3.0, "below 1"),
        ] {
            for kind in [FlowKind::Nsf, FlowKind::NsfAr] {
                let cfg = FlowConfig {
                    spline_bins: bins,
                    spline_bound: bound,
                    ..FlowConfig::new(kind, 2)
                };
                let e = FlowModel::new(cfg, &device()).unwrap_err().to_string();
                assert!(e.contains(want) && e.contains("Fix"), "{e}");
            }
        }
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
