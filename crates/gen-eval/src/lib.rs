//! # gen-eval
//!
//! The pure-math part of the standard generative-model metrics, reproducing
//! their reference implementations formula for formula. Every metric takes
//! host [`Matrix`](gen_core::Matrix) feature sets (rows = samples) or slices
//! of per-sample values, validates them (shapes, sizes, NaN/Inf, settings) and
//! returns a result struct deriving `serde::Serialize`, or a
//! [`GenError`](gen_core::GenError) that says what is wrong and how to fix it.
//!
//! | metric | function | reference implementation |
//! | --- | --- | --- |
//! | NLL, bits/dim, perplexity, ELBO, IWAE-k | [`likelihood`] | Burda et al. 2016; RealNVP/Glow bpd convention |
//! | FID / Fréchet distance | [`frechet_distance`], [`frechet_distance_from_stats`] | pytorch-fid / clean-fid `calculate_frechet_distance` |
//! | MMD², KID, MMD permutation test | [`mmd2`], [`kid`], [`mmd_permutation_test`] | torch-fidelity `kid` / `mmd2` |
//! | Inception-style score | [`inception_score`] | OpenAI `get_inception_score`, torch-fidelity `isc` |
//! | improved precision/recall | [`improved_precision_recall`] | NVlabs precision-recall, torch-fidelity `prc` |
//! | density/coverage, PRDC | [`density_coverage`], [`prdc()`] | clovaai `prdc` |
//! | energy distance, 1-D / sliced Wasserstein | [`distances`] | `scipy.stats`, POT |
//! | copies, authenticity, data-copying `C_T` | [`memorization`] | Alaa et al. 2022; Meehan et al. 2020 |
//! | mode coverage, forward/reverse KL | [`toy`] | tutorial §13.2 |
//!
//! The metrics above are burn-free `f64` host code; products of large matrices go
//! through nalgebra's `gemm` (matrixmultiply), and nearest-neighbour searches
//! work on row blocks so that 10k × 10k comparisons never hold the full
//! distance matrix.
//!
//! With the `burn` feature (on by default) the crate adds its neural half:
//!
//! | metric / tool | item | reference |
//! | --- | --- | --- |
//! | classifier two-sample test | [`c2st()`] | Lopez-Paz & Oquab 2017 |
//! | MNIST / digits feature extractors for FID, KID, PRDC, IS | [`extractor`] | stand-ins for Inception-v3; values comparable only under the same extractor |
#![warn(missing_docs)]

#[cfg(feature = "burn")]
pub mod c2st;
mod check;
pub mod distances;
#[cfg(feature = "burn")]
pub mod extractor;
pub mod frechet;
pub mod inception;
mod knn;
pub mod likelihood;
pub mod memorization;
pub mod mmd;
pub mod prdc;
pub mod toy;

#[cfg(feature = "burn")]
pub use c2st::{C2st, C2stOptions, c2st};
pub use distances::{
    Distance, SlicedOptions, SlicedWasserstein, energy_distance, energy_distance_1d,
    sliced_wasserstein, wasserstein_1d, wasserstein_1d_p,
};
#[cfg(feature = "burn")]
pub use extractor::{Extractor, ExtractorKind, PixelScale, to_unit_range};
pub use frechet::{FeatureStats, FrechetDistance, frechet_distance, frechet_distance_from_stats};
pub use inception::{InceptionScore, inception_score};
pub use likelihood::{
    Elbo, Nll, bits_per_dim, bits_per_dim_dequantized, elbo, iwae_bound, iwae_bounds, logsumexp,
    nll, perplexity,
};
pub use memorization::{
    Authenticity, CopyRate, DataCopying, DataCopyingOptions, authenticity, data_copying,
    exact_copy_rate,
};
pub use mmd::{
    Bandwidth, Kernel, Kid, KidOptions, Mmd, MmdEstimator, MmdTest, MmdTestOptions, ResolvedKernel,
    kid, median_heuristic, mmd_permutation_test, mmd2,
};
pub use prdc::{
    DensityCoverage, Prdc, PrecisionRecall, density_coverage, improved_precision_recall, prdc,
};
pub use toy::{
    CircleArc, KlEstimate, KlPair, ModeCoverage, ModeCoverageOptions, arc_coverage, forward_kl,
    kl_pair, mode_coverage, reverse_kl, ring_coverage,
};
