//! [`ImageDataset`]: labelled images with raw grey levels, the type the
//! embedded sets ([`crate::datasets`]) and the IDX reader ([`crate::io::idx`])
//! both return.

use gen_core::{GenError, Matrix, Result, Rng};

use crate::transforms;

/// A labelled image data set with raw integer grey levels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDataset {
    /// One image per row, `height * width` raw grey levels in `0..levels` as
    /// `f64`, row-major within the image.
    pub images: Matrix,
    /// One class label per image.
    pub labels: Vec<u8>,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of grey levels: pixel values lie in `0..=levels-1` (256 for MNIST, 17 for digits 8×8).
    pub levels: u32,
}

impl ImageDataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.images.rows()
    }

    /// True if there are no images.
    pub fn is_empty(&self) -> bool {
        self.images.rows() == 0
    }

    /// Pixels per image, D = height · width.
    pub fn dims(&self) -> usize {
        self.height * self.width
    }

    /// Number of classes, `max(label) + 1` (10 for both digit sets); 0 when empty.
    pub fn num_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// The images and labels at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<ImageDataset> {
        if self.labels.len() != self.images.rows() {
            return Err(GenError::shape(
                "ImageDataset::select",
                format!("one label per image ({} labels)", self.images.rows()),
                format!("{} labels", self.labels.len()),
                "give the data set exactly one label per image row",
            ));
        }
        let images = self.images.select_rows(indices)?;
        // every index is below images.rows() == labels.len() (checked by select_rows)
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        Ok(ImageDataset {
            images,
            labels,
            ..*self
        })
    }

    /// Pixels scaled to [0, 1]: x / (levels − 1). See [`transforms::scale_unit`].
    pub fn scaled(&self) -> Result<Matrix> {
        transforms::scale_unit(&self.images, self.levels)
    }

    /// Uniformly dequantized pixels in [0, 1): (x + u) / levels. See
    /// [`transforms::dequantize`] for the likelihood bound this gives.
    pub fn dequantized(&self, rng: &mut Rng) -> Result<Matrix> {
        transforms::dequantize(&self.images, self.levels, rng)
    }

    /// A fresh dynamic binarization: each pixel ~ Bernoulli(x / (levels − 1)).
    /// See [`transforms::binarize`].
    pub fn binarized(&self, rng: &mut Rng) -> Result<Matrix> {
        transforms::binarize(&self.images, self.levels, rng)
    }

    /// One-hot labels, n × [`num_classes`](Self::num_classes).
    pub fn one_hot_labels(&self) -> Result<Matrix> {
        transforms::one_hot(&self.labels, self.num_classes())
    }
}
