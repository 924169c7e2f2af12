//! Mathematical checks of every transform: exact inversion, log-determinants
//! against finite-difference Jacobians, MAF ↔ IAF, autoregressive structure.

use gen_core::burn::tensor::{Device, Tensor};
use gen_core::nn::Activation;
use gen_core::nn::masked_linear::random_order;
use gen_core::tensor::{to_matrix, to_tensor, to_vec};
use gen_core::{Backend, Matrix, rng_from_seed};
use proptest::prelude::*;

use crate::bijection::Bijection;
use crate::flow::{Flow, FlowLayer};
use crate::masks::{MaskKind, coupling_mask};
use crate::test_util::{check_layer_fd, fd_jacobian, normal_rows};
use crate::transforms::{
    ActNorm, Coupling, CouplingKind, Logit, LuLinear, MaskedAutoregressive, Permutation,
    SplineCoupling,
};

fn device() -> Device {
    Backend::Flex.device().expect("flex is compiled in")
}

/// Round trip and log-determinants of one layer on random rows
/// ([`check_layer_fd`] with finite-difference step 1e-2).
fn check_layer(layer: &dyn Bijection, n: usize, seed: u64, ctx: Option<&Matrix>, dev: &Device) {
    check_layer_fd(layer, n, seed, ctx, dev, 1e-2);
}

fn mask_kind(k: u8, d: usize) -> MaskKind {
    match k % 4 {
        0 => MaskKind::Half,
        1 => MaskKind::Alternating,
        2 if d == 4 => MaskKind::Checkerboard { h: 2, w: 2 },
        3 if d.is_multiple_of(2) => MaskKind::Channel { channels: 2 },
        _ => MaskKind::Alternating,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    #[test]
    fn coupling_inverts_and_logdet_matches(d in 2usize..6, n in 1usize..6, mk in 0u8..4,
                                            layer in 0usize..2, additive in any::<bool>(),
                                            ctx_dim in 0usize..3, seed in 0u64..1000) {
        let dev = device();
        let mut rng = rng_from_seed(seed);
        let mask = coupling_mask(mask_kind(mk, d), d, layer).unwrap();
        let kind = if additive { CouplingKind::Additive } else { CouplingKind::Affine };
        let l = Coupling::new(kind, &mask, &[16, 16], Activation::Tanh, ctx_dim, false, &mut rng, &dev)
            .unwrap()
            .with_scale_clamp((seed % 2 == 0).then_some(1.5))
            .with_sigmoid_scale(seed % 3 == 0);
        let ctx = (ctx_dim > 0).then(|| normal_rows(n, ctx_dim, 1.0, seed + 1));
        check_layer(&l, n, seed, ctx.as_ref(), &dev);
    }

    #[test]
    fn spline_coupling_inverts_and_logdet_matches(d in 2usize..6, n in 1usize..6, mk in 0u8..4,
                                                  layer in 0usize..2, bins in 2usize..10,
                                                  bound in 0.5f64..3.0, ctx_dim in 0usize..3,
                                                  seed in 0u64..1000) {
        // B ∈ [0.5, 3) with N(0, 1) rows exercises both the spline and the identity tails.
        let dev = device();
        let mut rng = rng_from_seed(seed);
        let mask = coupling_mask(mask_kind(mk, d), d, layer).unwrap();
        let l = SplineCoupling::new(&mask, &[16, 16], Activation::Tanh, ctx_dim, bins, bound, false, &mut rng, &dev)
            .unwrap();
        let ctx = (ctx_dim > 0).then(|| normal_rows(n, ctx_dim, 1.0, seed + 1));
        check_layer_fd(&l, n, seed, ctx.as_ref(), &dev, 1e-3);
    }

    #[test]
    fn permutation_actnorm_lu_logit_invert(d in 1usize..6, n in 1usize..6, seed in 0u64..1000) {
        let dev = device();
        let mut rng = rng_from_seed(seed);
        check_layer(&Permutation::random(d, &mut rng, &dev).unwrap(), n, seed, None, &dev);
        let ls: Vec<f32> = (0..d).map(|i| 0.3 * (i as f32 - 1.0)).collect();
        let b: Vec<f32> = (0..d).map(|i| 0.5 - i as f32).collect();
        check_layer(&ActNorm::with_params(&ls, &b, &dev), n, seed, None, &dev);
        check_layer(&LuLinear::new(d, 0.5, &mut rng, &dev), n, seed, None, &dev);
        check_layer(&Logit { alpha: 0.05, dim: d }, n, seed, None, &dev);
    }

    #[test]
    fn per_channel_actnorm_inverts_and_logdet_matches(c in 1usize..4, p in 1usize..5, rest in 0usize..3,
                                                      n in 1usize..5, seed in 0u64..1000) {
        let dev = device();
        let ls: Vec<f32> = (0..c).map(|i| 0.4 * (i as f32 - 0.7)).collect();
        let b: Vec<f32> = (0..c).map(|i| 0.3 - i as f32).collect();
        let a = ActNorm::with_layout(&ls, &b, p, c * p + rest, &dev).unwrap();
        check_layer(&a, n, seed, None, &dev);
    }

    #[test]
    fn maf_and_iaf_invert_and_logdet_matches(d in 1usize..5, n in 1usize..6, ctx_dim in 0usize..3,
                                             seed in 0u64..1000) {
        let dev = device();
        let mut rng = rng_from_seed(seed);
        let order = random_order(d, &mut rng);
        let maf = MaskedAutoregressive::new(order, &[12, 12], Activation::Tanh, ctx_dim, false, &mut rng, &dev)
            .unwrap()
            .with_scale_clamp((seed % 2 == 0).then_some(1.5));
        let ctx = (ctx_dim > 0).then(|| normal_rows(n, ctx_dim, 1.0, seed + 1));
        check_layer(&maf, n, seed, ctx.as_ref(), &dev);
        check_layer(&maf.inverted(), n, seed, ctx.as_ref(), &dev);
    }
}

#[test]
fn maf_and_iaf_from_one_made_are_exact_inverses() {
    let dev = device();
    let mut rng = rng_from_seed(3);
    let maf = MaskedAutoregressive::new(
        vec![2, 3, 1],
        &[10, 10],
        Activation::Tanh,
        0,
        false,
        &mut rng,
        &dev,
    )
    .unwrap();
    let iaf = maf.clone().inverted();
    let z = to_tensor(&normal_rows(7, 3, 1.0, 9), &dev);
    // IAF's generative map followed by MAF's generative map is the identity.
    let (x, ld_iaf) = iaf.forward(z.clone(), None).unwrap();
    let (z2, ld_maf) = maf.forward(x, None).unwrap();
    let (z, z2) = (to_vec(z).unwrap(), to_vec(z2).unwrap());
    for (a, b) in z.iter().zip(&z2) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    for (a, b) in to_vec(ld_iaf).unwrap().iter().zip(to_vec(ld_maf).unwrap()) {
        assert!((a + b).abs() < 1e-5);
    }
}

#[test]
fn maf_jacobian_is_triangular_in_its_order() {
    // ∂z_i/∂x_j = 0 whenever order[j] > order[i] (MADE's autoregressive property).
    let dev = device();
    let mut rng = rng_from_seed(5);
    let order = vec![3, 1, 4, 2];
    let maf = MaskedAutoregressive::new(
        order.clone(),
        &[16],
        Activation::Tanh,
        0,
        false,
        &mut rng,
        &dev,
    )
    .unwrap();
    let f = |t: Tensor<2>| maf.inverse(t, None).unwrap().0;
    let jac = fd_jacobian(&f, &[0.3, -1.0, 0.7, 1.2], 1e-2, &dev);
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
        assert!(jac[i * 4 + i].abs() > 0.0);
    }
}

#[test]
fn actnorm_flow_density_is_the_gaussian_it_defines() {
    // x = z·s + b with z ~ N(0, I) has density N(x; b, diag s²).
    let dev = device();
    let (ls, b) = ([0.5f32, -0.7], [1.0f32, -2.0]);
    let flow = Flow {
        layers: vec![FlowLayer::ActNorm(ActNorm::with_params(&ls, &b, &dev))],
        base: None,
        dim: 2,
        context_dim: 0,
    };
    let x = normal_rows(5, 2, 2.0, 1);
    let lp = to_vec(flow.log_prob(to_tensor(&x, &dev), None).unwrap()).unwrap();
    for (r, got) in x.iter_rows().zip(lp) {
        let want: f64 = (0..2)
            .map(|d| {
                let s = (ls[d] as f64).exp();
                let u = (r[d] - b[d] as f64) / s;
                -0.5 * u * u - s.ln() - 0.5 * gen_core::numerics::LN_2PI
            })
            .sum();
        assert!((got as f64 - want).abs() < 1e-4, "{got} vs {want}");
    }
}

#[test]
fn actnorm_data_init_standardises() {
    let dev = device();
    let mut a = ActNorm::new(2, &dev);
    let mut x = normal_rows(2000, 2, 3.0, 4);
    x.as_mut_slice()
        .iter_mut()
        .step_by(2)
        .for_each(|v| *v += 5.0);
    a.initialize(to_tensor(&x, &dev)).unwrap();
    let z = to_vec(a.inverse(to_tensor(&x, &dev), None).unwrap().0).unwrap();
    for c in 0..2 {
        let col: Vec<f64> = z.iter().skip(c).step_by(2).map(|v| *v as f64).collect();
        let m = col.iter().sum::<f64>() / col.len() as f64;
        let v = col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(m.abs() < 1e-4 && (v - 1.0).abs() < 1e-3, "mean {m} var {v}");
    }
}

#[test]
fn per_channel_actnorm_data_init_standardises_each_channel_and_leaves_the_rest() {
    // 2 channels × 3 pixels + 2 factored-out coordinates; channel 1 is shifted by 4
    // and pixel-dependent scales make per-pixel statistics differ within a channel.
    let dev = device();
    let mut a = ActNorm::per_channel(2, 3, 8, &dev).unwrap();
    let mut x = normal_rows(3000, 8, 1.0, 6);
    for r in x.as_mut_slice().chunks_mut(8) {
        for (k, v) in r.iter_mut().take(6).enumerate() {
            *v = *v * (1.0 + (k % 3) as f64) + if k >= 3 { 4.0 } else { 0.0 };
        }
    }
    a.initialize(to_tensor(&x, &dev)).unwrap();
    assert_eq!(a.log_scale.val().dims(), [2]);
    let z = to_matrix(a.inverse(to_tensor(&x, &dev), None).unwrap().0).unwrap();
    for c in 0..2 {
        let vals: Vec<f64> = z
            .iter_rows()
            .flat_map(|r| r[3 * c..3 * c + 3].to_vec())
            .collect();
        let m = vals.iter().sum::<f64>() / vals.len() as f64;
        let v = vals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / vals.len() as f64;
        assert!(
            m.abs() < 1e-3 && (v - 1.0).abs() < 1e-3,
            "channel {c}: mean {m} var {v}"
        );
    }
    for (zr, xr) in z.iter_rows().zip(x.iter_rows()) {
        assert!((zr[6] - xr[6]).abs() < 1e-6 && (zr[7] - xr[7]).abs() < 1e-6);
    }
    assert!(
        ActNorm::per_channel(3, 3, 8, &dev).is_err(),
        "9 coordinates do not fit in 8"
    );
}

#[test]
fn spline_is_monotone_onto_its_interval_and_identity_outside() {
    // A random spline (non-zero last layer) on [−B, B] = [−2, 2], second coordinate transformed.
    let dev = device();
    let mut rng = rng_from_seed(11);
    let l = SplineCoupling::new(
        &[1.0, 0.0],
        &[8],
        Activation::Tanh,
        0,
        5,
        2.0,
        false,
        &mut rng,
        &dev,
    )
    .unwrap();
    let grid: Vec<f64> = (0..=400).map(|i| -3.0 + 6.0 * i as f64 / 400.0).collect();
    let rows: Vec<Vec<f64>> = grid.iter().map(|&v| vec![0.4, v]).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let (y, ld) = l.forward(to_tensor(&x, &dev), None).unwrap();
    let (y, ld) = (to_vec(y).unwrap(), to_vec(ld).unwrap());
    for (i, &v) in grid.iter().enumerate() {
        let (y0, y1) = (y[2 * i] as f64, y[2 * i + 1] as f64);
        assert!(
            (y0 - 0.4).abs() < 1e-6,
            "conditioning coordinate changed: {y0}"
        );
        if v.abs() > 2.0 {
            assert!(
                (y1 - v).abs() < 1e-6 && ld[i] == 0.0,
                "tail at {v}: y = {y1}, ld = {}",
                ld[i]
            );
        } else {
            assert!(
                (-2.0 - 1e-5..=2.0 + 1e-5).contains(&y1),
                "y({v}) = {y1} leaves [−B, B]"
            );
        }
        if i > 0 {
            assert!(y1 > y[2 * i - 1] as f64, "not increasing at {v}");
        }
    }
    // The knots ±B are fixed: y(±B) = ±B.
    let edge = Matrix::from_rows(&[vec![0.4, -2.0], vec![0.4, 2.0]]).unwrap();
    let ye = to_vec(l.forward(to_tensor(&edge, &dev), None).unwrap().0).unwrap();
    assert!(
        (ye[1] + 2.0).abs() < 1e-5 && (ye[3] - 2.0).abs() < 1e-5,
        "{ye:?}"
    );
}

#[test]
fn spline_with_zero_last_layer_is_the_identity() {
    // θ = 0 gives equal bins with slope s_k = 1 and δ = 1: y = x, log|det J| = 0.
    let dev = device();
    let mut rng = rng_from_seed(2);
    let l = SplineCoupling::new(
        &[0.0, 1.0, 0.0],
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
    let x = normal_rows(50, 3, 2.0, 3);
    let (y, ld) = l.forward(to_tensor(&x, &dev), None).unwrap();
    for (a, b) in x.as_slice().iter().zip(to_vec(y).unwrap()) {
        assert!((a - b as f64).abs() < 1e-5, "{a} vs {b}");
    }
    assert!(to_vec(ld).unwrap().iter().all(|v| v.abs() < 1e-5));
}

#[test]
fn spline_rejects_bad_bins_and_bound() {
    let dev = device();
    let mut rng = rng_from_seed(0);
    let e = SplineCoupling::new(
        &[1.0, 0.0],
        &[4],
        Activation::Relu,
        0,
        1,
        3.0,
        true,
        &mut rng,
        &dev,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("K ≥ 2") && e.contains("Fix"), "{e}");
    let e = SplineCoupling::new(
        &[1.0, 0.0],
        &[4],
        Activation::Relu,
        0,
        8,
        -1.0,
        true,
        &mut rng,
        &dev,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("B > 0"), "{e}");
}

#[test]
fn invalid_permutation_is_a_clear_error() {
    let e = Permutation::new(vec![0, 0, 2], &device())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not invertible") && e.contains("Fix"), "{e}");
}

#[test]
fn maf_scale_clamp_bounds_the_log_scale() {
    let dev = device();
    let mut rng = rng_from_seed(5);
    let maf = MaskedAutoregressive::new(
        vec![1, 2, 3],
        &[16],
        Activation::Relu,
        0,
        false,
        &mut rng,
        &dev,
    )
    .unwrap();
    let x = to_tensor(&normal_rows(64, 3, 50.0, 9), &dev);
    let (_, raw) = maf.made(x.clone(), None);
    let raw = to_vec(raw).unwrap();
    assert!(
        raw.iter().any(|a| a.abs() > 2.0),
        "inputs too small to test the clamp"
    );
    let (_, clamped) = maf.with_scale_clamp(Some(0.5)).made(x, None);
    for (a, r) in to_vec(clamped).unwrap().iter().zip(&raw) {
        assert!(a.abs() <= 0.5, "α = {a} outside [−0.5, 0.5]");
        assert!((a - 0.5 * (r / 0.5).tanh()).abs() < 1e-5);
    }
}

#[test]
fn glow_sigmoid_scale_only_contracts_in_the_normalizing_direction() {
    let dev = device();
    let mut rng = rng_from_seed(12);
    let mask = coupling_mask(MaskKind::Half, 4, 0).unwrap();
    let l = Coupling::new(
        CouplingKind::Affine,
        &mask,
        &[16],
        Activation::Relu,
        0,
        false,
        &mut rng,
        &dev,
    )
    .unwrap()
    .with_sigmoid_scale(true);
    let y = normal_rows(256, 4, 20.0, 3);
    let (_, ld) = l.inverse(to_tensor(&y, &dev), None).unwrap();
    let ld = to_vec(ld).unwrap();
    assert!(
        ld.iter().all(|v| *v <= 0.0),
        "normalizing log-det must be ≤ 0: {ld:?}"
    );
    assert!(
        ld.iter().any(|v| *v < -0.05),
        "random weights should contract somewhere"
    );
}

/// Multi-scale image flows (squeeze / split) built from a [`crate::FlowConfig`].
mod multiscale {
    use crate::build::build_multiscale;
    use crate::flow::FlowLayer;
    use crate::transforms::Coupling;
    use crate::{FlowConfig, FlowKind, ImageLayout};

    fn trained_image_flow(kind: FlowKind) -> crate::FlowModel {
        use gen_core::{Backend, Learn, StepContext, rng_from_seed};
        let dev = Backend::Flex.device().unwrap();
        let cfg = FlowConfig {
            hidden: vec![16],
            layers: 2,
            scale_clamp: None,
            image: Some(ImageLayout {
                channels: 1,
                height: 4,
                width: 4,
                scales: 1,
            }),
            ..FlowConfig::new(kind, 16)
        };
        let mut m = crate::FlowModel::new(cfg, &dev).unwrap();
        let mut rng = rng_from_seed(3);
        // A few large steps on skewed data so no layer is still the identity.
        for step in 0..15 {
            let x = crate::test_util::normal_rows(64, 16, 1.0, step);
            let x = gen_core::Matrix::new(
                64,
                16,
                x.as_slice().iter().map(|v| v * v + 0.3 * v).collect(),
            )
            .unwrap();
            let mut ctx = StepContext {
                step,
                lr: 2e-2,
                rng: &mut rng,
            };
            m.learn_step(&crate::FlowBatch::from(x), &mut ctx).unwrap();
        }
        m
    }

    #[test]
    fn multiscale_flows_invert_and_match_the_numerical_jacobian() {
        use gen_core::tensor::{to_tensor, to_vec};
        let dev = gen_core::Backend::Flex.device().unwrap();
        for kind in [FlowKind::RealNvp, FlowKind::Glow] {
            let flow = trained_image_flow(kind).flow();
            let x = crate::test_util::normal_rows(3, 16, 1.0, 11);
            let (z, ld) = flow.inverse(to_tensor(&x, &dev), None).unwrap();
            let (x2, ld_f) = flow.forward(z.clone(), None).unwrap();
            let z0 = to_vec(z).unwrap();
            assert!(z0.iter().any(|v| v.is_finite()));
            for (a, b) in x.as_slice().iter().zip(to_vec(x2).unwrap()) {
                assert!(
                    (a - b as f64).abs() < 1e-4 * (1.0 + a.abs()),
                    "{kind:?}: {a} vs {b}"
                );
            }
            let (ld, ld_f) = (to_vec(ld).unwrap(), to_vec(ld_f).unwrap());
            assert!(
                (ld[0] + ld_f[0]).abs() < 1e-3,
                "{kind:?}: {} vs {}",
                ld[0],
                ld_f[0]
            );
            // log|det ∂z/∂x| against central differences of the whole map.
            let f = |t: gen_core::burn::tensor::Tensor<2>| flow.inverse(t, None).unwrap().0;
            let jac = crate::test_util::fd_jacobian(&f, x.row(0), 1e-2, &dev);
            let num = crate::test_util::log_abs_det(&jac, 16);
            assert!(
                ld[0].abs() > 0.05,
                "{kind:?}: the trained flow is still volume preserving"
            );
            assert!(
                (num - ld[0] as f64).abs() < 1e-2 * (1.0 + num.abs()),
                "{kind:?}: analytic {} vs numerical {num}",
                ld[0]
            );
        }
    }

    #[test]
    fn split_coordinates_are_untouched_after_the_split() {
        let dev = gen_core::Backend::Flex.device().unwrap();
        let cfg = FlowConfig {
            image: Some(ImageLayout {
                channels: 1,
                height: 4,
                width: 4,
                scales: 1,
            }),
            ..FlowConfig::new(FlowKind::RealNvp, 16)
        };
        let layers = build_multiscale(
            &cfg,
            cfg.image.as_ref().unwrap(),
            &mut gen_core::rng_from_seed(0),
            &dev,
        )
        .unwrap();
        // Generative order: the final stage (after the split) comes first and
        // acts on the 8 kept coordinates only; the first stage sees all 16.
        let couplings: Vec<&Coupling> = layers
            .iter()
            .filter_map(|l| match l {
                FlowLayer::Coupling(c) => Some(c),
                _ => None,
            })
            .collect();
        let final_stage = cfg.layers + 1;
        assert_eq!(couplings.len(), 3 * cfg.layers + 1);
        for c in &couplings[..final_stage] {
            assert_eq!(c.rest, (8..16).collect::<Vec<_>>());
            assert_eq!(c.cond.len() + c.trans.len(), 8);
        }
        for c in &couplings[final_stage..] {
            assert!(c.rest.is_empty());
        }
        let maf = FlowConfig {
            image: cfg.image,
            ..FlowConfig::new(FlowKind::Maf, 16)
        };
        assert!(maf.validate().is_err());
    }
}

/// The continuous normalizing flow ([`Cnf`](crate::transforms::Cnf)) as a
/// model: training, configuration, backends. The solver-level checks live
/// next to the layer.
mod cnf {
    use gen_core::nn::Activation;
    use gen_core::{Backend, rng_from_seed};

    use crate::transforms::{CnfConfig, TraceEstimator};

    fn device() -> gen_core::burn::tensor::Device {
        Backend::Flex.device().expect("flex is compiled in")
    }

    #[test]
    fn cnf_trained_on_eight_gaussians_beats_its_start_and_integrates_to_one() {
        use crate::{FlowBatch, FlowConfig, FlowKind, FlowModel};
        use gen_core::Score;
        use gen_core::train::{TrainConfig, Trainer};
        use gen_data::toy2d::Toy2d;

        let config = FlowConfig {
            hidden: vec![32, 32],
            cnf: CnfConfig {
                steps: 6,
                ..CnfConfig::default()
            },
            ..FlowConfig::new(FlowKind::Cnf, 2)
        };
        let mut model = FlowModel::new(config, &device()).unwrap();
        let test = Toy2d::EightGaussians.sample(2000, 5);
        // Zero last layer: the CNF starts as the identity, so log p = log N(x; 0, I).
        let nll0 = model
            .score(&test, &gen_core::ScoreOptions::default())
            .unwrap()
            .mean_nll();
        let base: f64 = test
            .iter_rows()
            .map(|r| 0.5 * (r[0] * r[0] + r[1] * r[1]) + gen_core::numerics::LN_2PI)
            .sum::<f64>()
            / test.rows() as f64;
        assert!(
            (nll0 - base).abs() < 1e-4,
            "initial NLL {nll0} vs N(0, I) NLL {base}"
        );
        let dir = std::env::temp_dir().join(format!("gen-flow-cnf-{}", std::process::id()));
        let train = TrainConfig {
            steps: 300,
            lr: 5e-3,
            batch_size: 256,
            progress: false,
            ..TrainConfig::default()
        };
        Trainer::new(train, &dir)
            .unwrap()
            .fit(&mut model, |_, rng| {
                Ok(FlowBatch::from(Toy2d::EightGaussians.sample_with(256, rng)))
            })
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let nll = model
            .score(&test, &gen_core::ScoreOptions::default())
            .unwrap()
            .mean_nll();
        let truth = -Toy2d::EightGaussians
            .log_prob(&test)
            .unwrap()
            .unwrap()
            .iter()
            .sum::<f64>()
            / test.rows() as f64;
        eprintln!(
            "cnf eight-gaussians: NLL at init {nll0:.3}, after 300 steps {nll:.3}, true {truth:.3}"
        );
        assert!(
            nll < nll0 - 1.0,
            "training lowered the NLL only from {nll0} to {nll}"
        );
        // Round trip of the trained (non-trivial) dynamics: the error is the
        // RK4 discretisation error, which shrinks with more solver steps.
        let round_trip = |model: &FlowModel| {
            let back = model
                .decode(&model.encode(&test, None).unwrap(), None)
                .unwrap();
            let errs: Vec<f64> = test
                .as_slice()
                .iter()
                .zip(back.as_slice())
                .map(|(a, b)| (a - b).abs())
                .collect();
            (
                errs.iter().sum::<f64>() / errs.len() as f64,
                errs.iter().cloned().fold(0.0, f64::max),
            )
        };
        let (mean6, max6) = round_trip(&model);
        for layer in model.train.model.layers.iter_mut() {
            if let crate::FlowLayer::Cnf(c) = layer {
                c.steps = 24;
            }
        }
        let (mean24, max24) = round_trip(&model);
        eprintln!(
            "trained cnf round trip |f(f⁻¹(x)) − x|: 6 RK4 steps mean {mean6:.2e} max {max6:.2e}; 24 steps mean {mean24:.2e} max {max24:.2e}"
        );
        assert!(mean6 < 1e-2, "trained CNF round trip mean error {mean6}");
        assert!(
            max24 < max6 / 10.0 && max24 < 1e-2,
            "more RK4 steps shrink the round trip error: {max6} → {max24}"
        );
        for layer in model.train.model.layers.iter_mut() {
            if let crate::FlowLayer::Cnf(c) = layer {
                c.steps = 6;
            }
        }
        // Riemann sum of exp(log p) over [−6, 6]² with 150² cells.
        let (grid, cell) = gen_data::toy2d::midpoint_grid(150, -6.0, 6.0);
        let mass: f64 = model
            .score(&grid, &gen_core::ScoreOptions::default())
            .unwrap()
            .values
            .iter()
            .map(|l| l.exp() * cell)
            .sum();
        eprintln!("cnf density mass on [−6, 6]²: {mass:.4}");
        assert!(
            (mass - 1.0).abs() < 0.05,
            "the CNF density integrates to {mass}"
        );
    }

    #[test]
    fn cnf_config_errors_are_clear_and_old_configs_load() {
        use crate::{FlowConfig, FlowKind};
        let bad = FlowConfig {
            cnf: CnfConfig {
                steps: 0,
                ..CnfConfig::default()
            },
            ..FlowConfig::new(FlowKind::Cnf, 2)
        };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("at least one step") && e.contains("Fix"), "{e}");
        let relu = FlowConfig {
            activation: Activation::Relu,
            ..FlowConfig::new(FlowKind::Cnf, 2)
        };
        let e = relu.validate().unwrap_err().to_string();
        assert!(e.contains("smooth"), "{e}");
        let e = "simpson".parse::<TraceEstimator>().unwrap_err().to_string();
        assert!(e.contains("exact or hutchinson"), "{e}");
        // A configuration written before the CNF fields existed still loads (defaults).
        let mut json = serde_json::to_value(FlowConfig::new(FlowKind::RealNvp, 2)).unwrap();
        json.as_object_mut().unwrap().remove("cnf");
        let back: FlowConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back.cnf, CnfConfig::default());
        // Hutchinson is chosen by configuration or by dimension.
        assert!(!CnfConfig::default().hutchinson(16) && CnfConfig::default().hutchinson(17));
    }

    #[test]
    fn cnf_hutchinson_training_step_agrees_across_backends() {
        // The Hutchinson noise is drawn on the host, so one learning step gives
        // the same loss on ndarray, flex and wgpu (the exact trace is covered
        // by the integration test over every flow kind).
        use crate::{FlowBatch, FlowConfig, FlowKind, FlowModel};
        use gen_data::toy2d::Toy2d;
        let batch = FlowBatch::from(Toy2d::EightGaussians.sample(64, 3));
        let report = gen_core::parity::check_parity("cnf-hutchinson", true, 1e-4, 1e-4, |device| {
            let cfg = FlowConfig {
                hidden: vec![16, 16],
                cnf: CnfConfig {
                    trace: TraceEstimator::Hutchinson,
                    ..CnfConfig::default()
                },
                ..FlowConfig::new(FlowKind::Cnf, 2)
            };
            let mut m = FlowModel::new(cfg, device)?;
            let mut rng = rng_from_seed(0);
            let mut ctx = gen_core::StepContext {
                step: 0,
                lr: 1e-2,
                rng: &mut rng,
            };
            let s0 = gen_core::Learn::learn_step(&mut m, &batch, &mut ctx)?;
            let l1 = gen_core::tensor::scalar(m.loss(&batch)?)?;
            Ok(vec![s0.loss as f32, l1 as f32])
        })
        .unwrap();
        eprintln!(
            "parity cnf-hutchinson: {:?} max |diff| {:e}",
            report.backends, report.max_abs_diff
        );
    }
}

/// NSF-AR ([`SplineAutoregressive`](crate::transforms::SplineAutoregressive))
/// in whole flows and models: layer stacks, configuration, training, backends.
/// The layer-level checks live next to the layer.
mod spline_autoregressive {
    use gen_core::nn::Activation;
    use gen_core::tensor::{to_tensor, to_vec};
    use gen_core::{Backend, Learn, StepContext, rng_from_seed};
    use gen_data::toy2d::Toy2d;

    use crate::bijection::Bijection;
    use crate::flow::{Flow, FlowLayer};
    use crate::test_util::{check_layer_fd, normal_rows};
    use crate::transforms::SplineAutoregressive;
    use crate::{FlowBatch, FlowConfig, FlowKind, FlowModel};

    fn device() -> gen_core::burn::tensor::Device {
        Backend::Flex.device().expect("flex is compiled in")
    }

    #[test]
    fn sixteen_bins_on_a_wide_bound_invert() {
        let l = SplineAutoregressive::random_for_tests(3, 0, 16, 5.0, 21);
        // N(0, 1) rows: the 16-bin splines on [−5, 5] act on all of them.
        check_layer_fd(&l, 8, 3, None, &device(), 1e-3);
        let l = SplineAutoregressive::random_for_tests(2, 2, 16, 5.0, 22).inverted();
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
