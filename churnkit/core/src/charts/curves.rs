//! Step curves with confidence bands (survival curves) and estimates with intervals on a log
//! axis (hazard ratios). Drawn from plain numbers: this module knows no survival type.

use super::render::{caption_font, draw_legend, render, segments, Png, FAMILY, PALETTE};
use crate::error::Result;
use plotters::prelude::*;

/// One step curve: its name, (x, y) steps, and an optional band (lower, upper) per step.
#[derive(Debug, Clone)]
pub struct StepCurve<'a> {
    /// Legend label.
    pub name: &'a str,
    /// Step positions.
    pub x: &'a [f64],
    /// Value from each position to the next.
    pub y: &'a [f64],
    /// Lower band, one per step (empty for none).
    pub lower: &'a [f64],
    /// Upper band, one per step (empty for none).
    pub upper: &'a [f64],
}

/// The staircase through (x, y) steps: each value holds until the next position.
fn staircase(x: &[f64], y: &[f64]) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * x.len());
    for i in 0..x.len() {
        if i > 0 {
            pts.push((x[i], y[i - 1]));
        }
        pts.push((x[i], y[i]));
    }
    pts
}

/// Step curves on a [0, 1] y axis, with shaded bands: survival curves by group.
pub fn step_curves(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    curves: &[StepCurve<'_>],
) -> Result<Png> {
    let x_max = curves
        .iter()
        .flat_map(|c| c.x.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1.0);
    render(760, 460, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..x_max * 1.02, 0f64..1.02f64)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .x_desc(xlabel)
            .y_desc(ylabel)
            .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
            .label_style((FAMILY, 14))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        for (k, c) in curves.iter().enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            if c.lower.len() == c.x.len() && c.upper.len() == c.x.len() && !c.x.is_empty() {
                let upper = staircase(c.x, c.upper);
                let mut lower = staircase(c.x, c.lower);
                lower.reverse();
                let band: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
                chart.draw_series(std::iter::once(Polygon::new(
                    band,
                    colour.mix(0.15).filled(),
                )))?;
            }
            chart
                .draw_series(segments(staircase(c.x, c.y), colour.stroke_width(2)))?
                .label(c.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
                });
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerLeft, 14)?;
        Ok(())
    })
}

/// Estimates with intervals, one row each, on a log x axis with a line at 1: hazard ratios with
/// their 95 % intervals, largest at the top.
pub fn interval_chart(
    title: &str,
    xlabel: &str,
    names: &[String],
    estimate: &[f64],
    lower: &[f64],
    upper: &[f64],
) -> Result<Png> {
    let mut rows: Vec<usize> = (0..names.len()).collect();
    rows.sort_by(|&a, &b| estimate[b].total_cmp(&estimate[a]).then(a.cmp(&b)));
    let n = rows.len().max(1);
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let lo = rows
        .iter()
        .map(|&r| lower[r])
        .filter(|&v| finite(v))
        .fold(1.0f64, f64::min)
        .max(1e-3);
    let hi = rows
        .iter()
        .map(|&r| upper[r])
        .filter(|&v| finite(v))
        .fold(1.0f64, f64::max)
        .min(1e3);
    let height = (140 + 26 * n as u32).min(2400);
    render(820, height, |root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, caption_font())
            .margin(16)
            .x_label_area_size(45)
            .y_label_area_size(260)
            .build_cartesian_2d((lo / 1.2..hi * 1.2).log_scale(), 0f64..n as f64)?;
        let label = |v: &f64| {
            let k = (n as f64 - v - 0.5).round();
            if (n as f64 - v - 0.5 - k).abs() < 1e-6 && k >= 0.0 {
                rows.get(k as usize)
                    .map_or(String::new(), |&r| names[r].clone())
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(RGBColor(238, 238, 238))
            .y_labels(2 * n + 1)
            .y_label_formatter(&label)
            .x_desc(xlabel)
            .label_style((FAMILY, 13))
            .axis_desc_style((FAMILY, 15))
            .draw()?;
        let grey = RGBColor(120, 120, 120);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            grey.stroke_width(1),
        )))?;
        let blue = PALETTE[0];
        for (k, &r) in rows.iter().enumerate() {
            let y = n as f64 - k as f64 - 0.5;
            let clamp = |v: f64| v.clamp(lo / 1.2, hi * 1.2);
            if finite(lower[r]) && finite(upper[r]) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(clamp(lower[r]), y), (clamp(upper[r]), y)],
                    blue.stroke_width(2),
                )))?;
            }
            if finite(estimate[r]) {
                chart.draw_series(std::iter::once(Circle::new(
                    (clamp(estimate[r]), y),
                    4,
                    blue.filled(),
                )))?;
            }
        }
        Ok(())
    })
}
