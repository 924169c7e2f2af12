//! Coupling masks b ∈ {0, 1}^D: b_d = 1 marks a *conditioning* coordinate
//! (passed through unchanged and fed to the conditioner), b_d = 0 a
//! *transformed* one (Dinh et al. 2017, section 3.4).

use gen_core::{GenError, Result};
use serde::{Deserialize, Serialize};

/// How coordinates are split between conditioning and transformed halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MaskKind {
    /// First ⌈D/2⌉ coordinates condition, the rest are transformed (normflows'
    /// "channel" split); combine with a permutation between layers.
    Half,
    /// Even coordinates condition on odd ones; the parity flips every layer.
    Alternating,
    /// Checkerboard over an `h × w` image (row-major pixels); flips every layer.
    Checkerboard {
        /// Image height.
        h: usize,
        /// Image width.
        w: usize,
    },
    /// Channel mask over `channels` planes of `h·w` pixels: the first half of
    /// the channels condition; flips every layer.
    Channel {
        /// Number of channels (≥ 2).
        channels: usize,
    },
}

/// The mask of coupling layer number `layer` (0-based) of dimension `d`.
pub fn coupling_mask(kind: MaskKind, d: usize, layer: usize) -> Result<Vec<f32>> {
    let flip = layer % 2 == 1;
    let m: Vec<bool> = match kind {
        MaskKind::Half => {
            let k = d.div_ceil(2);
            (0..d).map(|i| i < k).collect()
        }
        MaskKind::Alternating => (0..d).map(|i| (i % 2 == 0) != flip).collect(),
        MaskKind::Checkerboard { h, w } => {
            if h * w == 0 || !d.is_multiple_of(h * w) {
                return Err(GenError::config(
                    "mask",
                    format!("checkerboard {h}x{w}"),
                    format!(
                        "the data dimension {d} is not a multiple of h·w = {}",
                        h * w
                    ),
                    "give the image height and width of the data (e.g. 8x8 for digits)",
                ));
            }
            (0..d)
                .map(|i| {
                    let p = i % (h * w);
                    ((p / w + p % w) % 2 == 0) != flip
                })
                .collect()
        }
        MaskKind::Channel { channels } => {
            if channels < 2 || !d.is_multiple_of(channels) {
                return Err(GenError::config(
                    "mask",
                    format!("channel ({channels} channels)"),
                    format!("needs at least 2 channels dividing the dimension {d}"),
                    "use a checkerboard mask for single-channel data",
                ));
            }
            let per = d / channels;
            let half = channels / 2;
            (0..d).map(|i| (i / per < half) != flip).collect()
        }
    };
    let ones = m.iter().filter(|b| **b).count();
    if ones == 0 || ones == d {
        return Err(GenError::config(
            "mask",
            format!("{kind:?} in dimension {d}"),
            "a coupling mask must condition on some and transform some coordinates",
            "coupling layers need D ≥ 2; use MAF or ActNorm for one-dimensional data",
        ));
    }
    Ok(m.into_iter().map(|b| if b { 1.0 } else { 0.0 }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_split_both_ways() {
        assert_eq!(
            coupling_mask(MaskKind::Half, 3, 0).unwrap(),
            vec![1.0, 1.0, 0.0]
        );
        assert_eq!(
            coupling_mask(MaskKind::Alternating, 4, 1).unwrap(),
            vec![0.0, 1.0, 0.0, 1.0]
        );
        let cb = coupling_mask(MaskKind::Checkerboard { h: 2, w: 2 }, 4, 0).unwrap();
        assert_eq!(cb, vec![1.0, 0.0, 0.0, 1.0]);
        let ch = coupling_mask(MaskKind::Channel { channels: 2 }, 4, 1).unwrap();
        assert_eq!(ch, vec![0.0, 0.0, 1.0, 1.0]);
        assert!(coupling_mask(MaskKind::Half, 1, 0).is_err());
        assert!(coupling_mask(MaskKind::Checkerboard { h: 3, w: 3 }, 4, 0).is_err());
    }
}
