//! Mathematical checks of every transform: exact inversion, log-determinants
//! against finite-difference Jacobians, MAF ↔ IAF, autoregressive structure.

use gen_core::burn::tensor::{Device, Tensor};
use gen_core::nn::Activation;
use gen_core::nn::masked_linear::random_order;
use gen_core::tensor::{to_matrix, to_tensor, to_vec};
use gen_core::{Backend, Matrix, rng_from_seed};
use proptest::prelude::*;
use rand_distr::{Distribution, StandardNormal};

use crate::bijection::Bijection;
use crate::flow::{Flow, FlowLayer};
use crate::masks::{MaskKind, coupling_mask};
use crate::transforms::{
    ActNorm, Coupling, CouplingKind, Logit, LuLinear, MaskedAutoregressive, Permutation,
    SplineCoupling,
};

fn device() -> Device {
    Backend::Flex.device().expect("flex is compiled in")
}

pub(crate) fn normal_rows(n: usize, d: usize, scale: f64, seed: u64) -> Matrix {
    let mut rng = rng_from_seed(seed);
    let v: Vec<f64> = (0..n * d)
        .map(|_| {
            let e: f64 = StandardNormal.sample(&mut rng);
            scale * e
        })
        .collect();
    Matrix::new(n, d, v).unwrap()
}

/// log|det A| of a row-major d×d matrix (Gaussian elimination, f64).
pub(crate) fn log_abs_det(a: &[f64], d: usize) -> f64 {
    let mut m = a.to_vec();
    let mut acc = 0.0;
    for c in 0..d {
        let p = (c..d)
            .max_by(|&i, &j| m[i * d + c].abs().total_cmp(&m[j * d + c].abs()))
            .unwrap();
        for k in 0..d {
            m.swap(c * d + k, p * d + k);
        }
        let piv = m[c * d + c];
        acc += piv.abs().ln();
        for r in c + 1..d {
            let f = m[r * d + c] / piv;
            for k in c..d {
                m[r * d + k] -= f * m[c * d + k];
            }
        }
    }
    acc
}

/// Jacobian ∂f/∂x at `x` (one row) by central differences; `jac[i*d + j] = ∂f_i/∂x_j`.
pub(crate) fn fd_jacobian(
    f: &dyn Fn(Tensor<2>) -> Tensor<2>,
    x: &[f64],
    h: f64,
    dev: &Device,
) -> Vec<f64> {
    let d = x.len();
    let mut rows = Vec::new();
    for j in 0..d {
        for sgn in [1.0, -1.0] {
            let mut r = x.to_vec();
            r[j] += sgn * h;
            rows.push(r);
        }
    }
    let m = Matrix::from_rows(&rows).unwrap();
    let y = to_vec(f(to_tensor(&m, dev))).unwrap();
    let mut jac = vec![0.0; d * d];
    for j in 0..d {
        for i in 0..d {
            let plus = y[(2 * j) * d + i] as f64;
            let minus = y[(2 * j + 1) * d + i] as f64;
            jac[i * d + j] = (plus - minus) / (2.0 * h);
        }
    }
    jac
}

/// Round trip and log-determinants of one layer on random rows.
fn check_layer(layer: &dyn Bijection, n: usize, seed: u64, ctx: Option<&Matrix>, dev: &Device) {
    check_layer_fd(layer, n, seed, ctx, dev, 1e-2);
}

/// [`check_layer`] with finite-difference step `h` (splines are only C¹ and
/// curve on the scale of a bin, so they need a smaller step than 1e-2).
pub(crate) fn check_layer_fd(
    layer: &dyn Bijection,
    n: usize,
    seed: u64,
    ctx: Option<&Matrix>,
    dev: &Device,
    h: f64,
) {
    let d = layer.dim();
    let x = normal_rows(n, d, 1.0, seed);
    let ct = ctx.map(|c| to_tensor(c, dev));
    let (y, ld_f) = layer.forward(to_tensor(&x, dev), ct.as_ref()).unwrap();
    let (x2, ld_i) = layer.inverse(y.clone(), ct.as_ref()).unwrap();
    let x2 = to_vec(x2).unwrap();
    for (a, b) in x.as_slice().iter().zip(&x2) {
        assert!(
            (a - *b as f64).abs() <= 1e-4 * (1.0 + a.abs()),
            "round trip {a} vs {b}"
        );
    }
    let (ld_f, ld_i) = (to_vec(ld_f).unwrap(), to_vec(ld_i).unwrap());
    for (a, b) in ld_f.iter().zip(&ld_i) {
        assert!(
            (a + b).abs() <= 1e-4 * (1.0 + a.abs()),
            "logdets {a} + {b} != 0"
        );
    }
    // Finite-difference Jacobian of the forward map at row 0 (context row 0).
    let c0 = ctx.map(|c| Matrix::new(2 * d, c.cols(), c.row(0).repeat(2 * d)).unwrap());
    let c0t = c0.map(|c| to_tensor(&c, dev));
    let f = |t: Tensor<2>| layer.forward(t, c0t.as_ref()).unwrap().0;
    let jac = fd_jacobian(&f, x.row(0), h, dev);
    let num = log_abs_det(&jac, d);
    assert!(
        (num - ld_f[0] as f64).abs() < 5e-3 * (1.0 + num.abs()),
        "log|det J|: analytic {} vs finite differences {num}",
        ld_f[0]
    );
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
                -0.5 * u * u - s.ln() - 0.5 * gen_core::nn::ops::LN_2PI
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
