//! A table of the report: its rows (a contender's time, allocations and instructions), the
//! ratios to its baselines, and how it prints as Markdown.

use std::fmt::Write as _;

use crate::contender::Contender;

pub(crate) fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e4 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

pub(crate) fn fmt_allocs(a: f64) -> String {
    if a == 0.0 {
        "0".to_owned()
    } else {
        format!("{a:.2}")
    }
}

/// One row of a table: for the retry path, `ns` is per retry and `call_ns` per call.
pub(crate) struct Row {
    pub(crate) c: Contender,
    pub(crate) ns: f64,
    pub(crate) call_ns: f64,
    pub(crate) allocs: f64,
    pub(crate) instructions: Option<f64>,
}

pub(crate) struct Table(pub(crate) Vec<Row>);

/// A column of a table: its header and how a row fills it.
type Column = (&'static str, fn(&Row) -> String);

impl Table {
    pub(crate) fn get(&self, id: &str) -> Option<&Row> {
        self.0.iter().find(|r| r.c.id == id)
    }

    pub(crate) fn ratio(&self, num: &str, den: &str) -> Option<f64> {
        Some(self.get(num)?.ns / self.get(den)?.ns)
    }

    /// Prints the table: `columns` are the extra leading columns, then the ratios to each of
    /// `baselines`, the allocations and, if measured, the instructions.
    pub(crate) fn print(&self, columns: &[Column], baselines: &[&str]) {
        let mut header = "| contender |".to_owned();
        let mut rule = "|---|".to_owned();
        for (name, _) in columns {
            write!(header, " {name} |").expect("a String");
            rule += "--:|";
        }
        for b in baselines {
            let label = self.get(b).map_or(*b, |r| r.c.label);
            write!(header, " ÷ {label} |").expect("a String");
            rule += "--:|";
        }
        header += " allocs per call |";
        rule += "--:|";
        let instructions = self.0.iter().any(|r| r.instructions.is_some());
        if instructions {
            header += " instructions |";
            rule += "--:|";
        }
        println!("{header}\n{rule}");
        for r in &self.0 {
            let mut line = format!("| {} |", r.c.label);
            for (_, cell) in columns {
                write!(line, " {} |", cell(r)).expect("a String");
            }
            for b in baselines {
                match self.get(b) {
                    Some(base) => write!(line, " {:.2} |", r.ns / base.ns),
                    None => write!(line, " – |"),
                }
                .expect("a String");
            }
            write!(line, " {} |", fmt_allocs(r.allocs)).expect("a String");
            if instructions {
                let i = r.instructions.map_or("–".to_owned(), |i| format!("{i:.0}"));
                write!(line, " {i} |").expect("a String");
            }
            println!("{line}");
        }
        println!();
    }
}
