//! Named configurations of the flows and the evaluation protocol of their runs
//! (the candle way: presets live with the model; the command line picks one
//! and overrides fields).
//!
//! - 2-D toys: [`FlowConfig::new`] with minibatches of [`TOY_BATCH`] and Adam
//!   at 1e-3; the test NLL is reported beside the true density's NLL, and
//!   their difference estimates KL(p‖q).
//! - Images: [`FlowConfig::image`]; dequantized pixels (x + u)/L in [0, 1)
//!   go through a logit layer whose log-determinant is part of the
//!   likelihood; the test split is dequantized once with
//!   [`TEST_DEQUANTIZE_SEED`] and the NLL is reported in bits per dimension.

use gen_core::optim::OptimConfig;
use gen_core::{Matrix, Result, Score, ScoreOptions, rng_from_seed};
use serde::Serialize;

use crate::{FlowConfig, FlowKind, FlowModel, ImageLayout, MaskKind, PermutationKind};

/// Global gradient-norm clip of image flows (784-dimensional likelihoods have
/// large, spiky gradients early on).
pub const IMAGE_GRAD_CLIP: f32 = 100.0;
/// α of the logit pre-processing of image flows.
pub const IMAGE_LOGIT_ALPHA: f64 = 0.05;
/// Default minibatch of image flows (the MNIST-5k runs in docs/flows.md).
pub const IMAGE_BATCH: usize = 64;
/// Default minibatch on 2-D toys.
pub const TOY_BATCH: usize = 512;
/// Seed of the one fixed dequantization of evaluation images.
pub const TEST_DEQUANTIZE_SEED: u64 = 1;

impl FlowConfig {
    /// The image preset of `kind` for `h × w` single-channel images, as
    /// measured on MNIST-5k (docs/flows.md): conditioners 256-256, logit
    /// pre-processing, gradient clipping; RealNVP and Glow multi-scale
    /// (checkerboard couplings, as many squeeze/split scales as halvings leave
    /// an even size, at most 2; 3 and 4 blocks per scale), the others flat
    /// with half masks and reversals.
    pub fn image(kind: FlowKind, h: usize, w: usize) -> FlowConfig {
        let coupling = matches!(kind, FlowKind::RealNvp | FlowKind::Nice | FlowKind::Glow);
        FlowConfig {
            hidden: vec![256, 256],
            mask: if coupling {
                MaskKind::Checkerboard { h, w }
            } else {
                MaskKind::Half
            },
            permutation: if coupling {
                PermutationKind::None
            } else {
                PermutationKind::Reverse
            },
            // Multi-scale RealNVP runs without ActNorm (the paper's batch
            // norm is left out); Glow's steps carry their own ActNorm.
            actnorm: kind != FlowKind::RealNvp,
            // Glow's couplings scale by σ(s̃ + 2), as in the paper: the
            // normalizing direction only contracts.
            sigmoid_scale: kind == FlowKind::Glow,
            logit: Some(IMAGE_LOGIT_ALPHA),
            optim: OptimConfig {
                grad_clip_norm: Some(IMAGE_GRAD_CLIP),
                ..Default::default()
            },
            image: matches!(kind, FlowKind::RealNvp | FlowKind::Glow).then(|| ImageLayout {
                channels: 1,
                height: h,
                width: w,
                scales: (0..2)
                    .take_while(|s| (h >> s).is_multiple_of(2) && (w >> s).is_multiple_of(2))
                    .count(),
            }),
            layers: match kind {
                FlowKind::RealNvp => 3,
                FlowKind::Glow => 4,
                _ => FlowConfig::new(kind, h * w).layers,
            },
            ..FlowConfig::new(kind, h * w)
        }
    }
}

impl FlowKind {
    /// The default Adam learning rate: 1e-3, on images 5e-4 for RealNVP and
    /// 2e-4 for Glow (the measured stable settings, docs/flows.md).
    pub fn default_lr(self, image: bool) -> f64 {
        match (image, self) {
            (true, FlowKind::RealNvp) => 5e-4,
            (true, FlowKind::Glow) => 2e-4,
            _ => 1e-3,
        }
    }

    /// The default minibatch: [`IMAGE_BATCH`] on images, [`TOY_BATCH`] on toys.
    pub fn default_batch(image: bool) -> usize {
        if image { IMAGE_BATCH } else { TOY_BATCH }
    }
}

/// The test-split figures of a flow run on 2-D points (nats per point).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointsEvaluation {
    /// Mean exact NLL of the test points under the flow.
    pub test_nll: f64,
    /// Mean NLL under the true density, when the toy has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_test_nll: Option<f64>,
    /// test_nll − true_test_nll, an estimate of KL(p‖q).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_gap_nats: Option<f64>,
}

/// The test-split figures of a flow run on images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageEvaluation {
    /// Mean NLL in nats per image of the dequantized test split.
    pub test_nll_nats: f64,
    /// The same in bits per dimension, discretisation included.
    pub test_bits_per_dim: f64,
}

/// The evaluation rows of an image split: raw levels dequantized once with
/// [`TEST_DEQUANTIZE_SEED`] and scaled to [0, 1).
pub fn dequantized_test(raw: &Matrix, levels: u32) -> Result<Matrix> {
    gen_data::transforms::dequantize(raw, levels, &mut rng_from_seed(TEST_DEQUANTIZE_SEED))
}

impl FlowModel {
    /// The evaluation protocol on test points `xt`, with the true density's
    /// log p of the same points when known.
    pub fn evaluate_points(
        &self,
        xt: &Matrix,
        true_log_prob: Option<&[f64]>,
    ) -> Result<PointsEvaluation> {
        let test_nll = self.score(xt, &ScoreOptions::default())?.mean_nll();
        let true_nll = true_log_prob.map(|ll| -ll.iter().sum::<f64>() / ll.len() as f64);
        Ok(PointsEvaluation {
            test_nll,
            true_test_nll: true_nll,
            kl_gap_nats: true_nll.map(|t| test_nll - t),
        })
    }

    /// The evaluation protocol on raw test images with `levels` grey levels.
    pub fn evaluate_images(&self, raw: &Matrix, levels: u32) -> Result<ImageEvaluation> {
        let xt = dequantized_test(raw, levels)?;
        let nll = self.score(&xt, &ScoreOptions::default())?.mean_nll();
        Ok(ImageEvaluation {
            test_nll_nats: nll,
            test_bits_per_dim: gen_eval::bits_per_dim_dequantized(nll, xt.cols(), levels)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_presets_are_multiscale_for_realnvp_and_glow_only() {
        let r = FlowConfig::image(FlowKind::RealNvp, 28, 28);
        assert_eq!(r.image.as_ref().map(|i| i.scales), Some(2));
        assert!(!r.actnorm && r.layers == 3);
        let g = FlowConfig::image(FlowKind::Glow, 8, 8);
        assert!(g.sigmoid_scale && g.layers == 4);
        let m = FlowConfig::image(FlowKind::Maf, 8, 8);
        assert!(m.image.is_none() && m.mask == MaskKind::Half);
        assert_eq!(FlowKind::Glow.default_lr(true), 2e-4);
        assert_eq!(FlowKind::Glow.default_lr(false), 1e-3);
        assert_eq!(FlowKind::default_batch(true), IMAGE_BATCH);
    }
}
