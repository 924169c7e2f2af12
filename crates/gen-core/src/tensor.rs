//! Moving data between the host ([`Matrix`]) and burn tensors.
//!
//! Inputs are always built on the host and moved to a device, so the same
//! seed gives the same numbers on every backend (device RNG streams differ).

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{GenError, Result};
use crate::matrix::Matrix;

/// A `rows × cols` float tensor on `device` holding `m` (as f32).
pub fn to_tensor(m: &Matrix, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(m.to_f32(), [m.rows(), m.cols()]), device)
}

/// A rank-1 tensor from host values.
pub fn vec_to_tensor(v: &[f32], device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

/// Reads a float tensor of any rank back as f32 values (row-major).
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| GenError::Other(format!("reading a tensor back to the host failed: {e:?}")))
}

/// Reads a rank-2 tensor back as a [`Matrix`].
pub fn to_matrix(t: Tensor<2>) -> Result<Matrix> {
    let [r, c] = t.dims();
    Matrix::from_f32(r, c, &to_vec(t)?)
}

/// The single value of a one-element tensor as f64.
pub fn scalar<const D: usize>(t: Tensor<D>) -> Result<f64> {
    let v = to_vec(t)?;
    v.first()
        .map(|x| *x as f64)
        .ok_or_else(|| GenError::Other("expected a one-element tensor, got an empty one".into()))
}
