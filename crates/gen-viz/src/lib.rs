//! # gen-viz
//!
//! Pictures of generative models: sample grids of images ([`image_grid`],
//! an RGB [`Canvas`] written as PNG) and charts ([`chart`]: line charts,
//! scatter plots and density heat maps with axes, tick numbers, labels,
//! legends and colour bars, drawn by plotters and written as PNG or SVG).
//! Every writer is atomic (temp file + rename), like checkpoints.
#![warn(missing_docs)]

use std::path::Path;

use gen_core::checkpoint::write_atomic;
use gen_core::{GenError, Matrix, Result};

pub mod chart;

/// An RGB raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Colours for successive series (matplotlib's tab10).
pub const PALETTE: [Rgb; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

impl Canvas {
    /// A canvas filled with `background`.
    pub fn new(width: usize, height: usize, background: Rgb) -> Self {
        let mut rgb = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            rgb.extend_from_slice(&background);
        }
        Self { width, height, rgb }
    }

    /// A canvas from `width × height` RGB triples, row by row from the top.
    pub fn from_rgb(width: usize, height: usize, rgb: Vec<u8>) -> Result<Self> {
        if rgb.len() != width * height * 3 {
            return Err(GenError::shape(
                "canvas",
                format!("{width} x {height} x 3 = {} bytes", width * height * 3),
                format!("{} bytes", rgb.len()),
                "pass one RGB triple per pixel",
            ));
        }
        Ok(Self { width, height, rgb })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The colour at (x, y) (x to the right, y down).
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Sets (x, y) if it lies on the canvas.
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            let i = (y as usize * self.width + x as usize) * 3;
            self.rgb[i..i + 3].copy_from_slice(&c);
        }
    }

    /// Encodes as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc
                .write_header()
                .map_err(|e| GenError::Other(format!("PNG encoding failed: {e}")))?;
            w.write_image_data(&self.rgb)
                .map_err(|e| GenError::Other(format!("PNG encoding failed: {e}")))?;
        }
        Ok(out)
    }

    /// Writes the PNG atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_png()?)
    }
}

/// A rectangle of data coordinates `[x0, x1] × [y0, y1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Left.
    pub x0: f64,
    /// Right.
    pub x1: f64,
    /// Bottom.
    pub y0: f64,
    /// Top.
    pub y1: f64,
}

impl Bounds {
    /// The square box holding all finite points of the first two columns, with a 5% margin.
    pub fn of_points(points: &[&Matrix]) -> Bounds {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for m in points {
            for r in m.iter_rows() {
                for v in r.iter().take(2) {
                    if v.is_finite() {
                        lo = lo.min(*v);
                        hi = hi.max(*v);
                    }
                }
            }
        }
        if !lo.is_finite() || hi <= lo {
            (lo, hi) = (-1.0, 1.0);
        }
        let pad = 0.05 * (hi - lo);
        Bounds {
            x0: lo - pad,
            x1: hi + pad,
            y0: lo - pad,
            y1: hi + pad,
        }
    }
}

/// Viridis-like colour map for t ∈ [0, 1] (piecewise-linear through 5 anchors).
pub fn colormap(t: f64) -> Rgb {
    const ANCHORS: [[f64; 3]; 5] = [
        [68.0, 1.0, 84.0],
        [59.0, 82.0, 139.0],
        [33.0, 145.0, 140.0],
        [94.0, 201.0, 98.0],
        [253.0, 231.0, 37.0],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let s = t * 4.0;
    let i = (s.floor() as usize).min(3);
    let f = s - i as f64;
    let mut out = [0u8; 3];
    for (ch, o) in out.iter_mut().enumerate() {
        *o = (ANCHORS[i][ch] * (1.0 - f) + ANCHORS[i + 1][ch] * f).round() as u8;
    }
    out
}

/// A grid of grey images: each row of `images` is one `h × w` image with values
/// in [0, 1] (clamped), laid out `cols` per row, each pixel `scale × scale`.
pub fn image_grid(
    images: &Matrix,
    h: usize,
    w: usize,
    cols: usize,
    scale: usize,
) -> Result<Canvas> {
    if images.cols() != h * w {
        return Err(GenError::shape(
            "image grid",
            format!("{h} x {w} = {} pixels per row", h * w),
            format!("{} columns", images.cols()),
            "pass one flattened image per row",
        ));
    }
    let n = images.rows();
    let cols = cols.max(1);
    let rows = n.div_ceil(cols).max(1);
    let scale = scale.max(1);
    let pad = 2;
    let mut c = Canvas::new(
        cols * (w * scale + pad) + pad,
        rows * (h * scale + pad) + pad,
        [128, 128, 128],
    );
    for (k, img) in images.iter_rows().enumerate() {
        let (gx, gy) = (k % cols, k / cols);
        let (ox, oy) = (pad + gx * (w * scale + pad), pad + gy * (h * scale + pad));
        for y in 0..h {
            for x in 0..w {
                let v = img[y * w + x];
                let g = if v.is_finite() {
                    (v.clamp(0.0, 1.0) * 255.0).round() as u8
                } else {
                    0
                };
                for dy in 0..scale {
                    for dx in 0..scale {
                        c.set(
                            (ox + x * scale + dx) as i64,
                            (oy + y * scale + dy) as i64,
                            [g, g, g],
                        );
                    }
                }
            }
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_dimensions_and_pixels() {
        let mut c = Canvas::new(7, 5, [255, 255, 255]);
        c.set(3, 2, [1, 2, 3]);
        let bytes = c.to_png().unwrap();
        let dec = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = dec.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (7, 5));
        let i = (2 * 7 + 3) * 3;
        assert_eq!(&buf[i..i + 3], &[1, 2, 3]);
    }

    #[test]
    fn image_grid_places_pixels_and_checks_shapes() {
        let imgs = Matrix::new(2, 4, vec![0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]).unwrap();
        let c = image_grid(&imgs, 2, 2, 2, 1).unwrap();
        assert_eq!(c.get(2, 2), [0, 0, 0]);
        assert_eq!(c.get(3, 2), [255, 255, 255]);
        assert!(image_grid(&imgs, 3, 3, 2, 1).is_err());
    }
}
