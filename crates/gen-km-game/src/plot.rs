//! Charts of a run (validity/novelty curves, density curve) and of the words
//! experiment, drawn on gen-viz's [`Canvas`] (lines, markers, 3×5 font).

use std::path::Path;

use crate::bridge::WordsPoint;
use crate::error::{KmError, Result};
use crate::runner::RunReport;

pub use gen_viz::{Canvas, Rgb};

const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const GREY: Rgb = [200, 200, 200];
const GREEN: Rgb = [0, 150, 60];
const BLUE: Rgb = [30, 90, 220];
const RED: Rgb = [220, 30, 30];
const ORANGE: Rgb = [240, 150, 0];
const PURPLE: Rgb = [130, 40, 170];

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
    let mut c = Canvas::new(900, 640, WHITE);
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
    render_run(report).save_png(path).map_err(KmError::from_gen)
}

/// Renders the words experiment: validity, novelty and valid-and-novel rate
/// against the number of seen words (log scale; 0 is drawn at 1).
pub fn render_words(points: &[WordsPoint], title: &str) -> Canvas {
    let mut c = Canvas::new(900, 400, WHITE);
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
    render_words(points, title)
        .save_png(path)
        .map_err(KmError::from_gen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn font_and_png_encoding() {
        let mut c = Canvas::new(40, 12, WHITE);
        c.text(1, 1, "t*=9", 1, BLACK);
        assert_eq!(c.get(1, 1), BLACK); // top-left of 't'
        c.line((0, 11), (39, 0), RED);
        let png = c.to_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
