//! Multi-scale image flows (Dinh et al. 2017, section 3.6; Kingma & Dhariwal 2018).
//! This module holds the image layout and the squeeze permutation; the layers
//! are built by [`crate::build::build_multiscale`].
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

use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
