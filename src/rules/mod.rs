//! Rule files: loading, checking, evaluation and the `rules test` runner. No I/O except
//! [`RuleSet::load_path`], which reads the user's rule directory.

pub mod diag;
pub mod engine;
pub mod ere;
pub mod example;
pub mod interest;
pub mod load;
pub mod model;
pub mod vocab;

pub use diag::Diagnostic;
pub use model::{Rule, Severity};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));
}

#[derive(Debug, Default, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

/// Problems found while loading rules; each names a file and line.
#[derive(Debug, Default)]
pub struct LoadErrors(pub Vec<Diagnostic>);

impl std::fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl RuleSet {
    /// The rules shipped in the binary.
    pub fn builtin() -> RuleSet {
        let mut set = RuleSet::default();
        let errs = set.add_sources(
            builtin::BUILTIN
                .iter()
                .map(|(n, s)| (format!("builtin:{n}"), s.to_string())),
        );
        // Built-in rules are checked by `rules check` in CI; a broken one is a bug.
        debug_assert!(errs.0.is_empty(), "built-in rules have errors:\n{errs}");
        set
    }

    pub fn builtin_sources() -> &'static [(&'static str, &'static str)] {
        builtin::BUILTIN
    }

    /// Adds rules from (file name, text) pairs; returns every problem found.
    pub fn add_sources(&mut self, files: impl IntoIterator<Item = (String, String)>) -> LoadErrors {
        let mut errs = LoadErrors::default();
        for (name, src) in files {
            match load::load_rule(&name, &src) {
                Ok(r) => {
                    if let Some(old) = self.rules.iter().find(|o| o.id == r.id) {
                        errs.0.push(Diagnostic {
                            file: name.clone(),
                            line: 1,
                            col: 1,
                            field: "id".into(),
                            message: format!(
                                "rule id `{}` is already used by {}",
                                r.id, old.origin
                            ),
                            hint: Some("give user rules ids of their own, e.g. USR-001".into()),
                        });
                        continue;
                    }
                    self.rules.push(r);
                }
                Err(d) => errs.0.extend(d),
            }
        }
        errs
    }

    /// Loads every `*.toml` in `dir` (or the single file `dir`).
    pub fn load_path(&mut self, path: &std::path::Path) -> Result<LoadErrors, std::io::Error> {
        let mut files = Vec::new();
        if path.is_dir() {
            let mut paths: Vec<_> = std::fs::read_dir(path)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect();
            paths.retain(|p| p.extension().is_some_and(|e| e == "toml"));
            paths.sort();
            if paths.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no *.toml rule files in this directory",
                ));
            }
            for p in paths {
                files.push((p.display().to_string(), std::fs::read_to_string(&p)?));
            }
        } else {
            files.push((path.display().to_string(), std::fs::read_to_string(path)?));
        }
        Ok(self.add_sources(files))
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id.eq_ignore_ascii_case(id))
    }
}
