//! Helpers shared by the tests of the transforms and of whole flows: random
//! Gaussian rows, finite-difference Jacobians and the layer-level round-trip
//! / log-determinant check. Depends only on [`crate::bijection`], gen-core and
//! external crates, so any test module may use it without an import cycle.

use gen_core::Matrix;
use gen_core::burn::tensor::{Device, Tensor};
use gen_core::rng_from_seed;
use gen_core::tensor::{to_tensor, to_vec};
use rand_distr::{Distribution, StandardNormal};

use crate::bijection::Bijection;

/// `n × d` rows of independent N(0, scale²) entries drawn from `seed`.
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

/// Round trip, log-determinants that cancel, and the forward log-determinant
/// of row 0 against a finite-difference Jacobian with step `h` (splines are
/// only C¹ and curve on the scale of a bin, so they need a smaller step than 1e-2).
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
