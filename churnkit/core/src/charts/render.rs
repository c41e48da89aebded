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
fn heat_cell(
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

/// Confusion-matrix heatmap with counts and row percentages; rows are actual classes:
/// `cells` is `[[tn, fp], [fn, tp]]`.
pub fn confusion_matrix_chart(cells: [[usize; 2]; 2], labels: [&str; 2]) -> Result<Png> {
    let max = cells.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let total = cells.iter().flatten().sum::<usize>().max(1) as f64;
    render(640, 560, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Confusion matrix", (FAMILY, 26))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(110)
            .build_cartesian_2d((0..1).into_segmented(), (0..1).into_segmented())?;
        let name = |v: &SegmentValue<i32>, flip: bool| match v {
            SegmentValue::CenterOf(i) => {
                let i = if flip { 1 - *i } else { *i };
                labels
                    .get(i as usize)
                    .map_or(String::new(), |s| s.to_string())
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("Predicted")
            .y_desc("Actual")
            .x_label_formatter(&|v| name(v, false))
            .y_label_formatter(&|v| name(v, true))
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .draw()?;
        for (a, row) in cells.iter().enumerate() {
            for (p, &count) in row.iter().enumerate() {
                let y = 1 - a as i32;
                let t = count as f64 / max;
                chart.draw_series(std::iter::once(heat_cell(p as i32, y, blues(t))))?;
                let colour = if t > 0.5 { WHITE } else { BLACK };
                let centre = centred(plotters::style::text_anchor::VPos::Center);
                let big = TextStyle::from((FAMILY, 28).into_font())
                    .color(&colour)
                    .pos(centre);
                let small = TextStyle::from((FAMILY, 18).into_font())
                    .color(&colour)
                    .pos(centre);
                chart.draw_series(std::iter::once(
                    EmptyElement::at((SegmentValue::CenterOf(p as i32), SegmentValue::CenterOf(y)))
                        + Text::new(count.to_string(), (0, -14), big)
                        + Text::new(
                            format!("({:.1}%)", 100.0 * count as f64 / total),
                            (0, 18),
                            small,
                        ),
                ))?;
            }
        }
        Ok(())
    })
}

/// ROC curve with its AUC in the legend and the chance diagonal.
/// An undefined curve (one class only: empty `fpr` and `tpr`) draws the baseline and says so in
/// the legend.
pub fn roc_chart(fpr: &[f64], tpr: &[f64], auc: Option<f64>) -> Result<Png> {
    let legend = auc.map_or("Model (AUC undefined: one class)".to_string(), |a| {
        format!("Model (AUC = {a:.3})")
    });
    render(640, 560, |root| {
        let mut chart = unit_chart(
            &root,
            "ROC curve",
            "False positive rate",
            "True positive rate",
            false,
        )?;
        let blue = RGBColor(31, 119, 180);
        chart
            .draw_series(segments(
                thin(
                    &fpr.iter()
                        .copied()
                        .zip(tpr.iter().copied())
                        .collect::<Vec<_>>(),
                    1e-3,
                ),
                blue.stroke_width(3),
            ))?
            .label(legend)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], blue.stroke_width(3))
            });
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                8,
                6,
                BLACK.mix(0.6).stroke_width(2),
            ))?
            .label("Chance (AUC = 0.5)")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6).stroke_width(2))
            });
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 16)?;
        Ok(())
    })
}

/// Precision-recall curve (as a step function) with average precision in the legend and the
/// prevalence baseline.
/// An undefined curve (no positive row: empty `precision` and `recall`) draws the baseline and
/// says so in the legend.
pub fn pr_chart(
    precision: &[f64],
    recall: &[f64],
    average_precision: Option<f64>,
    prevalence: f64,
) -> Result<Png> {
    let legend = average_precision.map_or("Model (AP undefined: no positives)".to_string(), |a| {
        format!("Model (AP = {a:.3})")
    });
    render(640, 560, |root| {
        let mut chart = unit_chart(
            &root,
            "Precision-recall curve",
            "Recall",
            "Precision",
            false,
        )?;
        // Step "post" in recall order, as scikit-learn's PrecisionRecallDisplay draws it.
        let mut pts: Vec<(f64, f64)> = Vec::new();
        for i in (0..recall.len()).rev() {
            let (r, p) = (recall[i], precision[i]);
            if let Some(&(_, last_p)) = pts.last() {
                pts.push((r, last_p));
            }
            pts.push((r, p));
        }
        pts.dedup();
        let orange = RGBColor(214, 39, 40);
        chart
            .draw_series(segments(thin(&pts, 1e-3), orange.stroke_width(3)))?
            .label(legend)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], orange.stroke_width(3))
            });
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, prevalence), (1.0, prevalence)],
                8,
                6,
                BLACK.mix(0.6).stroke_width(2),
            ))?
            .label(format!("Prevalence ({prevalence:.3})"))
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.6).stroke_width(2))
            });
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 16)?;
        Ok(())
    })
}

/// Horizontal bar chart of importances, largest at the top.
pub fn feature_importance_chart(names: &[String], importances: &[f64]) -> Result<Png> {
    ranked_bars(
        "Feature importance (Gini)",
        "Importance",
        names,
        importances,
    )
}

/// Horizontal bars of one value per name, largest at the top (importances of any kind).
pub fn ranked_bars(
    title: &str,
    xlabel: &str,
    names: &[String],
    importances: &[f64],
) -> Result<Png> {
    let mut items: Vec<(&str, f64)> = names
        .iter()
        .map(String::as_str)
        .zip(importances.iter().copied())
        .collect();
    items.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let n = items.len().max(1);
    let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1e-9);
    let height = (140 + 34 * n as u32).min(2000);
    render(760, height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 24))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(170)
            .build_cartesian_2d(0f64..max * 1.12, (0..n as i32 - 1).into_segmented())?;
        // A segmented range a..b has b - a + 1 segments: 0..n-1 gives one per feature.
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => usize::try_from(n as i32 - 1 - *i)
                .ok()
                .and_then(|k| items.get(k))
                .map_or(String::new(), |x| x.0.to_string()),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label)
            .x_desc(xlabel)
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 16))
            .draw()?;
        let blue = RGBColor(31, 119, 180);
        chart.draw_series(items.iter().enumerate().map(|(k, (_, v))| {
            let y = (n - 1 - k) as i32;
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(y)),
                    (*v, SegmentValue::Exact(y + 1)),
                ],
                blue.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))?;
        chart.draw_series(items.iter().enumerate().map(|(k, (_, v))| {
            let y = (n - 1 - k) as i32;
            Text::new(
                format!(" {v:.3}"),
                (*v, SegmentValue::CenterOf(y)),
                (FAMILY, 13).into_font(),
            )
        }))?;
        Ok(())
    })
}

/// Colours of class 0 and class 1 in every chart.
pub const CLASS_COLOURS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

pub(crate) fn caption_font() -> (&'static str, i32) {
    (FAMILY, 22)
}

/// Bars with a count and percentage label each (e.g. customers per churn class).
pub fn count_chart(title: &str, labels: &[String], counts: &[usize]) -> Result<Png> {
    let total = counts.iter().sum::<usize>().max(1) as f64;
    let max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let n = labels.len().max(1) as i32;
    render(560, 420, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..max * 1.18)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("Customers")
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        for (i, &c) in counts.iter().enumerate() {
            let colour = CLASS_COLOURS[i.min(1)];
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i as i32), 0.0),
                    (SegmentValue::Exact(i as i32 + 1), c as f64),
                ],
                colour.filled(),
            );
            bar.set_margin(0, 0, 30, 30);
            chart.draw_series(std::iter::once(bar))?;
            let centre = centred(plotters::style::text_anchor::VPos::Bottom);
            chart.draw_series(std::iter::once(Text::new(
                format!("{c} ({:.1}%)", 100.0 * c as f64 / total),
                (SegmentValue::CenterOf(i as i32), c as f64 + max * 0.02),
                TextStyle::from((FAMILY, 15).into_font()).pos(centre),
            )))?;
        }
        Ok(())
    })
}

/// Overlaid histograms of `values` for class 0 and class 1 (e.g. Age by churn).
pub fn histogram_by_class(
    title: &str,
    xlabel: &str,
    values: &[f64],
    classes: &[u8],
    class_names: [&str; 2],
    bins: usize,
) -> Result<Png> {
    // The range covers the middle 99% of the values, so a few impossible values (Age 999) do
    // not squash the chart; how many fall outside is said in the title.
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    finite.sort_by(f64::total_cmp);
    let q = |p: f64| crate::stats::quantile(&finite, p);
    let (lo, hi) = match (q(0.005), q(0.995)) {
        (Some(lo), Some(hi)) if hi > lo => (lo, hi),
        (Some(v), _) => (v - 0.5, v + 0.5),
        _ => (0.0, 1.0),
    };
    let outside = finite.iter().filter(|v| **v < lo || **v > hi).count();
    let title = if outside > 0 {
        format!("{title} ({outside} outside the range shown)")
    } else {
        title.to_string()
    };
    let bins = bins.max(1);
    let w = (hi - lo) / bins as f64;
    let mut counts = [vec![0usize; bins], vec![0usize; bins]];
    for (v, &c) in values.iter().zip(classes) {
        if v.is_finite() && (lo..=hi).contains(v) {
            let b = (((v - lo) / w) as usize).min(bins - 1);
            counts[usize::from(c.min(1))][b] += 1;
        }
    }
    let max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    render(640, 420, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(&title, caption_font())
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, 0f64..max * 1.1)?;
        xy_mesh(&mut chart, xlabel, "Customers")?;
        for (k, name) in class_names.iter().enumerate() {
            let colour = CLASS_COLOURS[k];
            chart
                .draw_series(counts[k].iter().enumerate().map(|(b, &c)| {
                    let x0 = lo + b as f64 * w;
                    Rectangle::new([(x0, 0.0), (x0 + w, c as f64)], colour.mix(0.45).filled())
                }))?
                .label(name.to_string())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.mix(0.6).filled())
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
        Ok(())
    })
}

/// Scatter of two numeric columns, coloured by class.
pub fn scatter_by_class(
    title: &str,
    (xlabel, x): (&str, &[f64]),
    (ylabel, y): (&str, &[f64]),
    classes: &[u8],
    class_names: [&str; 2],
) -> Result<Png> {
    let range = |v: &[f64]| {
        let lo = v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::INFINITY, f64::min);
        let hi = v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi > lo {
            let pad = (hi - lo) * 0.03;
            (lo - pad)..(hi + pad)
        } else {
            0.0..1.0
        }
    };
    render(640, 480, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(range(x), range(y))?;
        xy_mesh(&mut chart, xlabel, ylabel)?;
        for (k, name) in class_names.iter().enumerate() {
            let colour = CLASS_COLOURS[k];
            chart
                .draw_series(
                    x.iter()
                        .zip(y)
                        .zip(classes)
                        .filter(|((a, b), &c)| {
                            usize::from(c.min(1)) == k && a.is_finite() && b.is_finite()
                        })
                        .map(|((a, b), _)| Circle::new((*a, *b), 3, colour.mix(0.55).filled())),
                )?
                .label(name.to_string())
                .legend(move |(px, py)| Circle::new((px + 6, py), 4, colour.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
        Ok(())
    })
}

/// Class-1 rate per category, as bars labelled with the rate and the group size.
pub fn rate_by_category(title: &str, xlabel: &str, groups: &[(String, f64, usize)]) -> Result<Png> {
    let n = groups.len().max(1) as i32;
    let width = (260 + 120 * groups.len() as u32).clamp(480, 1400);
    render(width, 440, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..1.05f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => groups
                    .get(*i as usize)
                    .map(|g| g.0.clone())
                    .unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .x_desc(xlabel)
            .y_desc("Churn rate")
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        for (i, (_, rate, size)) in groups.iter().enumerate() {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i as i32), 0.0),
                    (SegmentValue::Exact(i as i32 + 1), *rate),
                ],
                CLASS_COLOURS[1].mix(0.8).filled(),
            );
            bar.set_margin(0, 0, 18, 18);
            chart.draw_series(std::iter::once(bar))?;
            let pos = centred(plotters::style::text_anchor::VPos::Bottom);
            chart.draw_series(std::iter::once(Text::new(
                format!("{:.1}% of {size}", rate * 100.0),
                (SegmentValue::CenterOf(i as i32), rate + 0.02),
                TextStyle::from((FAMILY, 14).into_font()).pos(pos),
            )))?;
        }
        Ok(())
    })
}

/// Correlation matrix heatmap (blue negative, red positive) with values in the cells.
pub fn correlation_heatmap(names: &[String], matrix: &[Vec<f64>]) -> Result<Png> {
    let n = names.len().max(1) as i32;
    let size = (200 + 70 * names.len() as u32).clamp(420, 1400);
    let colour = |r: f64| {
        let t = r.clamp(-1.0, 1.0);
        let lerp = |a: f64, b: f64, t: f64| (a + (b - a) * t).round() as u8;
        if t >= 0.0 {
            RGBColor(
                lerp(247.0, 178.0, t),
                lerp(247.0, 24.0, t),
                lerp(247.0, 43.0, t),
            )
        } else {
            RGBColor(
                lerp(247.0, 33.0, -t),
                lerp(247.0, 102.0, -t),
                lerp(247.0, 172.0, -t),
            )
        }
    };
    render(size + 60, size, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption("Correlation matrix", caption_font())
            .margin(16)
            .x_label_area_size(110)
            .y_label_area_size(120)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())?;
        let label = |v: &SegmentValue<i32>, flip: bool| match v {
            SegmentValue::CenterOf(i) => {
                let i = if flip { n - 1 - *i } else { *i };
                names.get(i as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(names.len())
            .y_labels(names.len())
            .x_label_formatter(&|v| label(v, false))
            .y_label_formatter(&|v| label(v, true))
            .x_label_style(
                TextStyle::from((FAMILY, 13).into_font())
                    .transform(plotters::style::FontTransform::Rotate90),
            )
            .label_style((FAMILY, 13))
            .draw()?;
        for (i, row) in matrix.iter().enumerate() {
            for (j, &r) in row.iter().enumerate() {
                let y = n - 1 - i as i32;
                chart.draw_series(std::iter::once(heat_cell(j as i32, y, colour(r))))?;
                let pos = centred(plotters::style::text_anchor::VPos::Center);
                let ink = if r.abs() > 0.6 { WHITE } else { BLACK };
                chart.draw_series(std::iter::once(Text::new(
                    if r.is_nan() {
                        "-".to_string()
                    } else {
                        format!("{r:.2}")
                    },
                    (SegmentValue::CenterOf(j as i32), SegmentValue::CenterOf(y)),
                    TextStyle::from((FAMILY, 12).into_font())
                        .color(&ink)
                        .pos(pos),
                )))?;
            }
        }
        Ok(())
    })
}

/// A line with markers: a metric against a parameter or a step (e.g. test F1 vs max_depth).
pub fn line_chart(title: &str, xlabel: &str, ylabel: &str, points: &[(f64, f64)]) -> Result<Png> {
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (x0, x1) = match (pts.first(), pts.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        (Some(a), _) => (a.0 - 1.0, a.0 + 1.0),
        _ => (0.0, 1.0),
    };
    let y0 = pts.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y1 = pts.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1) = if y0.is_finite() && y1 > y0 {
        let pad = (y1 - y0) * 0.15;
        (y0 - pad, y1 + pad)
    } else if y0.is_finite() {
        (y0 - 0.05, y0 + 0.05)
    } else {
        (0.0, 1.0)
    };
    let padx = (x1 - x0) * 0.05;
    render(640, 400, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0 - padx..x1 + padx, y0..y1)?;
        xy_mesh(&mut chart, xlabel, ylabel)?;
        let c = CLASS_COLOURS[0];
        chart.draw_series(segments(pts.clone(), c.stroke_width(2)))?;
        chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(p: &Png) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::Cursor::new(&p.bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf)
    }

    #[test]
    fn charts_are_valid_pngs_with_ink_and_text() {
        let c = [[50, 10], [5, 15]];
        let png = confusion_matrix_chart(c, ["No churn", "Churn"]).unwrap();
        let (w, h, px) = decode(&png);
        assert_eq!((w, h), (640, 560));
        let dark = px.chunks(3).filter(|p| p.iter().all(|&v| v < 60)).count();
        assert!(
            dark > 500,
            "text and axes should draw dark pixels, got {dark}"
        );
        let same = confusion_matrix_chart(c, ["No churn", "Churn"]).unwrap();
        assert_eq!(png, same, "charts are deterministic");
    }
}
