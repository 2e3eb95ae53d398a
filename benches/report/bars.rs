//! The bars: the targets stamina is held to, each with what was measured and whether it is met.

use crate::table::{Table, fmt_allocs};

#[derive(Default)]
pub(crate) struct Bars(Vec<(String, String, bool)>);

impl Bars {
    pub(crate) fn push(&mut self, what: String, measured: String, met: bool) {
        self.0.push((what, measured, met));
    }

    /// `num ÷ den ≤ max` in one table.
    pub(crate) fn ratio(&mut self, what: &str, table: &Table, num: &str, den: &str, max: f64) {
        if let (Some(r), Some(n), Some(d)) = (table.ratio(num, den), table.get(num), table.get(den))
        {
            let what = format!("{what}: {} ÷ {} ≤ {max}", n.c.label, d.c.label);
            self.push(what, format!("{r:.2}"), r <= max);
        }
    }

    pub(crate) fn no_allocations(&mut self, path: &str, table: &Table) {
        for r in table.0.iter().filter(|r| r.c.label.starts_with("stamina")) {
            if !r.c.id.ends_with("nohooks") {
                let what = format!("0 allocations per call, {path}: {}", r.c.label);
                self.push(what, fmt_allocs(r.allocs), r.allocs == 0.0);
            }
        }
    }

    pub(crate) fn print(&self) {
        println!("| bar | measured | met |\n|---|--:|:-:|");
        for (what, measured, met) in &self.0 {
            let met = if *met { "yes" } else { "**no**" };
            println!("| {what} | {measured} | {met} |");
        }
        println!();
    }
}
