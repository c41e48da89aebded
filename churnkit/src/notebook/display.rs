//! evcxr's display protocol: `EVCXR_BEGIN_CONTENT <mime>` ... `EVCXR_END_CONTENT` on stdout.
//! evcxr shows only the last block of each MIME type per cell, so several tables and charts in
//! one cell are composed into a single HTML block ([`Report`]).

use crate::plots::Png;
use polars::prelude::*;
use std::fmt::Write as _;

pub use churnkit_core::charts::html::{base64, escape};

/// One evcxr output block.
pub fn content_block(mime: &str, body: &str) -> String {
    format!("EVCXR_BEGIN_CONTENT {mime}\n{body}\nEVCXR_END_CONTENT\n")
}

/// Anything a notebook cell can show. evcxr calls `evcxr_display` on a cell's last value
/// when this trait is in scope (`use churnkit::notebook::*;`).
pub trait Display {
    /// The output blocks (MIME type, body), best first.
    fn blocks(&self) -> Vec<(&'static str, String)>;

    /// Print the blocks in evcxr's protocol.
    fn evcxr_display(&self) {
        let mut out = String::new();
        for (mime, body) in self.blocks() {
            out.push_str(&content_block(mime, &body));
        }
        print!("{out}");
    }

    /// The HTML of this item, for composing into a [`Report`].
    fn html(&self) -> String {
        let blocks = self.blocks();
        if let Some((_, h)) = blocks.iter().find(|(m, _)| *m == "text/html") {
            return h.clone();
        }
        if let Some((_, b)) = blocks.iter().find(|(m, _)| *m == "image/png") {
            return format!("<img src=\"data:image/png;base64,{b}\"/>");
        }
        blocks
            .iter()
            .find(|(m, _)| *m == "text/plain")
            .map(|(_, t)| format!("<pre>{}</pre>", escape(t)))
            .unwrap_or_default()
    }
}

/// Rows shown of a long frame: the first and last `TABLE_EDGE` rows.
pub const TABLE_EDGE: usize = 10;

fn cell(v: &AnyValue) -> String {
    match v {
        AnyValue::Null => "null".into(),
        AnyValue::String(s) => (*s).to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float64(f) => fmt_float(*f),
        AnyValue::Float32(f) => fmt_float(f64::from(*f)),
        AnyValue::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Floats as people read them: integers without decimals, others with 4.
pub fn fmt_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else if f.abs() >= 1e-3 || f == 0.0 {
        format!("{f:.4}")
    } else {
        format!("{f:.3e}")
    }
}

/// A DataFrame as an HTML table: shape, dtypes under the names, head and tail when long.
pub fn frame_html(df: &DataFrame) -> String {
    let (n, m) = df.shape();
    let mut h = String::from("<div class=\"churnkit-frame\">");
    let _ = write!(
        h,
        "<p style=\"margin:0 0 4px 0;color:#555\">shape: ({n}, {m})</p>"
    );
    h.push_str("<table style=\"border-collapse:collapse;font-size:12px\"><thead><tr>");
    for c in df.columns() {
        let _ = write!(
            h,
            "<th style=\"text-align:right;padding:2px 8px;border-bottom:1px solid #999\">{}<br/><span style=\"font-weight:normal;color:#888\">{}</span></th>",
            escape(c.name()),
            escape(&c.dtype().to_string())
        );
    }
    h.push_str("</tr></thead><tbody>");
    let rows: Vec<Option<usize>> = if n > 2 * TABLE_EDGE {
        (0..TABLE_EDGE)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - TABLE_EDGE..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    };
    for r in rows {
        h.push_str("<tr>");
        for c in df.columns() {
            let text = match r {
                Some(i) => c.get(i).map(|v| cell(&v)).unwrap_or_default(),
                None => "…".into(),
            };
            let _ = write!(
                h,
                "<td style=\"text-align:right;padding:2px 8px\">{}</td>",
                escape(&text)
            );
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    h
}

impl Display for DataFrame {
    fn blocks(&self) -> Vec<(&'static str, String)> {
        vec![
            ("text/html", frame_html(self)),
            ("text/plain", format!("{self}")),
        ]
    }
}

impl Display for Png {
    fn blocks(&self) -> Vec<(&'static str, String)> {
        vec![("image/png", base64(&self.bytes))]
    }
    fn html(&self) -> String {
        format!(
            "<img src=\"data:image/png;base64,{}\" width=\"{}\"/>",
            base64(&self.bytes),
            self.width
        )
    }
}

/// HTML to show as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Html(pub String);

impl Display for Html {
    fn blocks(&self) -> Vec<(&'static str, String)> {
        vec![("text/html", self.0.clone())]
    }
}

/// Several tables, charts and notes shown together in one cell, in a grid.
///
/// ```
/// use churnkit::notebook::{Display, Html, Report};
/// let r = Report::new("Two things").item(Html("<b>a</b>".into())).item(Html("<i>b</i>".into()));
/// let blocks = r.blocks();
/// assert_eq!(blocks.len(), 1);
/// assert!(blocks[0].1.contains("<b>a</b>") && blocks[0].1.contains("<i>b</i>"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Report {
    title: String,
    columns: usize,
    items: Vec<String>,
}

impl Report {
    /// An empty report with a title; two columns.
    pub fn new(title: &str) -> Self {
        Report {
            title: title.to_string(),
            columns: 2,
            items: Vec::new(),
        }
    }

    /// Number of grid columns.
    pub fn columns(mut self, n: usize) -> Self {
        self.columns = n.max(1);
        self
    }

    /// Add anything displayable.
    pub fn item(mut self, item: impl Display) -> Self {
        self.items.push(item.html());
        self
    }

    /// Add a paragraph of text (escaped).
    pub fn text(mut self, text: &str) -> Self {
        self.items.push(format!("<p>{}</p>", escape(text)));
        self
    }
}

impl Display for Report {
    fn blocks(&self) -> Vec<(&'static str, String)> {
        let mut h = String::new();
        if !self.title.is_empty() {
            let _ = write!(h, "<h3 style=\"margin:4px 0\">{}</h3>", escape(&self.title));
        }
        let _ = write!(
            h,
            "<div style=\"display:grid;grid-template-columns:repeat({}, minmax(0, 1fr));gap:12px;align-items:start\">",
            self.columns
        );
        for it in &self.items {
            let _ = write!(h, "<div style=\"overflow:auto\">{it}</div>");
        }
        h.push_str("</div>");
        vec![("text/html", h)]
    }
}

impl<T: Display, E: std::fmt::Display> Display for Result<T, E> {
    fn blocks(&self) -> Vec<(&'static str, String)> {
        match self {
            Ok(v) => v.blocks(),
            Err(e) => vec![("text/plain", format!("error: {e}"))],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn tables_are_escaped_and_long_frames_cut() {
        let df = DataFrame::new(
            30,
            vec![
                Column::new(
                    "name<&>".into(),
                    (0..30).map(|i| format!("<b>{i}</b>")).collect::<Vec<_>>(),
                ),
                Column::new(
                    "x".into(),
                    (0..30).map(|i| i as f64 / 3.0).collect::<Vec<_>>(),
                ),
            ],
        )
        .unwrap();
        let h = frame_html(&df);
        assert!(h.contains("shape: (30, 2)"));
        assert!(h.contains("name&lt;&amp;&gt;") && h.contains("&lt;b&gt;0&lt;/b&gt;"));
        assert!(!h.contains("<b>0</b>"));
        assert!(
            h.contains("…")
                && h.contains("&lt;b&gt;29&lt;/b&gt;")
                && !h.contains("&lt;b&gt;15&lt;/b&gt;")
        );
        assert!(h.contains("f64") && h.contains("0.3333"));
        let blocks = df.blocks();
        assert_eq!(blocks[0].0, "text/html");
        assert_eq!(blocks[1].0, "text/plain");
    }

    #[test]
    fn protocol_blocks_and_png_base64() {
        let png = Png {
            width: 2,
            height: 1,
            bytes: vec![0x89, b'P', b'N', b'G'],
        };
        let b = png.blocks();
        assert_eq!(b, vec![("image/png", "iVBORw==".to_string())]);
        assert_eq!(
            content_block("image/png", "iVBORw=="),
            "EVCXR_BEGIN_CONTENT image/png\niVBORw==\nEVCXR_END_CONTENT\n"
        );
        let r = Report::new("t")
            .item(png.clone())
            .item(Html("<p>x</p>".into()));
        let h = &r.blocks()[0].1;
        assert!(h.contains("data:image/png;base64,iVBORw==") && h.contains("<p>x</p>"));
    }
}
