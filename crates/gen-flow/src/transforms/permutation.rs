//! Fixed permutations of coordinates: y_i = x_{π(i)}, |det| = 1.
//!
//! Coupling and autoregressive layers leave some coordinates (or the first
//! coordinate) untouched; permuting between layers lets every coordinate be
//! transformed (Dinh et al. 2017; Papamakarios et al. 2017).

use gen_core::burn::module::Module;
use gen_core::burn::tensor::{Device, Tensor, TensorData};
use gen_core::{GenError, Result, Rng};
use serde::{Deserialize, Serialize};

use crate::bijection::{Bijection, zero_logdet};

/// Which permutation to place between layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermutationKind {
    /// Reverse the coordinates (for D = 2 this swaps them, as normflows' `swap`).
    Reverse,
    /// A random permutation per layer, drawn from the model seed.
    Random,
    /// No permutation (masks that alternate do the mixing).
    None,
}

/// A fixed permutation, applied as a product with a 0/1 matrix (cheap for
/// the dimensions used here and identical on every backend).
#[derive(Module, Debug)]
pub struct Permutation {
    /// P with `(x P)_i = x_{π(i)}`: `[D, D]`.
    pub matrix: Tensor<2>,
    /// Pᵀ = P⁻¹.
    pub inverse_matrix: Tensor<2>,
    /// π.
    #[module(skip)]
    pub indices: Vec<usize>,
}

impl Permutation {
    /// The permutation y_i = x_{indices[i]}; errors unless `indices` is a
    /// permutation of 0..D (anything else is not invertible).
    pub fn new(indices: Vec<usize>, device: &Device) -> Result<Self> {
        let d = indices.len();
        let mut seen = vec![false; d];
        for &i in &indices {
            if i >= d || seen[i] {
                return Err(GenError::config(
                    "permutation",
                    format!("{indices:?}"),
                    "is not a permutation of 0..D, so the map is not invertible",
                    "list every index 0..D−1 exactly once",
                ));
            }
            seen[i] = true;
        }
        let mut p = vec![0f32; d * d];
        let mut pt = vec![0f32; d * d];
        for (i, &src) in indices.iter().enumerate() {
            p[src * d + i] = 1.0;
            pt[i * d + src] = 1.0;
        }
        Ok(Self {
            matrix: Tensor::from_data(TensorData::new(p, [d, d]), device),
            inverse_matrix: Tensor::from_data(TensorData::new(pt, [d, d]), device),
            indices,
        })
    }

    /// Reversal of `d` coordinates.
    pub fn reverse(d: usize, device: &Device) -> Result<Self> {
        Self::new((0..d).rev().collect(), device)
    }

    /// A uniformly random permutation of `d` coordinates.
    pub fn random(d: usize, rng: &mut Rng, device: &Device) -> Result<Self> {
        use rand::seq::SliceRandom;
        let mut idx: Vec<usize> = (0..d).collect();
        idx.shuffle(rng);
        Self::new(idx, device)
    }
}

impl Bijection for Permutation {
    fn dim(&self) -> usize {
        self.indices.len()
    }

    fn forward(
        &self,
        x: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = x.dims();
        let device = x.device();
        Ok((x.matmul(self.matrix.clone()), zero_logdet(n, &device)))
    }

    fn inverse(
        &self,
        y: Tensor<2>,
        _context: Option<&Tensor<2>>,
    ) -> Result<(Tensor<2>, Tensor<1>)> {
        let [n, _] = y.dims();
        let device = y.device();
        Ok((
            y.matmul(self.inverse_matrix.clone()),
            zero_logdet(n, &device),
        ))
    }
}
