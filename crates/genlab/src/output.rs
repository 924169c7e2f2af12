//! Pictures written next to a run's JSON summary.

use std::path::Path;

use gen_core::{Matrix, Result};
use gen_viz::{Bounds, heatmap, image_grid, line_plot, scatter};

/// Data (left, blue) beside samples (right, orange), same axes.
pub fn scatter_png(data: &Matrix, samples: &Matrix, path: &Path) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let left = scatter(&[data], b, 400)?;
    let mut right = scatter(&[&Matrix::zeros(0, 2), samples], b, 400)?;
    right = left.beside(&right, 10);
    right.save_png(path)
}

/// Heat map of exp(log p) over the data's bounding box (200 × 200 cells).
pub fn density_png(
    log_prob: &dyn Fn(&Matrix) -> Result<Vec<f64>>,
    data: &Matrix,
    path: &Path,
) -> Result<()> {
    let b = Bounds::of_points(&[data]);
    let n = 200;
    let mut pts = Vec::with_capacity(n * n * 2);
    for j in 0..n {
        for i in 0..n {
            pts.push(b.x0 + (i as f64 + 0.5) / n as f64 * (b.x1 - b.x0));
            pts.push(b.y0 + (j as f64 + 0.5) / n as f64 * (b.y1 - b.y0));
        }
    }
    let grid = Matrix::new(n * n, 2, pts)?;
    let dens: Vec<f64> = log_prob(&grid)?.iter().map(|l| l.exp()).collect();
    heatmap(&dens, n, n, 2)?.save_png(path)
}

/// Grid of images with values scaled to [0, 1].
pub fn grid_png(images: &Matrix, h: usize, w: usize, path: &Path) -> Result<()> {
    let cols = (images.rows() as f64).sqrt().ceil() as usize;
    let scale = if h <= 8 { 6 } else { 2 };
    image_grid(images, h, w, cols, scale)?.save_png(path)
}

/// Loss curve over steps.
pub fn loss_png(losses: &[f64], path: &Path) -> Result<()> {
    let s: Vec<(f64, f64)> = losses
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, *l))
        .collect();
    line_plot(&[s], 600, 300).save_png(path)
}

/// A single (x, y) curve.
pub fn curve_png(points: &[(f64, f64)], path: &Path) -> Result<()> {
    line_plot(&[points.to_vec()], 600, 300).save_png(path)
}
