//! Charts as PNG bytes, drawn with plotters' bitmap backend.
//!
//! Text uses a bundled DejaVu Sans (through plotters' `ab_glyph` feature), so charts render the
//! same in a slim container with no fontconfig and no system fonts.

use crate::error::{Error, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::sync::Once;

/// The bundled font (DejaVu Sans, Bitstream Vera licence; see assets/fonts/LICENSE).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub(crate) const FAMILY: &str = "sans-serif";

/// An encoded PNG image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Png {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The PNG file bytes.
    pub bytes: Vec<u8>,
}

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            // The font is compiled in and known to parse; a failure here is a build defect.
            plotters::style::register_font(FAMILY, style, FONT)
                .unwrap_or_else(|_| panic!("bundled font failed to load"));
        }
    });
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draw into an RGB buffer with `draw`, then encode it as PNG.
pub(crate) fn render<F>(width: u32, height: u32, draw: F) -> Result<Png>
where
    F: FnOnce(DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> DrawResult,
{
    register_fonts();
    let mut buf = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| Error::plot(e.to_string()))?;
        draw(root.clone()).map_err(|e| Error::plot(e.to_string()))?;
        root.present().map_err(|e| Error::plot(e.to_string()))?;
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        // Mostly-white charts compress ~20x with adaptive filtering; the default is ~1:1.
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut w = enc.write_header().map_err(|e| Error::plot(e.to_string()))?;
        w.write_image_data(&buf)
            .map_err(|e| Error::plot(e.to_string()))?;
    }
    Ok(Png {
        width,
        height,
        bytes,
    })
}

/// Drop points closer than `eps` (in both axes) to the last kept one: a 200k-point curve and
/// its 2k-point thinning look the same at chart resolution, and draw 100x faster.
pub(crate) fn thin(points: &[(f64, f64)], eps: f64) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        let keep = match out.last() {
            None => true,
            Some(&(x, y)) => {
                i + 1 == points.len() || (p.0 - x).abs() > eps || (p.1 - y).abs() > eps
            }
        };
        if keep {
            out.push(p);
        }
    }
    out
}

/// Axes, light grid and axis titles of the plain x-y charts (histogram, scatter, line).
pub(crate) fn xy_mesh(
    chart: &mut ChartContext<
        '_,
        BitMapBackend<'_>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    xlabel: &str,
    ylabel: &str,
) -> DrawResult {
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(xlabel)
        .y_desc(ylabel)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .draw()?;
    Ok(())
}

/// A chart of rates: [0, 1] x [0, 1.02] (room above 1 for the curve), light grid, axis titles;
/// the axes as percentages when `percent`. ROC, precision-recall, gains and reliability curves.
pub(crate) fn unit_chart<'a>(
    root: &DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>,
    title: &str,
    xlabel: &str,
    ylabel: &str,
    percent: bool,
) -> Result<
    ChartContext<
        'a,
        BitMapBackend<'a>,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    Box<dyn std::error::Error>,
> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FAMILY, 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
    let pct = |v: &f64| format!("{:.0}%", v * 100.0);
    let plain = |v: &f64| format!("{v:.1}");
    let fmt: &dyn Fn(&f64) -> String = if percent { &pct } else { &plain };
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 238, 238))
        .x_desc(xlabel)
        .y_desc(ylabel)
        .x_label_formatter(fmt)
        .y_label_formatter(fmt)
        .label_style((FAMILY, 15))
        .axis_desc_style((FAMILY, 16))
        .draw()?;
    Ok(chart)
}

/// The series legend, in the same style on every chart.
pub(crate) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    size: i32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, size))
        .draw()
}

/// A polyline as separate segments: plotters' thick polylines draw spikes at sharp joins.
pub(crate) fn segments(pts: Vec<(f64, f64)>, style: ShapeStyle) -> Vec<PathElement<(f64, f64)>> {
    pts.windows(2)
        .map(|w| PathElement::new(vec![w[0], w[1]], style))
        .collect()
}

/// One filled cell of a heatmap drawn on segmented coordinates.
pub(crate) fn heat_cell(
    col: i32,
    row: i32,
    colour: RGBColor,
) -> Rectangle<(SegmentValue<i32>, SegmentValue<i32>)> {
    Rectangle::new(
        [
            (SegmentValue::Exact(col), SegmentValue::Exact(row)),
            (SegmentValue::Exact(col + 1), SegmentValue::Exact(row + 1)),
        ],
        colour.filled(),
    )
}

/// Text anchored at its horizontal centre and the given vertical position.
pub(crate) fn centred(v: plotters::style::text_anchor::VPos) -> plotters::style::text_anchor::Pos {
    plotters::style::text_anchor::Pos::new(plotters::style::text_anchor::HPos::Center, v)
}

/// Light-to-dark blue for `t` in [0, 1].
pub(crate) fn blues(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Colours of the groups, in order (matplotlib's tab10, the first eight).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Colours of class 0 and class 1 in every chart.
pub const CLASS_COLOURS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

pub(crate) fn caption_font() -> (&'static str, i32) {
    (FAMILY, 22)
}
