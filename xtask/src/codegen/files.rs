//! Writes generated files, or checks them for drift without writing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// A file that the generator produces: its path from the workspace root and its contents.
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: String,
}

/// Whether `sync` writes stale files or only reports them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Write,
    Check,
}

/// Brings each file on disk up to date with its generated content.
///
/// In `Mode::Write` a file is written only when its content changed, so an
/// unchanged spec leaves modification times alone. In `Mode::Check` nothing
/// is written, and the error names every stale or missing file.
pub fn sync(root: &Path, files: &[GeneratedFile], mode: Mode) -> anyhow::Result<()> {
    let mut stale = Vec::new();
    for file in files {
        let path = root.join(&file.path);
        let current = fs::read_to_string(&path).ok();
        if current.as_deref() == Some(file.contents.as_str()) {
            continue;
        }
        match mode {
            Mode::Check => stale.push(file.path.display().to_string()),
            Mode::Write => {
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                fs::write(&path, &file.contents)
                    .with_context(|| format!("cannot write {}", file.path.display()))?;
                println!("wrote {}", file.path.display());
            }
        }
    }

    if !stale.is_empty() {
        bail!(
            "generated code is stale; run `cargo xtask gen` and commit the result:\n  {}",
            stale.join("\n  ")
        );
    }
    Ok(())
}
