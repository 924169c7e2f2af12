//! NumPy `.npz` archives: a zip file of `.npy` members, one per named array
//! (`numpy.savez` stores them, `numpy.savez_compressed` deflates them).
//!
//! Reading accepts stored and deflated members (with the zip64 fields
//! Python's `zipfile` writes for `numpy.savez`); a member `NAME.npy` is the
//! array `NAME`, as `np.load` names it; members not ending in `.npy` are
//! skipped. Each member is parsed by [`super::npy`], so every dtype it reads
//! works here. Writing produces `<f8` members, stored or deflated, that
//! `np.load` reads. The zip layer is the crate's own `io::zipfile` (flate2 only).

use std::path::Path;

use gen_core::{GenError, Matrix, Result};

use super::npy::{NpyArray, parse_npy};
use super::zipfile::{read_members, write_members};
use super::{format_err, memory_path, read_bytes};

/// The 4 bytes a zip archive with at least one member starts with (`PK\x03\x04`).
pub const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";
/// The 4 bytes an empty zip archive starts with (its end-of-directory record).
pub const ZIP_EMPTY_MAGIC: [u8; 4] = *b"PK\x05\x06";

/// How `.npz` members are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NpzCompression {
    /// Stored as is (`numpy.savez`).
    #[default]
    Stored,
    /// Deflated (`numpy.savez_compressed`).
    Deflated,
}

/// The named arrays of an `.npz` archive, in archive order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NpzArchive {
    /// `(name, array)` pairs; names without the `.npy` suffix.
    pub arrays: Vec<(String, NpyArray)>,
}

impl NpzArchive {
    /// The array named `name`, if present.
    pub fn get(&self, name: &str) -> Option<&NpyArray> {
        self.arrays.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The array names in archive order.
    pub fn names(&self) -> Vec<&str> {
        self.arrays.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The array named `key`, or, without a key, the first array. Errors
    /// (naming `path` and the archive's arrays) when the key is missing or
    /// the archive holds no array.
    pub fn select(&self, key: Option<&str>, path: &Path) -> Result<(&str, &NpyArray)> {
        let names = self.names().join(", ");
        match key {
            Some(k) => self
                .arrays
                .iter()
                .find(|(n, _)| n == k)
                .map(|(n, a)| (n.as_str(), a))
                .ok_or_else(|| {
                    format_err(
                        path,
                        format!(
                            "the archive holds no array named '{k}' (it holds: {})",
                            if names.is_empty() { "nothing" } else { &names }
                        ),
                        "pass --key with one of the names listed (np.load(path).files lists them)",
                    )
                }),
            None => self
                .arrays
                .first()
                .map(|(n, a)| (n.as_str(), a))
                .ok_or_else(|| {
                    format_err(
                        path,
                        "the archive holds no .npy array",
                        "write it with numpy.savez(path, name=array)",
                    )
                }),
        }
    }
}

const FIX: &str = "pass an archive written by numpy.savez or numpy.savez_compressed (a zip of .npy files, stored or deflated); re-create it if it is damaged";

/// True when `bytes` start like a zip archive (so, possibly, an `.npz`).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(&ZIP_MAGIC) || bytes.starts_with(&ZIP_EMPTY_MAGIC)
}

/// Reads an `.npz` file (gzip-wrapped files are decompressed first).
pub fn read_npz(path: impl AsRef<Path>) -> Result<NpzArchive> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    parse_npz(&bytes, path)
}

/// Parses an `.npz` archive held in memory.
pub fn from_npz_bytes(bytes: &[u8]) -> Result<NpzArchive> {
    parse_npz(bytes, &memory_path(".npz"))
}

/// Parses the archive `bytes` (e.g. read with [`super::read_bytes`] after an
/// [`is_zip`] check); `path` names it in errors.
pub fn parse_npz(bytes: &[u8], path: &Path) -> Result<NpzArchive> {
    if !is_zip(bytes) {
        let shown: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(format_err(
            path,
            format!(
                "not an .npz (zip) archive: it starts with [{}] instead of 50 4b 03 04 (PK\\x03\\x04)",
                shown.join(" ")
            ),
            FIX,
        ));
    }
    let members = read_members(bytes)
        .map_err(|e| format_err(path, format!("not a readable zip archive: {e}"), FIX))?;
    let mut arrays = Vec::new();
    for member in members {
        let name = member.name;
        let Some(key) = name.strip_suffix(".npy") else {
            continue;
        };
        let array = parse_npy(&member.data, path).map_err(|e| match e {
            GenError::Format { problem, fix, .. } => {
                format_err(path, format!("member '{name}': {problem}"), fix)
            }
            other => other,
        })?;
        arrays.push((key.to_string(), array));
    }
    Ok(NpzArchive { arrays })
}

/// Serialises named arrays as an `.npz` archive (`<f8` members named
/// `NAME.npy`). Errors on an empty or repeated name, or a name with `/`.
pub fn to_npz_bytes(arrays: &[(&str, &NpyArray)], compression: NpzCompression) -> Result<Vec<u8>> {
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in arrays {
        if name.is_empty() || name.contains('/') || !seen.insert(*name) {
            return Err(GenError::input(
                "npz writer",
                format!("array name '{name}' is empty, contains '/' or repeats"),
                "give every array a distinct, non-empty name without '/'",
            ));
        }
    }
    let members: Vec<(String, Vec<u8>)> = arrays
        .iter()
        .map(|(name, array)| (format!("{name}.npy"), array.to_npy_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    write_members(&refs, compression == NpzCompression::Deflated).map_err(|e| {
        GenError::input(
            "npz writer",
            e,
            "write fewer or smaller arrays per archive, or .npy files",
        )
    })
}

/// Writes named arrays to `path` as an `.npz` archive.
pub fn write_npz(
    path: impl AsRef<Path>,
    arrays: &[(&str, &NpyArray)],
    compression: NpzCompression,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_npz_bytes(arrays, compression)?;
    std::fs::write(path, bytes).map_err(|e| GenError::io(path, e))
}

/// Writes one matrix to `path` as an `.npz` archive holding the array `name`
/// of shape `(rows, cols)`.
pub fn write_npz_matrix(
    path: impl AsRef<Path>,
    name: &str,
    m: &Matrix,
    compression: NpzCompression,
) -> Result<()> {
    write_npz(path, &[(name, &NpyArray::from_matrix(m))], compression)
}

/// One array from a `.npy` or `.npz` file, told apart by content (the zip
/// magic), not by name: a `.npy` file is its array (named `""`; `key` does
/// not apply to it, so one key can serve several inputs); an archive gives
/// the array `key`, or its first array without a key. Also returns the
/// names of all the archive's arrays, so a caller can say which one it used.
pub fn read_array(path: impl AsRef<Path>, key: Option<&str>) -> Result<ReadArray> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    if !is_zip(&bytes) {
        return Ok(ReadArray {
            name: String::new(),
            array: parse_npy(&bytes, path)?,
            names: Vec::new(),
        });
    }
    let archive = parse_npz(&bytes, path)?;
    let (name, array) = archive.select(key, path)?;
    Ok(ReadArray {
        name: name.to_string(),
        array: array.clone(),
        names: archive.names().into_iter().map(str::to_string).collect(),
    })
}

/// What [`read_array`] returns.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadArray {
    /// The array's name in its archive (`""` for a `.npy` file).
    pub name: String,
    /// The array.
    pub array: NpyArray,
    /// The names of every array of the archive (empty for a `.npy` file).
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(e: GenError) -> String {
        match e {
            GenError::Format { problem, fix, .. } => format!("{problem} | {fix}"),
            other => panic!("expected a Format error, got {other}"),
        }
    }

    fn expected_x() -> NpyArray {
        NpyArray::new(vec![2, 3], vec![1.5, -2.0, 3.25, 0.0, 1e-3, 7.0]).unwrap()
    }

    // Made with numpy 2.4:
    //   X = np.array([[1.5, -2.0, 3.25], [0.0, 1e-3, 7.0]])
    //   f = io.BytesIO(); np.savez(f, x=X, labels=np.arange(4, dtype=np.int32))
    /// `np.savez(f, x=X, labels=np.arange(4, dtype=np.int32))` (564 bytes).
    const NUMPY_STORED: [u8; 564] = [
        0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0x76,
        0x8c, 0xa5, 0x1e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x14, 0x00,
        0x78, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x93, 0x4e, 0x55, 0x4d, 0x50,
        0x59, 0x01, 0x00, 0x76, 0x00, 0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20,
        0x27, 0x3c, 0x66, 0x38, 0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e,
        0x5f, 0x6f, 0x72, 0x64, 0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c,
        0x20, 0x27, 0x73, 0x68, 0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28, 0x32, 0x2c, 0x20, 0x33,
        0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x40, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xfc, 0xa9, 0xf1, 0xd2, 0x4d, 0x62, 0x50, 0x3f, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x1c, 0x40, 0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x21, 0x00, 0xfe, 0x74, 0x1e, 0xd4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0x0a, 0x00, 0x14, 0x00, 0x6c, 0x61, 0x62, 0x65, 0x6c, 0x73, 0x2e, 0x6e, 0x70,
        0x79, 0x01, 0x00, 0x10, 0x00, 0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x90, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76,
        0x00, 0x7b, 0x27, 0x64, 0x65, 0x73, 0x63, 0x72, 0x27, 0x3a, 0x20, 0x27, 0x3c, 0x69, 0x34,
        0x27, 0x2c, 0x20, 0x27, 0x66, 0x6f, 0x72, 0x74, 0x72, 0x61, 0x6e, 0x5f, 0x6f, 0x72, 0x64,
        0x65, 0x72, 0x27, 0x3a, 0x20, 0x46, 0x61, 0x6c, 0x73, 0x65, 0x2c, 0x20, 0x27, 0x73, 0x68,
        0x61, 0x70, 0x65, 0x27, 0x3a, 0x20, 0x28, 0x34, 0x2c, 0x29, 0x2c, 0x20, 0x7d, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
        0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x0a, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x21,
        0x00, 0x76, 0x8c, 0xa5, 0x1e, 0xb0, 0x00, 0x00, 0x00, 0xb0, 0x00, 0x00, 0x00, 0x05, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x78, 0x2e, 0x6e, 0x70, 0x79, 0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x21, 0x00, 0xfe, 0x74, 0x1e, 0xd4, 0x90, 0x00, 0x00, 0x00,
        0x90, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x80, 0x01, 0xe7, 0x00, 0x00, 0x00, 0x6c, 0x61, 0x62, 0x65, 0x6c, 0x73, 0x2e, 0x6e,
        0x70, 0x79, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x6b,
        0x00, 0x00, 0x00, 0xb3, 0x01, 0x00, 0x00, 0x00, 0x00,
    ];

    /// `np.savez_compressed(f, x=X, labels=np.arange(4, dtype=np.int32))` (418 bytes).
    const NUMPY_DEFLATED: [u8; 418] = [
        0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0x76,
        0x8c, 0xa5, 0x1e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00, 0x14, 0x00,
        0x78, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00, 0xb0, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9b, 0xec, 0x17, 0xea, 0x1b,
        0x10, 0xc9, 0xc8, 0x50, 0xc6, 0x50, 0xad, 0x9e, 0x92, 0x5a, 0x9c, 0x5c, 0xa4, 0x6e, 0xa5,
        0xa0, 0x6e, 0x93, 0x66, 0xa1, 0xae, 0xa3, 0xa0, 0x9e, 0x96, 0x5f, 0x54, 0x52, 0x94, 0x98,
        0x17, 0x9f, 0x5f, 0x94, 0x92, 0x0a, 0x12, 0x77, 0x4b, 0xcc, 0x29, 0x4e, 0x05, 0x8a, 0x17,
        0x67, 0x24, 0x16, 0xa4, 0x02, 0xf9, 0x1a, 0x46, 0x3a, 0x0a, 0xc6, 0x9a, 0x3a, 0x0a, 0xb5,
        0x0a, 0x64, 0x03, 0x2e, 0x06, 0x30, 0xf8, 0x61, 0x0f, 0xa1, 0x19, 0x0e, 0x40, 0x28, 0x2e,
        0x07, 0x28, 0x9f, 0xe1, 0xcf, 0xca, 0x8f, 0x97, 0x7c, 0x93, 0x02, 0xa0, 0xf2, 0x32, 0x0e,
        0x00, 0x50, 0x4b, 0x03, 0x04, 0x2d, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00,
        0xfe, 0x74, 0x1e, 0xd4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0x00, 0x14,
        0x00, 0x6c, 0x61, 0x62, 0x65, 0x6c, 0x73, 0x2e, 0x6e, 0x70, 0x79, 0x01, 0x00, 0x10, 0x00,
        0x90, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x9b, 0xec, 0x17, 0xea, 0x1b, 0x10, 0xc9, 0xc8, 0x50, 0xc6, 0x50, 0xad, 0x9e, 0x92,
        0x5a, 0x9c, 0x5c, 0xa4, 0x6e, 0xa5, 0xa0, 0x6e, 0x93, 0x69, 0xa2, 0xae, 0xa3, 0xa0, 0x9e,
        0x96, 0x5f, 0x54, 0x52, 0x94, 0x98, 0x17, 0x9f, 0x5f, 0x94, 0x92, 0x0a, 0x12, 0x77, 0x4b,
        0xcc, 0x29, 0x4e, 0x05, 0x8a, 0x17, 0x67, 0x24, 0x16, 0xa4, 0x02, 0xf9, 0x1a, 0x26, 0x3a,
        0x9a, 0x3a, 0x0a, 0xb5, 0x0a, 0x14, 0x00, 0x2e, 0x06, 0x20, 0x60, 0x04, 0x62, 0x26, 0x20,
        0x66, 0x06, 0x62, 0x00, 0x50, 0x4b, 0x01, 0x02, 0x2d, 0x03, 0x2d, 0x00, 0x00, 0x00, 0x08,
        0x00, 0x00, 0x00, 0x21, 0x00, 0x76, 0x8c, 0xa5, 0x1e, 0x60, 0x00, 0x00, 0x00, 0xb0, 0x00,
        0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x78, 0x2e, 0x6e, 0x70, 0x79, 0x50, 0x4b, 0x01, 0x02, 0x2d,
        0x03, 0x2d, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x21, 0x00, 0xfe, 0x74, 0x1e, 0xd4,
        0x4e, 0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x97, 0x00, 0x00, 0x00, 0x6c, 0x61, 0x62, 0x65,
        0x6c, 0x73, 0x2e, 0x6e, 0x70, 0x79, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x00, 0x02, 0x00, 0x6b, 0x00, 0x00, 0x00, 0x21, 0x01, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn reads_numpy_savez_and_savez_compressed() {
        for bytes in [&NUMPY_STORED[..], &NUMPY_DEFLATED[..]] {
            let a = from_npz_bytes(bytes).unwrap();
            assert_eq!(a.names(), ["x", "labels"]);
            assert_eq!(a.get("x").unwrap(), &expected_x());
            let labels = a.get("labels").unwrap();
            assert_eq!(labels.shape, vec![4]);
            assert_eq!(labels.data, vec![0.0, 1.0, 2.0, 3.0]);
            assert!(a.get("y").is_none());
        }
    }

    #[test]
    fn round_trips_stored_and_deflated() {
        let x = expected_x();
        let v = NpyArray::new(vec![3], vec![0.25, f64::MAX, -0.0]).unwrap();
        let s = NpyArray::new(vec![], vec![42.0]).unwrap();
        let big = NpyArray::new(vec![100, 10], vec![0.5; 1000]).unwrap();
        let arrays = [("x", &x), ("mu", &v), ("n", &s), ("big", &big)];
        let stored = to_npz_bytes(&arrays, NpzCompression::Stored).unwrap();
        let deflated = to_npz_bytes(&arrays, NpzCompression::Deflated).unwrap();
        assert!(deflated.len() < stored.len(), "deflate compresses");
        for bytes in [stored, deflated] {
            let back = from_npz_bytes(&bytes).unwrap();
            assert_eq!(back.names(), ["x", "mu", "n", "big"]);
            for (name, a) in arrays {
                assert_eq!(back.get(name).unwrap(), a, "{name}");
            }
        }
        let empty = to_npz_bytes(&[], NpzCompression::Stored).unwrap();
        assert!(from_npz_bytes(&empty).unwrap().arrays.is_empty());
        assert!(to_npz_bytes(&[("a", &x), ("a", &v)], NpzCompression::Stored).is_err());
        assert!(to_npz_bytes(&[("", &x)], NpzCompression::Stored).is_err());
    }

    #[test]
    fn select_and_read_array_name_what_they_use() {
        let dir = std::env::temp_dir().join(format!("gen-data-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npz");
        std::fs::write(&p, NUMPY_DEFLATED).unwrap();
        let r = read_array(&p, None).unwrap();
        assert_eq!((r.name.as_str(), r.names.len()), ("x", 2));
        assert_eq!(r.array, expected_x());
        let r = read_array(&p, Some("labels")).unwrap();
        assert_eq!(r.array.shape, vec![4]);
        let e = problem(read_array(&p, Some("mu")).unwrap_err());
        assert!(
            e.contains("no array named 'mu'") && e.contains("x, labels"),
            "{e}"
        );
        // A .npy file is read as is, whatever the key.
        let q = dir.join("m.npy");
        let m = Matrix::new(1, 2, vec![1.0, 2.0]).unwrap();
        super::super::npy::write_npy_f64(&q, &m).unwrap();
        assert_eq!(read_array(&q, None).unwrap().array.to_matrix().unwrap(), m);
        let r = read_array(&q, Some("x")).unwrap();
        assert_eq!(
            (r.name.as_str(), r.array.to_matrix().unwrap()),
            ("", m.clone())
        );
        // write_npz_matrix, read back through a file.
        write_npz_matrix(&p, "samples", &m, NpzCompression::Deflated).unwrap();
        let a = read_npz(&p).unwrap();
        assert_eq!(a.get("samples").unwrap().to_matrix().unwrap(), m);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_archives_are_errors_not_panics() {
        let e = problem(from_npz_bytes(b"\x93NUMPY not a zip").unwrap_err());
        assert!(e.contains("not an .npz"), "{e}");
        for bytes in [&NUMPY_STORED[..], &NUMPY_DEFLATED[..]] {
            for cut in 0..bytes.len() {
                let _ = from_npz_bytes(&bytes[..cut]);
            }
            // Flip bytes across the archive: an error or (for bytes zip does
            // not check) a result, never a panic.
            for i in 0..bytes.len() {
                let mut b = bytes.to_vec();
                b[i] ^= 0x5a;
                let _ = from_npz_bytes(&b);
            }
        }
        assert!(from_npz_bytes(&NUMPY_STORED[..NUMPY_STORED.len() / 2]).is_err());
        // A deflated member with damaged data fails its CRC or inflate.
        let mut b = NUMPY_DEFLATED.to_vec();
        b[80] ^= 0xff;
        assert!(from_npz_bytes(&b).is_err());
        // A member that is not a .npy array; members not named .npy are skipped.
        let bytes = write_members(&[("bad.npy", b"garbage")], false).unwrap();
        let e = problem(from_npz_bytes(&bytes).unwrap_err());
        assert!(
            e.contains("member 'bad.npy'") && e.contains("not a .npy"),
            "{e}"
        );
        let bytes = write_members(&[("notes.txt", b"text")], true).unwrap();
        assert!(from_npz_bytes(&bytes).unwrap().arrays.is_empty());
        let bytes = write_members(&[("bad.npy", b"garbage")], true).unwrap();
        let e = problem(from_npz_bytes(&bytes).unwrap_err());
        assert!(
            e.contains("member 'bad.npy'") && e.contains("not a .npy"),
            "{e}"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut z = ZIP_MAGIC.to_vec();
            z.extend(b);
            let _ = from_npz_bytes(&z);
        }
    }
}
