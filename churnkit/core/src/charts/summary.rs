//! Charts that summarise data and models: ranked bars (importances), counts, a numeric column by
//! class, scatter by class, a rate per category, a correlation heatmap, a line chart.

use super::render::{
    caption_font, centred, draw_legend, heat_cell, render, segments, xy_mesh, Png, CLASS_COLOURS,
    FAMILY,
};
use crate::error::Result;
use plotters::prelude::*;

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
