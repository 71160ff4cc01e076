//! Emits TypeScript types of the spec for frontend code, with the
//! openapi-typescript tool from npm, pinned in `xtask/typescript`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use super::Target;
use super::files::GeneratedFile;

/// Folder of the pinned Node tools (`package.json`, `package-lock.json`).
const TOOLS_DIR: &str = "xtask/typescript";

/// Runs openapi-typescript on the target's spec and returns its declarations.
pub fn emit(root: &Path, target: &Target) -> anyhow::Result<GeneratedFile> {
    install_tools(root)?;
    let tool = root
        .join(TOOLS_DIR)
        .join("node_modules/.bin/openapi-typescript");
    // A property with a default stays optional: the spec gives defaults to
    // fields that a client may leave out, such as `nodes_id`.
    let output = Command::new(&tool)
        .args([target.spec.as_str(), "--default-non-nullable", "false"])
        .current_dir(root)
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !output.status.success() {
        bail!(
            "openapi-typescript failed on {}:\n{}",
            target.spec,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let declarations =
        String::from_utf8(output.stdout).context("openapi-typescript printed invalid UTF-8")?;
    Ok(GeneratedFile {
        path: target.typescript.clone().into(),
        contents: format!("{}\n{declarations}", target.rust_header()),
    })
}

/// Installs the pinned tools with `npm ci` unless they are installed.
fn install_tools(root: &Path) -> anyhow::Result<()> {
    let tools = root.join(TOOLS_DIR);
    if tools.join("node_modules/.bin/openapi-typescript").exists()
        && tools.join("node_modules/.bin/tsc").exists()
    {
        return Ok(());
    }
    println!("==> npm ci --prefix {TOOLS_DIR}");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&tools)
        .status()
        .context("cannot run npm; install Node.js 20 or newer with npm")?;
    if !status.success() {
        bail!("npm ci --prefix {TOOLS_DIR} failed ({status})");
    }
    Ok(())
}
