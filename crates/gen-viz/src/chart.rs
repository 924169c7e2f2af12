//! Charts drawn by [plotters]: line charts, scatter plots and density heat
//! maps, each with axes, tick numbers, axis labels and a title, written as
//! PNG (plotters' bitmap backend into an RGB buffer, encoded with the `png`
//! crate) or as SVG.
//!
//! A [`Chart`] is one panel: [`Series`] (lines, dashed lines, points),
//! reference lines ([`Chart::hline`], [`Chart::vline`]), rug ticks
//! ([`Chart::rug`]) and at most one [`HeatMap`] (drawn under everything, with
//! a colour bar). A [`Figure`] lays one or more charts out on a grid under an
//! optional title and writes them ([`Figure::save`], [`Figure::save_png`],
//! [`Figure::save_svg`], [`Figure::save_png_and_svg`]).
//!
//! Non-finite values (and values ≤ 0 on a log axis) are skipped: a line
//! breaks there. A chart without any drawable value still draws its axes
//! (over [0, 1]). Text is drawn in DejaVu Sans, compiled in (see
//! `assets/README.md`); SVG text names the `sans-serif` family.
//!
//! ```no_run
//! use gen_viz::chart::{Chart, Scale, Series};
//! let losses = [3.0, 2.0, 1.5, 1.2];
//! Chart::new("training loss")
//!     .x_label("step")
//!     .y_label("loss")
//!     .y_scale(Scale::LogIfPositive)
//!     .series(Series::line("loss", losses.iter().enumerate().map(|(i, l)| (i as f64, *l))))
//!     .figure(600, 300)
//!     .save_png_and_svg(std::path::Path::new("loss.png"))?;
//! # Ok::<(), gen_core::GenError>(())
//! ```

use std::path::Path;
use std::sync::OnceLock;

use gen_core::checkpoint::write_atomic;
use gen_core::{GenError, Matrix, Result};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{Canvas, PALETTE, Rgb, colormap};

/// DejaVu Sans (see `assets/README.md`), registered as `sans-serif`.
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The family every text of a chart uses.
const FONT: &str = "sans-serif";
/// Text sizes in pixels: figure title, chart title, axis labels, tick numbers, legend.
const FIGURE_TITLE: f64 = 18.0;
const TITLE: f64 = 16.0;
const AXIS_LABEL: f64 = 14.0;
const TICK: f64 = 13.0;
const LEGEND: f64 = 13.0;
const GRID: RGBColor = RGBColor(225, 225, 225);
/// Colour of heat-map cells whose value is not finite.
const MISSING: RGBColor = RGBColor(190, 190, 190);

/// Registers the bundled font with plotters (once).
fn ensure_font() -> Result<()> {
    static DONE: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
            .map_err(|_| "the bundled DejaVu Sans font could not be parsed".to_string())
    })
    .clone()
    .map_err(GenError::Other)
}

fn draw_err(e: impl std::fmt::Display) -> GenError {
    GenError::Other(format!("drawing a chart failed: {e}"))
}

fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c[0], c[1], c[2])
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Evenly spaced values.
    #[default]
    Linear,
    /// Base-10 logarithmic; values ≤ 0 are skipped.
    Log,
    /// Logarithmic when every finite value on the axis is > 0 (and there is
    /// one), linear otherwise: losses that stay positive get a log axis,
    /// NLLs in nats that can be negative a linear one.
    LogIfPositive,
}

/// How a [`Series`] is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A solid line through the points in order.
    Line,
    /// A dashed line through the points in order.
    Dashed,
    /// A filled circle at each point (scatter plot).
    Points,
    /// A solid line with a filled circle at each point.
    LinePoints,
}

/// Whether and where the legend of a chart goes. It lists the named
/// series, reference lines and rugs that have something to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Legend {
    /// Upper right corner of the plot when there are at least two entries,
    /// none otherwise (the default).
    #[default]
    Auto,
    /// Upper right corner of the plot (also for a single entry, like every
    /// placement below).
    UpperRight,
    /// Upper left corner.
    UpperLeft,
    /// Lower right corner.
    LowerRight,
    /// Lower left corner.
    LowerLeft,
    /// Middle of the right edge.
    MiddleRight,
    /// Outside the plot, in a strip on its right (a chart with a heat map
    /// puts it upper right instead: the colour bar is there).
    Outside,
    /// No legend.
    Hidden,
}

/// A named set of (x, y) points drawn in one colour.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    color: Option<Rgb>,
    mark: Mark,
    size: f64,
    opacity: f64,
}

impl Series {
    fn new(
        name: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64)>,
        mark: Mark,
    ) -> Self {
        Series {
            name: name.into(),
            points: points.into_iter().collect(),
            color: None,
            mark,
            size: 2.0,
            opacity: 1.0,
        }
    }

    /// A solid line through `points` in order; `name` labels it in the
    /// legend (an empty name leaves it out).
    pub fn line(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self::new(name, points, Mark::Line)
    }

    /// A dashed line through `points` in order.
    pub fn dashed(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self::new(name, points, Mark::Dashed)
    }

    /// A filled circle at each point (radius 2 pixels).
    pub fn points(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Self::new(name, points, Mark::Points)
    }

    /// A solid line with a circle (radius 3 pixels) at each point.
    pub fn line_points(
        name: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64)>,
    ) -> Self {
        Series {
            size: 3.0,
            ..Self::new(name, points, Mark::LinePoints)
        }
    }

    /// The colour (else the next colour of [`PALETTE`] by series index).
    pub fn color(mut self, c: Rgb) -> Self {
        self.color = Some(c);
        self
    }

    /// Line width or circle radius in pixels (default 2; 3 for circles on a line).
    pub fn size(mut self, px: f64) -> Self {
        if px.is_finite() && px > 0.0 {
            self.size = px;
        }
        self
    }

    /// Opacity in [0, 1] (default 1); dense scatter plots read better at 0.5.
    pub fn opacity(mut self, a: f64) -> Self {
        if a.is_finite() {
            self.opacity = a.clamp(0.0, 1.0);
        }
        self
    }

    /// The legend name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The points as given.
    pub fn data(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// How the series is drawn.
    pub fn mark(&self) -> Mark {
        self.mark
    }
}

/// Values on a regular grid over a rectangle, drawn as coloured cells
/// (viridis: dark is low, yellow high, scaled between the finite minimum and
/// maximum; non-finite cells grey) with a colour bar labelled `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatMap {
    values: Vec<f64>,
    nx: usize,
    ny: usize,
    x: (f64, f64),
    y: (f64, f64),
    label: String,
}

impl HeatMap {
    /// `values` on an `nx × ny` grid (row j = y index from the bottom:
    /// `values[j * nx + i]` is the cell i from the left, j from the bottom)
    /// covering `[x.0, x.1] × [y.0, y.1]`. Errors if the grid is empty, the
    /// counts disagree or the rectangle is empty or not finite.
    pub fn new(
        values: Vec<f64>,
        (nx, ny): (usize, usize),
        x: (f64, f64),
        y: (f64, f64),
        label: impl Into<String>,
    ) -> Result<Self> {
        if nx == 0 || ny == 0 || values.len() != nx * ny {
            return Err(GenError::shape(
                "heat map",
                format!("{nx} x {ny} = {} values", nx * ny),
                format!("{} values", values.len()),
                "pass one value per grid cell",
            ));
        }
        let ok = |(a, b): (f64, f64)| a.is_finite() && b.is_finite() && b > a;
        if !ok(x) || !ok(y) {
            return Err(GenError::input(
                "heat map",
                format!("the rectangle {x:?} x {y:?} is empty or not finite"),
                "pass finite ranges with lower < upper",
            ));
        }
        Ok(HeatMap {
            values,
            nx,
            ny,
            x,
            y,
            label: label.into(),
        })
    }

    /// The finite minimum and maximum (0 and 1 when there is none; widened
    /// by ±0.5 when they are equal).
    pub fn value_range(&self) -> (f64, f64) {
        let (lo, hi) = finite_range(self.values.iter().copied());
        match (lo, hi) {
            (Some(lo), Some(hi)) if hi > lo => (lo, hi),
            (Some(v), _) => (v - 0.5, v + 0.5),
            _ => (0.0, 1.0),
        }
    }

    fn cell_color(&self, v: f64, (lo, hi): (f64, f64)) -> RGBColor {
        if v.is_finite() {
            rgb(colormap((v - lo) / (hi - lo)))
        } else {
            MISSING
        }
    }

    /// One pixel per cell, top row first.
    fn to_canvas(&self) -> Canvas {
        let range = self.value_range();
        let mut c = Canvas::new(self.nx, self.ny, [0, 0, 0]);
        for j in 0..self.ny {
            for i in 0..self.nx {
                let col = self.cell_color(self.values[j * self.nx + i], range);
                c.set(i as i64, (self.ny - 1 - j) as i64, [col.0, col.1, col.2]);
            }
        }
        c
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Reference {
    H(f64),
    V(f64),
}

#[derive(Debug, Clone, PartialEq)]
struct RefLine {
    name: String,
    at: Reference,
    color: Rgb,
}

#[derive(Debug, Clone, PartialEq)]
struct Rug {
    name: String,
    xs: Vec<f64>,
    color: Rgb,
}

/// One panel: axes with ticks and numbers, axis labels, a title, series,
/// reference lines, rugs, an optional heat map with its colour bar and a
/// legend of the named, drawable entries (see [`Legend`]: by default drawn
/// when there are at least two).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    title: String,
    x_label: String,
    y_label: String,
    x_scale: Scale,
    y_scale: Scale,
    x_range: Option<(f64, f64)>,
    y_range: Option<(f64, f64)>,
    x_ticks: Option<Vec<f64>>,
    series: Vec<Series>,
    lines: Vec<RefLine>,
    rugs: Vec<Rug>,
    heat: Option<HeatMap>,
    legend: Legend,
}

impl Chart {
    /// An empty chart titled `title` (empty: no title).
    pub fn new(title: impl Into<String>) -> Self {
        Chart {
            title: title.into(),
            ..Chart::default()
        }
    }

    /// The label under the x axis.
    pub fn x_label(mut self, s: impl Into<String>) -> Self {
        self.x_label = s.into();
        self
    }

    /// The label beside the y axis (written upwards).
    pub fn y_label(mut self, s: impl Into<String>) -> Self {
        self.y_label = s.into();
        self
    }

    /// The x axis scale (default linear; a heat map forces linear).
    pub fn x_scale(mut self, s: Scale) -> Self {
        self.x_scale = s;
        self
    }

    /// The y axis scale (default linear; a heat map forces linear).
    pub fn y_scale(mut self, s: Scale) -> Self {
        self.y_scale = s;
        self
    }

    /// A fixed x range (else from the data; ignored unless finite with lo < hi).
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }

    /// A fixed y range (else from the data with 5 % padding).
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }

    /// Tick positions on the x axis (else chosen automatically), e.g. the
    /// lengths measured on a log axis. Ticks outside the range are dropped.
    pub fn x_ticks(mut self, ticks: impl IntoIterator<Item = f64>) -> Self {
        self.x_ticks = Some(ticks.into_iter().collect());
        self
    }

    /// Adds a series (its colour, unless set, is `PALETTE[index % len]`).
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }

    /// A dashed horizontal line across the plot at `y`, named in the legend.
    pub fn hline(mut self, name: impl Into<String>, y: f64, color: Rgb) -> Self {
        self.lines.push(RefLine {
            name: name.into(),
            at: Reference::H(y),
            color,
        });
        self
    }

    /// A dashed vertical line across the plot at `x`, named in the legend.
    pub fn vline(mut self, name: impl Into<String>, x: f64, color: Rgb) -> Self {
        self.lines.push(RefLine {
            name: name.into(),
            at: Reference::V(x),
            color,
        });
        self
    }

    /// Short vertical ticks at the bottom of the plot at each x (events such
    /// as errors at steps), named in the legend; successive rugs stack upwards.
    pub fn rug(
        mut self,
        name: impl Into<String>,
        xs: impl IntoIterator<Item = f64>,
        color: Rgb,
    ) -> Self {
        self.rugs.push(Rug {
            name: name.into(),
            xs: xs.into_iter().collect(),
            color,
        });
        self
    }

    /// Draws `heat` under everything else, with a colour bar on the right;
    /// the axes default to its rectangle.
    pub fn heatmap(mut self, heat: HeatMap) -> Self {
        self.heat = Some(heat);
        self
    }

    /// Whether and where the legend goes (default [`Legend::Auto`]).
    pub fn legend(mut self, l: Legend) -> Self {
        self.legend = l;
        self
    }

    /// This chart alone in a `width × height` figure.
    pub fn figure(self, width: u32, height: u32) -> Figure {
        Figure::new(width, height).chart(self)
    }
}

/// One or more charts on a grid (`cols` per row, filled row by row) under an
/// optional title, `width × height` pixels in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    width: u32,
    height: u32,
    title: String,
    cols: usize,
    charts: Vec<Chart>,
}

/// A heat map drawn as a placeholder in an SVG, and the placeholder's
/// pixel rectangle (x, y, width, height).
struct Placed {
    heat: HeatMap,
    rect: (i32, i32, i32, i32),
}

impl Figure {
    /// An empty `width × height` figure with one column.
    pub fn new(width: u32, height: u32) -> Self {
        Figure {
            width,
            height,
            title: String::new(),
            cols: 1,
            charts: Vec::new(),
        }
    }

    /// A title above all charts.
    pub fn title(mut self, t: impl Into<String>) -> Self {
        self.title = t.into();
        self
    }

    /// Charts per row (at least 1).
    pub fn cols(mut self, cols: usize) -> Self {
        self.cols = cols.max(1);
        self
    }

    /// Adds a chart in the next cell of the grid.
    pub fn chart(mut self, c: Chart) -> Self {
        self.charts.push(c);
        self
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn check_size(&self) -> Result<()> {
        let ok = |v: u32| (16..=8192).contains(&v);
        if ok(self.width) && ok(self.height) {
            Ok(())
        } else {
            Err(GenError::config(
                "figure size",
                format!("{} x {}", self.width, self.height),
                "each side must be 16 to 8192 pixels",
                "pick a size such as 600 x 400",
            ))
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
        raster_heat: bool,
    ) -> Result<Vec<Placed>> {
        root.fill(&WHITE).map_err(draw_err)?;
        let body = if self.title.is_empty() {
            root
        } else {
            root.titled(&self.title, (FONT, FIGURE_TITLE))
                .map_err(draw_err)?
        };
        let rows = self.charts.len().div_ceil(self.cols).max(1);
        let cols = self.cols.min(self.charts.len()).max(1);
        let areas = body.split_evenly((rows, cols));
        let mut placed = Vec::new();
        for (chart, area) in self.charts.iter().zip(&areas) {
            draw_chart(area, chart, raster_heat, &mut placed)?;
        }
        Ok(placed)
    }

    /// Renders to an RGB raster.
    pub fn to_canvas(&self) -> Result<Canvas> {
        ensure_font()?;
        self.check_size()?;
        let (w, h) = (self.width as usize, self.height as usize);
        let mut buf = vec![255u8; w * h * 3];
        {
            let root =
                BitMapBackend::with_buffer(&mut buf, (self.width, self.height)).into_drawing_area();
            self.draw(root.clone(), true)?;
            root.present().map_err(draw_err)?;
        }
        Canvas::from_rgb(w, h, buf)
    }

    /// Encodes as PNG bytes.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        self.to_canvas()?.to_png()
    }

    /// Renders as SVG text (heat maps embedded as PNG images, one pixel per cell).
    pub fn to_svg(&self) -> Result<String> {
        ensure_font()?;
        self.check_size()?;
        let mut svg = String::new();
        let placed = {
            let root =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            let placed = self.draw(root.clone(), false)?;
            root.present().map_err(draw_err)?;
            placed
        };
        for (k, p) in placed.iter().enumerate() {
            svg = embed_heat(svg, k, p)?;
        }
        Ok(group_circles(&svg))
    }

    /// Writes the PNG atomically.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_png()?)
    }

    /// Writes the SVG atomically.
    pub fn save_svg(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_svg()?.as_bytes())
    }

    /// Writes PNG or SVG by the extension of `path` (`png` or `svg`).
    pub fn save(&self, path: &Path) -> Result<()> {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("png") => self.save_png(path),
            Some(e) if e.eq_ignore_ascii_case("svg") => self.save_svg(path),
            _ => Err(GenError::config(
                "chart path",
                path.display(),
                "the extension chooses the format",
                "end the path in .png or .svg",
            )),
        }
    }

    /// Writes the PNG to `path` and the SVG beside it, the same path with
    /// extension `.svg` (e.g. `loss.png` and `loss.svg`). Errors if `path`
    /// itself ends in `.svg`.
    pub fn save_png_and_svg(&self, path: &Path) -> Result<()> {
        let svg = path.with_extension("svg");
        if svg == path {
            return Err(GenError::config(
                "chart path",
                path.display(),
                "the PNG would be overwritten by the SVG",
                "end the path in .png",
            ));
        }
        self.save_png(path)?;
        self.save_svg(&svg)
    }
}

/// The sentinel fill of the k-th heat map's rectangle in SVG output.
fn sentinel(k: usize) -> RGBColor {
    RGBColor(1, 2, (3 + k % 250) as u8)
}

/// Replaces the k-th sentinel rectangle by an `<image>` of the heat map.
fn embed_heat(svg: String, k: usize, p: &Placed) -> Result<String> {
    let c = sentinel(k);
    let key = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
    let lost = || GenError::Other("SVG chart: the heat map's placeholder was not found".into());
    let at = svg.find(&key).ok_or_else(lost)?;
    let start = svg[..at].rfind("<rect").ok_or_else(lost)?;
    let end = at + svg[at..].find("/>").ok_or_else(lost)? + 2;
    let (x, y, w, h) = p.rect;
    let png = p.heat.to_canvas().to_png()?;
    let image = format!(
        "<image x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" preserveAspectRatio=\"none\" \
         style=\"image-rendering:pixelated\" href=\"data:image/png;base64,{}\"/>",
        base64(&png)
    );
    Ok(format!("{}{}{}", &svg[..start], image, &svg[end..]))
}

/// Puts runs of filled circles of the same colour and opacity (scatter
/// plots) into one group that carries the style, which makes the SVG of a
/// scatter plot about a third as large.
fn group_circles(svg: &str) -> String {
    /// The style of a plotters circle line, if it is a filled circle.
    fn split(line: &str) -> Option<(&str, &str, &str)> {
        let rest = line.strip_prefix("<circle ")?;
        let (geometry, style) = rest.split_once(" opacity=\"")?;
        let (opacity, style) = style.split_once("\" fill=\"")?;
        let (fill, tail) = style.split_once('"')?;
        (tail == " stroke=\"none\" stroke-width=\"1\"/>").then_some((geometry, opacity, fill))
    }
    let mut out = String::with_capacity(svg.len());
    let mut open: Option<(String, String)> = None;
    for line in svg.lines() {
        match split(line) {
            Some((geometry, opacity, fill)) => {
                if open.as_ref().is_none_or(|(o, f)| o != opacity || f != fill) {
                    if open.is_some() {
                        out.push_str("</g>\n");
                    }
                    out.push_str(&format!(
                        "<g fill=\"{fill}\" fill-opacity=\"{opacity}\" stroke=\"none\">\n"
                    ));
                    open = Some((opacity.to_string(), fill.to_string()));
                }
                out.push_str("<circle ");
                out.push_str(geometry);
                out.push_str("/>\n");
            }
            None => {
                if open.take().is_some() {
                    out.push_str("</g>\n");
                }
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if open.is_some() {
        out.push_str("</g>\n");
    }
    out
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The finite minimum and maximum.
fn finite_range(values: impl Iterator<Item = f64>) -> (Option<f64>, Option<f64>) {
    values.filter(|v| v.is_finite()).fold(
        (None, None),
        |(lo, hi): (Option<f64>, Option<f64>), v| {
            (
                Some(lo.map_or(v, |l| l.min(v))),
                Some(hi.map_or(v, |h| h.max(v))),
            )
        },
    )
}

/// An axis after resolving its scale: values map to axis space (log10 on a
/// log axis) and back.
#[derive(Debug, Clone, Copy)]
struct Axis {
    log: bool,
}

impl Axis {
    fn resolve(scale: Scale, values: impl Iterator<Item = f64>, heat: bool) -> Axis {
        let log = !heat
            && match scale {
                Scale::Linear => false,
                Scale::Log => true,
                Scale::LogIfPositive => {
                    let mut any = false;
                    let mut all = true;
                    for v in values.filter(|v| v.is_finite()) {
                        any = true;
                        all &= v > 0.0;
                    }
                    any && all
                }
            };
        Axis { log }
    }

    /// The axis-space value, if drawable.
    fn to(self, v: f64) -> Option<f64> {
        if !v.is_finite() {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    fn from(self, a: f64) -> f64 {
        if self.log { 10f64.powf(a) } else { a }
    }

    /// The axis-space range: `fixed` if usable, else the data's (`pad`
    /// fraction added on both sides), else [0, 1] (1 to 10 on a log axis).
    fn range(self, fixed: Option<(f64, f64)>, data: &[f64], pad: f64) -> (f64, f64) {
        if let Some((lo, hi)) = fixed
            && let (Some(a), Some(b)) = (self.to(lo), self.to(hi))
            && b > a
        {
            return (a, b);
        }
        match finite_range(data.iter().copied()) {
            (Some(lo), Some(hi)) if hi > lo => {
                let p = pad * (hi - lo);
                (lo - p, hi + p)
            }
            (Some(v), _) => {
                let half = if self.log {
                    0.5
                } else {
                    (0.1 * v.abs()).max(0.5)
                };
                (v - half, v + half)
            }
            _ => (0.0, 1.0),
        }
    }

    /// Tick positions (axis space) with their labels: `wanted` (data space)
    /// inside the range, or about `n` nice values.
    fn ticks(self, (lo, hi): (f64, f64), n: usize, wanted: Option<&[f64]>) -> Vec<(f64, String)> {
        if let Some(w) = wanted {
            let span = hi - lo;
            let mut t: Vec<(f64, String)> = w
                .iter()
                .filter_map(|&v| self.to(v).map(|a| (a, v)))
                .filter(|(a, _)| *a >= lo - 1e-9 * span && *a <= hi + 1e-9 * span)
                .map(|(a, v)| (a, fmt_number(v, 0.0)))
                .collect();
            t.sort_by(|a, b| a.0.total_cmp(&b.0));
            if !t.is_empty() {
                return t;
            }
        }
        if !self.log {
            return nice_ticks(lo, hi, n)
                .into_iter()
                .map(|(v, step)| (v, fmt_number(v, step)))
                .collect();
        }
        if hi - lo < 1.0 {
            // Less than a decade: nice values of the data space.
            let (a, b) = (self.from(lo), self.from(hi));
            let t: Vec<(f64, String)> = nice_ticks(a, b, n)
                .into_iter()
                .filter(|(v, _)| *v > 0.0)
                .map(|(v, step)| (v.log10(), fmt_number(v, step)))
                .collect();
            if t.len() >= 2 {
                return t;
            }
        }
        // Powers of ten (every k-th when there are many), with 2 and 5
        // between them when there are few.
        let (e0, e1) = (lo.ceil() as i32, hi.floor() as i32);
        let decades = (e1 - e0 + 1).max(1) as usize;
        let every = decades.div_ceil(n.max(1)).max(1);
        let mut t = Vec::new();
        for e in (lo.floor() as i32)..=(hi.ceil() as i32) {
            let base = 10f64.powi(e);
            let mults: &[f64] = if decades <= 2 {
                &[1.0, 2.0, 5.0]
            } else if e.rem_euclid(every as i32) == 0 {
                &[1.0]
            } else {
                &[]
            };
            for m in mults {
                let v = m * base;
                let a = v.log10();
                if a >= lo - 1e-9 && a <= hi + 1e-9 {
                    t.push((a, fmt_number(v, 0.0)));
                }
            }
        }
        t
    }
}

/// About `n` round values in [lo, hi] (steps of 1, 2, 2.5 or 5 × 10^k),
/// each with the step.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<(f64, f64)> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![(lo, 0.0)];
    }
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil();
    let last = (hi / step).floor();
    let mut out = Vec::new();
    let mut k = first;
    while k <= last + 1e-9 && out.len() < 100 {
        let v = k * step;
        out.push((if v == 0.0 { 0.0 } else { v }, step));
        k += 1.0;
    }
    out
}

/// A number for a tick: enough decimals for `step` (or for the value when
/// `step` is 0), scientific notation for very large or small magnitudes.
pub fn fmt_number(v: f64, step: f64) -> String {
    let a = v.abs();
    if v != 0.0 && !(1e-4..1e6).contains(&a) {
        let s = format!("{v:.1e}");
        // 1.0e5 -> 1e5
        return s.replace(".0e", "e");
    }
    let decimals = if step > 0.0 {
        let d = -(step.log10().floor()) as i32;
        let d = if (step / 10f64.powi(-d) - 2.5).abs() < 1e-6 {
            d + 1
        } else {
            d
        };
        d.clamp(0, 6) as usize
    } else if v == 0.0 {
        0
    } else {
        // Shortest of up to 6 decimals that shows the value.
        (0..=6)
            .find(|&d| {
                let s = format!("{v:.d$}");
                s.parse::<f64>()
                    .is_ok_and(|p| (p - v).abs() <= 1e-9 * a.max(1e-12))
            })
            .unwrap_or(6)
    };
    format!("{v:.decimals$}")
}

/// An axis-space range `[lo, hi]` with fixed tick positions (plotters'
/// own key points of f64 ranges cannot be chosen, and its logarithmic
/// ranges give no tick inside a range narrower than a decade).
#[derive(Debug, Clone)]
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        let len = f64::from(limit.1 - limit.0);
        if !f.is_finite() {
            return limit.0;
        }
        // Far outside points are clipped by the plotting area anyway.
        limit.0 + (len * f.clamp(-4.0, 5.0) + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn coord(lo: f64, hi: f64, ticks: &[(f64, String)]) -> Ticked {
    Ticked {
        lo,
        hi,
        ticks: ticks.iter().map(|t| t.0).collect(),
    }
}

/// The label of the tick nearest `v`.
fn label_of(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .min_by(|a, b| (a.0 - v).abs().total_cmp(&(b.0 - v).abs()))
        .map(|t| t.1.clone())
        .unwrap_or_default()
}

/// Runs of consecutive points, each a polyline.
type Runs = Vec<Vec<(f64, f64)>>;
/// A straight line between two points.
type Segment = [(f64, f64); 2];

/// Runs of consecutive drawable points (axis space).
fn runs(points: &[(f64, f64)], ax: Axis, ay: Axis) -> Runs {
    let mut out = vec![Vec::new()];
    for &(x, y) in points {
        match (ax.to(x), ay.to(y)) {
            (Some(a), Some(b)) => out.last_mut().map_or((), |r| r.push((a, b))),
            _ => {
                if out.last().is_some_and(|r| !r.is_empty()) {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

fn text_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &str, size: f64) -> u32 {
    area.estimate_text_size(s, &(FONT, size).into_text_style(area))
        .map(|(w, _)| w)
        .unwrap_or((s.chars().count() as f64 * size * 0.6) as u32)
}

type Ctx<'a, DB> = ChartContext<'a, DB, Cartesian2d<Ticked, Ticked>>;

/// A pixel position (plotters' backend coordinate).
type BackendCoord = (i32, i32);

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy)]
enum Glyph {
    Line(RGBAColor, u32),
    Dashed(RGBAColor, u32),
    Point(RGBAColor),
    LinePoint(RGBAColor, u32),
    Tick(RGBAColor, u32),
}

/// Draws the legend symbol of `g` on `area` with its left end at `(x, y)`
/// (18 pixels wide).
fn draw_glyph<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    g: Glyph,
    (x, y): BackendCoord,
) -> Result<()> {
    let at = EmptyElement::at((x, y));
    match g {
        Glyph::Line(c, w) => {
            area.draw(&(at + PathElement::new(vec![(0, 0), (18, 0)], c.stroke_width(w))))
        }
        Glyph::Dashed(c, w) => area.draw(
            &(at + PathElement::new(vec![(0, 0), (6, 0)], c.stroke_width(w))
                + PathElement::new(vec![(11, 0), (18, 0)], c.stroke_width(w))),
        ),
        Glyph::Point(c) => area.draw(
            &(at + Circle::new((9, 0), 4, c.filled()) + Circle::new((9, 0), 4, BLACK.mix(0.6))),
        ),
        Glyph::LinePoint(c, w) => area.draw(
            &(at + PathElement::new(vec![(0, 0), (18, 0)], c.stroke_width(w))
                + Circle::new((9, 0), 3, c.filled())),
        ),
        Glyph::Tick(c, w) => {
            area.draw(&(at + PathElement::new(vec![(9, -6), (9, 6)], c.stroke_width(w))))
        }
    }
    .map_err(draw_err)
}

/// Height of one legend row in pixels.
const LEGEND_ROW: i32 = 20;

/// The size of a legend box listing `entries`.
fn legend_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Glyph)],
) -> (i32, i32) {
    let lw = entries
        .iter()
        .map(|e| text_width(area, &e.0, LEGEND))
        .max()
        .unwrap_or(0) as i32;
    (
        8 + 18 + 6 + lw + 8,
        6 + LEGEND_ROW * entries.len() as i32 + 2,
    )
}

/// Draws a legend box with its top-left corner at `(x, y)` of `area`; a
/// framed, nearly opaque white box when `framed`.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, Glyph)],
    (x, y): BackendCoord,
    framed: bool,
) -> Result<()> {
    let (w, h) = legend_size(area, entries);
    if framed {
        area.draw(&Rectangle::new(
            [(x, y), (x + w, y + h)],
            WHITE.mix(0.85).filled(),
        ))
        .map_err(draw_err)?;
        area.draw(&Rectangle::new([(x, y), (x + w, y + h)], BLACK.mix(0.4)))
            .map_err(draw_err)?;
    }
    let style = (FONT, LEGEND)
        .into_text_style(area)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (k, (name, g)) in entries.iter().enumerate() {
        let cy = y + 6 + LEGEND_ROW * k as i32 + LEGEND_ROW / 2;
        draw_glyph(area, *g, (x + 8, cy))?;
        area.draw_text(name, &style, (x + 8 + 18 + 6, cy))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// The colour of series `k`.
fn series_color(s: &Series, k: usize) -> RGBColor {
    rgb(s.color.unwrap_or(PALETTE[k % PALETTE.len()]))
}

/// Draws one chart into `area`; heat maps are rasterised as cells when
/// `raster_heat`, else drawn as a placeholder rectangle recorded in `placed`.
fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Chart,
    raster_heat: bool,
    placed: &mut Vec<Placed>,
) -> Result<()> {
    let heat = c.heat.as_ref();
    let xs_all = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(c.lines.iter().filter_map(|l| match l.at {
            Reference::V(x) => Some(x),
            Reference::H(_) => None,
        }))
        .chain(c.rugs.iter().flat_map(|r| r.xs.iter().copied()));
    let ys_all = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(c.lines.iter().filter_map(|l| match l.at {
            Reference::H(y) => Some(y),
            Reference::V(_) => None,
        }));
    let ax = Axis::resolve(c.x_scale, xs_all.clone(), heat.is_some());
    let ay = Axis::resolve(c.y_scale, ys_all.clone(), heat.is_some());
    let mut xd: Vec<f64> = xs_all.filter_map(|v| ax.to(v)).collect();
    let mut yd: Vec<f64> = ys_all.filter_map(|v| ay.to(v)).collect();
    if let Some(h) = heat {
        xd.extend([h.x.0, h.x.1]);
        yd.extend([h.y.0, h.y.1]);
    }
    // Circles at the ends of the x range would be cut in half.
    let markers = c
        .series
        .iter()
        .any(|s| matches!(s.mark, Mark::Points | Mark::LinePoints));
    let (x0, x1) = ax.range(
        c.x_range.or(heat.map(|h| h.x)),
        &xd,
        if markers { 0.03 } else { 0.0 },
    );
    let (y0, y1) = ay.range(
        c.y_range.or(heat.map(|h| h.y)),
        &yd,
        if heat.is_some() { 0.0 } else { 0.05 },
    );
    let in_x = |x: &f64| *x >= x0 && *x <= x1;

    // What gets drawn, and the legend entries of what has a name.
    let rugs: Vec<(Vec<f64>, ShapeStyle, &str)> = c
        .rugs
        .iter()
        .map(|r| {
            let xs = r.xs.iter().filter_map(|&x| ax.to(x)).filter(in_x).collect();
            (xs, rgb(r.color).stroke_width(2), r.name.as_str())
        })
        .collect();
    let series: Vec<(Runs, RGBAColor, &Series)> = c
        .series
        .iter()
        .enumerate()
        .map(|(k, s)| {
            (
                runs(&s.points, ax, ay),
                series_color(s, k).mix(s.opacity),
                s,
            )
        })
        .collect();
    let lines: Vec<(Segment, bool, RGBColor, &str)> = c
        .lines
        .iter()
        .filter_map(|l| {
            let (seg, vertical) = match l.at {
                Reference::H(y) => (ay.to(y).map(|y| [(x0, y), (x1, y)]), false),
                Reference::V(x) => (ax.to(x).map(|x| [(x, y0), (x, y1)]), true),
            };
            seg.map(|s| (s, vertical, rgb(l.color), l.name.as_str()))
        })
        .collect();
    let mut entries: Vec<(String, Glyph)> = Vec::new();
    for (xs, style, name) in &rugs {
        if !name.is_empty() && !xs.is_empty() {
            entries.push((name.to_string(), Glyph::Tick(style.color, 2)));
        }
    }
    for (k, (parts, col, s)) in series.iter().enumerate() {
        if s.name.is_empty() || parts.is_empty() {
            continue;
        }
        let w = s.size.round().max(1.0) as u32;
        let g = match s.mark {
            Mark::Line => Glyph::Line(*col, w),
            Mark::Dashed => Glyph::Dashed(*col, w),
            // Opaque in the legend, whatever the opacity of the points.
            Mark::Points => Glyph::Point(series_color(s, k).to_rgba()),
            Mark::LinePoints => Glyph::LinePoint(*col, w),
        };
        entries.push((s.name.clone(), g));
    }
    for (_, vertical, col, name) in &lines {
        if !name.is_empty() {
            let g = if *vertical {
                Glyph::Tick(col.to_rgba(), 2)
            } else {
                Glyph::Dashed(col.to_rgba(), 2)
            };
            entries.push((name.to_string(), g));
        }
    }
    let show_legend = match c.legend {
        Legend::Hidden => false,
        Legend::Auto => entries.len() >= 2,
        _ => !entries.is_empty(),
    };

    // Title, then the colour bar's strip or the legend's on the right.
    let body = if c.title.is_empty() {
        area.clone()
    } else {
        area.titled(&c.title, (FONT, TITLE)).map_err(draw_err)?
    };
    let (bw, bh) = body.dim_in_pixel();
    let bar_range = heat.map(HeatMap::value_range);
    let bar_ticks =
        bar_range.map(|r| Axis { log: false }.ticks(r, (bh / 60).max(2) as usize, None));
    let strip_w = match (&bar_ticks, heat) {
        (Some(t), Some(h)) => {
            let lw = t
                .iter()
                .map(|t| text_width(&body, &t.1, TICK))
                .max()
                .unwrap_or(0);
            12 + 16 + 8 + lw + if h.label.is_empty() { 4 } else { 24 }
        }
        _ if show_legend && c.legend == Legend::Outside => {
            let lw = entries
                .iter()
                .map(|e| text_width(&body, &e.0, LEGEND))
                .max()
                .unwrap_or(0);
            8 + 18 + 6 + lw + 8
        }
        _ => 0,
    };
    let (main, strip) = if strip_w > 0 && strip_w + 80 < bw {
        let (m, b) = body.split_horizontally(bw - strip_w);
        (m, Some(b))
    } else {
        (body, None)
    };
    let (mw, mh) = main.dim_in_pixel();

    let x_ticks = ax.ticks(
        (x0, x1),
        (mw / 90).clamp(2, 10) as usize,
        c.x_ticks.as_deref(),
    );
    let y_ticks = ay.ticks((y0, y1), (mh / 45).clamp(2, 10) as usize, None);
    let x_area = 6
        + TICK as u32
        + 2
        + if c.x_label.is_empty() {
            4
        } else {
            AXIS_LABEL as u32 + 8
        };
    let y_tick_w = y_ticks
        .iter()
        .map(|t| text_width(&main, &t.1, TICK))
        .max()
        .unwrap_or(0);
    let y_area = 10
        + y_tick_w
        + if c.y_label.is_empty() {
            4
        } else {
            AXIS_LABEL as u32 + 10
        };
    // Room for the last x tick number to stick out on the right.
    let last_half = x_ticks
        .last()
        .map(|t| text_width(&main, &t.1, TICK) / 2)
        .unwrap_or(0);
    let right = if strip.is_some() {
        6
    } else {
        (last_half + 4).max(12)
    };
    const TOP: u32 = 8;

    let mut chart = ChartBuilder::on(&main)
        .margin_top(TOP)
        .margin_right(right)
        .margin_left(4)
        .margin_bottom(4)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(coord(x0, x1, &x_ticks), coord(y0, y1, &y_ticks))
        .map_err(draw_err)?;

    if let Some(h) = heat {
        draw_heat(&mut chart, h, raster_heat, placed)?;
    }
    let fx = |v: &f64| label_of(&x_ticks, *v);
    let fy = |v: &f64| label_of(&y_ticks, *v);
    {
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(c.x_label.as_str())
            .y_desc(c.y_label.as_str())
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style((FONT, TICK))
            .axis_desc_style((FONT, AXIS_LABEL))
            .bold_line_style(GRID)
            .light_line_style(TRANSPARENT)
            .axis_style(BLACK.mix(0.8));
        if heat.is_some() {
            mesh.disable_mesh();
        }
        mesh.draw().map_err(draw_err)?;
    }

    for (k, (xs, style, _)) in rugs.iter().enumerate() {
        let (a, b) = (
            y0 + (0.01 + 0.05 * k as f64) * (y1 - y0),
            y0 + (0.045 + 0.05 * k as f64) * (y1 - y0),
        );
        chart
            .draw_series(
                xs.iter()
                    .map(|&x| PathElement::new(vec![(x, a), (x, b)], *style)),
            )
            .map_err(draw_err)?;
    }
    for (parts, col, s) in &series {
        let line = col.stroke_width(s.size.round().max(1.0) as u32);
        for p in parts {
            match s.mark {
                Mark::Line | Mark::LinePoints => {
                    chart
                        .draw_series(LineSeries::new(p.iter().copied(), line))
                        .map_err(draw_err)?;
                }
                Mark::Dashed => {
                    chart
                        .draw_series(DashedLineSeries::new(p.iter().copied(), 8, 5, line))
                        .map_err(draw_err)?;
                }
                Mark::Points => {}
            }
            if matches!(s.mark, Mark::Points | Mark::LinePoints) {
                chart
                    .draw_series(p.iter().map(|&q| Circle::new(q, s.size, col.filled())))
                    .map_err(draw_err)?;
            }
        }
    }
    for (seg, _, col, _) in &lines {
        chart
            .draw_series(DashedLineSeries::new(*seg, 8, 5, col.stroke_width(2)))
            .map_err(draw_err)?;
    }

    if show_legend {
        match (&strip, c.legend, heat) {
            (Some(strip), Legend::Outside, None) => {
                draw_legend(strip, &entries, (8, TOP as i32), false)?;
            }
            _ => {
                // Inside the plotting area, in the chosen corner.
                let (px, py) = chart.plotting_area().get_pixel_range();
                let (ox, oy) = (main.get_base_pixel().0, main.get_base_pixel().1);
                let (w, h) = legend_size(&main, &entries);
                let (l, r, t, b) = (px.start - ox, px.end - ox, py.start - oy, py.end - oy);
                let m = 8;
                let (x, y) = match c.legend {
                    Legend::UpperLeft => (l + m, t + m),
                    Legend::LowerLeft => (l + m, b - m - h),
                    Legend::LowerRight => (r - m - w, b - m - h),
                    Legend::MiddleRight => (r - m - w, (t + b - h) / 2),
                    _ => (r - m - w, t + m),
                };
                draw_legend(&main, &entries, (x, y), true)?;
            }
        }
    }

    if let (Some(strip), Some(h), Some(r), Some(ticks)) = (&strip, heat, bar_range, &bar_ticks) {
        draw_colour_bar(strip, h, r, ticks, (x_area, TOP))?;
    }
    Ok(())
}

/// The heat map's cells (or, for SVG, a placeholder rectangle to be
/// replaced by an embedded image).
fn draw_heat<DB: DrawingBackend>(
    chart: &mut Ctx<'_, DB>,
    h: &HeatMap,
    raster: bool,
    placed: &mut Vec<Placed>,
) -> Result<()> {
    if !raster {
        let c = sentinel(placed.len());
        chart
            .draw_series([Rectangle::new([(h.x.0, h.y.1), (h.x.1, h.y.0)], c.filled())])
            .map_err(draw_err)?;
        let (px0, py0) = chart.backend_coord(&(h.x.0, h.y.1));
        let (px1, py1) = chart.backend_coord(&(h.x.1, h.y.0));
        placed.push(Placed {
            heat: h.clone(),
            rect: (px0, py0, px1 - px0, py1 - py0),
        });
        return Ok(());
    }
    let range = h.value_range();
    let (dx, dy) = (
        (h.x.1 - h.x.0) / h.nx.max(1) as f64,
        (h.y.1 - h.y.0) / h.ny.max(1) as f64,
    );
    let cells = (0..h.ny).flat_map(|j| {
        (0..h.nx).map(move |i| {
            let (cx, cy) = (h.x.0 + i as f64 * dx, h.y.0 + j as f64 * dy);
            Rectangle::new(
                [(cx, cy + dy), (cx + dx, cy)],
                h.cell_color(h.values[j * h.nx + i], range).filled(),
            )
        })
    });
    chart.draw_series(cells).map_err(draw_err)?;
    Ok(())
}

/// The colour bar: the colour map from `lo` (bottom) to `hi` (top) with
/// tick numbers and the heat map's label on its right, aligned with the
/// plot (`x_area` pixels left under it for the x axis, `top` above it).
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    h: &HeatMap,
    (lo, hi): (f64, f64),
    ticks: &[(f64, String)],
    (x_area, top): (u32, u32),
) -> Result<()> {
    let (w, hgt) = area.dim_in_pixel();
    let label_w = if h.label.is_empty() { 4 } else { 24 };
    let ticks_w = w.saturating_sub(12 + 16 + label_w);
    let mut bar = ChartBuilder::on(area)
        .margin_top(top)
        .margin_bottom(x_area + 4)
        .margin_left(12)
        .margin_right(label_w)
        .right_y_label_area_size(ticks_w)
        .build_cartesian_2d(coord(0.0, 1.0, &[]), coord(lo, hi, ticks))
        .map_err(draw_err)?;
    let steps = 128;
    let strips = (0..steps).map(|k| {
        let (a, b) = (k as f64 / steps as f64, (k + 1) as f64 / steps as f64);
        Rectangle::new(
            [(0.0, lo + a * (hi - lo)), (1.0, lo + b * (hi - lo))],
            rgb(colormap((a + b) / 2.0)).filled(),
        )
    });
    bar.draw_series(strips).map_err(draw_err)?;
    let fy = |v: &f64| label_of(ticks, *v);
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_label_formatter(&fy)
        .label_style((FONT, TICK))
        .axis_style(BLACK.mix(0.8))
        .draw()
        .map_err(draw_err)?;
    bar.draw_series([Rectangle::new([(0.0, hi), (1.0, lo)], BLACK.mix(0.8))])
        .map_err(draw_err)?;
    // The label, upwards, in the last column (as plotters writes a left
    // axis label, which reads the same in PNG and SVG).
    if !h.label.is_empty() {
        let style = (FONT, AXIS_LABEL)
            .into_text_style(area)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Top));
        let mid = (top as i32 + (hgt as i32 - x_area as i32 - 4)) / 2;
        area.draw_text(&h.label, &style, ((w - label_w) as i32 + 2, mid))
            .map_err(draw_err)?;
    }
    Ok(())
}

/// The first two columns of the rows of `m` as points, at most `max` rows
/// spread evenly over `m` (all when `max` is 0). Errors unless `m` has at
/// least two columns.
pub fn matrix_points(m: &Matrix, max: usize) -> Result<Vec<(f64, f64)>> {
    if m.cols() < 2 {
        return Err(GenError::shape(
            "scatter plot",
            "at least 2 columns",
            format!("{} columns", m.cols()),
            "scatter plots show 2-D data; use an image grid for images",
        ));
    }
    let n = m.rows();
    let take = if max == 0 { n } else { n.min(max) };
    Ok((0..take)
        .map(|k| {
            let r = m.row(k * n / take.max(1));
            (r[0], r[1])
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the SVG has a text element reading `s`.
    fn has_text(svg: &str, s: &str) -> bool {
        svg.contains(&format!(">\n{s}\n</text>"))
    }

    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    fn two_series() -> Chart {
        Chart::new("two curves")
            .x_label("step")
            .y_label("loss")
            .y_scale(Scale::LogIfPositive)
            .series(Series::line(
                "d loss",
                (0..50).map(|i| (i as f64, 1.0 / (1.0 + i as f64))),
            ))
            .series(Series::dashed(
                "g loss",
                (0..50).map(|i| (i as f64, 2.0 + (i as f64).sin())),
            ))
    }

    #[test]
    fn line_chart_png_decodes_with_its_size() {
        let png = two_series().figure(600, 300).to_png().unwrap();
        let (w, h, rgb) = decode(&png);
        assert_eq!((w, h), (600, 300));
        assert_eq!(rgb.len(), 600 * 300 * 3);
        // Something besides the white background was drawn, in several colours.
        let dark = rgb.chunks(3).filter(|p| p.iter().all(|&c| c < 80)).count();
        let blue = rgb
            .chunks(3)
            .filter(|p| p == &[PALETTE[0][0], PALETTE[0][1], PALETTE[0][2]])
            .count();
        assert!(dark > 500 && blue > 50, "dark {dark}, blue {blue}");
    }

    #[test]
    fn svg_holds_title_axis_labels_legend_and_tick_numbers() {
        let svg = two_series().figure(600, 300).to_svg().unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for text in [
            "two curves",
            "step",
            "loss",
            "d loss",
            "g loss",
            "1",
            "0.1",
            "0",
        ] {
            assert!(has_text(&svg, text), "{text:?} missing from the SVG");
        }
        // One series is not a legend.
        let one = Chart::new("t")
            .series(Series::line("only", [(0.0, 1.0), (1.0, 2.0)]))
            .figure(300, 200)
            .to_svg()
            .unwrap();
        assert!(!has_text(&one, "only"));
        // Unless the legend is placed.
        let placed = Chart::new("t")
            .series(Series::line("only", [(0.0, 1.0), (1.0, 2.0)]))
            .legend(Legend::UpperLeft)
            .figure(300, 200)
            .to_svg()
            .unwrap();
        assert!(has_text(&placed, "only"));
    }

    #[test]
    fn non_finite_points_and_empty_charts_do_not_panic() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        let charts = [
            Chart::new("empty"),
            Chart::new("empty series")
                .series(Series::line("a", []))
                .series(Series::points("b", [])),
            Chart::new("all nan").series(Series::line("a", [(nan, nan), (inf, 1.0)])),
            Chart::new("mixed")
                .y_scale(Scale::Log)
                .series(Series::line_points(
                    "a",
                    [(0.0, 1.0), (1.0, nan), (2.0, -3.0), (3.0, 0.0), (4.0, 5.0)],
                ))
                .series(Series::points("b", [(nan, 1.0), (1.0, inf)]))
                .hline("h", nan, [0, 0, 0])
                .vline("v", inf, [0, 0, 0])
                .rug("r", [nan, 2.0], [255, 0, 0]),
            Chart::new("one point")
                .x_scale(Scale::Log)
                .series(Series::line("a", [(5.0, 5.0)])),
            Chart::new("bad fixed ranges")
                .x_range(nan, 1.0)
                .y_range(3.0, 3.0)
                .x_ticks([nan, 0.5, inf])
                .series(Series::line("a", [(0.0, 0.0), (1.0, 1.0)])),
            Chart::new("heat with holes").heatmap(
                HeatMap::new(
                    vec![nan, 1.0, inf, 2.0],
                    (2, 2),
                    (0.0, 1.0),
                    (0.0, 1.0),
                    "v",
                )
                .unwrap(),
            ),
            Chart::new("flat heat")
                .heatmap(HeatMap::new(vec![nan; 4], (2, 2), (0.0, 1.0), (-1.0, 1.0), "").unwrap()),
        ];
        for c in charts {
            let title = c.title.clone();
            let fig = c.figure(400, 300);
            let (w, h, _) = decode(&fig.to_png().unwrap_or_else(|e| panic!("{title}: {e}")));
            assert_eq!((w, h), (400, 300), "{title}");
            assert!(has_text(&fig.to_svg().unwrap(), &title), "{title}");
        }
    }

    #[test]
    fn tiny_figures_and_extreme_values_do_not_panic() {
        let extreme = Chart::new("extreme")
            .x_label("x")
            .y_label("y")
            .series(Series::line("a", [(-1e308, 1e308), (1e308, -1e308)]))
            .series(Series::points("b", [(f64::MIN_POSITIVE, 1e-300)]));
        for (w, h) in [(16, 16), (40, 30), (600, 300)] {
            let fig = extreme.clone().figure(w, h);
            let (pw, ph, _) = decode(&fig.to_png().unwrap());
            assert_eq!((pw, ph), (w, h));
            fig.to_svg().unwrap();
            let heat = HeatMap::new(vec![1.0; 4], (2, 2), (0.0, 1.0), (0.0, 1.0), "v").unwrap();
            let small = Chart::new("heat").heatmap(heat).figure(w, h);
            small.to_png().unwrap();
            small.to_svg().unwrap();
        }
    }

    #[test]
    fn heat_map_has_a_colour_bar_and_embeds_one_pixel_per_cell_in_svg() {
        let n = 20;
        let values: Vec<f64> = (0..n * n).map(|k| (k % n) as f64 * 0.05).collect();
        let heat = HeatMap::new(values, (n, n), (-2.0, 2.0), (-1.0, 3.0), "density").unwrap();
        assert_eq!(heat.value_range(), (0.0, 0.9500000000000001));
        let chart = Chart::new("heat")
            .x_label("x1")
            .y_label("x2")
            .heatmap(heat)
            .series(Series::points("data", [(0.0, 0.0), (1.0, 1.0)]).color([255, 255, 255]))
            .series(Series::points("samples", [(0.5, 0.5)]).color([230, 30, 30]));
        let fig = chart.figure(560, 480);
        let (w, h, rgb) = decode(&fig.to_png().unwrap());
        assert_eq!((w, h), (560, 480));
        // The colour map's two ends are on the picture.
        let has = |c: Rgb| rgb.chunks(3).any(|p| p == c);
        assert!(has(colormap(0.0)) && has(colormap(1.0)));
        let svg = fig.to_svg().unwrap();
        assert!(svg.contains("data:image/png;base64,"));
        assert!(!svg.contains("#010203"), "the placeholder was replaced");
        for text in ["density", "x1", "x2", "data", "samples", "0.8", "-2"] {
            assert!(has_text(&svg, text), "{text:?} missing");
        }
        // One SVG image per heat map, small next to one rectangle per cell.
        assert!(svg.len() < 100_000, "{} bytes", svg.len());
        assert!(HeatMap::new(vec![0.0; 3], (2, 2), (0.0, 1.0), (0.0, 1.0), "").is_err());
        assert!(HeatMap::new(vec![0.0; 4], (2, 2), (1.0, 1.0), (0.0, 1.0), "").is_err());
    }

    #[test]
    fn figures_lay_out_panels_and_save_by_extension() {
        let dir = std::env::temp_dir().join(format!("gen-viz-chart-{}", std::process::id()));
        let fig = Figure::new(800, 400)
            .title("side by side")
            .cols(2)
            .chart(Chart::new("left").series(Series::points("a", [(0.0, 0.0)])))
            .chart(Chart::new("right").series(Series::points("b", [(1.0, 1.0)])));
        fig.save(&dir.join("f.png")).unwrap();
        fig.save(&dir.join("f.svg")).unwrap();
        assert!(fig.save(&dir.join("f.jpg")).is_err());
        fig.save_png_and_svg(&dir.join("g.png")).unwrap();
        let (w, h, _) = decode(&std::fs::read(dir.join("g.png")).unwrap());
        assert_eq!((w, h), (800, 400));
        let svg = std::fs::read_to_string(dir.join("g.svg")).unwrap();
        for text in ["side by side", "left", "right"] {
            assert!(has_text(&svg, text), "{text:?} missing");
        }
        assert!(fig.save_png_and_svg(&dir.join("g.svg")).is_err());
        assert!(Figure::new(0, 10).to_png().is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn ticks_are_round_numbers_on_linear_and_log_axes() {
        let lin = Axis { log: false };
        let t: Vec<String> = lin
            .ticks((0.0, 1.0), 5, None)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t: Vec<String> = lin
            .ticks((-3.0, 1012.0), 5, None)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["0", "250", "500", "750", "1000"]);
        let log = Axis { log: true };
        let t: Vec<String> = log
            .ticks((-2.1, 3.2), 6, None)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["0.01", "0.1", "1", "10", "100", "1000"]);
        // Less than a decade: round values of the data.
        let t: Vec<String> = log
            .ticks((1.2f64.log10(), 1.5f64.log10()), 4, None)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["1.2", "1.3", "1.4", "1.5"]);
        // Wanted ticks, out-of-range ones dropped.
        let t: Vec<String> = log
            .ticks(
                (64f64.log10(), 1000f64.log10()),
                4,
                Some(&[64.0, 128.0, 1000.0, 5000.0]),
            )
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(t, ["64", "128", "1000"]);
        assert_eq!(fmt_number(2.5e-6, 0.0), "2.5e-6");
        assert_eq!(fmt_number(3.0e7, 0.0), "3e7");
        assert_eq!(fmt_number(0.25, 0.25), "0.25");
    }

    #[test]
    fn log_if_positive_chooses_by_the_sign_of_the_values() {
        let pos = [1.0, 0.5, f64::NAN, 2.0];
        let neg = [1.0, -0.5];
        assert!(Axis::resolve(Scale::LogIfPositive, pos.into_iter(), false).log);
        assert!(!Axis::resolve(Scale::LogIfPositive, neg.into_iter(), false).log);
        assert!(!Axis::resolve(Scale::LogIfPositive, [].into_iter(), false).log);
        assert!(
            !Axis::resolve(Scale::Log, pos.into_iter(), true).log,
            "heat maps are linear"
        );
    }

    #[test]
    fn scatter_svg_groups_circles_by_style() {
        let pts: Vec<(f64, f64)> = (0..200).map(|i| (i as f64, (i * i % 17) as f64)).collect();
        let svg = Chart::new("scatter")
            .series(Series::points("a", pts.clone()).opacity(0.5))
            .series(Series::points("b", pts).color([230, 30, 30]))
            .figure(400, 300)
            .to_svg()
            .unwrap();
        assert_eq!(
            svg.matches("<circle ").count(),
            400 + 4,
            "points, and legend symbols with their outlines"
        );
        assert!(svg.contains("<g fill=\"#1F77B4\" fill-opacity=\"0.5\" stroke=\"none\">"));
        assert!(svg.contains("<g fill=\"#E61E1E\" fill-opacity=\"1\" stroke=\"none\">"));
        assert_eq!(svg.matches("<g ").count(), svg.matches("</g>").count());
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn base64_and_matrix_points() {
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(base64(b""), "");
        let m = Matrix::new(4, 2, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
        assert_eq!(matrix_points(&m, 2).unwrap(), [(0.0, 1.0), (4.0, 5.0)]);
        assert_eq!(matrix_points(&m, 0).unwrap().len(), 4);
        assert!(matrix_points(&Matrix::zeros(3, 1), 0).is_err());
    }
}
