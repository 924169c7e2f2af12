//! Charts of a run (validity/novelty curves, density curve) and of the words
//! experiment, drawn with gen-viz's [`chart`](gen_viz::chart) module (axes
//! with numbers, labels, legends) and written as PNG with an SVG beside it.

use std::path::Path;

use crate::bridge::WordsPoint;
use crate::error::{KmError, Result};
use crate::runner::RunReport;

use gen_viz::Rgb;
pub use gen_viz::chart::{Chart, Figure};
use gen_viz::chart::{Legend, Scale, Series};

const BLACK: Rgb = [0, 0, 0];
const GREEN: Rgb = [0, 150, 60];
const BLUE: Rgb = [30, 90, 220];
const RED: Rgb = [220, 30, 30];
const ORANGE: Rgb = [240, 150, 0];
const PURPLE: Rgb = [130, 40, 170];

/// A run as a 900 × 640 figure titled with the run's summary (collection,
/// target, learner vs adversary, t*, hallucinations, non-novel outputs).
/// Top: the cumulative validity (green) and novelty (blue) rates and a
/// 10-step moving average of valid-and-novel (black) against the step t,
/// t̂* as a dashed red line, and a rug of the steps whose output was not
/// valid (red) or not novel (orange) along the bottom. Bottom: the density
/// curve d(N) of the outputs in K against N. Legends sit right of the plots.
pub fn render_run(report: &RunReport) -> Figure {
    let s = &report.summary;
    let header = format!(
        "{} k={}: {} vs {}, t* = {}, hallucinations {}, non-novel {}",
        s.collection,
        s.target_name,
        s.learner,
        s.adversary,
        s.last_error,
        s.hallucinations,
        s.non_novel
    );
    let t_max = report.steps.len().max(2) as f64;
    let (mut v, mut n) = (0.0, 0.0);
    let mut valid_pts = Vec::new();
    let mut novel_pts = Vec::new();
    let mut ok_pts = Vec::new();
    let (mut not_valid, mut not_novel) = (Vec::new(), Vec::new());
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
        if !r.valid {
            not_valid.push(t);
        }
        if !r.novel {
            not_novel.push(t);
        }
    }
    let mut top = Chart::new("validity and novelty of the outputs")
        .x_label("step t")
        .y_label("rate")
        .x_range(1.0, t_max)
        .y_range(0.0, 1.05)
        .legend(Legend::Outside)
        .series(Series::line("valid and novel (mean of 10)", ok_pts).color(BLACK))
        .series(Series::line("validity (cumulative)", valid_pts).color(GREEN))
        .series(Series::line("novelty (cumulative)", novel_pts).color(BLUE))
        .rug("not valid", not_valid, RED)
        .rug("not novel", not_novel, ORANGE);
    if s.last_error > 0 {
        top = top.vline(format!("t* = {}", s.last_error), s.last_error as f64, RED);
    }
    let density: Vec<(f64, f64)> = report
        .density
        .iter()
        .map(|d| (d.n as f64, d.density))
        .collect();
    let bottom = Chart::new("density of the outputs in K: d(N) = |O ∩ first N of K| / N")
        .x_label("N")
        .y_label("d(N)")
        .x_range(1.0, report.density.len().max(2) as f64)
        .y_range(0.0, 1.05)
        .legend(Legend::Outside)
        .series(Series::line("d(N)", density).color(PURPLE));
    Figure::new(900, 640).title(header).chart(top).chart(bottom)
}

/// Writes [`render_run`] as a PNG to `path` and as an SVG beside it.
pub fn write_run_png(report: &RunReport, path: &Path) -> Result<()> {
    render_run(report)
        .save_png_and_svg(path)
        .map_err(KmError::from_gen)
}

/// The words experiment as a 900 × 400 chart titled `title`: validity
/// (green), novelty (blue) and valid-and-novel rate (black), with a marker
/// at each measurement, against the number of seen words on a log axis
/// (0 seen words is drawn at 1).
pub fn render_words(points: &[WordsPoint], title: &str) -> Figure {
    let get = |f: fn(&WordsPoint) -> f64| -> Vec<(f64, f64)> {
        points
            .iter()
            .map(|p| (p.seen.max(1) as f64, f(p)))
            .collect()
    };
    let ticks: Vec<f64> = points.iter().map(|p| p.seen.max(1) as f64).collect();
    let mut chart = Chart::new(title)
        .x_label("seen words (log scale)")
        .y_label("rate")
        .x_scale(Scale::Log)
        .y_range(0.0, 1.05)
        .legend(Legend::Outside)
        .series(Series::line_points("validity", get(|p| p.validity)).color(GREEN))
        .series(Series::line_points("novelty", get(|p| p.novelty)).color(BLUE))
        .series(Series::line_points("valid and novel", get(|p| p.valid_and_novel)).color(BLACK));
    // Ticks at the measured sizes when they are few enough to read.
    if (2..=8).contains(&ticks.len()) {
        chart = chart.x_ticks(ticks);
    }
    chart.figure(900, 400)
}

/// Writes [`render_words`] as a PNG to `path` and as an SVG beside it.
pub fn write_words_png(points: &[WordsPoint], title: &str, path: &Path) -> Result<()> {
    render_words(points, title)
        .save_png_and_svg(path)
        .map_err(KmError::from_gen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RunSpec, run_from_spec};

    #[test]
    fn run_and_words_charts_render_with_their_labels() {
        let r = run_from_spec(&RunSpec::new("progressions", 4, "staged", "km", 40)).unwrap();
        let fig = render_run(&r);
        let png = fig.to_png().unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = fig.to_svg().unwrap();
        for text in ["step t", "validity (cumulative)", "not valid", "d(N)"] {
            assert!(svg.contains(text), "{text} missing from the SVG");
        }
        let points = [
            WordsPoint {
                seen: 0,
                samples: 10,
                validity: 0.2,
                novelty: 1.0,
                valid_and_novel: 0.2,
                distinct_valid_novel: 2,
            },
            WordsPoint {
                seen: 100,
                samples: 10,
                validity: 0.6,
                novelty: 0.8,
                valid_and_novel: f64::NAN,
                distinct_valid_novel: 5,
            },
        ];
        let svg = render_words(&points, "words").to_svg().unwrap();
        assert!(svg.contains("seen words (log scale)") && svg.contains("valid and novel"));
    }
}
