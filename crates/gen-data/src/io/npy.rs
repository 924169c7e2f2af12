//! NumPy `.npy` files: reading (format versions 1.0, 2.0, 3.0) and writing
//! (version 1.0, `f32` or `f64`).
//!
//! Layout: the magic `\x93NUMPY`, a major and a minor version byte, the header
//! length (u16 little-endian in version 1, u32 in versions 2 and 3), then a
//! header that is a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, padded with
//! spaces and a final `\n` so the data starts at a multiple of 64 bytes; then
//! the raw elements.
//!
//! Supported element types (`descr`): floats `f4`, `f8`; signed integers `i1`,
//! `i2`, `i4`, `i8`; unsigned `u1`, `u2`, `u4`, `u8`; booleans `b1`; each
//! little-endian (`<`), big-endian (`>`), native (`=`, read as little-endian)
//! or, for one-byte types, `|`. Only C (row-major) order is supported.
//! Values are converted to `f64` (integers above 2⁵³ lose precision).

use std::path::Path;

use gen_core::{GenError, Matrix, Result};

use super::{format_err, memory_path, read_bytes};

/// The 6-byte magic string every `.npy` file starts with.
pub const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// An n-dimensional array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first; empty for a 0-d (scalar) array.
    pub shape: Vec<usize>,
    /// Elements in row-major (C) order, converted to `f64`.
    pub data: Vec<f64>,
}

impl NpyArray {
    /// As a matrix: rank 0 → 1 × 1; rank 1 (`(n,)`) → n × 1; rank 2 as is;
    /// rank > 2 → `shape[0]` × (product of the trailing dimensions), e.g. images
    /// `(n, 28, 28)` → n × 784.
    pub fn to_matrix(&self) -> Result<Matrix> {
        let rows = self.shape.first().copied().unwrap_or(1);
        let cols = self.shape.iter().skip(1).product::<usize>();
        Matrix::new(rows, cols, self.data.clone())
    }
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    parse_npy(&bytes, path)
}

/// Parses a `.npy` file held in memory.
pub fn from_npy_bytes(bytes: &[u8]) -> Result<NpyArray> {
    parse_npy(bytes, &memory_path(".npy"))
}

impl NpyArray {
    /// An array of `shape` holding `data` in row-major order; errors unless
    /// `data.len()` is the product of `shape` (1 for the empty shape) and the
    /// rank is at most 32 (numpy's limit).
    pub fn new(shape: Vec<usize>, data: Vec<f64>) -> Result<Self> {
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX);
        if n != data.len() || shape.len() > 32 {
            return Err(GenError::shape(
                "NpyArray::new",
                format!("{n} elements for shape {shape:?} (rank ≤ 32)"),
                format!("{} elements", data.len()),
                "pass as many values as the shape holds",
            ));
        }
        Ok(Self { shape, data })
    }

    /// A `(rows, cols)` array of the matrix's elements.
    pub fn from_matrix(m: &Matrix) -> Self {
        Self {
            shape: vec![m.rows(), m.cols()],
            data: m.as_slice().to_vec(),
        }
    }

    /// Serialises the array with its shape as `<f8`, `.npy` version 1.0
    /// (what `numpy.save` writes for a C-ordered float64 array).
    pub fn to_npy_bytes(&self) -> Vec<u8> {
        let mut out = npy_header_shaped("<f8", &self.shape);
        out.reserve(self.data.len() * 8);
        for v in &self.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// Serialises `m` as a `(rows, cols)` `<f8` array, `.npy` version 1.0.
pub fn to_npy_bytes_f64(m: &Matrix) -> Vec<u8> {
    let mut out = npy_header("<f8", m.rows(), m.cols());
    for v in m.as_slice() {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Serialises `m` as a `(rows, cols)` `<f4` array, `.npy` version 1.0
/// (values are rounded to `f32`).
pub fn to_npy_bytes_f32(m: &Matrix) -> Vec<u8> {
    let mut out = npy_header("<f4", m.rows(), m.cols());
    for v in m.as_slice() {
        out.extend_from_slice(&(*v as f32).to_le_bytes());
    }
    out
}

/// Writes `m` to `path` as a `<f8` `.npy` file (`numpy.load` reads it).
pub fn write_npy_f64(path: impl AsRef<Path>, m: &Matrix) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_npy_bytes_f64(m)).map_err(|e| GenError::io(path, e))
}

/// Writes `m` to `path` as a `<f4` `.npy` file.
pub fn write_npy_f32(path: impl AsRef<Path>, m: &Matrix) -> Result<()> {
    let path = path.as_ref();
    std::fs::write(path, to_npy_bytes_f32(m)).map_err(|e| GenError::io(path, e))
}

/// Magic, version 1.0, header length and the header padded as numpy (≥ 1.24)
/// pads it: spare spaces so the row count can grow to 21 digits in place,
/// then spaces and `\n` so that 10 + header length is a multiple of 64.
fn npy_header(descr: &str, rows: usize, cols: usize) -> Vec<u8> {
    npy_header_shaped(descr, &[rows, cols])
}

/// [`npy_header`] for any shape, written as Python writes a tuple: `()`,
/// `(n,)`, `(n, m, ...)`. A 0-d array has no growth axis and no spare spaces.
fn npy_header_shaped(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple}, }}");
    if let Some(first) = dims.first() {
        dict.extend(std::iter::repeat_n(
            ' ',
            21usize.saturating_sub(first.len()),
        ));
    }
    let hlen = dict.len() + 1; // with the final newline
    let pad = 64 - (10 + hlen) % 64;
    let mut out = Vec::with_capacity(10 + hlen + pad);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    // the dict is a few hundred bytes for any realistic rank (u16 up to 65535)
    out.extend_from_slice(&((hlen + pad) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    out
}

const FIX: &str = "pass a file written by numpy.save (C order, a numeric dtype such as float32, float64 or uint8); re-create it if it is damaged";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Float,
    Int,
    Uint,
    Bool,
}

#[derive(Debug, Clone, Copy)]
struct Dtype {
    kind: Kind,
    size: usize,
    big_endian: bool,
}

impl Dtype {
    fn parse(descr: &str) -> Option<Self> {
        let mut chars = descr.chars();
        let order = chars.next()?;
        let kind = match chars.next()? {
            'f' => Kind::Float,
            'i' => Kind::Int,
            'u' => Kind::Uint,
            'b' => Kind::Bool,
            _ => return None,
        };
        let size: usize = chars.as_str().parse().ok()?;
        let ok = match kind {
            Kind::Float => matches!(size, 4 | 8),
            Kind::Int | Kind::Uint => matches!(size, 1 | 2 | 4 | 8),
            Kind::Bool => size == 1,
        };
        let big_endian = match order {
            '<' | '=' => false,
            '>' => true,
            '|' if size == 1 => false,
            _ => return None,
        };
        ok.then_some(Dtype {
            kind,
            size,
            big_endian,
        })
    }

    fn decode(self, b: &[u8]) -> f64 {
        let mut w = [0u8; 8];
        if self.big_endian {
            // reverse into little-endian order
            for (i, &x) in b.iter().rev().enumerate() {
                w[i] = x;
            }
        } else {
            w[..b.len()].copy_from_slice(b);
        }
        // w now holds the value little-endian in its first `size` bytes
        let u = u64::from_le_bytes(w);
        match (self.kind, self.size) {
            (Kind::Float, 4) => f32::from_bits(u as u32) as f64,
            (Kind::Float, _) => f64::from_bits(u),
            (Kind::Int, 1) => u as u8 as i8 as f64,
            (Kind::Int, 2) => u as u16 as i16 as f64,
            (Kind::Int, 4) => u as u32 as i32 as f64,
            (Kind::Int, _) => u as i64 as f64,
            (Kind::Uint, _) => u as f64,
            (Kind::Bool, _) => (u != 0) as u8 as f64,
        }
    }
}

/// A value of the header dict.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// A tiny parser for the Python dict literal of a `.npy` header.
struct DictParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl DictParser<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> std::result::Result<(), String> {
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            Some(x) => Err(format!(
                "expected '{}' at header byte {}, found '{}'",
                c as char, self.pos, x as char
            )),
            None => Err(format!("expected '{}' but the header ended", c as char)),
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        let q = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "expected a quoted string at header byte {}",
                    self.pos
                ));
            }
        };
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos] != q {
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Err("unterminated string in the header".into());
        }
        let out = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        self.pos += 1;
        Ok(out)
    }

    /// A bare token: everything up to whitespace or punctuation of the dict.
    fn word(&mut self) -> &[u8] {
        self.ws();
        let start = self.pos;
        while self.pos < self.s.len()
            && !self.s[self.pos].is_ascii_whitespace()
            && !b",:()[]{}'\"".contains(&self.s[self.pos])
        {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Value::Str),
            Some(b'(') => {
                self.pos += 1;
                let mut dims = Vec::new();
                loop {
                    if self.peek() == Some(b')') {
                        self.pos += 1;
                        return Ok(Value::Tuple(dims));
                    }
                    let w = self.word();
                    let digits = w.strip_suffix(b"L").unwrap_or(w); // Python 2 longs
                    let d = std::str::from_utf8(digits)
                        .ok()
                        .and_then(|t| t.parse::<usize>().ok())
                        .ok_or_else(|| {
                            format!(
                                "shape entry '{}' is not a non-negative integer",
                                String::from_utf8_lossy(w)
                            )
                        })?;
                    dims.push(d);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {}
                        _ => return Err("expected ',' or ')' in the shape tuple".into()),
                    }
                }
            }
            Some(b'[' | b'{') => Err(
                "the dtype is structured (a list or dict of fields), which is not supported".into(),
            ),
            Some(_) => match self.word() {
                b"True" => Ok(Value::Bool(true)),
                b"False" => Ok(Value::Bool(false)),
                w => Err(format!(
                    "unexpected value '{}' in the header",
                    String::from_utf8_lossy(w)
                )),
            },
            None => Err("the header ended where a value was expected".into()),
        }
    }

    fn dict(&mut self) -> std::result::Result<Vec<(String, Value)>, String> {
        self.eat(b'{')?;
        let mut out = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.pos += 1;
                break;
            }
            let k = self.string()?;
            self.eat(b':')?;
            let v = self.value()?;
            out.push((k, v));
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err("expected ',' or '}' after a header entry".into()),
            }
        }
        if self.peek().is_some() {
            return Err(format!(
                "unexpected text after the header dict at byte {}",
                self.pos
            ));
        }
        Ok(out)
    }
}

pub(crate) fn parse_npy(bytes: &[u8], path: &Path) -> Result<NpyArray> {
    if bytes.len() < 10 || !bytes.starts_with(NPY_MAGIC) {
        let shown: Vec<String> = bytes.iter().take(6).map(|b| format!("{b:02x}")).collect();
        return Err(format_err(
            path,
            format!(
                "not a .npy file: it starts with [{}] instead of the magic 93 4e 55 4d 50 59 (\\x93NUMPY) plus a version (or it is shorter than 10 bytes)",
                shown.join(" ")
            ),
            FIX,
        ));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(format_err(
                    path,
                    format!(
                        "truncated: {} bytes, too short for a version {major}.{minor} header length",
                        bytes.len()
                    ),
                    FIX,
                ));
            }
            let l = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
            (l as usize, 12)
        }
        _ => {
            return Err(format_err(
                path,
                format!(
                    "unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)"
                ),
                "re-save the array with numpy.save, which writes version 1.0 unless it must not",
            ));
        }
    };
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            format_err(
                path,
                format!(
                    "truncated header: it declares {hlen} header bytes but only {} follow",
                    bytes.len() - start
                ),
                FIX,
            )
        })?;
    let header = &bytes[start..end];
    if major == 3 && std::str::from_utf8(header).is_err() {
        return Err(format_err(
            path,
            "the version 3.0 header is not valid UTF-8",
            FIX,
        ));
    }
    let entries = DictParser { s: header, pos: 0 }
        .dict()
        .map_err(|p| format_err(path, format!("malformed header: {p}"), FIX))?;
    let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let descr = match get("descr") {
        Some(Value::Str(s)) => s.clone(),
        _ => {
            return Err(format_err(
                path,
                "malformed header: no 'descr' string (the element type)",
                FIX,
            ));
        }
    };
    let fortran = match get("fortran_order") {
        Some(Value::Bool(b)) => *b,
        _ => {
            return Err(format_err(
                path,
                "malformed header: no 'fortran_order' True/False entry",
                FIX,
            ));
        }
    };
    let shape = match get("shape") {
        Some(Value::Tuple(t)) => t.clone(),
        _ => {
            return Err(format_err(path, "malformed header: no 'shape' tuple", FIX));
        }
    };
    if fortran {
        return Err(format_err(
            path,
            "the array is stored in Fortran (column-major) order, which is not supported",
            "save a C-ordered copy: numpy.save(path, numpy.ascontiguousarray(a))",
        ));
    }
    let dtype = Dtype::parse(&descr).ok_or_else(|| {
        format_err(
            path,
            format!("unsupported dtype '{descr}'"),
            "convert the array to a numeric dtype first, e.g. numpy.save(path, a.astype('float32')) (supported: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, any byte order)",
        )
    })?;
    let expected = shape
        .iter()
        .try_fold(dtype.size, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            format_err(
                path,
                format!("shape {shape:?} is too large (size overflows)"),
                FIX,
            )
        })?;
    let body = &bytes[end..];
    if body.len() != expected {
        let what = if body.len() < expected {
            "truncated data"
        } else {
            "trailing bytes"
        };
        return Err(format_err(
            path,
            format!(
                "{what}: shape {shape:?} of '{descr}' needs {expected} data bytes, the file has {}",
                body.len()
            ),
            FIX,
        ));
    }
    let data = body
        .chunks_exact(dtype.size)
        .map(|c| dtype.decode(c))
        .collect();
    Ok(NpyArray { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a file with an arbitrary header dict and body (version 1.0).
    fn raw(dict: &str, body: &[u8]) -> Vec<u8> {
        let mut out = NPY_MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&((dict.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(dict.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(body);
        out
    }

    fn problem(e: GenError) -> String {
        match e {
            GenError::Format { problem, fix, .. } => format!("{problem} | {fix}"),
            other => panic!("expected a Format error, got {other}"),
        }
    }

    #[test]
    fn header_is_numpy_exact_and_aligned() {
        let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let b = to_npy_bytes_f64(&m);
        // what numpy.save(np.arange(1., 7.).reshape(2, 3)) writes
        let mut expected =
            b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"
                .to_vec();
        expected.extend(std::iter::repeat_n(
            b' ',
            128 - 10 - 1 - (expected.len() - 10),
        ));
        expected.push(b'\n');
        assert_eq!(&b[..128], expected.as_slice());
        assert_eq!(b.len(), 128 + 6 * 8);
        for rows in [0, 1, 7, 123_456_789] {
            let h = npy_header("<f4", rows, 5);
            assert!(h.len().is_multiple_of(64));
            assert_eq!(*h.last().unwrap(), b'\n');
        }
    }

    #[test]
    fn any_rank_round_trips_with_numpy_headers() {
        // numpy.save(np.array(2.5)), np.array([1., -2., .5]), np.zeros((2, 1, 2)):
        // each header is the dict padded with spaces and '\n' to 128 bytes.
        let cases = [
            (NpyArray::new(vec![], vec![2.5]).unwrap(), "()"),
            (
                NpyArray::new(vec![3], vec![1.0, -2.0, 0.5]).unwrap(),
                "(3,)",
            ),
            (
                NpyArray::new(vec![2, 1, 2], vec![0.0; 4]).unwrap(),
                "(2, 1, 2)",
            ),
        ];
        for (a, tuple) in cases {
            let b = a.to_npy_bytes();
            let mut expected = b"\x93NUMPY\x01\x00v\x00".to_vec();
            expected.extend_from_slice(
                format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {tuple}, }}")
                    .as_bytes(),
            );
            expected.resize(127, b' ');
            expected.push(b'\n');
            assert_eq!(&b[..128], expected.as_slice(), "{tuple}");
            assert_eq!(b.len(), 128 + 8 * a.data.len());
            assert_eq!(from_npy_bytes(&b).unwrap(), a);
        }
        let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(
            NpyArray::from_matrix(&m).to_npy_bytes(),
            to_npy_bytes_f64(&m)
        );
        assert!(NpyArray::new(vec![2, 2], vec![1.0]).is_err());
        assert!(NpyArray::new(vec![usize::MAX, 2], vec![]).is_err());
    }

    #[test]
    fn reads_all_versions_and_dtypes() {
        // version 2.0 with a u32 header length
        let dict = b"{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }\n";
        let mut b = NPY_MAGIC.to_vec();
        b.extend_from_slice(&[2, 0]);
        b.extend_from_slice(&(dict.len() as u32).to_le_bytes());
        b.extend_from_slice(dict);
        b.extend_from_slice(&1.25f64.to_be_bytes());
        b.extend_from_slice(&(-3.0f64).to_be_bytes());
        let a = from_npy_bytes(&b).unwrap();
        assert_eq!(
            (a.shape.clone(), a.data.clone()),
            (vec![2], vec![1.25, -3.0])
        );
        assert_eq!(a.to_matrix().unwrap().shape(), (2, 1));
        // version 3.0
        b[6] = 3;
        assert_eq!(from_npy_bytes(&b).unwrap().data, vec![1.25, -3.0]);

        let cases: Vec<(&str, Vec<u8>, f64)> = vec![
            ("<f4", 0.5f32.to_le_bytes().to_vec(), 0.5),
            (">f4", 0.5f32.to_be_bytes().to_vec(), 0.5),
            ("|u1", vec![200], 200.0),
            ("<u1", vec![201], 201.0),
            ("|i1", vec![0xff], -1.0),
            ("<i2", (-300i16).to_le_bytes().to_vec(), -300.0),
            (">i4", (-70000i32).to_be_bytes().to_vec(), -70000.0),
            ("<i8", (-5i64).to_le_bytes().to_vec(), -5.0),
            ("<u2", 65535u16.to_le_bytes().to_vec(), 65535.0),
            (">u4", 4_000_000_000u32.to_be_bytes().to_vec(), 4e9),
            ("|b1", vec![1], 1.0),
        ];
        for (descr, body, v) in cases {
            let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (), }}");
            let a = from_npy_bytes(&raw(&dict, &body)).unwrap();
            assert_eq!(a.shape, Vec::<usize>::new(), "{descr}");
            assert_eq!(a.data, vec![v], "{descr}");
            assert_eq!(a.to_matrix().unwrap().shape(), (1, 1));
        }
        // rank 3 flattens trailing dims; python-2 style longs and extra spaces
        let dict = "{ \"descr\" : '|u1' , 'shape':(2L, 2, 1,),'fortran_order':False}";
        let a = from_npy_bytes(&raw(dict, &[1, 2, 3, 4])).unwrap();
        assert_eq!(a.shape, vec![2, 2, 1]);
        let m = a.to_matrix().unwrap();
        assert_eq!((m.shape(), m.row(1)), ((2, 2), &[3.0, 4.0][..]));
    }

    #[test]
    fn malformed_files_one_per_failure_mode() {
        let ok = "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }";
        let body = 1.0f64.to_le_bytes();
        // bad magic
        let e = problem(from_npy_bytes(b"PK\x03\x04 not numpy at all").unwrap_err());
        assert!(
            e.contains("not a .npy file") && e.contains("50 4b 03 04"),
            "{e}"
        );
        // shorter than the fixed prefix
        assert!(problem(from_npy_bytes(b"\x93NUM").unwrap_err()).contains("shorter than 10"));
        // unsupported version
        let mut b = raw(ok, &body);
        b[6] = 4;
        assert!(problem(from_npy_bytes(&b).unwrap_err()).contains("version 4.0"));
        // header length beyond the file
        let mut b = raw(ok, &body);
        b[8] = 0xff;
        b[9] = 0xff;
        assert!(problem(from_npy_bytes(&b).unwrap_err()).contains("truncated header"));
        // header garbage
        let e = problem(from_npy_bytes(&raw("hello world", &body)).unwrap_err());
        assert!(e.contains("malformed header"), "{e}");
        let e =
            problem(from_npy_bytes(&raw("{'descr': '<f8', 'shape': (1,)}", &body)).unwrap_err());
        assert!(e.contains("fortran_order"), "{e}");
        let e = problem(
            from_npy_bytes(&raw("{'descr': '<f8', 'fortran_order': False}", &body)).unwrap_err(),
        );
        assert!(e.contains("'shape'"), "{e}");
        let e = problem(
            from_npy_bytes(&raw("{'fortran_order': False, 'shape': (1,)}", &body)).unwrap_err(),
        );
        assert!(e.contains("'descr'"), "{e}");
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(e.contains("'-1'"), "{e}");
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(e.contains("Maybe"), "{e}");
        // structured dtype
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(e.contains("structured"), "{e}");
        // wrong dtype
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(
            e.contains("unsupported dtype '<c16'") && e.contains("astype"),
            "{e}"
        );
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '|f8', 'fortran_order': False, 'shape': (1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(e.contains("unsupported dtype"), "{e}");
        // fortran order
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(
            e.contains("Fortran") && e.contains("ascontiguousarray"),
            "{e}"
        );
        // wrong size: truncated data and trailing bytes
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(
            e.contains("truncated data") && e.contains("needs 16"),
            "{e}"
        );
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(e.contains("trailing bytes"), "{e}");
        // absurd shape
        let e = problem(
            from_npy_bytes(&raw(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999), }",
                &body,
            ))
            .unwrap_err(),
        );
        assert!(e.contains("overflows"), "{e}");
    }

    #[test]
    fn file_roundtrip_and_path_in_errors() {
        let dir = std::env::temp_dir().join(format!("gen-data-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = Matrix::new(3, 2, vec![0.1, -2.0, 3.5, 1e-300, f64::MAX, 0.0]).unwrap();
        let p = dir.join("m.npy");
        write_npy_f64(&p, &m).unwrap();
        assert_eq!(read_npy(&p).unwrap().to_matrix().unwrap(), m);
        write_npy_f32(&p, &m).unwrap();
        let r = read_npy(&p).unwrap();
        assert_eq!(r.data[0], 0.1f32 as f64);
        assert_eq!(r.data[4], f64::INFINITY); // f64::MAX overflows f32
        std::fs::write(&p, b"garbage").unwrap();
        let e = read_npy(&p).unwrap_err().to_string();
        assert!(e.contains("m.npy") && e.contains("Fix:"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn roundtrip_f64(rows in 0usize..6, cols in 0usize..6, vals in proptest::collection::vec(any::<f64>(), 36)) {
            let m = Matrix::new(rows, cols, vals[..rows * cols].to_vec()).unwrap();
            let bytes = to_npy_bytes_f64(&m);
            let a = from_npy_bytes(&bytes).unwrap();
            prop_assert_eq!(&a.shape, &vec![rows, cols]);
            // bitwise equality (NaN payloads included)
            let got: Vec<u64> = a.data.iter().map(|v| v.to_bits()).collect();
            let want: Vec<u64> = m.as_slice().iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn roundtrip_f32(rows in 1usize..6, cols in 1usize..6, vals in proptest::collection::vec(-1e30f64..1e30, 25)) {
            let m = Matrix::new(rows, cols, vals[..rows * cols].to_vec()).unwrap();
            let a = from_npy_bytes(&to_npy_bytes_f32(&m)).unwrap().to_matrix().unwrap();
            prop_assert_eq!(a.shape(), (rows, cols));
            for (x, y) in a.as_slice().iter().zip(m.as_slice()) {
                prop_assert_eq!(*x, *y as f32 as f64);
            }
        }

        #[test]
        fn truncations_are_errors(rows in 0usize..4, cols in 0usize..4, cut in any::<prop::sample::Index>()) {
            let m = Matrix::new(rows, cols, vec![1.5; rows * cols]).unwrap();
            let bytes = to_npy_bytes_f32(&m);
            let k = cut.index(bytes.len()); // 0 ..= len-1: a strict prefix
            prop_assert!(from_npy_bytes(&bytes[..k]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = from_npy_bytes(&b);
            let mut c = NPY_MAGIC.to_vec();
            c.extend_from_slice(&b);
            let _ = from_npy_bytes(&c);
        }

        #[test]
        fn arbitrary_headers_never_panic(h in "[ -~]{0,80}", body in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = from_npy_bytes(&raw(&h, &body));
            let _ = from_npy_bytes(&raw(&format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({h}), }}"), &body));
            let _ = from_npy_bytes(&raw(&format!("{{'descr': '{h}', 'fortran_order': False, 'shape': (1,), }}"), &body));
        }
    }
}
