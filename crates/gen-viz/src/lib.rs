//! # gen-viz
//!
//! Dependency-light pictures written as PNG: 2-D scatter plots, density heat
//! maps, sample grids of images and line plots (loss curves). Every writer is
//! atomic (temp file + rename), like checkpoints.
#![warn(missing_docs)]

use std::path::Path;

use gen_core::checkpoint::write_atomic;
use gen_core::{GenError, Matrix, Result};

/// An RGB raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

/// An RGB colour.
pub type Rgb = [u8; 3];

/// Colours for successive series.
pub const PALETTE: [Rgb; 6] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
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

    /// A filled square of side `2r+1` centred on (x, y).
    pub fn dot(&mut self, x: i64, y: i64, r: i64, c: Rgb) {
        for dy in -r..=r {
            for dx in -r..=r {
                self.set(x + dx, y + dy, c);
            }
        }
    }

    /// A straight line (Bresenham).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A filled rectangle with top-left (x, y).
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// Text in a 3×5 pixel font (digits, letters, common symbols), scaled by
    /// `scale`, top-left at (x, y).
    pub fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: Rgb) {
        for (k, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            let x0 = x + k as i64 * 4 * scale;
            for row in 0..5 {
                for col in 0..3 {
                    if (g >> (14 - (row * 3 + col))) & 1 == 1 {
                        self.fill_rect(x0 + col * scale, y + row * scale, scale, scale, c);
                    }
                }
            }
        }
    }

    /// Places `other` to the right of `self` with a `gap`-pixel white margin.
    pub fn beside(&self, other: &Canvas, gap: usize) -> Canvas {
        let w = self.width + gap + other.width;
        let h = self.height.max(other.height);
        let mut out = Canvas::new(w, h, [255, 255, 255]);
        for y in 0..self.height {
            for x in 0..self.width {
                out.set(x as i64, y as i64, self.get(x, y));
            }
        }
        for y in 0..other.height {
            for x in 0..other.width {
                out.set((self.width + gap + x) as i64, y as i64, other.get(x, y));
            }
        }
        out
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

/// A 3×5 glyph: 15 bits, rows top to bottom, 3 bits per row (MSB = left).
fn glyph(c: char) -> u16 {
    let rows: [u8; 5] = match c.to_ascii_lowercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'a' => [2, 5, 7, 5, 5],
        'b' => [6, 5, 6, 5, 6],
        'c' => [3, 4, 4, 4, 3],
        'd' => [6, 5, 5, 5, 6],
        'e' => [7, 4, 6, 4, 7],
        'f' => [7, 4, 6, 4, 4],
        'g' => [3, 4, 5, 5, 3],
        'h' => [5, 5, 7, 5, 5],
        'i' => [7, 2, 2, 2, 7],
        'j' => [1, 1, 1, 5, 2],
        'k' => [5, 5, 6, 5, 5],
        'l' => [4, 4, 4, 4, 7],
        'm' => [5, 7, 7, 5, 5],
        'n' => [6, 5, 5, 5, 5],
        'o' => [2, 5, 5, 5, 2],
        'p' => [6, 5, 6, 4, 4],
        'q' => [2, 5, 5, 6, 3],
        'r' => [6, 5, 6, 5, 5],
        's' => [3, 4, 2, 1, 6],
        't' => [7, 2, 2, 2, 2],
        'u' => [5, 5, 5, 5, 7],
        'v' => [5, 5, 5, 5, 2],
        'w' => [5, 5, 7, 7, 5],
        'x' => [5, 5, 2, 5, 5],
        'y' => [5, 5, 2, 2, 2],
        'z' => [7, 1, 2, 4, 7],
        '.' => [0, 0, 0, 0, 2],
        ',' => [0, 0, 0, 2, 4],
        ':' => [0, 2, 0, 2, 0],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        '*' => [0, 5, 2, 5, 0],
        '/' => [1, 1, 2, 4, 4],
        '=' => [0, 7, 0, 7, 0],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        '_' => [0, 0, 0, 0, 7],
        '|' => [2, 2, 2, 2, 2],
        '{' => [3, 2, 6, 2, 3],
        '}' => [6, 2, 3, 2, 6],
        '[' => [6, 4, 4, 4, 6],
        ']' => [3, 1, 1, 1, 3],
        '<' => [1, 2, 4, 2, 1],
        '>' => [4, 2, 1, 2, 4],
        '#' => [5, 7, 5, 7, 5],
        '&' => [2, 5, 2, 5, 3],
        '%' => [5, 1, 2, 4, 5],
        '!' => [2, 2, 2, 0, 2],
        '?' => [7, 1, 2, 0, 2],
        '\'' => [2, 2, 0, 0, 0],
        _ => [0, 0, 0, 0, 0],
    };
    rows.iter().fold(0u16, |acc, &r| (acc << 3) | r as u16)
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

    fn pixel_of(self, x: f64, y: f64, w: usize, h: usize) -> (i64, i64) {
        let px = (x - self.x0) / (self.x1 - self.x0) * (w as f64 - 1.0);
        let py = (self.y1 - y) / (self.y1 - self.y0) * (h as f64 - 1.0);
        (px.round() as i64, py.round() as i64)
    }
}

/// Scatter plot of the first two columns of each point set, one colour per set.
pub fn scatter(sets: &[&Matrix], bounds: Bounds, size: usize) -> Result<Canvas> {
    let mut c = Canvas::new(size, size, [255, 255, 255]);
    for (k, m) in sets.iter().enumerate() {
        if m.cols() < 2 {
            return Err(GenError::shape(
                "scatter plot",
                "at least 2 columns",
                format!("{} columns", m.cols()),
                "scatter plots show 2-D data; use an image grid for images",
            ));
        }
        let col = PALETTE[k % PALETTE.len()];
        for r in m.iter_rows() {
            if r[0].is_finite() && r[1].is_finite() {
                let (x, y) = bounds.pixel_of(r[0], r[1], size, size);
                c.dot(x, y, 1, col);
            }
        }
    }
    Ok(c)
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

/// Heat map of `values` on an `nx × ny` grid (row j = y index from the bottom),
/// each cell drawn as `cell × cell` pixels, colour scaled between min and max.
pub fn heatmap(values: &[f64], nx: usize, ny: usize, cell: usize) -> Result<Canvas> {
    if values.len() != nx * ny {
        return Err(GenError::shape(
            "heat map",
            format!("{nx} x {ny} = {} values", nx * ny),
            format!("{} values", values.len()),
            "pass one value per grid cell",
        ));
    }
    let finite = values.iter().filter(|v| v.is_finite());
    let lo = finite.clone().cloned().fold(f64::INFINITY, f64::min);
    let hi = finite.cloned().fold(f64::NEG_INFINITY, f64::max);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let cell = cell.max(1);
    let mut c = Canvas::new(nx * cell, ny * cell, [0, 0, 0]);
    for j in 0..ny {
        for i in 0..nx {
            let v = values[j * nx + i];
            let col = colormap((v - lo) / span);
            for dy in 0..cell {
                for dx in 0..cell {
                    let y = (ny - 1 - j) * cell + dy;
                    c.set((i * cell + dx) as i64, y as i64, col);
                }
            }
        }
    }
    Ok(c)
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

/// Line plot of several series `(x, y)` on shared axes (auto-scaled), with axis lines.
pub fn line_plot(series: &[Vec<(f64, f64)>], width: usize, height: usize) -> Canvas {
    let mut c = Canvas::new(width, height, [255, 255, 255]);
    let pts = series
        .iter()
        .flatten()
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for (x, y) in pts {
        x0 = x0.min(*x);
        x1 = x1.max(*x);
        y0 = y0.min(*y);
        y1 = y1.max(*y);
    }
    if x1.partial_cmp(&x0) != Some(std::cmp::Ordering::Greater) {
        (x0, x1) = (x0.min(0.0), x0.max(0.0) + 1.0);
    }
    if y1.partial_cmp(&y0) != Some(std::cmp::Ordering::Greater) {
        (y0, y1) = (y0.min(0.0) - 0.5, y0.max(0.0) + 0.5);
    }
    let margin = 20i64;
    let (w, h) = (width as i64 - 2 * margin, height as i64 - 2 * margin);
    let to_px = |x: f64, y: f64| -> (i64, i64) {
        (
            margin + ((x - x0) / (x1 - x0) * w as f64).round() as i64,
            margin + ((y1 - y) / (y1 - y0) * h as f64).round() as i64,
        )
    };
    let axis = [0, 0, 0];
    c.line((margin, margin), (margin, margin + h), axis);
    c.line((margin, margin + h), (margin + w, margin + h), axis);
    for (k, s) in series.iter().enumerate() {
        let col = PALETTE[k % PALETTE.len()];
        let mut prev: Option<(i64, i64)> = None;
        for (x, y) in s {
            if !(x.is_finite() && y.is_finite()) {
                prev = None;
                continue;
            }
            let p = to_px(*x, *y);
            if let Some(q) = prev {
                c.line(q, p, col);
            } else {
                c.set(p.0, p.1, col);
            }
            prev = Some(p);
        }
    }
    c
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

    #[test]
    fn heatmap_uses_the_colour_range() {
        let c = heatmap(&[0.0, 1.0], 2, 1, 1).unwrap();
        assert_eq!(c.get(0, 0), colormap(0.0));
        assert_eq!(c.get(1, 0), colormap(1.0));
        assert!(heatmap(&[0.0], 2, 1, 1).is_err());
    }
}
