//! A tiny self-contained raster plotter (RGB canvas, lines, markers, a 3×5
//! pixel font) writing PNG files with the `png` crate: the validity/novelty
//! curves and density curve of a run, and the words experiment's curves.

use std::io::BufWriter;
use std::path::Path;

use crate::bridge::WordsPoint;
use crate::error::{KmError, Result};
use crate::runner::RunReport;

/// An RGB colour.
pub type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GREY: Rgb = [200, 200, 200];
const GREEN: Rgb = [0, 150, 60];
const BLUE: Rgb = [30, 90, 220];
const RED: Rgb = [220, 30, 30];
const ORANGE: Rgb = [240, 150, 0];
const PURPLE: Rgb = [130, 40, 170];

/// A raster image.
#[derive(Debug, Clone)]
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
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

impl Canvas {
    /// A white canvas.
    pub fn new(width: usize, height: usize) -> Self {
        Canvas {
            width,
            height,
            pixels: vec![WHITE; width * height],
        }
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The colour at (x, y).
    pub fn get(&self, x: usize, y: usize) -> Rgb {
        self.pixels[y * self.width + x]
    }

    /// Sets a pixel (ignored outside the canvas).
    pub fn set(&mut self, x: i64, y: i64, c: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = c;
        }
    }

    /// A 2-pixel-wide line (Bresenham).
    pub fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, c);
            self.set(x, y + 1, c);
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

    /// A filled rectangle.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// Text in the 3×5 font, scaled by `scale`, top-left at (x, y).
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

    /// Encodes the canvas as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width as u32, self.height as u32);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let data: Vec<u8> = self.pixels.iter().flatten().copied().collect();
            enc.write_header()
                .and_then(|mut w| w.write_image_data(&data))
                .map_err(|e| KmError::Io {
                    path: "<png buffer>".into(),
                    source: std::io::Error::other(e.to_string()),
                })?;
        }
        Ok(out)
    }

    /// Writes the canvas to a PNG file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_png()?;
        let io = |source| KmError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut w = BufWriter::new(file);
        std::io::Write::write_all(&mut w, &bytes).map_err(io)
    }
}

/// A chart area with data ranges.
struct Chart {
    x: i64,
    y: i64,
    w: i64,
    h: i64,
    x_range: (f64, f64),
    y_range: (f64, f64),
    /// Logarithmic x axis (values below 1 are drawn at 1).
    log_x: bool,
}

impl Chart {
    fn fx(&self, v: f64) -> f64 {
        if self.log_x { v.max(1.0).ln() } else { v }
    }

    fn px(&self, vx: f64, vy: f64) -> (i64, i64) {
        let (x0, x1) = (self.fx(self.x_range.0), self.fx(self.x_range.1));
        let fx = (self.fx(vx) - x0) / (x1 - x0).max(1e-12);
        let fy = (vy - self.y_range.0) / (self.y_range.1 - self.y_range.0).max(1e-12);
        (
            self.x + (fx.clamp(0.0, 1.0) * self.w as f64).round() as i64,
            self.y + self.h - (fy.clamp(0.0, 1.0) * self.h as f64).round() as i64,
        )
    }

    fn frame(&self, c: &mut Canvas, title: &str, x_label: &str) {
        for k in 0..=4 {
            let v = self.y_range.0 + (self.y_range.1 - self.y_range.0) * k as f64 / 4.0;
            let (_, py) = self.px(self.x_range.0, v);
            for xx in self.x..=self.x + self.w {
                c.set(xx, py, GREY);
            }
            c.text(self.x - 34, py - 5, &format!("{v:.2}"), 2, BLACK);
        }
        c.line((self.x, self.y), (self.x, self.y + self.h), BLACK);
        c.line(
            (self.x, self.y + self.h),
            (self.x + self.w, self.y + self.h),
            BLACK,
        );
        c.text(self.x, self.y - 16, title, 2, BLACK);
        let lo = format!("{}", self.x_range.0.round() as i64);
        let hi = format!("{}", self.x_range.1.round() as i64);
        c.text(self.x, self.y + self.h + 6, &lo, 2, BLACK);
        c.text(
            self.x + self.w - 8 * hi.len() as i64,
            self.y + self.h + 6,
            &hi,
            2,
            BLACK,
        );
        c.text(
            self.x + self.w / 2 - 4 * x_label.len() as i64,
            self.y + self.h + 6,
            x_label,
            2,
            BLACK,
        );
    }

    fn series(&self, c: &mut Canvas, pts: &[(f64, f64)], color: Rgb) {
        for w in pts.windows(2) {
            c.line(self.px(w[0].0, w[0].1), self.px(w[1].0, w[1].1), color);
        }
        if pts.len() == 1 {
            let (x, y) = self.px(pts[0].0, pts[0].1);
            c.fill_rect(x - 2, y - 2, 5, 5, color);
        }
    }

    fn vline(&self, c: &mut Canvas, vx: f64, color: Rgb) {
        let (x, _) = self.px(vx, 0.0);
        for y in self.y..=self.y + self.h {
            c.set(x, y, color);
        }
    }
}

/// Renders a run: (top) cumulative validity and novelty rates, a moving
/// average (10 steps) of valid-and-novel, per-step error ticks (red: not
/// valid, orange: not novel) and t̂* as a red line; (bottom) the density
/// curve d(N) of the outputs in K.
pub fn render_run(report: &RunReport) -> Canvas {
    let mut c = Canvas::new(900, 640);
    let s = &report.summary;
    let header = format!(
        "{} k={} {} vs {}  t*={} halluc={} non-novel={}",
        s.collection,
        s.target_name,
        s.learner,
        s.adversary,
        s.last_error,
        s.hallucinations,
        s.non_novel
    );
    c.text(12, 8, &header, 2, BLACK);
    let t_max = report.steps.len().max(2) as f64;
    let top = Chart {
        x: 60,
        y: 60,
        w: 800,
        h: 220,
        x_range: (1.0, t_max),
        y_range: (0.0, 1.0),
        log_x: false,
    };
    top.frame(
        &mut c,
        "validity (green) novelty (blue) valid+novel avg10 (black) t* (red)",
        "t",
    );
    let (mut v, mut n) = (0.0, 0.0);
    let mut valid_pts = Vec::new();
    let mut novel_pts = Vec::new();
    let mut ok_pts = Vec::new();
    for (k, r) in report.steps.iter().enumerate() {
        v += r.valid as u8 as f64;
        n += r.novel as u8 as f64;
        let t = (k + 1) as f64;
        valid_pts.push((t, v / t));
        novel_pts.push((t, n / t));
        let lo = k.saturating_sub(9);
        let win = &report.steps[lo..=k];
        let ok = win.iter().filter(|r| r.valid && r.novel).count() as f64 / win.len() as f64;
        ok_pts.push((t, ok));
        let (x, _) = top.px(t, 0.0);
        if !r.valid {
            c.fill_rect(x, top.y + top.h + 22, 2, 6, RED);
        }
        if !r.novel {
            c.fill_rect(x, top.y + top.h + 30, 2, 6, ORANGE);
        }
    }
    top.series(&mut c, &ok_pts, BLACK);
    top.series(&mut c, &valid_pts, GREEN);
    top.series(&mut c, &novel_pts, BLUE);
    if s.last_error > 0 {
        top.vline(&mut c, s.last_error as f64, RED);
    }
    let bottom = Chart {
        x: 60,
        y: 380,
        w: 800,
        h: 200,
        x_range: (1.0, report.density.len().max(2) as f64),
        y_range: (0.0, 1.0),
        log_x: false,
    };
    bottom.frame(
        &mut c,
        "density of outputs in k: d(n) = |o and first n of k| / n",
        "n",
    );
    let pts: Vec<(f64, f64)> = report
        .density
        .iter()
        .map(|d| (d.n as f64, d.density))
        .collect();
    bottom.series(&mut c, &pts, PURPLE);
    c
}

/// Writes [`render_run`] to `path`.
pub fn write_run_png(report: &RunReport, path: &Path) -> Result<()> {
    render_run(report).save(path)
}

/// Renders the words experiment: validity, novelty and valid-and-novel rate
/// against the number of seen words (log scale; 0 is drawn at 1).
pub fn render_words(points: &[WordsPoint], title: &str) -> Canvas {
    let mut c = Canvas::new(900, 400);
    c.text(12, 8, title, 2, BLACK);
    let x_max = points.iter().map(|p| p.seen).max().unwrap_or(1).max(1) as f64;
    let x_min = points.iter().map(|p| p.seen).min().unwrap_or(0) as f64;
    let chart = Chart {
        x: 60,
        y: 60,
        w: 800,
        h: 280,
        x_range: (x_min.max(1.0), x_max.max(x_min + 1.0)),
        y_range: (0.0, 1.0),
        log_x: true,
    };
    chart.frame(
        &mut c,
        "validity (green) novelty (blue) valid+novel (black)",
        "seen words (log scale)",
    );
    let get = |f: fn(&WordsPoint) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.seen as f64, f(p))).collect()
    };
    chart.series(&mut c, &get(|p| p.validity), GREEN);
    chart.series(&mut c, &get(|p| p.novelty), BLUE);
    chart.series(&mut c, &get(|p| p.valid_and_novel), BLACK);
    for p in points {
        for (val, col) in [
            (p.validity, GREEN),
            (p.novelty, BLUE),
            (p.valid_and_novel, BLACK),
        ] {
            let (x, y) = chart.px(p.seen as f64, val);
            c.fill_rect(x - 3, y - 3, 7, 7, col);
        }
    }
    c
}

/// Writes [`render_words`] to `path`.
pub fn write_words_png(points: &[WordsPoint], title: &str, path: &Path) -> Result<()> {
    render_words(points, title).save(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_and_png_encoding() {
        let mut c = Canvas::new(40, 12);
        c.text(1, 1, "t*=9", 1, BLACK);
        assert_eq!(c.get(1, 1), BLACK); // top-left of 't'
        c.line((0, 11), (39, 0), RED);
        let png = c.to_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
