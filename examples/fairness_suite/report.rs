//! The results: one row per figure, printed as a table or as JSON.

use serde_json::{Value, json};

/// A bound on our runtime's value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    AtMost(f64),
    Within { center: f64, tolerance: f64 },
}

impl Target {
    pub(crate) fn met(self, value: f64) -> bool {
        match self {
            Target::AtMost(bound) => value <= bound,
            Target::Within { center, tolerance } => (value - center).abs() <= tolerance,
        }
    }

    fn text(self, decimals: usize) -> String {
        match self {
            Target::AtMost(bound) => format!("<= {bound:.decimals$}"),
            Target::Within { center, tolerance } => {
                format!("{center:.decimals$} +- {tolerance:.decimals$}")
            }
        }
    }

    fn json(self) -> Value {
        match self {
            Target::AtMost(bound) => json!({ "at_most": bound }),
            Target::Within { center, tolerance } => {
                json!({ "center": center, "tolerance": tolerance })
            }
        }
    }
}

/// One figure on both runtimes.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) scenario: String,
    pub(crate) metric: String,
    pub(crate) unit: &'static str,
    pub(crate) decimals: usize,
    pub(crate) ours: Option<f64>,
    pub(crate) tokio: Option<f64>,
    pub(crate) target: Option<Target>,
    /// How the target was derived, for the JSON reader.
    pub(crate) target_note: Option<String>,
}

impl Row {
    pub(crate) fn new(
        scenario: impl Into<String>,
        metric: impl Into<String>,
        unit: &'static str,
        decimals: usize,
    ) -> Row {
        Row {
            scenario: scenario.into(),
            metric: metric.into(),
            unit,
            decimals,
            ours: None,
            tokio: None,
            target: None,
            target_note: None,
        }
    }

    pub(crate) fn ours(mut self, v: f64) -> Row {
        self.ours = Some(v);
        self
    }

    pub(crate) fn tokio(mut self, v: f64) -> Row {
        self.tokio = Some(v);
        self
    }

    pub(crate) fn target(mut self, t: Target, note: impl Into<String>) -> Row {
        self.target = Some(t);
        self.target_note = Some(note.into());
        self
    }

    /// Whether our value meets the target (`None` without a target or a value).
    pub(crate) fn met(&self) -> Option<bool> {
        Some(self.target?.met(self.ours?))
    }

    fn fmt(&self, v: Option<f64>) -> String {
        match v {
            Some(v) if v.is_finite() => format!("{v:.*}", self.decimals),
            Some(v) => format!("{v}"),
            None => "-".to_owned(),
        }
    }

    fn json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "metric": self.metric,
            "unit": self.unit,
            "runtime": self.ours,
            "tokio": self.tokio,
            "target": self.target.map(Target::json),
            "target_rule": self.target_note,
            "met": self.met(),
        })
    }
}

/// The table, as text.
pub(crate) fn table(rows: &[Row]) -> String {
    let header = [
        "scenario", "metric", "unit", "runtime", "tokio", "target", "met",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.scenario.clone(),
                r.metric.clone(),
                r.unit.to_owned(),
                r.fmt(r.ours),
                r.fmt(r.tokio),
                r.target
                    .map_or_else(|| "-".to_owned(), |t| t.text(r.decimals)),
                match r.met() {
                    Some(true) => "yes".to_owned(),
                    Some(false) => "NO".to_owned(),
                    None => "-".to_owned(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: &[String; 7]| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(widths).enumerate() {
            // Text columns to the left, figures to the right.
            if i < 3 {
                s.push_str(&format!("{cell:<w$}  "));
            } else {
                s.push_str(&format!("{cell:>w$}  "));
            }
        }
        s.trim_end().to_owned()
    };
    let mut out = line(&header.map(str::to_owned));
    out.push('\n');
    out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
    out.push('\n');
    let mut last_scenario = "";
    for (r, c) in rows.iter().zip(&cells) {
        let mut c = c.clone();
        // The scenario name only on its first row.
        if r.scenario == last_scenario {
            c[0].clear();
        }
        last_scenario = &r.scenario;
        out.push_str(&line(&c));
        out.push('\n');
    }
    out
}

/// The rows as a JSON array.
pub(crate) fn json_rows(rows: &[Row]) -> Value {
    Value::Array(rows.iter().map(Row::json).collect())
}
