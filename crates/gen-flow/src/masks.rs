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

/// A coupling's split of the coordinates 0..D into a *conditioning* set
/// (passed through, fed to the conditioner), a *transformed* set, and the
/// rest, left untouched and unseen (coordinates a multi-scale flow has already
/// factored out to the base density).
///
/// The conditioner reads only the conditioning coordinates and writes
/// parameters only for the transformed ones, as in RealNVP and normflows
/// (`Split` → coupling → `Merge`); a multiplicative mask over all D
/// coordinates would be the same map, but with wasted inputs and outputs and
/// a first-layer initialisation scaled by the wrong fan-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// D.
    pub dim: usize,
    /// Conditioning coordinates (ascending).
    pub cond: Vec<usize>,
    /// Transformed coordinates (ascending).
    pub trans: Vec<usize>,
    /// Untouched coordinates (ascending).
    pub rest: Vec<usize>,
}

impl Split {
    /// The split of a 0/1 mask (1 = conditioning, 0 = transformed), nothing untouched.
    pub fn from_mask(mask: &[f32]) -> Result<Self> {
        let cond = (0..mask.len()).filter(|&i| mask[i] > 0.5).collect();
        let trans = (0..mask.len()).filter(|&i| mask[i] <= 0.5).collect();
        Self::new(mask.len(), cond, trans)
    }

    /// The split of the active prefix 0..`mask.len()` of `dim` coordinates by
    /// a 0/1 mask; coordinates `mask.len()..dim` are untouched.
    pub fn from_prefix_mask(mask: &[f32], dim: usize) -> Result<Self> {
        let cond = (0..mask.len()).filter(|&i| mask[i] > 0.5).collect();
        let trans = (0..mask.len()).filter(|&i| mask[i] <= 0.5).collect();
        Self::new(dim, cond, trans)
    }

    /// Checks that `cond` and `trans` are non-empty, disjoint subsets of 0..dim.
    pub fn new(dim: usize, mut cond: Vec<usize>, mut trans: Vec<usize>) -> Result<Self> {
        cond.sort_unstable();
        trans.sort_unstable();
        let mut seen = vec![false; dim];
        for &i in cond.iter().chain(&trans) {
            if i >= dim || seen[i] {
                return Err(GenError::config(
                    "coupling split",
                    format!("cond {cond:?}, trans {trans:?} in dimension {dim}"),
                    "conditioning and transformed coordinates must be distinct indices below D",
                    "list each coordinate at most once",
                ));
            }
            seen[i] = true;
        }
        if cond.is_empty() || trans.is_empty() {
            return Err(GenError::config(
                "coupling split",
                format!("{} conditioning, {} transformed", cond.len(), trans.len()),
                "a coupling must condition on some and transform some coordinates",
                "coupling layers need D ≥ 2; use MAF or ActNorm for one-dimensional data",
            ));
        }
        let rest = (0..dim).filter(|&i| !seen[i]).collect();
        Ok(Self {
            dim,
            cond,
            trans,
            rest,
        })
    }

    /// Position of every coordinate in the concatenation `[cond, trans, rest]`:
    /// selecting these columns from the concatenation restores the order 0..D.
    pub fn merge_order(&self) -> Vec<usize> {
        let mut pos = vec![0; self.dim];
        for (k, &i) in self
            .cond
            .iter()
            .chain(&self.trans)
            .chain(&self.rest)
            .enumerate()
        {
            pos[i] = k;
        }
        pos
    }
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

    #[test]
    fn split_merge_order_restores_coordinates() {
        let s = Split::from_prefix_mask(&[0.0, 1.0, 1.0, 0.0], 6).unwrap();
        assert_eq!(s.cond, vec![1, 2]);
        assert_eq!(s.trans, vec![0, 3]);
        assert_eq!(s.rest, vec![4, 5]);
        let cat: Vec<usize> = s
            .cond
            .iter()
            .chain(&s.trans)
            .chain(&s.rest)
            .copied()
            .collect();
        let back: Vec<usize> = s.merge_order().iter().map(|&k| cat[k]).collect();
        assert_eq!(back, (0..6).collect::<Vec<_>>());
        assert!(Split::new(3, vec![0], vec![0]).is_err());
        assert!(Split::new(3, vec![], vec![1]).is_err());
        assert!(Split::new(3, vec![0], vec![3]).is_err());
    }
}
