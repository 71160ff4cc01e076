//! Writes generated files, or checks them for drift without writing.

use std::collections::BTreeSet;
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

/// Name of the file in a `--out` folder that lists the files that
/// `cargo xtask gen --spec` wrote there.
pub const SCRATCH_MARKER: &str = ".xtask-gen";

/// Returns the marker file of `out`, which lists `files` and the files
/// that the current marker lists and that still exist, by their paths
/// relative to `out` in sorted order. A run with another `--name` thus
/// keeps the earlier crates listed as gen's own.
pub fn scratch_marker(out: &Path, files: &[GeneratedFile]) -> GeneratedFile {
    let mut listed: BTreeSet<PathBuf> = listed_files(out)
        .unwrap_or_default()
        .into_iter()
        .filter(|path| path.is_file())
        .collect();
    listed.extend(files.iter().map(|file| file.path.clone()));
    let mut contents = String::from(
        "# Files written by `cargo xtask gen --spec`, which a later run may overwrite.\n",
    );
    for path in &listed {
        let relative = path.strip_prefix(out).unwrap_or(path);
        contents.push_str(&format!("{}\n", relative.display()));
    }
    GeneratedFile {
        path: out.join(SCRATCH_MARKER),
        contents,
    }
}

/// Returns the files that the marker of `out` lists, or `None` when it
/// has no marker.
fn listed_files(out: &Path) -> Option<BTreeSet<PathBuf>> {
    let marker = fs::read_to_string(out.join(SCRATCH_MARKER)).ok()?;
    let listed = marker
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| out.join(line))
        .collect();
    Some(listed)
}

/// Checks that writing `files` into the existing folder `out` overwrites
/// only files that an earlier run listed in its marker. A folder without a
/// marker must be empty. A missing folder passes.
pub fn check_scratch_dir(out: &Path, files: &[GeneratedFile]) -> anyhow::Result<()> {
    let Ok(mut entries) = fs::read_dir(out) else {
        return Ok(());
    };
    let Some(listed) = listed_files(out) else {
        if entries.next().is_none() {
            return Ok(());
        }
        bail!(
            "{} is not empty and has no {SCRATCH_MARKER} file, so `cargo xtask gen` did not \
             write it; choose a new or empty --out folder, or pass --force to overwrite its \
             files",
            out.display()
        );
    };
    let foreign: Vec<String> = files
        .iter()
        .filter(|file| file.path.exists() && !listed.contains(&file.path))
        .map(|file| file.path.display().to_string())
        .collect();
    if !foreign.is_empty() {
        bail!(
            "`cargo xtask gen` did not write these files in {}, so it does not overwrite them; \
             move them, or pass --force to overwrite them:\n  {}",
            out.display(),
            foreign.join("\n  ")
        );
    }
    Ok(())
}
