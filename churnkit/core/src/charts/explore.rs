//! A small chart builder for any columns of a table: histogram, scatter, bar and line, coloured
//! (grouped) by any column, with a title and axis labels. Built on [`crate::charts::render`]' renderer
//! (plotters, the bundled font), so it draws the same in a notebook and in a slim container.
//!
//! Axis ranges resist outliers: a histogram spans the middle 99% of the values and puts the rest
//! in labelled overflow bins at the ends instead of stretching the axis; counts get integer
//! ticks. Missing cells (blank or a missing marker) are left out and counted in the subtitle.
//!
//! ```
//! use churnkit_core::chart::Chart;
//! use churnkit_core::table::Table;
//! let (csv, _) = churnkit_core::generate::generate_rows(300, 1);
//! let t = Table::from_csv_bytes(csv, "g.csv")?;
//! let png = Chart::histogram("Age").color_by("Churn").title("Age by churn").draw(&t)?;
//! assert_eq!(&png.bytes[1..4], b"PNG");
//! let png = Chart::bar("Contract").y("MonthlyCharges").color_by("Churn").draw(&t)?; // means
//! let png = Chart::scatter("Tenure", "TotalCharges").draw(&t)?;
//! let png = Chart::line("Tenure", "MonthlyCharges").x_label("months").draw(&t)?;      // means per x
//! # Ok::<(), churnkit_core::Error>(())
//! ```

use crate::bail;
use crate::charts::render::{draw_legend, render, Png, FAMILY, PALETTE};
use crate::data::schema::DEFAULT_NA_VALUES;
use crate::data::table::Table;
use crate::error::Result;
use plotters::prelude::*;
use std::collections::BTreeMap;

/// More groups than this are drawn as the largest ones plus "other".
const MAX_GROUPS: usize = 8;

/// What kind of chart.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Counts of a numeric column in bins.
    Histogram,
    /// One point per row of two numeric columns.
    Scatter,
    /// Per category of a column: the row count, or the mean of a numeric `y`.
    Bar,
    /// Mean of a numeric `y` per value of a numeric `x`, joined in `x` order.
    Line,
}

/// A chart of some columns, drawn by [`Chart::draw`].
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    kind: Kind,
    x: String,
    y: Option<String>,
    color_by: Option<String>,
    title: Option<String>,
    x_label: Option<String>,
    y_label: Option<String>,
    bins: usize,
    size: (u32, u32),
}

impl Chart {
    fn new(kind: Kind, x: &str, y: Option<&str>) -> Chart {
        Chart {
            kind,
            x: x.to_string(),
            y: y.map(String::from),
            color_by: None,
            title: None,
            x_label: None,
            y_label: None,
            bins: 30,
            size: (720, 440),
        }
    }

    /// A histogram of numeric column `x`.
    pub fn histogram(x: &str) -> Chart {
        Chart::new(Kind::Histogram, x, None)
    }

    /// A scatter of numeric `y` against numeric `x`.
    pub fn scatter(x: &str, y: &str) -> Chart {
        Chart::new(Kind::Scatter, x, Some(y))
    }

    /// Bars per category of `x`: row counts, or with [`Chart::y`] the mean of `y`.
    pub fn bar(x: &str) -> Chart {
        Chart::new(Kind::Bar, x, None)
    }

    /// A line of the mean of `y` per value of numeric `x`.
    pub fn line(x: &str, y: &str) -> Chart {
        Chart::new(Kind::Line, x, Some(y))
    }

    /// The numeric column a bar chart averages.
    pub fn y(mut self, y: &str) -> Chart {
        self.y = Some(y.to_string());
        self
    }

    /// One colour (and legend entry) per value of `column`.
    pub fn color_by(mut self, column: &str) -> Chart {
        self.color_by = Some(column.to_string());
        self
    }

    /// The title (default: what is drawn).
    pub fn title(mut self, t: &str) -> Chart {
        self.title = Some(t.to_string());
        self
    }

    /// The x axis label (default: the column).
    pub fn x_label(mut self, l: &str) -> Chart {
        self.x_label = Some(l.to_string());
        self
    }

    /// The y axis label (default: the column, or "Customers" for counts).
    pub fn y_label(mut self, l: &str) -> Chart {
        self.y_label = Some(l.to_string());
        self
    }

    /// Histogram bins inside the range shown (default 30).
    pub fn bins(mut self, n: usize) -> Chart {
        self.bins = n.max(1);
        self
    }

    /// Image size in pixels (default 720 x 440).
    pub fn size(mut self, width: u32, height: u32) -> Chart {
        self.size = (width.max(200), height.max(150));
        self
    }

    /// Draw from a DataFrame's rows (any column types; see [`Table::from_frame`]).
    pub fn draw_frame(&self, df: &polars::prelude::DataFrame) -> Result<Png> {
        self.draw(&Table::from_frame(df)?)
    }

    /// Draw from `table`'s rows.
    pub fn draw(&self, table: &Table) -> Result<Png> {
        let data = Columns::read(self, table)?;
        match self.kind {
            Kind::Histogram => self.histogram_png(&data),
            Kind::Scatter => self.xy_png(&data, false),
            Kind::Line => self.xy_png(&data, true),
            Kind::Bar => self.bar_png(&data),
        }
    }

    fn default_title(&self) -> String {
        let what = match (self.kind, &self.y) {
            (Kind::Histogram, _) => self.x.clone(),
            (Kind::Bar, None) => format!("Customers by {}", self.x),
            (Kind::Bar, Some(y)) => format!("Mean {y} by {}", self.x),
            (Kind::Scatter, Some(y)) => format!("{y} against {}", self.x),
            (Kind::Line, Some(y)) => format!("Mean {y} by {}", self.x),
            (_, None) => self.x.clone(),
        };
        match &self.color_by {
            Some(c) => format!("{what}, by {c}"),
            None => what,
        }
    }
}

/// The cells a chart needs, row by row, with missing markers as missing.
struct Columns {
    x_text: Vec<Option<String>>,
    x: Vec<Option<f64>>,
    y: Vec<Option<f64>>,
    /// Group index per row (0 when not grouped); `None` for a missing group value.
    group: Vec<Option<usize>>,
    groups: Vec<String>,
}

fn is_na(s: &str) -> bool {
    DEFAULT_NA_VALUES.contains(&s)
}

fn numbers(table: &Table, name: &str) -> Result<Vec<Option<f64>>> {
    table
        .column(name)?
        .iter()
        .enumerate()
        .map(|(i, c)| match c {
            Some(s) if !is_na(s) => table.parse_number(name, i, s).map(Some),
            _ => Ok(None),
        })
        .collect()
}

impl Columns {
    fn read(chart: &Chart, table: &Table) -> Result<Columns> {
        let text = |name: &str| -> Result<Vec<Option<String>>> {
            Ok(table
                .column(name)?
                .iter()
                .map(|c| c.filter(|s| !is_na(s)).map(String::from))
                .collect())
        };
        let x_text = text(&chart.x)?;
        let x = match chart.kind {
            Kind::Bar => vec![None; table.n_rows()],
            _ => numbers(table, &chart.x)?,
        };
        let y = match (&chart.y, chart.kind) {
            (Some(y), _) => numbers(table, y)?,
            (None, Kind::Scatter | Kind::Line) => {
                bail!(params, "a scatter or line chart needs a y column")
            }
            (None, _) => vec![None; table.n_rows()],
        };
        let (group, groups) = match &chart.color_by {
            None => (vec![Some(0); table.n_rows()], vec![String::new()]),
            Some(c) => {
                let cells = text(c)?;
                let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
                for v in cells.iter().flatten() {
                    *counts.entry(v).or_default() += 1;
                }
                let mut by_size: Vec<(&str, usize)> = counts.into_iter().collect();
                by_size.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                let (mut names, other): (Vec<String>, bool) = if by_size.len() > MAX_GROUPS {
                    (
                        by_size[..MAX_GROUPS - 1]
                            .iter()
                            .map(|(k, _)| k.to_string())
                            .collect(),
                        true,
                    )
                } else {
                    (by_size.iter().map(|(k, _)| k.to_string()).collect(), false)
                };
                // Shown in sorted order (No before Yes, 0 before 1), "other" last.
                names.sort();
                if other {
                    names.push("other".into());
                }
                let index = |v: &str| {
                    names
                        .iter()
                        .position(|n| n == v)
                        .or(other.then_some(names.len() - 1))
                };
                (
                    cells.iter().map(|v| v.as_deref().and_then(index)).collect(),
                    names,
                )
            }
        };
        Ok(Columns {
            x_text,
            x,
            y,
            group,
            groups,
        })
    }

    fn legend(&self) -> bool {
        self.groups.len() > 1 || !self.groups[0].is_empty()
    }
}

/// Integer tick labels for a count axis.
fn count_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// A count axis top that is a whole number with room for labels above the bars.
fn count_top(max: usize) -> f64 {
    ((max as f64 * 1.12).ceil()).max(1.0)
}

fn axis_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        0.0..1.0
    } else if hi > lo {
        let pad = (hi - lo) * 0.03;
        (lo - pad)..(hi + pad)
    } else {
        (lo - 0.5)..(hi + 0.5)
    }
}

impl Chart {
    fn caption(&self, left_out: usize) -> String {
        let t = self.title.clone().unwrap_or_else(|| self.default_title());
        if left_out > 0 {
            format!("{t} ({left_out} missing left out)")
        } else {
            t
        }
    }

    fn histogram_png(&self, d: &Columns) -> Result<Png> {
        let mut present: Vec<f64> =
            d.x.iter()
                .zip(&d.group)
                .filter_map(|(x, g)| g.and(*x))
                .collect();
        present.sort_by(f64::total_cmp);
        let left_out = d.x.len() - present.len();
        let (lo, hi) = robust_range(&present);
        let bins = self.bins;
        let w = (hi - lo) / bins as f64;
        // Bin 0 is the underflow bin, bins+1 the overflow bin; each is one bin wide on the chart.
        let k = d.groups.len();
        let mut counts = vec![vec![0usize; bins + 2]; k];
        for (x, g) in d.x.iter().zip(&d.group) {
            if let (Some(x), Some(g)) = (x, g) {
                let b = if *x < lo {
                    0
                } else if *x > hi {
                    bins + 1
                } else {
                    1 + (((x - lo) / w) as usize).min(bins - 1)
                };
                counts[*g][b] += 1;
            }
        }
        let under: usize = counts.iter().map(|c| c[0]).sum();
        let over: usize = counts.iter().map(|c| c[bins + 1]).sum();
        let max = counts.iter().flatten().copied().max().unwrap_or(1);
        // Room for an overflow bin, a gap, and its label.
        let x0 = if under > 0 { lo - 2.5 * w } else { lo };
        let x1 = if over > 0 { hi + 2.5 * w } else { hi };
        let caption = self.caption(left_out);
        let x_label = self.x_label.clone().unwrap_or_else(|| self.x.clone());
        let y_label = self
            .y_label
            .clone()
            .unwrap_or_else(|| "Customers".to_string());
        render(self.size.0, self.size.1, |root| {
            let mut chart = ChartBuilder::on(&root)
                .caption(&caption, (FAMILY, 20))
                .margin(16)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, 0f64..count_top(max))?;
            chart
                .configure_mesh()
                .light_line_style(RGBColor(238, 238, 238))
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .y_label_formatter(&count_label)
                .x_label_formatter(&tick)
                .max_light_lines(2)
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 15))
                .draw()?;
            for (g, name) in d.groups.iter().enumerate() {
                let colour = PALETTE[g % PALETTE.len()];
                let alpha = if k > 1 { 0.45 } else { 0.75 };
                let bars = (1..=bins).map(|b| {
                    let a = lo + (b - 1) as f64 * w;
                    Rectangle::new(
                        [(a, 0.0), (a + w, counts[g][b] as f64)],
                        colour.mix(alpha).filled(),
                    )
                });
                let s = chart.draw_series(bars)?;
                if d.legend() {
                    s.label(name.clone()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.mix(0.6).filled())
                    });
                }
                // Overflow bins: hatched-looking (outlined) bars beyond the range, labelled.
                // Overflow bins: one bin wide, a gap away from the range, lighter.
                for (b, a) in [(0, lo - 1.5 * w), (bins + 1, hi + 0.5 * w)] {
                    if counts[g][b] > 0 {
                        chart.draw_series(std::iter::once(Rectangle::new(
                            [(a, 0.0), (a + w, counts[g][b] as f64)],
                            colour.mix(alpha * 0.6).filled(),
                        )))?;
                    }
                }
            }
            let grey = BLACK.mix(0.75);
            // Each overflow bin is labelled above its bar with its bound and count.
            let above = plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Bottom,
            );
            let style = TextStyle::from((FAMILY, 13).into_font())
                .color(&grey)
                .pos(above);
            let height = |b: usize| counts.iter().map(|c| c[b]).max().unwrap_or(0) as f64;
            for (n, b, x, text) in [
                (under, 0, lo - w, format!("< {}: {under}", short(lo))),
                (over, bins + 1, hi + w, format!("> {}: {over}", short(hi))),
            ] {
                if n > 0 {
                    chart.draw_series(std::iter::once(Text::new(
                        text,
                        (x, height(b) + max as f64 * 0.02),
                        style.clone(),
                    )))?;
                }
            }
            if d.legend() {
                draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
            }
            Ok(())
        })
    }

    fn xy_png(&self, d: &Columns, line: bool) -> Result<Png> {
        let k = d.groups.len();
        let mut series: Vec<Vec<(f64, f64)>> = vec![Vec::new(); k];
        let mut left_out = 0;
        for ((x, y), g) in d.x.iter().zip(&d.y).zip(&d.group) {
            match (x, y, g) {
                (Some(x), Some(y), Some(g)) => series[*g].push((*x, *y)),
                _ => left_out += 1,
            }
        }
        if line {
            // The mean of y per x, in x order.
            for s in &mut series {
                s.sort_by(|a, b| a.0.total_cmp(&b.0));
                *s = s
                    .chunk_by(|a, b| a.0 == b.0)
                    .map(|g| (g[0].0, g.iter().map(|p| p.1).sum::<f64>() / g.len() as f64))
                    .collect();
            }
        }
        // Scatter axes resist outliers too (a line shows every mean).
        let robust = |vals: Vec<f64>| {
            let mut v = vals;
            v.sort_by(f64::total_cmp);
            if line {
                axis_range(v.iter().copied())
            } else {
                let (a, b) = robust_range(&v);
                axis_range([a, b].into_iter())
            }
        };
        let xr = robust(series.iter().flatten().map(|p| p.0).collect());
        let yr = robust(series.iter().flatten().map(|p| p.1).collect());
        let outside = series
            .iter()
            .flatten()
            .filter(|(x, y)| !xr.contains(x) || !yr.contains(y))
            .count();
        let mut caption = self.caption(left_out);
        if outside > 0 {
            caption.push_str(&format!(" ({outside} beyond the axes)"));
        }
        let x_label = self.x_label.clone().unwrap_or_else(|| self.x.clone());
        let y_label = self
            .y_label
            .clone()
            .unwrap_or_else(|| self.y.clone().unwrap_or_default());
        render(self.size.0, self.size.1, |root| {
            let mut chart = ChartBuilder::on(&root)
                .caption(&caption, (FAMILY, 20))
                .margin(16)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d(xr.clone(), yr.clone())?;
            chart
                .configure_mesh()
                .light_line_style(RGBColor(238, 238, 238))
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .x_label_formatter(&tick)
                .y_label_formatter(&tick)
                .max_light_lines(2)
                .label_style((FAMILY, 14))
                .axis_desc_style((FAMILY, 15))
                .draw()?;
            for (g, name) in d.groups.iter().enumerate() {
                let colour = PALETTE[g % PALETTE.len()];
                let inside: Vec<(f64, f64)> = series[g]
                    .iter()
                    .copied()
                    .filter(|(x, y)| xr.contains(x) && yr.contains(y))
                    .collect();
                let s = if line {
                    chart.draw_series(LineSeries::new(inside, colour.stroke_width(2)))?
                } else {
                    chart.draw_series(
                        inside
                            .into_iter()
                            .map(|p| Circle::new(p, 3, colour.mix(0.5).filled())),
                    )?
                };
                if d.legend() {
                    s.label(name.clone())
                        .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
                }
            }
            if d.legend() {
                draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
            }
            Ok(())
        })
    }

    fn bar_png(&self, d: &Columns) -> Result<Png> {
        // Categories in sorted order; per category and group: (sum of y or count, rows).
        let mut cats: BTreeMap<&str, Vec<(f64, usize)>> = BTreeMap::new();
        let k = d.groups.len();
        let mut left_out = 0;
        // Means resist outliers as the axes do: values beyond 3 IQR of the quartiles (an age
        // of 999) are left out of them, and counted in the title.
        let mut ys: Vec<f64> = d.y.iter().flatten().copied().collect();
        ys.sort_by(f64::total_cmp);
        let (ylo, yhi) = robust_range(&ys);
        let mut outliers = 0;
        for ((x, y), g) in d.x_text.iter().zip(&d.y).zip(&d.group) {
            let (Some(x), Some(g)) = (x, g) else {
                left_out += 1;
                continue;
            };
            let cell = &mut cats.entry(x.as_str()).or_insert_with(|| vec![(0.0, 0); k])[*g];
            match (&self.y, y) {
                (None, _) => {
                    cell.0 += 1.0;
                    cell.1 += 1;
                }
                (Some(_), Some(y)) if (ylo..=yhi).contains(y) => {
                    cell.0 += y;
                    cell.1 += 1;
                }
                (Some(_), Some(_)) => outliers += 1,
                (Some(_), None) => left_out += 1,
            }
        }
        if cats.len() > 40 {
            bail!(
                params,
                "'{}' has {} categories: a bar chart shows at most 40 (try a histogram)",
                self.x,
                cats.len()
            );
        }
        let means = self.y.is_some();
        let value = |(s, n): (f64, usize)| if means { s / n.max(1) as f64 } else { s };
        let labels: Vec<String> = cats.keys().map(|s| s.to_string()).collect();
        let values: Vec<Vec<f64>> = cats
            .values()
            .map(|v| v.iter().map(|&c| value(c)).collect())
            .collect();
        let max = values.iter().flatten().copied().fold(0.0, f64::max);
        let min = values.iter().flatten().copied().fold(0.0, f64::min);
        let top = if means {
            if max > 0.0 {
                max * 1.12
            } else {
                1.0
            }
        } else {
            count_top(max as usize)
        };
        let bottom = if min < 0.0 { min * 1.12 } else { 0.0 };
        let mut caption = self.caption(left_out);
        if outliers > 0 {
            caption.push_str(&format!(" ({outliers} outliers left out)"));
        }
        let x_label = self.x_label.clone().unwrap_or_else(|| self.x.clone());
        let y_label = self.y_label.clone().unwrap_or_else(|| match &self.y {
            Some(y) => format!("Mean {y}"),
            None => "Customers".to_string(),
        });
        let n = labels.len().max(1) as i32;
        render(self.size.0, self.size.1, |root| {
            let mut chart = ChartBuilder::on(&root)
                .caption(&caption, (FAMILY, 20))
                .margin(16)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d((0..n - 1).into_segmented(), bottom..top)?;
            let x_labels = |v: &SegmentValue<i32>| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            };
            let mut mesh = chart.configure_mesh();
            mesh.disable_x_mesh()
                .x_label_formatter(&x_labels)
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .label_style((FAMILY, 13))
                .axis_desc_style((FAMILY, 15));
            if means {
                mesh.y_label_formatter(&tick);
            } else {
                mesh.y_label_formatter(&count_label);
            }
            mesh.draw()?;
            // Side by side within a category: each group gets an equal slice of the bar.
            let slice = 0.8 / k as f64;
            for g in 0..k {
                let colour = PALETTE[g % PALETTE.len()];
                // A category's band is about the plot width over the categories, in pixels.
                let band = (self.size.0 as f64 - 100.0) / n as f64;
                let bars = values.iter().enumerate().map(|(i, v)| {
                    let left = 0.1 + g as f64 * slice;
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i as i32), 0.0),
                            (SegmentValue::Exact(i as i32 + 1), v[g]),
                        ],
                        colour.mix(0.8).filled(),
                    );
                    r.set_margin(
                        0,
                        0,
                        (left * band) as u32,
                        ((1.0 - left - slice) * band) as u32,
                    );
                    r
                });
                let s = chart.draw_series(bars)?;
                if d.legend() {
                    s.label(d.groups[g].clone()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.mix(0.8).filled())
                    });
                }
            }
            if d.legend() {
                draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 14)?;
            }
            Ok(())
        })
    }
}

/// The range an axis shows of sorted values: the observed range, cut at 3 IQR beyond the
/// quartiles (values beyond are outliers: a histogram's overflow bins, beyond a scatter's
/// axes). A few impossible values (an age of 999) no longer squash the rest into two bars,
/// and a skewed but real tail (charges) stays on the axis.
fn robust_range(sorted: &[f64]) -> (f64, f64) {
    let q = |p: f64| crate::stats::quantile(sorted, p);
    let (Some(min), Some(max), Some(q1), Some(q3)) = (q(0.0), q(1.0), q(0.25), q(0.75)) else {
        return (0.0, 1.0);
    };
    let iqr = q3 - q1;
    let (lo, hi) = if iqr > 0.0 {
        // The values nearest the fences, inside them: the axis ends where the data does.
        let (fl, fh) = (q1 - 3.0 * iqr, q3 + 3.0 * iqr);
        let lo = sorted.iter().copied().find(|v| *v >= fl).unwrap_or(min);
        let hi = sorted
            .iter()
            .rev()
            .copied()
            .find(|v| *v <= fh)
            .unwrap_or(max);
        (lo, hi)
    } else {
        (min, max)
    };
    if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

/// A tick label without float noise: `20`, `0.3`, `1250.5`.
fn tick(v: &f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A bound for a label: few digits.
fn short(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let (csv, _) = crate::data::generate::generate_rows(500, 3);
        Table::from_csv_bytes(csv, "g.csv").unwrap()
    }

    /// Decode a PNG to RGB rows.
    fn pixels(png: &Png) -> Vec<u8> {
        let dec = png::Decoder::new(std::io::Cursor::new(png.bytes.clone()));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        r.next_frame(&mut buf).unwrap();
        buf
    }

    fn has_colour(px: &[u8], c: RGBColor, tolerance: i32) -> usize {
        px.chunks_exact(3)
            .filter(|p| {
                (p[0] as i32 - c.0 as i32).abs() <= tolerance
                    && (p[1] as i32 - c.1 as i32).abs() <= tolerance
                    && (p[2] as i32 - c.2 as i32).abs() <= tolerance
            })
            .count()
    }

    #[test]
    fn every_kind_draws_and_groups_get_their_colours() {
        let t = table();
        for c in [
            Chart::histogram("Age").color_by("Churn"),
            Chart::scatter("Tenure", "TotalCharges").color_by("Contract"),
            Chart::bar("PaymentMethod").color_by("Churn"),
            Chart::bar("Contract").y("MonthlyCharges"),
            Chart::line("Tenure", "MonthlyCharges").color_by("Churn"),
        ] {
            let png = c.clone().size(500, 300).draw(&t).unwrap();
            assert_eq!((png.width, png.height), (500, 300), "{c:?}");
            let px = pixels(&png);
            // The first group's colour is on the chart (blended over white at most 55%).
            let blue = PALETTE[0];
            let faded = RGBColor(
                (blue.0 as f64 * 0.45 + 255.0 * 0.55) as u8,
                (blue.1 as f64 * 0.45 + 255.0 * 0.55) as u8,
                (blue.2 as f64 * 0.45 + 255.0 * 0.55) as u8,
            );
            assert!(
                has_colour(&px, blue, 60) + has_colour(&px, faded, 40) > 50,
                "{c:?} shows no first-group colour"
            );
        }
    }

    #[test]
    fn outliers_go_to_labelled_overflow_bins_not_the_axis() {
        // 200 ages 20-70 and one of 999: the axis stays near the ages.
        let mut text = String::from("Age,Churn\n");
        for i in 0..200 {
            text.push_str(&format!("{},{}\n", 20 + i % 50, i % 2));
        }
        text.push_str("999,1\n");
        let t = Table::from_csv_bytes(text.into_bytes(), "a.csv").unwrap();
        let c = Chart::histogram("Age").bins(10);
        let d = Columns::read(&c, &t).unwrap();
        let mut v: Vec<f64> = d.x.iter().flatten().copied().collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(robust_range(&v), (20.0, 69.0));
        // Three impossible values in 100 (the sample's share) still stay off the axis.
        let mut w: Vec<f64> = (0..97).map(|i| 20.0 + (i % 50) as f64).collect();
        w.extend([150.0, 199.0, 999.0]);
        w.sort_by(f64::total_cmp);
        assert!(robust_range(&w).1 < 150.0, "{:?}", robust_range(&w));
        // A real skewed tail stays: exponential-like charges.
        let mut e: Vec<f64> = (1..=1000)
            .map(|i| -(1.0 - i as f64 / 1001.0).ln() * 1000.0)
            .collect();
        e.sort_by(f64::total_cmp);
        let (_, top) = robust_range(&e);
        assert!(e.iter().filter(|x| **x > top).count() < 15, "top {top}");
        c.draw(&t).unwrap();
    }

    #[test]
    fn bar_means_leave_outliers_out() {
        let mut text = String::from("Plan,Age\n");
        for i in 0..60 {
            text.push_str(&format!("{},{}\n", ["a", "b"][i % 2], 40 + i % 3));
        }
        text.push_str("a,999\n");
        let t = Table::from_csv_bytes(text.into_bytes(), "p.csv").unwrap();
        let c = Chart::bar("Plan").y("Age");
        let d = Columns::read(&c, &t).unwrap();
        let mut ys: Vec<f64> = d.y.iter().flatten().copied().collect();
        ys.sort_by(f64::total_cmp);
        assert_eq!(robust_range(&ys), (40.0, 42.0));
        c.draw(&t).unwrap();
    }

    #[test]
    fn bad_requests_are_errors() {
        let t = table();
        assert!(Chart::histogram("Nope").draw(&t).is_err());
        let e = Chart::histogram("Contract").draw(&t).unwrap_err();
        assert!(e.to_string().contains("is not a number"), "{e}");
        let e = Chart::bar("CustomerID").draw(&t).unwrap_err();
        assert!(e.to_string().contains("at most 40"), "{e}");
        assert_eq!(count_label(&3.0), "3");
        assert_eq!(count_label(&2.5), "");
        assert_eq!(
            [
                tick(&20.0),
                tick(&0.30000000000000004),
                tick(&-0.0),
                tick(&1250.5)
            ],
            ["20", "0.3", "0", "1250.5"]
        );
    }
}
