//! The charts of a classifier's evaluation: the confusion matrix, the ROC and the
//! precision-recall curves, each drawn from plain numbers (counts, rates).

use super::render::{
    blues, centred, draw_legend, heat_cell, render, segments, thin, unit_chart, Png, FAMILY,
};
use crate::error::Result;
use plotters::prelude::*;

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
