//! 2D toys: densities integrate to one, known density values, and sample
//! statistics agree with moments derived by hand from the definitions.

use std::f64::consts::PI;

use gen_core::Matrix;
use gen_data::Toy2d;
use gen_data::toy2d::{
    EIGHT_GAUSSIANS_RADIUS, EIGHT_GAUSSIANS_STD, RINGS_RADII, RINGS_STD,
    TWENTY_FIVE_GAUSSIANS_SPACING, TWENTY_FIVE_GAUSSIANS_STD,
};

const N: usize = 100_000;

/// Midpoint-rule integral of exp(log_prob) over [-half, half]² on a k × k grid,
/// also returning the grid points and their densities.
fn integrate(toy: Toy2d, half: f64, k: usize) -> (f64, Matrix, Vec<f64>) {
    let h = 2.0 * half / k as f64;
    let mut pts = Vec::with_capacity(2 * k * k);
    for i in 0..k {
        for j in 0..k {
            pts.push(-half + (i as f64 + 0.5) * h);
            pts.push(-half + (j as f64 + 0.5) * h);
        }
    }
    let x = Matrix::new(k * k, 2, pts).unwrap();
    let p: Vec<f64> = toy
        .log_prob(&x)
        .unwrap()
        .unwrap()
        .iter()
        .map(|l| l.exp())
        .collect();
    (p.iter().sum::<f64>() * h * h, x, p)
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

fn col(x: &Matrix, j: usize) -> Vec<f64> {
    x.iter_rows().map(|r| r[j]).collect()
}

#[test]
fn closed_form_densities_integrate_to_one() {
    for (toy, half) in [
        (Toy2d::EightGaussians, 5.0),
        (Toy2d::TwentyFiveGaussians, 1.8),
        (Toy2d::Rings, 3.5),
        (Toy2d::Checkerboard, 3.0),
        (Toy2d::TwoMoons, 4.5),
    ] {
        let (z, _, _) = integrate(toy, half, 600);
        assert!((z - 1.0).abs() < 0.01, "{toy}: ∫p = {z}");
    }
}

#[test]
fn checkerboard_density_is_zero_off_the_squares() {
    let (z, x, p) = integrate(Toy2d::Checkerboard, 3.0, 600);
    // the grid's midpoints never fall on the integer edges, so the sum is exact
    assert!((z - 1.0).abs() < 1e-9, "{z}");
    for (r, &d) in x.iter_rows().zip(&p) {
        let inside = r.iter().all(|v| (-2.0..2.0).contains(v))
            && (r[0].floor() as i64 + r[1].floor() as i64) % 2 == 0;
        if inside {
            assert!((d - 0.125).abs() < 1e-15, "{r:?}: {d}");
        } else {
            assert_eq!(d, 0.0, "{r:?}");
        }
    }
    // spot checks: (0.5, 0.5) is on a square, (0.5, -0.5) is not
    let q = Matrix::new(3, 2, vec![0.5, 0.5, 0.5, -0.5, -1.5, -1.5]).unwrap();
    let lp = Toy2d::Checkerboard.log_prob(&q).unwrap().unwrap();
    assert_eq!(lp, vec![-(8f64.ln()), f64::NEG_INFINITY, -(8f64.ln())]);
}

#[test]
fn density_values_at_mode_centres() {
    // at a centre the own component dominates (others are > 6σ away):
    // p = w / (2π σ²)
    let c = EIGHT_GAUSSIANS_RADIUS;
    let x = Matrix::new(1, 2, vec![c, 0.0]).unwrap();
    let p = Toy2d::EightGaussians.log_prob(&x).unwrap().unwrap()[0].exp();
    let want = 0.125 / (2.0 * PI * EIGHT_GAUSSIANS_STD.powi(2));
    assert!((p / want - 1.0).abs() < 1e-6, "{p} vs {want}");
    assert!((want - 1.0 / (2.0 * PI) * 1.414f64.powi(2) / 2.0).abs() < 1e-12);

    let s = TWENTY_FIVE_GAUSSIANS_SPACING;
    let x = Matrix::new(2, 2, vec![0.0, 0.0, 2.0 * s, -s]).unwrap();
    let want = (1.0 / 25.0) / (2.0 * PI * TWENTY_FIVE_GAUSSIANS_STD.powi(2));
    for l in Toy2d::TwentyFiveGaussians.log_prob(&x).unwrap().unwrap() {
        assert!((l.exp() / want - 1.0).abs() < 1e-9);
    }

    // on ring k: p = ¼ N(0; 0, σ²) / (2π r_k)
    for &r in &RINGS_RADII {
        let x = Matrix::new(1, 2, vec![r / 2f64.sqrt(), -r / 2f64.sqrt()]).unwrap();
        let p = Toy2d::Rings.log_prob(&x).unwrap().unwrap()[0].exp();
        let want = 0.25 / ((2.0 * PI).sqrt() * RINGS_STD) / (2.0 * PI * r);
        assert!((p / want - 1.0).abs() < 1e-6, "r = {r}: {p} vs {want}");
    }
    let origin = Matrix::new(1, 2, vec![0.0, 0.0]).unwrap();
    assert_eq!(
        Toy2d::Rings.log_prob(&origin).unwrap().unwrap()[0],
        f64::INFINITY
    );
}

#[test]
fn log_prob_input_checks() {
    let three = Matrix::zeros(4, 3);
    for &t in Toy2d::all() {
        let e = t.log_prob(&three).unwrap_err().to_string();
        assert!(e.contains("2 columns") && e.contains("3 columns"), "{e}");
    }
    let nan = Matrix::new(1, 2, vec![0.0, f64::NAN]).unwrap();
    assert!(Toy2d::Rings.log_prob(&nan).is_err());
    let ok = Matrix::zeros(2, 2);
    for &t in Toy2d::all() {
        assert_eq!(t.log_prob(&ok).unwrap().is_some(), t.has_log_prob(), "{t}");
    }
}

#[test]
fn names_parse_and_sampling_is_seeded() {
    for &t in Toy2d::all() {
        assert_eq!(t.name().parse::<Toy2d>().unwrap(), t);
        let a = t.sample(50, 9);
        assert_eq!(a.shape(), (50, 2));
        assert!(a.as_slice().iter().all(|v| v.is_finite()));
        assert_eq!(a, t.sample(50, 9), "{t}");
        assert_ne!(a, t.sample(50, 10), "{t}");
    }
    assert_eq!(
        "25-gaussians".parse::<Toy2d>().unwrap(),
        Toy2d::TwentyFiveGaussians
    );
    assert_eq!("Two_Moons".parse::<Toy2d>().unwrap(), Toy2d::TwoMoons);
    let e = "blobs".parse::<Toy2d>().unwrap_err().to_string();
    assert!(e.contains("blobs") && e.contains("checkerboard"), "{e}");
    assert_eq!(Toy2d::Pinwheel.sample(0, 1).shape(), (0, 2));
}

#[test]
fn eight_gaussians_modes_means_and_std() {
    let x = Toy2d::EightGaussians.sample(N, 1);
    let centres: Vec<(f64, f64)> = (0..8)
        .map(|k| {
            let a = k as f64 * PI / 4.0;
            (4.0 * a.cos() / 1.414, 4.0 * a.sin() / 1.414)
        })
        .collect();
    let mut groups = vec![Vec::new(); 8];
    for r in x.iter_rows() {
        let k = (0..8)
            .min_by(|&a, &b| {
                let d = |c: (f64, f64)| (r[0] - c.0).powi(2) + (r[1] - c.1).powi(2);
                d(centres[a]).total_cmp(&d(centres[b]))
            })
            .unwrap();
        groups[k].push((r[0], r[1]));
    }
    for (k, g) in groups.iter().enumerate() {
        // weight ⅛: sd of the count ≈ 105
        assert!(
            (g.len() as f64 - N as f64 / 8.0).abs() < 600.0,
            "mode {k}: {}",
            g.len()
        );
        let xs: Vec<f64> = g.iter().map(|p| p.0).collect();
        let ys: Vec<f64> = g.iter().map(|p| p.1).collect();
        let ((mx, sx), (my, sy)) = (mean_std(&xs), mean_std(&ys));
        assert!((mx - centres[k].0).abs() < 0.015 && (my - centres[k].1).abs() < 0.015);
        // σ = 0.5/1.414 ≈ 0.3536 (nearest-centre assignment trims a little)
        for s in [sx, sy] {
            assert!(
                (s / EIGHT_GAUSSIANS_STD - 1.0).abs() < 0.03,
                "mode {k}: std {s}"
            );
        }
    }
}

#[test]
fn twenty_five_gaussians_grid() {
    let x = Toy2d::TwentyFiveGaussians.sample(N, 2);
    let s = TWENTY_FIVE_GAUSSIANS_SPACING;
    let mut counts = [0usize; 25];
    let mut dev = Vec::with_capacity(2 * N);
    for r in x.iter_rows() {
        // modes are 14σ apart: rounding to the grid assigns each draw exactly
        let i = (r[0] / s).round();
        let j = (r[1] / s).round();
        assert!(i.abs() <= 2.0 && j.abs() <= 2.0);
        counts[((i + 2.0) * 5.0 + j + 2.0) as usize] += 1;
        dev.push(r[0] - i * s);
        dev.push(r[1] - j * s);
    }
    assert!(
        counts.iter().all(|&c| (c as f64 - 4_000.0).abs() < 400.0),
        "{counts:?}"
    );
    let (m, sd) = mean_std(&dev);
    assert!(
        m.abs() < 0.001 && (sd / TWENTY_FIVE_GAUSSIANS_STD - 1.0).abs() < 0.01,
        "{m} {sd}"
    );
}

#[test]
fn rings_radii_and_radial_noise() {
    let x = Toy2d::Rings.sample(N, 3);
    let mut counts = [0usize; 4];
    let mut dev = Vec::with_capacity(N);
    let mut angles_upper = 0usize;
    for r in x.iter_rows() {
        let rho = r[0].hypot(r[1]);
        let k = (0..4)
            .min_by(|&a, &b| {
                (rho - RINGS_RADII[a])
                    .abs()
                    .total_cmp(&(rho - RINGS_RADII[b]).abs())
            })
            .unwrap();
        counts[k] += 1;
        dev.push(rho - RINGS_RADII[k]);
        angles_upper += usize::from(r[1] > 0.0);
    }
    assert!(
        counts.iter().all(|&c| (c as f64 - 25_000.0).abs() < 700.0),
        "{counts:?}"
    );
    let (m, sd) = mean_std(&dev);
    assert!(
        m.abs() < 0.002 && (sd / RINGS_STD - 1.0).abs() < 0.01,
        "{m} {sd}"
    );
    // θ uniform: half the points above the x axis
    assert!((angles_upper as f64 / N as f64 - 0.5).abs() < 0.01);
}

#[test]
fn checkerboard_samples_fill_the_squares_uniformly() {
    let x = Toy2d::Checkerboard.sample(N, 4);
    let lp = Toy2d::Checkerboard.log_prob(&x).unwrap().unwrap();
    assert!(
        lp.iter().all(|&l| l == -(8f64.ln())),
        "a sample fell off the squares"
    );
    let mut counts = std::collections::HashMap::new();
    let mut frac = Vec::with_capacity(2 * N);
    for r in x.iter_rows() {
        *counts
            .entry((r[0].floor() as i64, r[1].floor() as i64))
            .or_insert(0usize) += 1;
        frac.push(r[0] - r[0].floor());
        frac.push(r[1] - r[1].floor());
    }
    assert_eq!(counts.len(), 8);
    assert!(
        counts
            .values()
            .all(|&c| (c as f64 - 12_500.0).abs() < 600.0),
        "{counts:?}"
    );
    // uniform within a square: U[0,1) has mean ½ and sd 1/√12
    let (m, sd) = mean_std(&frac);
    assert!((m - 0.5).abs() < 0.005 && (sd - (1.0f64 / 12.0).sqrt()).abs() < 0.005);
}

#[test]
fn two_moons_moments() {
    // x = ±2cos t ∓ 1 + ε with t ~ U[0, π]: E = 0, Var = 2 + 1 + 0.04;
    // y: moon means 4/π − 0.2 and 0.8 − 4/π (average 0.3), Var(2 sin t) = 2 − 16/π²,
    // so Var(y) = 2 − 16/π² + (half the gap between the moon means)² + 0.04
    let x = Toy2d::TwoMoons.sample(N, 5);
    let (mx, sx) = mean_std(&col(&x, 0));
    let (my, sy) = mean_std(&col(&x, 1));
    let half_gap: f64 = ((4.0 / PI - 0.2) - (0.8 - 4.0 / PI)) / 2.0;
    let var_y = 2.0 - 16.0 / (PI * PI) + half_gap.powi(2) + 0.04;
    assert!(mx.abs() < 0.02 && (my - 0.3).abs() < 0.01, "{mx} {my}");
    assert!((sx * sx - 3.04).abs() < 0.05, "{}", sx * sx);
    assert!((sy * sy - var_y).abs() < 0.02, "{} vs {var_y}", sy * sy);
}

#[test]
fn pinwheel_second_moment_and_arms() {
    let x = Toy2d::Pinwheel.sample(N, 6);
    let r2: Vec<f64> = x.iter_rows().map(|r| r[0] * r[0] + r[1] * r[1]).collect();
    // E|x|² = 4 (E f₁² + E f₂²) = 4 (1 + 0.09 + 0.01) = 4.4
    let (m, _) = mean_std(&r2);
    assert!((m - 4.4).abs() < 0.03, "{m}");
    // 5-fold symmetric: the mean is at the origin
    let (mx, my) = (mean_std(&col(&x, 0)).0, mean_std(&col(&x, 1)).0);
    assert!(mx.abs() < 0.02 && my.abs() < 0.02, "{mx} {my}");
}

#[test]
fn swiss_roll_second_moment() {
    // |5x|² = t² + 2t(ε·u) + |ε|², t ~ U[1.5π, 4.5π]:
    // E t² = (3π)² + (3π)²/12 = 9.75 π², E|ε|² = 2, so E|x|² = (9.75π² + 2)/25
    let x = Toy2d::SwissRoll.sample(N, 7);
    let r2: Vec<f64> = x.iter_rows().map(|r| r[0] * r[0] + r[1] * r[1]).collect();
    let want = (9.75 * PI * PI + 2.0) / 25.0;
    let (m, _) = mean_std(&r2);
    assert!((m - want).abs() < 0.03, "{m} vs {want}");
    // the roll stays within radius (4.5π + 5σ_ε)/5
    assert!(r2.iter().all(|&v| v.sqrt() < (4.5 * PI + 5.0) / 5.0));
}

#[test]
fn two_spirals_moments() {
    // s = 3π√u has density 2s/(9π²) on [0, 3π]; with a, b ~ U[0, ½):
    // E|d|² = E s² + 2·¼·E[s (sin s − cos s)] + E[a² + b²]
    //       = 4.5π² + ½ · (2/(9π²)) (9π² − 4 + 6π) + 1/6,
    // using ∫₀^{3π} s² sin s ds = 9π² − 4 and ∫₀^{3π} s² cos s ds = −6π;
    // then E|x|² = E|d|²/9 + 2 · 0.1².
    let x = Toy2d::TwoSpirals.sample(N, 8);
    let pi2 = PI * PI;
    let ed2 = 4.5 * pi2 + 0.5 * (2.0 / (9.0 * pi2)) * (9.0 * pi2 - 4.0 + 6.0 * PI) + 1.0 / 6.0;
    let want = ed2 / 9.0 + 0.02;
    let r2: Vec<f64> = x.iter_rows().map(|r| r[0] * r[0] + r[1] * r[1]).collect();
    let (m, _) = mean_std(&r2);
    assert!((m - want).abs() < 0.05, "{m} vs {want}");
    // the two spirals are mirror images: mean at the origin
    let (mx, my) = (mean_std(&col(&x, 0)).0, mean_std(&col(&x, 1)).0);
    assert!(mx.abs() < 0.03 && my.abs() < 0.03, "{mx} {my}");
}

#[test]
fn midpoint_grid_lists_cell_centres_and_the_cell_area() {
    let (g, cell) = gen_data::toy2d::midpoint_grid(2, 0.0, 2.0);
    assert_eq!(g.as_slice(), &[0.5, 0.5, 0.5, 1.5, 1.5, 0.5, 1.5, 1.5]);
    assert_eq!(cell, 1.0);
}

#[test]
fn mode_centres_are_where_the_mixture_density_peaks() {
    use gen_data::toy2d::Toy2d;
    for (toy, k) in [(Toy2d::EightGaussians, 8), (Toy2d::TwentyFiveGaussians, 25)] {
        let (c, sigma) = toy.mode_centres().unwrap();
        assert_eq!((c.rows(), c.cols()), (k, 2));
        // Each centre is a local maximum: moving σ/2 away lowers the density.
        let lp = toy.log_prob(&c).unwrap().unwrap();
        let mut moved = c.clone();
        for r in 0..k {
            moved.as_mut_slice()[2 * r] += 0.5 * sigma;
        }
        let lq = toy.log_prob(&moved).unwrap().unwrap();
        assert!(lp.iter().zip(&lq).all(|(p, q)| p > q), "{toy:?}");
    }
    assert!(Toy2d::Rings.mode_centres().is_none());
}

/// The two-moons density's quadrature is converged: 400 midpoints per arc
/// agree with 8,000 at points on, between and beyond the arcs (including
/// near the arcs' ends, where the midpoint rule is least exact).
#[test]
fn two_moons_density_quadrature_is_converged() {
    use gen_data::toy2d::{MOONS_QUADRATURE, two_moons_log_pdf};
    for p in [
        [1.0, -0.2],
        [-1.0, 1.8],
        [0.0, 0.3],
        [3.0, 0.8],
        [-3.0, -0.2],
        [0.0, -1.2],
        [3.4, 0.8],
    ] {
        let (a, b) = (
            two_moons_log_pdf(&p, MOONS_QUADRATURE),
            two_moons_log_pdf(&p, 8000),
        );
        assert!((a - b).abs() < 1e-4, "{p:?}: {a} vs {b}");
    }
    // Far beyond an arc's end (log p ≈ −44, a density of 1e-19) only the
    // end's half-step matters: a few hundredths in log p.
    let far = [2.5, 2.5];
    let (a, b) = (
        two_moons_log_pdf(&far, MOONS_QUADRATURE),
        two_moons_log_pdf(&far, 8000),
    );
    assert!(b < -40.0 && (a - b).abs() < 0.05, "{a} vs {b}");
}
