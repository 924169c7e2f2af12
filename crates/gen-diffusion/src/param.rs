//! What the network predicts, conversions between the predictions, and the
//! training losses.
//!
//! # Parameterisations
//!
//! With x_t = √ᾱ x₀ + √(1 − ᾱ) ε (one level ᾱ = ᾱ_t), the network predicts
//! one of
//!
//! - ε (Ho et al. 2020),
//! - x₀ (diffusers' `sample`),
//! - v = √ᾱ ε − √(1 − ᾱ) x₀ (Salimans & Ho 2022),
//!
//! and any one determines the others given x_t:
//!
//! ```text
//! x₀ = (x_t − √(1 − ᾱ) ε) / √ᾱ          ε = (x_t − √ᾱ x₀) / √(1 − ᾱ)
//! x₀ = √ᾱ x_t − √(1 − ᾱ) v              ε = √ᾱ v + √(1 − ᾱ) x_t
//! ```
//!
//! (ε → x₀ divides by √ᾱ, so it fails at zero terminal SNR; x₀ → ε divides
//! by √(1 − ᾱ), so it fails at ᾱ = 1.)
//!
//! # Losses
//!
//! The simple loss (Ho et al.) is the mean squared error of the prediction
//! against its target with t uniform on {0, …, T−1}. Because
//!
//! ```text
//! ‖ε − ε̂‖² = SNR · ‖x₀ − x̂₀‖²,    ‖v − v̂‖² = (SNR + 1) · ‖x₀ − x̂₀‖²,
//! ```
//!
//! min-SNR-γ weighting (Hang et al. 2023), which weights the x₀ error by
//! min(SNR, γ), is the per-timestep weight
//!
//! ```text
//! w_ε = min(SNR, γ) / SNR,   w_x₀ = min(SNR, γ),   w_v = min(SNR, γ) / (SNR + 1)
//! ```
//!
//! (diffusers' training scripts; w_ε = 1 where SNR ≤ γ, which keeps it
//! finite at SNR = 0).

use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

/// What the denoising network outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prediction {
    /// The noise ε (diffusers' `epsilon`).
    Epsilon,
    /// The clean data x₀ (diffusers' `sample`).
    Sample,
    /// The velocity v = √ᾱ ε − √(1 − ᾱ) x₀ (diffusers' `v_prediction`).
    V,
}

impl Prediction {
    /// Names on the command line.
    pub const NAMES: [&'static str; 3] = ["eps", "x0", "v"];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Epsilon => "eps",
            Self::Sample => "x0",
            Self::V => "v",
        }
    }

    /// The regression target for clean data `x0` and noise `eps` at level `ab`.
    pub fn target(self, x0: f64, eps: f64, ab: f64) -> f64 {
        match self {
            Self::Epsilon => eps,
            Self::Sample => x0,
            Self::V => ab.sqrt() * eps - (1.0 - ab).sqrt() * x0,
        }
    }

    /// (x̂₀, ε̂) from the output `out` at the point `x` of level `ab` (module docs).
    pub fn to_x0_eps(self, out: f64, x: f64, ab: f64) -> (f64, f64) {
        let (a, s) = (ab.sqrt(), (1.0 - ab).sqrt());
        match self {
            Self::Epsilon => ((x - s * out) / a, out),
            Self::Sample => (out, (x - a * out) / s),
            Self::V => (a * x - s * out, a * out + s * x),
        }
    }

    /// The output this parameterisation would give for (x̂₀, ε̂).
    pub fn from_x0_eps(self, x0: f64, eps: f64, ab: f64) -> f64 {
        self.target(x0, eps, ab)
    }

    /// Errors where this prediction cannot give both x̂₀ and ε̂ at level `ab`:
    /// ε at ᾱ = 0 (zero terminal SNR), x₀ at ᾱ = 1.
    pub fn check_level(self, ab: f64) -> Result<()> {
        match self {
            Self::Epsilon if ab <= 0.0 => Err(GenError::config(
                "prediction",
                "eps",
                "at zero terminal SNR (ᾱ = 0) an ε-prediction cannot recover x̂₀ (÷√ᾱ = ÷0)",
                "train with --prediction v (Lin et al. 2024) or x0, or without --zero-snr",
            )),
            Self::Sample if ab >= 1.0 => Err(GenError::config(
                "prediction",
                "x0",
                "at ᾱ = 1 an x₀-prediction cannot recover ε̂ (÷√(1 − ᾱ) = ÷0)",
                "use a schedule with β_0 > 0",
            )),
            _ => Ok(()),
        }
    }
}

impl std::str::FromStr for Prediction {
    type Err = GenError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "eps" | "epsilon" => Ok(Self::Epsilon),
            "x0" | "sample" => Ok(Self::Sample),
            "v" | "v_prediction" | "v-prediction" => Ok(Self::V),
            other => Err(GenError::config(
                "--prediction",
                other,
                "unknown parameterisation",
                "use eps (predict the noise), x0 (the clean data) or v (the velocity)",
            )),
        }
    }
}

/// How the per-timestep squared errors are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LossWeighting {
    /// Unweighted mean squared error of the prediction (Ho et al.'s L_simple).
    Simple,
    /// Min-SNR-γ (Hang et al. 2023), module docs.
    MinSnr {
        /// γ (5 in the paper).
        gamma: f64,
    },
}

impl LossWeighting {
    /// Names on the command line.
    pub const NAMES: [&'static str; 2] = ["simple", "min-snr"];

    /// The name (`simple` or `min-snr`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::MinSnr { .. } => "min-snr",
        }
    }

    /// Errors unless γ is finite and > 0.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::MinSnr { gamma } if !(gamma.is_finite() && gamma > 0.0) => Err(GenError::config(
                "min-SNR γ",
                gamma,
                "γ must be finite and > 0",
                "use γ = 5 (Hang et al. 2023)",
            )),
            _ => Ok(()),
        }
    }

    /// The weight of the squared error of `prediction` at signal-to-noise
    /// ratio `snr` (module docs).
    pub fn weight(&self, prediction: Prediction, snr: f64) -> f64 {
        let Self::MinSnr { gamma } = *self else {
            return 1.0;
        };
        let clipped = snr.min(gamma);
        match prediction {
            Prediction::Epsilon if snr <= gamma => 1.0,
            Prediction::Epsilon => gamma / snr,
            Prediction::Sample => clipped,
            Prediction::V => clipped / (snr + 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Prediction; 3] = [Prediction::Epsilon, Prediction::Sample, Prediction::V];

    proptest! {
        /// Every parameterisation of the same (x₀, ε) converts back to them.
        #[test]
        fn conversions_round_trip(x0 in -5.0f64..5.0, eps in -4.0f64..4.0, ab in 1e-4f64..0.9999) {
            let x = ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps;
            for p in ALL {
                let out = p.target(x0, eps, ab);
                let (x0h, epsh) = p.to_x0_eps(out, x, ab);
                let tol = 1e-9 / ab.sqrt().min((1.0 - ab).sqrt());
                prop_assert!((x0h - x0).abs() < tol, "{p:?} x0 {x0h} vs {x0}");
                prop_assert!((epsh - eps).abs() < tol, "{p:?} eps {epsh} vs {eps}");
                // And through any other parameterisation.
                for q in ALL {
                    let via = q.from_x0_eps(x0h, epsh, ab);
                    let (a, b) = q.to_x0_eps(via, x, ab);
                    prop_assert!((a - x0).abs() < 10.0 * tol && (b - eps).abs() < 10.0 * tol);
                }
            }
        }

        /// Min-SNR weights turn every prediction's squared error into
        /// min(SNR, γ)·(x₀ error)², and the simple weights are 1.
        #[test]
        fn min_snr_weights_agree_in_x0_units(
            x0 in -3.0f64..3.0, eps in -3.0f64..3.0, ab in 1e-3f64..0.999,
            d0 in -1.0f64..1.0, gamma in 0.5f64..10.0,
        ) {
            let x = ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps;
            let snr = ab / (1.0 - ab);
            // A wrong prediction, consistent with x: x̂₀ = x₀ + d, ε̂ from x.
            let x0h = x0 + d0;
            let epsh = (x - ab.sqrt() * x0h) / (1.0 - ab).sqrt();
            let want = snr.min(gamma) * (x0h - x0).powi(2);
            let w = LossWeighting::MinSnr { gamma };
            for p in ALL {
                let err = (p.from_x0_eps(x0h, epsh, ab) - p.target(x0, eps, ab)).powi(2);
                let got = w.weight(p, snr) * err;
                prop_assert!((got - want).abs() < 1e-7 * (1.0 + want), "{p:?} {got} vs {want}");
                prop_assert_eq!(LossWeighting::Simple.weight(p, snr), 1.0);
            }
        }
    }

    #[test]
    fn weights_stay_finite_at_zero_snr_and_bad_settings_are_refused() {
        let w = LossWeighting::MinSnr { gamma: 5.0 };
        assert_eq!(w.weight(Prediction::Epsilon, 0.0), 1.0);
        assert_eq!(w.weight(Prediction::Sample, 0.0), 0.0);
        assert_eq!(w.weight(Prediction::V, 0.0), 0.0);
        assert!(LossWeighting::MinSnr { gamma: 0.0 }.validate().is_err());
        assert!(Prediction::Epsilon.check_level(0.0).is_err());
        assert!(Prediction::V.check_level(0.0).is_ok());
        assert!("noise".parse::<Prediction>().is_err());
        assert_eq!("v".parse::<Prediction>().unwrap(), Prediction::V);
    }
}
