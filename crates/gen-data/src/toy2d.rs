//! 2D toy distributions for density estimation and sampling demos.
//!
//! Definitions follow FFJORD's `lib/toy_data.py` (Grathwohl et al. 2019)
//! where it defines them, with two differences: every row is an independent
//! draw (FFJORD fixes class counts per batch), and the parameters below are
//! the definitions, so the exact log-densities match the samplers.
//!
//! | name | definition | log-density |
//! |---|---|---|
//! | `eight-gaussians` | equal mixture of 8 isotropic Gaussians, centres 4·(cos kπ/4, sin kπ/4)/1.414, std 0.5/1.414 | exact |
//! | `twenty-five-gaussians` | equal mixture of 25 isotropic Gaussians, centres 2·(i, j)/2.828 for i, j ∈ {−2, …, 2}, std 0.05 | exact |
//! | `rings` | 4 concentric rings, radii 0.75, 1.5, 2.25, 3 (= 1.5·{0.5, 1, 1.5, 2}), radial noise std 0.08 | exact |
//! | `checkerboard` | uniform on the 8 unit squares of [−2, 2)² with ⌊x₁⌋ + ⌊x₂⌋ even | exact (−∞ off the squares) |
//! | `two-moons` | sklearn's two moons, ×2, shifted by (−1, −0.2); noise std 0.2 | none |
//! | `pinwheel` | 5 arms; radial std 0.3, tangential std 0.1, rate 0.25, ×2 | none |
//! | `swiss-roll` | sklearn's swiss roll (x, z)/5; noise std 0.2 | none |
//! | `two-spirals` | 2 interleaved spirals of 1.5 turns, /3; noise std 0.1 | none |
//!
//! See each variant for the exact sampler and density.

use std::f64::consts::{PI, TAU};
use std::fmt;
use std::str::FromStr;

use gen_core::numerics::{LN_2PI, log_sum_exp, normal_log_pdf, standard_normal, uniform};
use gen_core::{GenError, Matrix, Result, Rng, rng_from_seed};
use rand::Rng as _;

/// Distance of the eight-gaussians centres from the origin: 4 / 1.414.
pub const EIGHT_GAUSSIANS_RADIUS: f64 = 4.0 / 1.414;
/// Per-coordinate standard deviation of each eight-gaussians mode: 0.5 / 1.414.
pub const EIGHT_GAUSSIANS_STD: f64 = 0.5 / 1.414;
/// Grid spacing of the twenty-five-gaussians centres: 2 / 2.828 (≈ 1/√2).
pub const TWENTY_FIVE_GAUSSIANS_SPACING: f64 = 2.0 / 2.828;
/// Per-coordinate standard deviation of each twenty-five-gaussians mode.
pub const TWENTY_FIVE_GAUSSIANS_STD: f64 = 0.05;
/// Ring radii of `rings`: 1.5 · {0.5, 1, 1.5, 2} (FFJORD's radii {0.25, 0.5, 0.75, 1} · 3).
pub const RINGS_RADII: [f64; 4] = [0.75, 1.5, 2.25, 3.0];
/// Standard deviation of the radial noise of `rings`.
pub const RINGS_STD: f64 = 0.08;
/// Standard deviation of the isotropic noise added to the two moons.
pub const MOONS_STD: f64 = 0.2;

/// The arc `centre + radius·(cos θ, sin θ)` for θ from `start` to
/// `start + sweep` (radians, counter-clockwise; `sweep` = 2π is the whole
/// circle): a curve a toy's mass lies along ([`Toy2d::arcs`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CircleArc {
    /// Centre of the circle.
    pub centre: (f64, f64),
    /// Radius of the circle.
    pub radius: f64,
    /// Angle where the arc starts.
    pub start: f64,
    /// Angle the arc turns through, in (0, 2π].
    pub sweep: f64,
}

/// A 2D toy distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Toy2d {
    /// Equal-weight mixture of 8 isotropic Gaussians (FFJORD `8gaussians`):
    /// x = (z · 0.5 + 4 · u_k) / 1.414 with z ~ N(0, I₂), k ~ U{0..7} and
    /// u_k = (cos kπ/4, sin kπ/4). So centres μ_k = 4 u_k / 1.414 (radius
    /// ≈ 2.83) and std σ = 0.5/1.414 ≈ 0.354 per coordinate;
    /// p(x) = ⅛ Σ_k N(x; μ_k, σ² I).
    EightGaussians,
    /// Equal-weight mixture of 25 isotropic Gaussians on a 5 × 5 grid:
    /// centres μ_ij = 2 (i, j) / 2.828 for i, j ∈ {−2, …, 2} (spacing ≈ 0.707,
    /// extent ±1.414) and std σ = 0.05 per coordinate;
    /// p(x) = (1/25) Σ_ij N(x; μ_ij, σ² I).
    TwentyFiveGaussians,
    /// Two interleaved half circles (sklearn `make_moons`, as FFJORD scales
    /// it): t ~ U[0, π]; with probability ½ the upper moon
    /// (2 cos t − 1, 2 sin t − 0.2), else the lower moon
    /// (1 − 2 cos t, 0.8 − 2 sin t); plus N(0, 0.2²) noise per coordinate.
    /// Mean (0, 0.3). No closed-form density.
    TwoMoons,
    /// Equal-weight mixture of 4 rings with radii r_k ∈ {0.75, 1.5, 2.25, 3}:
    /// k ~ U{0..3}, r ~ N(r_k, σ²) with σ = 0.08, θ ~ U[0, 2π),
    /// x = r (cos θ, sin θ).
    ///
    /// **Density.** A draw r < 0 lands at radius |r| in direction θ + π,
    /// which is again uniform, so the distance ρ = |x| has density
    /// f(ρ) = Σ_k w_k [N(ρ; r_k, σ²) + N(−ρ; r_k, σ²)] for ρ > 0, and the
    /// angle is uniform and independent of it. Changing to Cartesian
    /// coordinates (dx = ρ dρ dθ):
    ///
    /// ```text
    /// p(x) = f(ρ) / (2π ρ) = Σ_k w_k [N(ρ; r_k, σ²) + N(−ρ; r_k, σ²)] / (2π ρ),  ρ = |x| > 0
    /// ```
    ///
    /// with w_k = ¼. It integrates to ∫₀^∞ f(ρ) dρ = Σ_k w_k = 1. At the
    /// origin the density is infinite (an integrable 1/ρ singularity of
    /// weight ≈ e⁻⁴⁴); `log_prob` returns +∞ there.
    Rings,
    /// FFJORD's checkerboard without its final ×2: x₁ ~ U[−2, 2),
    /// x₂ = U[0, 1) − 2·B + (⌊x₁⌋ mod 2) with B ~ U{0, 1}. That is the
    /// uniform distribution on the 8 unit squares of [−2, 2)² whose
    /// bottom-left corners (a, b) have a + b even:
    /// p(x) = ⅛ on them, 0 elsewhere (log_prob −∞).
    Checkerboard,
    /// FFJORD's pinwheel: k ~ U{0..4}; f = (1 + 0.3 z₁, 0.1 z₂) with
    /// z ~ N(0, I₂); angle a = 2πk/5 + 0.25 · exp(f₁);
    /// x = 2 · (f₁ cos a + f₂ sin a, −f₁ sin a + f₂ cos a).
    /// E|x|² = 4 (1 + 0.3² + 0.1²) = 4.4. No closed-form density.
    Pinwheel,
    /// sklearn's swiss roll as FFJORD uses it: t = 1.5π (1 + 2u), u ~ U[0, 1);
    /// x = (t cos t + ε₁, t sin t + ε₂) / 5 with ε ~ N(0, I₂), i.e. noise
    /// std 0.2 after scaling. No closed-form density.
    SwissRoll,
    /// FFJORD's two spirals: s = 3π √u (1.5 turns), u ~ U[0, 1);
    /// d = (−s cos s + a, s sin s + b) with a, b ~ U[0, 0.5); with probability
    /// ½ d is negated (the second spiral); x = d / 3 + N(0, 0.1²) per
    /// coordinate. No closed-form density.
    TwoSpirals,
}

const ALL: [Toy2d; 8] = [
    Toy2d::EightGaussians,
    Toy2d::TwentyFiveGaussians,
    Toy2d::TwoMoons,
    Toy2d::Rings,
    Toy2d::Checkerboard,
    Toy2d::Pinwheel,
    Toy2d::SwissRoll,
    Toy2d::TwoSpirals,
];

impl Toy2d {
    /// Every toy distribution, in catalogue order.
    pub fn all() -> &'static [Toy2d] {
        &ALL
    }

    /// Kebab-case name, as the CLI spells it (e.g. `eight-gaussians`).
    pub fn name(self) -> &'static str {
        match self {
            Toy2d::EightGaussians => "eight-gaussians",
            Toy2d::TwentyFiveGaussians => "twenty-five-gaussians",
            Toy2d::TwoMoons => "two-moons",
            Toy2d::Rings => "rings",
            Toy2d::Checkerboard => "checkerboard",
            Toy2d::Pinwheel => "pinwheel",
            Toy2d::SwissRoll => "swiss-roll",
            Toy2d::TwoSpirals => "two-spirals",
        }
    }

    /// The centres (one row each) and the per-coordinate σ of the mixture
    /// components, for the toys that are isotropic Gaussian mixtures
    /// (eight-gaussians, twenty-five-gaussians): what mode-coverage metrics
    /// count against. `None` for the others.
    pub fn mode_centres(self) -> Option<(Matrix, f64)> {
        let (centres, std): (Vec<(f64, f64)>, f64) = match self {
            Toy2d::EightGaussians => ((0..8).map(eight_centre).collect(), EIGHT_GAUSSIANS_STD),
            Toy2d::TwentyFiveGaussians => (
                (0..25).map(twenty_five_centre).collect(),
                TWENTY_FIVE_GAUSSIANS_STD,
            ),
            _ => return None,
        };
        let data = centres.iter().flat_map(|&(x, y)| [x, y]).collect();
        Matrix::new(centres.len(), 2, data).ok().map(|m| (m, std))
    }

    /// The ring radii and the radial σ, for the toy whose modes are rings
    /// (rings): what ring-coverage metrics count against. `None` for the
    /// others.
    pub fn ring_radii(self) -> Option<(Vec<f64>, f64)> {
        match self {
            Toy2d::Rings => Some((RINGS_RADII.to_vec(), RINGS_STD)),
            _ => None,
        }
    }

    /// The circular arcs the toy's mass lies along and the standard
    /// deviation of the noise across them, for the toys whose modes are
    /// curves: rings (four full circles, radial σ 0.08) and two moons (two
    /// half circles of radius 2, isotropic σ 0.2). What arc-coverage
    /// metrics (gen-eval's `arc_coverage`) count against; `None` for the
    /// others.
    pub fn arcs(self) -> Option<(Vec<CircleArc>, f64)> {
        match self {
            Toy2d::Rings => Some((
                RINGS_RADII
                    .iter()
                    .map(|&radius| CircleArc {
                        centre: (0.0, 0.0),
                        radius,
                        start: 0.0,
                        sweep: TAU,
                    })
                    .collect(),
                RINGS_STD,
            )),
            // (2 cos t − 1, 2 sin t − 0.2) and (1 − 2 cos t, 0.8 − 2 sin t)
            // for t ∈ [0, π]: the upper half of the circle about (−1, −0.2)
            // and the lower half of the one about (1, 0.8).
            Toy2d::TwoMoons => Some((
                vec![
                    CircleArc {
                        centre: (-1.0, -0.2),
                        radius: 2.0,
                        start: 0.0,
                        sweep: PI,
                    },
                    CircleArc {
                        centre: (1.0, 0.8),
                        radius: 2.0,
                        start: PI,
                        sweep: PI,
                    },
                ],
                MOONS_STD,
            )),
            _ => None,
        }
    }

    /// One-line description.
    pub fn description(self) -> &'static str {
        match self {
            Toy2d::EightGaussians => "8 Gaussians on a circle of radius 2.83, std 0.354",
            Toy2d::TwentyFiveGaussians => "25 Gaussians on a 5x5 grid of spacing 0.707, std 0.05",
            Toy2d::TwoMoons => "two interleaved half circles, noise std 0.2",
            Toy2d::Rings => "4 concentric rings, radii 0.75..3, radial std 0.08",
            Toy2d::Checkerboard => "uniform on 8 unit squares of a 4x4 checkerboard",
            Toy2d::Pinwheel => "5 curved arms of a pinwheel",
            Toy2d::SwissRoll => "a 2D swiss roll spiral, noise std 0.2",
            Toy2d::TwoSpirals => "two interleaved spirals, noise std 0.1",
        }
    }

    /// True if [`log_prob`](Self::log_prob) has a closed form (returns `Some`).
    pub fn has_log_prob(self) -> bool {
        matches!(
            self,
            Toy2d::EightGaussians
                | Toy2d::TwentyFiveGaussians
                | Toy2d::Rings
                | Toy2d::Checkerboard
                | Toy2d::TwoMoons
        )
    }

    /// `n` independent draws as an n × 2 matrix, reproducible from `seed`.
    pub fn sample(self, n: usize, seed: u64) -> Matrix {
        self.sample_with(n, &mut rng_from_seed(seed))
    }

    /// `n` independent draws from `rng` (which advances), as an n × 2 matrix.
    pub fn sample_with(self, n: usize, rng: &mut Rng) -> Matrix {
        let mut m = Matrix::zeros(n, 2);
        for p in m.as_mut_slice().chunks_exact_mut(2) {
            let (x, y) = self.draw(rng);
            p[0] = x;
            p[1] = y;
        }
        m
    }

    fn draw(self, rng: &mut Rng) -> (f64, f64) {
        match self {
            Toy2d::EightGaussians => {
                let (cx, cy) = eight_centre(rng.random_range(0..8));
                (
                    cx + EIGHT_GAUSSIANS_STD * standard_normal(rng),
                    cy + EIGHT_GAUSSIANS_STD * standard_normal(rng),
                )
            }
            Toy2d::TwentyFiveGaussians => {
                let (cx, cy) = twenty_five_centre(rng.random_range(0..25));
                (
                    cx + TWENTY_FIVE_GAUSSIANS_STD * standard_normal(rng),
                    cy + TWENTY_FIVE_GAUSSIANS_STD * standard_normal(rng),
                )
            }
            Toy2d::TwoMoons => {
                let t = PI * uniform(rng);
                let (x, y) = if rng.random_bool(0.5) {
                    (2.0 * t.cos() - 1.0, 2.0 * t.sin() - 0.2)
                } else {
                    (1.0 - 2.0 * t.cos(), 0.8 - 2.0 * t.sin())
                };
                (
                    x + MOONS_STD * standard_normal(rng),
                    y + MOONS_STD * standard_normal(rng),
                )
            }
            Toy2d::Rings => {
                let rk = RINGS_RADII[rng.random_range(0..4)];
                let r = rk + RINGS_STD * standard_normal(rng);
                let th = TAU * uniform(rng);
                (r * th.cos(), r * th.sin())
            }
            Toy2d::Checkerboard => {
                let x1 = 4.0 * uniform(rng) - 2.0;
                let b = rng.random_range(0..2) as f64;
                let x2 = uniform(rng) - 2.0 * b + x1.floor().rem_euclid(2.0);
                (x1, x2)
            }
            Toy2d::Pinwheel => {
                let k = rng.random_range(0..5) as f64;
                let f1 = 1.0 + 0.3 * standard_normal(rng);
                let f2 = 0.1 * standard_normal(rng);
                let a = TAU * k / 5.0 + 0.25 * f1.exp();
                let (s, c) = a.sin_cos();
                (2.0 * (f1 * c + f2 * s), 2.0 * (-f1 * s + f2 * c))
            }
            Toy2d::SwissRoll => {
                let t = 1.5 * PI * (1.0 + 2.0 * uniform(rng));
                (
                    (t * t.cos() + standard_normal(rng)) / 5.0,
                    (t * t.sin() + standard_normal(rng)) / 5.0,
                )
            }
            Toy2d::TwoSpirals => {
                let s = 3.0 * PI * uniform(rng).sqrt();
                let dx = -s * s.cos() + 0.5 * uniform(rng);
                let dy = s * s.sin() + 0.5 * uniform(rng);
                let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                (
                    sign * dx / 3.0 + 0.1 * standard_normal(rng),
                    sign * dy / 3.0 + 0.1 * standard_normal(rng),
                )
            }
        }
    }

    /// Exact log-density (nats) of each row of the n × 2 matrix `x`:
    /// `Some` for eight-gaussians, twenty-five-gaussians, rings and
    /// checkerboard (see the variants for the formulas), `None` for the
    /// toys without a closed form.
    ///
    /// Values may be −∞ (checkerboard off its squares) or +∞ (rings at the
    /// origin). Errors if `x` does not have 2 columns or holds NaN/±∞.
    pub fn log_prob(self, x: &Matrix) -> Result<Option<Vec<f64>>> {
        let context = format!("Toy2d::log_prob ({})", self.name());
        if x.cols() != 2 {
            return Err(GenError::shape(
                context,
                "2 columns (points in the plane)",
                format!("{} columns", x.cols()),
                "pass an n x 2 matrix of points",
            ));
        }
        x.ensure_finite(&context)?;
        let rows = x.iter_rows();
        let lp: Vec<f64> = match self {
            Toy2d::EightGaussians => {
                let centres: Vec<(f64, f64)> = (0..8).map(eight_centre).collect();
                rows.map(|p| mixture_log_pdf(p, &centres, EIGHT_GAUSSIANS_STD))
                    .collect()
            }
            Toy2d::TwentyFiveGaussians => {
                let centres: Vec<(f64, f64)> = (0..25).map(twenty_five_centre).collect();
                rows.map(|p| mixture_log_pdf(p, &centres, TWENTY_FIVE_GAUSSIANS_STD))
                    .collect()
            }
            Toy2d::Rings => rows.map(rings_log_pdf).collect(),
            Toy2d::Checkerboard => rows.map(checkerboard_log_pdf).collect(),
            Toy2d::TwoMoons => rows
                .map(|p| two_moons_log_pdf(p, MOONS_QUADRATURE))
                .collect(),
            _ => return Ok(None),
        };
        Ok(Some(lp))
    }
}

/// Centre k of eight-gaussians: 4 (cos kπ/4, sin kπ/4) / 1.414.
fn eight_centre(k: usize) -> (f64, f64) {
    let (s, c) = (k as f64 * PI / 4.0).sin_cos();
    (EIGHT_GAUSSIANS_RADIUS * c, EIGHT_GAUSSIANS_RADIUS * s)
}

/// Centre k of twenty-five-gaussians: 2 (i, j) / 2.828 with i = k/5 − 2, j = k%5 − 2.
fn twenty_five_centre(k: usize) -> (f64, f64) {
    let i = (k / 5) as f64 - 2.0;
    let j = (k % 5) as f64 - 2.0;
    (
        TWENTY_FIVE_GAUSSIANS_SPACING * i,
        TWENTY_FIVE_GAUSSIANS_SPACING * j,
    )
}

/// log of the equal-weight mixture (1/K) Σ_k N(p; c_k, σ² I₂).
fn mixture_log_pdf(p: &[f64], centres: &[(f64, f64)], std: f64) -> f64 {
    let terms: Vec<f64> = centres
        .iter()
        .map(|&(cx, cy)| normal_log_pdf(p[0], cx, std) + normal_log_pdf(p[1], cy, std))
        .collect();
    log_sum_exp(&terms) - (centres.len() as f64).ln()
}

/// log p(x) = log Σ_k ¼ [N(ρ; r_k, σ²) + N(−ρ; r_k, σ²)] − log(2πρ).
fn rings_log_pdf(p: &[f64]) -> f64 {
    let rho = p[0].hypot(p[1]);
    if rho == 0.0 {
        return f64::INFINITY;
    }
    let w = -(RINGS_RADII.len() as f64).ln();
    let terms: Vec<f64> = RINGS_RADII
        .iter()
        .flat_map(|&r| {
            [
                w + normal_log_pdf(rho, r, RINGS_STD),
                w + normal_log_pdf(-rho, r, RINGS_STD),
            ]
        })
        .collect();
    log_sum_exp(&terms) - (LN_2PI + rho.ln())
}

/// Midpoints per half circle of the two-moons quadrature: the arc between
/// two of them is 2π/400 ≈ 0.016, a twelfth of the noise σ = 0.2, where the
/// midpoint rule on a Gaussian kernel is exact to far below f64 rounding
/// except at the arcs' ends (checked against 20× the points in the tests).
pub const MOONS_QUADRATURE: usize = 400;

/// Two moons: half circles of radius 2, a(t) = (2 cos t − 1, 2 sin t − 0.2)
/// and b(t) = (1 − 2 cos t, 0.8 − 2 sin t), t ~ U(0, π), each picked with
/// probability ½, plus N(0, 0.2² I) noise, so
/// p(x) = ½ Σ_{c ∈ {a, b}} (1/π) ∫₀^π N(x; c(t), σ² I) dt,
/// computed by the midpoint rule with `m` points per arc (log-sum-exp).
pub fn two_moons_log_pdf(p: &[f64], m: usize) -> f64 {
    let sd = MOONS_STD;
    let w = -(2.0 * m as f64).ln();
    let mut terms = Vec::with_capacity(2 * m);
    for i in 0..m {
        let t = PI * (i as f64 + 0.5) / m as f64;
        let (c, s) = (t.cos(), t.sin());
        for (cx, cy) in [
            (2.0 * c - 1.0, 2.0 * s - 0.2),
            (1.0 - 2.0 * c, 0.8 - 2.0 * s),
        ] {
            terms.push(w + normal_log_pdf(p[0], cx, sd) + normal_log_pdf(p[1], cy, sd));
        }
    }
    log_sum_exp(&terms)
}

/// log ⅛ on the squares of [−2, 2)² with ⌊x₁⌋ + ⌊x₂⌋ even, −∞ elsewhere.
fn checkerboard_log_pdf(p: &[f64]) -> f64 {
    let inside = p.iter().all(|v| (-2.0..2.0).contains(v));
    if inside && (p[0].floor() + p[1].floor()).rem_euclid(2.0) == 0.0 {
        -(8f64.ln())
    } else {
        f64::NEG_INFINITY
    }
}

/// The n² cell centres of [lo, hi]² split into n × n square cells, as an
/// n² × 2 matrix, and the cell area h² (h = (hi − lo)/n): Σ p(x_c)·h² is the
/// midpoint rule for ∫∫ p, used to check that a density integrates to one.
pub fn midpoint_grid(n: usize, lo: f64, hi: f64) -> (Matrix, f64) {
    let h = (hi - lo) / n as f64;
    let mut grid = Matrix::zeros(n * n, 2);
    for (k, p) in grid.as_mut_slice().chunks_exact_mut(2).enumerate() {
        p[0] = lo + ((k / n) as f64 + 0.5) * h;
        p[1] = lo + ((k % n) as f64 + 0.5) * h;
    }
    (grid, h * h)
}

impl fmt::Display for Toy2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Toy2d {
    type Err = GenError;

    /// Parses a kebab-case name (case and `_`/`-` are ignored), also
    /// `25-gaussians`, `8-gaussians` and FFJORD's names (`8gaussians`,
    /// `moons`, `swissroll`, `2spirals`).
    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase().replace('_', "-");
        if let Some(t) = ALL.iter().find(|t| t.name() == key) {
            return Ok(*t);
        }
        Ok(match key.as_str() {
            "8-gaussians" | "8gaussians" => Toy2d::EightGaussians,
            "25-gaussians" | "25gaussians" => Toy2d::TwentyFiveGaussians,
            "moons" => Toy2d::TwoMoons,
            "swissroll" => Toy2d::SwissRoll,
            "2spirals" | "spirals" => Toy2d::TwoSpirals,
            _ => {
                let names: Vec<&str> = ALL.iter().map(|t| t.name()).collect();
                return Err(GenError::config(
                    "toy distribution",
                    s,
                    "unknown 2D toy distribution",
                    format!("use one of: {}", names.join(", ")),
                ));
            }
        })
    }
}
