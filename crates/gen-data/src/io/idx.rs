//! IDX files, the format of the original MNIST distribution
//! (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, ...).
//!
//! Layout (all integers big-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 0–1 | zero |
//! | 2 | element type: `08` u8, `09` i8, `0B` i16, `0C` i32, `0D` f32, `0E` f64 |
//! | 3 | number of dimensions d |
//! | 4 .. 4+4d | each dimension as a u32 |
//! | then | the elements in row-major order |
//!
//! So MNIST labels start with the magic `0x00000801` and images with
//! `0x00000803`. Gzipped files (`*.gz`, magic `1f 8b`) are decompressed first.

use std::path::Path;

use gen_core::{Matrix, Result};

use super::{format_err, memory_path, read_bytes};
use crate::image::ImageDataset;

/// Magic number of an MNIST label file (u8 elements, 1 dimension).
pub const MAGIC_LABELS: u32 = 0x0000_0801;
/// Magic number of an MNIST image file (u8 elements, 3 dimensions).
pub const MAGIC_IMAGES: u32 = 0x0000_0803;

/// Element type of an IDX file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxType {
    /// Unsigned byte (code `0x08`), as in MNIST.
    U8,
    /// Signed byte (`0x09`).
    I8,
    /// Big-endian i16 (`0x0B`).
    I16,
    /// Big-endian i32 (`0x0C`).
    I32,
    /// Big-endian f32 (`0x0D`).
    F32,
    /// Big-endian f64 (`0x0E`).
    F64,
}

impl IdxType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    fn decode(self, b: &[u8]) -> f64 {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        match self {
            IdxType::U8 => b[0] as f64,
            IdxType::I8 => b[0] as i8 as f64,
            IdxType::I16 => i16::from_be_bytes([w[0], w[1]]) as f64,
            IdxType::I32 => i32::from_be_bytes([w[0], w[1], w[2], w[3]]) as f64,
            IdxType::F32 => f32::from_be_bytes([w[0], w[1], w[2], w[3]]) as f64,
            IdxType::F64 => f64::from_be_bytes(w),
        }
    }
}

/// The content of an IDX file.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Element type as stored in the file.
    pub dtype: IdxType,
    /// Dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub shape: Vec<usize>,
    /// Elements in row-major order, converted to `f64`.
    pub data: Vec<f64>,
}

impl IdxArray {
    /// As a matrix: rank 1 → n × 1; rank ≥ 2 → `shape[0]` × (product of the rest).
    pub fn to_matrix(&self) -> Result<Matrix> {
        let rows = self.shape.first().copied().unwrap_or(1);
        let cols = self.shape.iter().skip(1).product::<usize>();
        Matrix::new(rows, cols, self.data.clone())
    }
}

/// Reads an IDX file (gzip is detected and decompressed).
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    parse_idx(&bytes, path)
}

/// Parses an (uncompressed) IDX file held in memory.
pub fn idx_from_bytes(bytes: &[u8]) -> Result<IdxArray> {
    parse_idx(bytes, &memory_path("IDX"))
}

/// Serialises `u8` data with the given shape as an IDX file (type `0x08`).
pub fn idx_u8_to_bytes(shape: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if shape.is_empty() || shape.len() > 255 || n != Some(data.len()) {
        return Err(gen_core::GenError::shape(
            "idx_u8_to_bytes",
            format!("1 to 255 dimensions whose product is {}", data.len()),
            format!("{shape:?}"),
            "pass a shape whose product equals the number of elements",
        ));
    }
    let mut out = vec![0, 0, 0x08, shape.len() as u8];
    for &d in shape {
        let d = u32::try_from(d).map_err(|_| {
            gen_core::GenError::shape(
                "idx_u8_to_bytes",
                "dimensions below 2^32",
                d,
                "IDX stores dimensions as u32; split the data",
            )
        })?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

const FIX: &str = "pass an IDX file such as MNIST's train-images-idx3-ubyte or train-labels-idx1-ubyte (gzipped or not); re-download it if it is damaged";

pub(crate) fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    if bytes.len() < 4 {
        return Err(format_err(
            path,
            format!(
                "truncated: {} bytes, shorter than the 4-byte IDX magic number",
                bytes.len()
            ),
            FIX,
        ));
    }
    let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format_err(
            path,
            format!(
                "bad magic number 0x{magic:08x}: IDX files start with two zero bytes (MNIST labels 0x{MAGIC_LABELS:08x}, images 0x{MAGIC_IMAGES:08x})"
            ),
            FIX,
        ));
    }
    let dtype = IdxType::from_code(bytes[2]).ok_or_else(|| {
        format_err(
            path,
            format!(
                "bad magic number 0x{magic:08x}: unknown element type code 0x{:02x} (known: 08, 09, 0b, 0c, 0d, 0e)",
                bytes[2]
            ),
            FIX,
        )
    })?;
    let ndims = bytes[3] as usize;
    if ndims == 0 {
        return Err(format_err(
            path,
            format!("magic number 0x{magic:08x} declares zero dimensions"),
            FIX,
        ));
    }
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(format_err(
            path,
            format!(
                "truncated header: {ndims} dimensions need {header_len} header bytes, the file has {}",
                bytes.len()
            ),
            FIX,
        ));
    }
    let shape: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = shape
        .iter()
        .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            format_err(
                path,
                format!("dimensions {shape:?} are too large (size overflows)"),
                FIX,
            )
        })?;
    let body = &bytes[header_len..];
    if body.len() != expected {
        let what = if body.len() < expected {
            "truncated"
        } else {
            "trailing bytes"
        };
        return Err(format_err(
            path,
            format!(
                "{what}: shape {shape:?} of {dtype:?} needs {expected} data bytes after the header, the file has {}",
                body.len()
            ),
            FIX,
        ));
    }
    let data = body
        .chunks_exact(dtype.size())
        .map(|c| dtype.decode(c))
        .collect();
    Ok(IdxArray { dtype, shape, data })
}

/// Loads an MNIST-style image/label pair of IDX files as an [`ImageDataset`]
/// with 256 grey levels.
///
/// The images must be u8 with 3 dimensions `[n, height, width]` (magic
/// `0x00000803`), the labels u8 with 1 dimension `[n]` (magic `0x00000801`),
/// and both must hold the same `n`.
pub fn read_mnist_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<ImageDataset> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    let img = read_idx(ip)?;
    let lab = read_idx(lp)?;
    mnist_from_arrays(img, lab, ip, lp)
}

fn mnist_from_arrays(img: IdxArray, lab: IdxArray, ip: &Path, lp: &Path) -> Result<ImageDataset> {
    if img.dtype != IdxType::U8 || img.shape.len() != 3 {
        return Err(format_err(
            ip,
            format!(
                "expected u8 images with 3 dimensions (magic 0x{MAGIC_IMAGES:08x}), got {:?} with shape {:?}",
                img.dtype, img.shape
            ),
            "pass the image file (…-images-idx3-ubyte) first and the label file second",
        ));
    }
    if lab.dtype != IdxType::U8 || lab.shape.len() != 1 {
        return Err(format_err(
            lp,
            format!(
                "expected u8 labels with 1 dimension (magic 0x{MAGIC_LABELS:08x}), got {:?} with shape {:?}",
                lab.dtype, lab.shape
            ),
            "pass the label file (…-labels-idx1-ubyte) second",
        ));
    }
    let (n, h, w) = (img.shape[0], img.shape[1], img.shape[2]);
    if lab.shape[0] != n {
        return Err(format_err(
            lp,
            format!("{} labels for {n} images in {}", lab.shape[0], ip.display()),
            "pass matching image and label files (e.g. both train or both t10k)",
        ));
    }
    let labels = lab.data.iter().map(|&v| v as u8).collect();
    let images = Matrix::new(n, h * w, img.data)?;
    Ok(ImageDataset {
        images,
        labels,
        height: h,
        width: w,
        levels: 256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gen_core::GenError;
    use proptest::prelude::*;

    fn problem(e: GenError) -> String {
        match e {
            GenError::Format { problem, .. } => problem,
            other => panic!("expected a Format error, got {other}"),
        }
    }

    #[test]
    fn parses_mnist_like_pair_from_disk_gzipped() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let img = idx_u8_to_bytes(
            &[2, 2, 3],
            &[0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255],
        )
        .unwrap();
        assert_eq!(&img[..4], &MAGIC_IMAGES.to_be_bytes());
        let lab = idx_u8_to_bytes(&[2], &[7, 3]).unwrap();
        assert_eq!(&lab[..4], &MAGIC_LABELS.to_be_bytes());
        let dir = std::env::temp_dir().join(format!("gen-data-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (ip, lp) = (dir.join("img.gz"), dir.join("lab"));
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(&img).unwrap();
        std::fs::write(&ip, enc.finish().unwrap()).unwrap();
        std::fs::write(&lp, &lab).unwrap();
        let ds = read_mnist_idx(&ip, &lp).unwrap();
        assert_eq!((ds.height, ds.width, ds.levels), (2, 3, 256));
        assert_eq!(ds.labels, vec![7, 3]);
        assert_eq!(
            ds.images.row(1),
            &[250.0, 251.0, 252.0, 253.0, 254.0, 255.0]
        );
        // swapped arguments: a clear error naming the image path
        let e = read_mnist_idx(&lp, &ip).unwrap_err().to_string();
        assert!(e.contains("lab") && e.contains("images"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn big_endian_types() {
        let mut b = vec![0, 0, 0x0D, 1, 0, 0, 0, 2];
        b.extend_from_slice(&1.5f32.to_be_bytes());
        b.extend_from_slice(&(-2.0f32).to_be_bytes());
        let a = idx_from_bytes(&b).unwrap();
        assert_eq!(a.data, vec![1.5, -2.0]);
        assert_eq!(a.to_matrix().unwrap().shape(), (2, 1));
        let b = [0, 0, 0x0B, 1, 0, 0, 0, 1, 0xFF, 0xFE];
        assert_eq!(idx_from_bytes(&b).unwrap().data, vec![-2.0]);
    }

    #[test]
    fn malformed_files() {
        assert!(problem(idx_from_bytes(&[0, 0]).unwrap_err()).contains("4-byte IDX magic"));
        let e = problem(idx_from_bytes(&[0x1f, 0x8c, 8, 1]).unwrap_err());
        assert!(e.contains("bad magic number 0x1f8c0801"), "{e}");
        let e = problem(idx_from_bytes(&[0, 0, 0x42, 1, 0, 0, 0, 0]).unwrap_err());
        assert!(e.contains("unknown element type code 0x42"), "{e}");
        let e = problem(idx_from_bytes(&[0, 0, 8, 0]).unwrap_err());
        assert!(e.contains("zero dimensions"), "{e}");
        let e = problem(idx_from_bytes(&[0, 0, 8, 3, 0, 0, 0, 1]).unwrap_err());
        assert!(e.contains("truncated header"), "{e}");
        let e = problem(idx_from_bytes(&[0, 0, 8, 1, 0, 0, 0, 3, 1, 2]).unwrap_err());
        assert!(e.starts_with("truncated: shape [3]"), "{e}");
        let e = problem(idx_from_bytes(&[0, 0, 8, 1, 0, 0, 0, 1, 1, 2]).unwrap_err());
        assert!(e.starts_with("trailing bytes"), "{e}");
        let e = problem(
            idx_from_bytes(&[
                0, 0, 0x0E, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
            ])
            .unwrap_err(),
        );
        assert!(e.contains("overflow") || e.contains("truncated"), "{e}");
    }

    #[test]
    fn mismatched_counts_and_wrong_rank() {
        let img = idx_from_bytes(&idx_u8_to_bytes(&[2, 1, 1], &[1, 2]).unwrap()).unwrap();
        let lab = idx_from_bytes(&idx_u8_to_bytes(&[3], &[1, 2, 3]).unwrap()).unwrap();
        let (ip, lp) = (Path::new("i"), Path::new("l"));
        let e = mnist_from_arrays(img.clone(), lab, ip, lp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 labels for 2 images"), "{e}");
        let e = mnist_from_arrays(img.clone(), img, ip, lp)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected u8 labels with 1 dimension"), "{e}");
    }

    proptest! {
        #[test]
        fn roundtrip_u8(shape in proptest::collection::vec(1usize..5, 1..4), fill in any::<u8>()) {
            let n: usize = shape.iter().product();
            let data: Vec<u8> = (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(fill)).collect();
            let bytes = idx_u8_to_bytes(&shape, &data).unwrap();
            let a = idx_from_bytes(&bytes).unwrap();
            prop_assert_eq!(&a.shape, &shape);
            prop_assert_eq!(a.data, data.iter().map(|&v| v as f64).collect::<Vec<_>>());
            // every strict prefix of a valid file is rejected, without panicking
            for k in 0..bytes.len() {
                prop_assert!(idx_from_bytes(&bytes[..k]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = idx_from_bytes(&b);
            let mut c = vec![0u8, 0];
            c.extend_from_slice(&b);
            let _ = idx_from_bytes(&c);
        }
    }
}
