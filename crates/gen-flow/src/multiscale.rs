//! Multi-scale image flows (Dinh et al. 2017, section 3.6; Kingma & Dhariwal 2018).
//!
//! Images are flat rows stored channel-major (`c·H·W + i·W + j`). One scale of
//! the normalizing direction (data → base) is
//!
//! ```text
//! RealNVP:  K checkerboard couplings → squeeze → K channel couplings → split
//! Glow:     squeeze → K steps of (ActNorm → 1×1 conv → channel coupling) → split
//! ```
//!
//! - **squeeze** reshapes C×H×W into 4C×(H/2)×(W/2): each 2×2 block of pixels
//!   becomes four channels of one pixel. It is a fixed permutation of the
//!   coordinates (|det| = 1), so here it is a [`Permutation`] of the active
//!   prefix.
//! - **split** factors out half of the channels: they are handed to the
//!   N(0, I) base at this scale and every later layer leaves them untouched,
//!   so the active prefix halves (4C·HW/4 → 2C·HW/4 coordinates). The
//!   log-density is still exactly log N(z) + Σ log|det|, with z the
//!   concatenation of the factored-out parts and the final active part.
//!
//! After the last scale, RealNVP applies K more checkerboard couplings and
//! Glow K more steps on the final active part. Conditioners are MLPs over the
//! conditioning coordinates of the active part (CPU-sized; the papers use
//! convolutional ResNets).

use gen_core::burn::tensor::Device;
use gen_core::{GenError, Result, Rng};
use serde::{Deserialize, Serialize};

use crate::flow::FlowLayer;
use crate::masks::{MaskKind, Split, coupling_mask};
use crate::model::{FlowConfig, FlowKind};
use crate::transforms::{ActNorm, Conv1x1, CouplingKind, Permutation};

/// The image shape of the data and the number of squeeze/split scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLayout {
    /// Channels C.
    pub channels: usize,
    /// Height H.
    pub height: usize,
    /// Width W.
    pub width: usize,
    /// Squeeze/split scales (each needs even height and width).
    pub scales: usize,
}

impl ImageLayout {
    /// C·H·W.
    pub fn dim(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Checks the layout against the data dimension.
    pub fn validate(&self, dim: usize) -> Result<()> {
        if self.dim() != dim || self.dim() == 0 {
            return Err(GenError::config(
                "image layout",
                format!("{}×{}×{}", self.channels, self.height, self.width),
                format!("has {} coordinates but the data has {dim}", self.dim()),
                "give the channels, height and width of the images",
            ));
        }
        let (mut h, mut w) = (self.height, self.width);
        for s in 0..self.scales {
            if h % 2 != 0 || w % 2 != 0 {
                return Err(GenError::config(
                    "scales",
                    self.scales,
                    format!("scale {s} would squeeze an odd {h}×{w} image"),
                    "use fewer scales (MNIST 28×28: 2, digits 8×8: 2)",
                ));
            }
            h /= 2;
            w /= 2;
        }
        Ok(())
    }
}

/// `squeeze[k] = j`: coordinate k of the squeezed C'·H'·W' = 4C·(H/2)·(W/2)
/// layout is coordinate j of the C·H·W layout.
pub fn squeeze_indices(c: usize, h: usize, w: usize) -> Vec<usize> {
    let (h2, w2) = (h / 2, w / 2);
    let mut idx = vec![0; c * h * w];
    for ch in 0..c {
        for di in 0..2 {
            for dj in 0..2 {
                let out_c = ch * 4 + di * 2 + dj;
                for i in 0..h2 {
                    for j in 0..w2 {
                        let out = out_c * h2 * w2 + i * w2 + j;
                        idx[out] = ch * h * w + (2 * i + di) * w + (2 * j + dj);
                    }
                }
            }
        }
    }
    idx
}

/// The layers of a multi-scale RealNVP or Glow, in generative order.
pub fn build_multiscale(
    config: &FlowConfig,
    layout: &ImageLayout,
    rng: &mut Rng,
    device: &Device,
) -> Result<Vec<FlowLayer>> {
    layout.validate(config.dim)?;
    let d = config.dim;
    let k = config.layers;
    let glow = config.kind == FlowKind::Glow;
    let (mut c, mut h, mut w) = (layout.channels, layout.height, layout.width);
    // Built in the normalizing order (data → base), reversed at the end.
    let mut norm: Vec<FlowLayer> = Vec::new();
    let coupling = |mask: Vec<f32>, rng: &mut Rng| -> Result<FlowLayer> {
        let split = Split::from_prefix_mask(&mask, d)?;
        config.coupling(CouplingKind::Affine, &split, rng, device)
    };
    let squeeze = |c: usize, h: usize, w: usize| -> Result<FlowLayer> {
        // The Permutation's generative direction un-squeezes, so its
        // normalizing direction (used data → base) squeezes.
        let sq = squeeze_indices(c, h, w);
        let mut unsqueeze: Vec<usize> = (0..d).collect();
        for (k, &j) in sq.iter().enumerate() {
            unsqueeze[j] = k;
        }
        Ok(FlowLayer::Permutation(Permutation::new(unsqueeze, device)?))
    };
    // Per-channel ActNorm, as Glow: one scale and shift per channel of the active part.
    let actnorm = |norm: &mut Vec<FlowLayer>, c: usize, h: usize, w: usize| -> Result<()> {
        if config.actnorm || glow {
            norm.push(FlowLayer::ActNorm(ActNorm::per_channel(
                c,
                h * w,
                d,
                device,
            )?));
        }
        Ok(())
    };
    let glow_steps = |norm: &mut Vec<FlowLayer>, c: usize, h: usize, w: usize, rng: &mut Rng| {
        let active = c * h * w;
        for step in 0..k {
            actnorm(norm, c, h, w)?;
            norm.push(FlowLayer::Conv1x1(Conv1x1::new(c, h * w, d, rng, device)?));
            let mask = coupling_mask(MaskKind::Channel { channels: c }, active, step)?;
            norm.push(coupling(mask, rng)?);
        }
        Ok::<(), GenError>(())
    };
    for _ in 0..layout.scales {
        if glow {
            norm.push(squeeze(c, h, w)?);
            (c, h, w) = (4 * c, h / 2, w / 2);
            glow_steps(&mut norm, c, h, w, rng)?;
        } else {
            for step in 0..k {
                let mask = coupling_mask(MaskKind::Checkerboard { h, w }, c * h * w, step)?;
                norm.push(coupling(mask, rng)?);
                actnorm(&mut norm, c, h, w)?;
            }
            norm.push(squeeze(c, h, w)?);
            (c, h, w) = (4 * c, h / 2, w / 2);
            for step in 0..k {
                let mask = coupling_mask(MaskKind::Channel { channels: c }, c * h * w, step)?;
                norm.push(coupling(mask, rng)?);
                actnorm(&mut norm, c, h, w)?;
            }
        }
        // Split: the second half of the channels is factored out.
        c /= 2;
    }
    if glow {
        if c >= 2 {
            glow_steps(&mut norm, c, h, w, rng)?;
        }
    } else {
        for step in 0..k + 1 {
            let mask = coupling_mask(MaskKind::Checkerboard { h, w }, c * h * w, step)?;
            norm.push(coupling(mask, rng)?);
            actnorm(&mut norm, c, h, w)?;
        }
    }
    norm.reverse();
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transforms::Coupling;

    #[test]
    fn squeeze_groups_two_by_two_blocks_into_channels() {
        // 1×4×4 image with values = flat index.
        let idx = squeeze_indices(1, 4, 4);
        // Channel 0 of the squeezed image holds the top-left pixel of every 2×2 block.
        assert_eq!(&idx[0..4], &[0, 2, 8, 10]);
        // Channel 3 holds the bottom-right pixels.
        assert_eq!(&idx[12..16], &[5, 7, 13, 15]);
        let mut sorted = idx.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..16).collect::<Vec<_>>());
        // Two channels: every source index appears once.
        let mut two = squeeze_indices(2, 2, 2);
        two.sort_unstable();
        assert_eq!(two, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn layout_rejects_odd_squeezes_and_wrong_dims() {
        let l = ImageLayout {
            channels: 1,
            height: 28,
            width: 28,
            scales: 2,
        };
        assert!(l.validate(784).is_ok());
        assert!(l.validate(64).is_err());
        let l3 = ImageLayout { scales: 3, ..l };
        let e = l3.validate(784).unwrap_err().to_string();
        assert!(e.contains("odd 7×7"), "{e}");
    }

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
            let x = crate::tests::normal_rows(64, 16, 1.0, step);
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
            let x = crate::tests::normal_rows(3, 16, 1.0, 11);
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
            let jac = crate::tests::fd_jacobian(&f, x.row(0), 1e-2, &dev);
            let num = crate::tests::log_abs_det(&jac, 16);
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
