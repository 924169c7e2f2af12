//! How the image GANs are evaluated: sample quality with gen-eval's MNIST
//! or digits feature extractor (FID, improved precision / recall, density /
//! coverage with k = 5), and, for a conditional GAN, whether samples of a
//! requested class look like that class to the extractor's classifier head.
//!
//! The extractor is a small convolutional classifier trained on the data
//! set (gen-eval's `extractor`): its 64-d penultimate features stand in for
//! Inception-v3's, so the numbers compare only with numbers from the same
//! extractor. Its head p(y | x) = softmax(W_c ReLU(φ(x)) + b_c) classifies
//! digits, which is what [`class_accuracy`] reads.

use gen_core::{Backend, Matrix, Result, Rng};
use gen_eval::{Extractor, ExtractorKind};
use serde::Serialize;

use crate::model::DcGan;

/// Neighbourhood size of precision / recall / density / coverage (clovaai).
pub const PRDC_K: usize = 5;

/// The embedded extractor for square images of side `side` (28: MNIST,
/// 8: digits) on the flex device, or `None` for other sides.
pub fn extractor_for(side: usize) -> Result<Option<Extractor>> {
    let kind = match side {
        28 => ExtractorKind::Mnist,
        8 => ExtractorKind::Digits,
        _ => return Ok(None),
    };
    Ok(Some(Extractor::pretrained(kind, &Backend::Flex.device()?)?))
}

/// Feature-space distances between generated and reference images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageQuality {
    /// Fréchet distance of the extractor's features.
    pub fid: f64,
    /// Improved precision (share of fakes inside the real manifold).
    pub precision: f64,
    /// Improved recall (share of reals inside the fake manifold).
    pub recall: f64,
    /// Density (Naeem et al. 2020).
    pub density: f64,
    /// Coverage (Naeem et al. 2020).
    pub coverage: f64,
    /// Generated (or compared) images.
    pub n_fake: usize,
    /// Reference images.
    pub n_real: usize,
}

/// FID and PRDC of `fake` against `real` (rows of pixels in [0, 1]).
pub fn image_quality(fake: &Matrix, real: &Matrix, extractor: &Extractor) -> Result<ImageQuality> {
    let ff = extractor.features(fake)?;
    let fr = extractor.features(real)?;
    let fid = gen_eval::frechet_distance(&fr, &ff)?;
    let p = gen_eval::prdc(&fr, &ff, PRDC_K)?;
    Ok(ImageQuality {
        fid: fid.value,
        precision: p.precision,
        recall: p.recall,
        density: p.density,
        coverage: p.coverage,
        n_fake: fake.rows(),
        n_real: real.rows(),
    })
}

/// How often the classifier agrees with the requested class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassAccuracy {
    /// Share of all samples whose arg-max class is the requested one.
    pub overall: f64,
    /// The same share for each class c = 0..K.
    pub per_class: Vec<f64>,
    /// Samples per class.
    pub per_class_samples: usize,
}

/// Draws `per_class` samples of every class c of a conditional GAN and
/// returns the share the extractor's classifier assigns to c.
pub fn class_accuracy(
    gan: &DcGan,
    per_class: usize,
    extractor: &Extractor,
    rng: &mut Rng,
) -> Result<ClassAccuracy> {
    let k = gan.classes();
    let mut per = Vec::with_capacity(k);
    for c in 0..k {
        let s = gan.sample_classes(per_class, 1.0, None, Some(&vec![c; per_class]), rng)?;
        per.push(extractor.accuracy(&s, &vec![c as u8; per_class])?);
    }
    let overall = per.iter().sum::<f64>() / k.max(1) as f64;
    Ok(ClassAccuracy {
        overall,
        per_class: per,
        per_class_samples: per_class,
    })
}
