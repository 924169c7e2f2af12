//! Host linear algebra the crate needs: the symmetric eigen-decomposition
//! (cyclic Jacobi, Golub & Van Loan §8.5) and standard normal draws.

use gen_core::Rng;
use rand::Rng as _;

/// Eigen-decomposition of a symmetric `d × d` matrix `a` (row-major) by the
/// cyclic Jacobi method: A = V diag(λ) Vᵀ. Returns (λ, V) with eigenvector i
/// in column i of V (row-major), in no particular order. Converges
/// quadratically; stops when the off-diagonal mass is below 1e-22 · ‖A‖²_F
/// or after 100 sweeps.
pub fn symmetric_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..d {
            for q in p + 1..d {
                off += a[p * d + q] * a[p * d + q];
            }
        }
        if off <= 1e-22 * total {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                // Rotation angle that zeroes a_pq: tan(2θ) = 2 a_pq / (a_qq − a_pp).
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J on rows/columns p, q.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let (vkp, vkq) = (v[k * d + p], v[k * d + q]);
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

/// `n` standard normal draws (Box–Muller on the host RNG).
pub fn standard_normal(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        // u1 ∈ (0, 1] so that ln u1 is finite.
        let u1: f64 = 1.0 - rng.random::<f64>();
        let u2: f64 = rng.random();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        out.push(r * c);
        out.push(r * s);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::rng_from_seed;

    #[test]
    fn jacobi_reconstructs_the_matrix_with_orthonormal_vectors() {
        let d = 7;
        let mut rng = rng_from_seed(1);
        let b: Vec<f64> = standard_normal(d * d, &mut rng);
        // A = B Bᵀ is symmetric positive semi-definite.
        let mut a = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                a[i * d + j] = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum();
            }
        }
        let (l, v) = symmetric_eigen(&a, d);
        for i in 0..d {
            for j in 0..d {
                let rec: f64 = (0..d).map(|k| v[i * d + k] * l[k] * v[j * d + k]).sum();
                assert!((rec - a[i * d + j]).abs() < 1e-9);
                let dot: f64 = (0..d).map(|k| v[k * d + i] * v[k * d + j]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
        let trace: f64 = (0..d).map(|i| a[i * d + i]).sum();
        assert!((l.iter().sum::<f64>() - trace).abs() < 1e-9);
    }

    #[test]
    fn normal_draws_have_unit_moments() {
        let x = standard_normal(200_001, &mut rng_from_seed(2));
        assert_eq!(x.len(), 200_001);
        let m = x.iter().sum::<f64>() / x.len() as f64;
        let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / x.len() as f64;
        let k = x.iter().map(|a| a.powi(4)).sum::<f64>() / x.len() as f64;
        assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01 && (k - 3.0).abs() < 0.05);
    }
}
