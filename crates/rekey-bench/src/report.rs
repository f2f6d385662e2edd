//! Results: what each scenario hands back, the targets of the issue checked against the
//! measurements, and the JSON file of the whole invocation.

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::table::Table;

/// One target of the issue, checked against a measurement.
#[derive(Debug, Clone)]
pub struct TargetCheck {
    pub name: String,
    pub target: String,
    pub measured: String,
    pub met: bool,
}

impl TargetCheck {
    pub fn new(name: impl Into<String>, target: &str, measured: String, met: bool) -> Self {
        Self {
            name: name.into(),
            target: target.to_owned(),
            measured,
            met,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "target": self.target,
            "measured": self.measured,
            "met": self.met,
        })
    }
}

/// What a scenario hands back: its JSON section and its target checks.
pub struct Section {
    pub value: Value,
    pub checks: Vec<TargetCheck>,
}

/// A scenario that could not run here for a reason outside Rekey (no PostgreSQL, no `rekey`
/// binary); with `--scenario all` it is reported and skipped rather than failing the run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// Everything measured in one invocation.
pub struct Report {
    meta: Map<String, Value>,
    sections: Map<String, Value>,
    checks: Vec<TargetCheck>,
}

impl Report {
    pub fn new(meta: Map<String, Value>) -> Self {
        Self {
            meta,
            sections: Map::new(),
            checks: Vec::new(),
        }
    }

    pub fn add(&mut self, scenario: &str, section: Section) {
        self.sections.insert(scenario.to_owned(), section.value);
        self.checks.extend(section.checks);
    }

    pub fn add_status(&mut self, scenario: &str, status: &str, reason: &str) {
        self.sections
            .insert(scenario.to_owned(), json!({ status: reason }));
    }

    pub fn print_targets(&self) {
        if self.checks.is_empty() {
            return;
        }
        let mut table = Table::new(
            "Targets (issues #6 and #13)",
            &["target", "goal", "measured", "status"],
        );
        for check in &self.checks {
            table.row(vec![
                check.name.clone(),
                check.target.clone(),
                check.measured.clone(),
                if check.met { "met" } else { "NOT MET" }.to_owned(),
            ]);
        }
        table.print();
    }

    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let mut root = self.meta.clone();
        for (name, value) in &self.sections {
            root.insert(name.clone(), value.clone());
        }
        root.insert(
            "targets".into(),
            Value::Array(self.checks.iter().map(TargetCheck::to_json).collect()),
        );
        let text = serde_json::to_string_pretty(&Value::Object(root))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
    }
}
