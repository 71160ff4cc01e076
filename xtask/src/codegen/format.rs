//! Turns generated token streams into rustfmt-formatted source text.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use proc_macro2::TokenStream;

/// Pretty-prints `tokens` as a Rust file, then formats it with rustfmt so that
/// `cargo fmt --check` accepts the committed output.
pub fn rust_file(header: &str, tokens: TokenStream) -> anyhow::Result<String> {
    let file: syn::File =
        syn::parse2(tokens).context("the generator produced tokens that are not a Rust file")?;
    let pretty = space_out_items(&line_doc_comments(&prettyplease::unparse(&file)));
    let formatted = rustfmt(&pretty)?;
    Ok(format!("{header}\n{formatted}"))
}

/// Formats Rust source text with the toolchain's rustfmt and edition 2024.
pub fn rustfmt(source: &str) -> anyhow::Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run rustfmt; install it with `rustup component add rustfmt`")?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(source.as_bytes())
        .context("cannot send source to rustfmt")?;
    let output = child.wait_with_output().context("rustfmt failed")?;
    if !output.status.success() {
        bail!(
            "rustfmt rejected the generated code:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("rustfmt printed invalid UTF-8")
}

/// Puts a blank line between consecutive items, which prettyplease omits.
///
/// A line that opens an item (or its doc comment or attribute) gets a blank
/// line before it when the line above closes a block or a statement.
fn space_out_items(source: &str) -> String {
    const ITEM_STARTS: &[&str] = &[
        "///",
        "/**",
        "//!",
        "#[",
        "pub ",
        "pub(",
        "fn ",
        "async fn ",
        "impl",
        "mod ",
        "struct ",
        "enum ",
        "trait ",
        "const ",
        "static ",
        "type ",
        "use ",
    ];
    let mut spaced = String::with_capacity(source.len() + source.len() / 8);
    let mut previous = "";
    for line in source.lines() {
        let trimmed = line.trim_start();
        let opens_item = ITEM_STARTS.iter().any(|start| trimmed.starts_with(start));
        let after_item = (previous.ends_with('}') || previous.ends_with(';'))
            && !previous.trim_start().starts_with("//");
        let same_kind = trimmed.starts_with("use ") && previous.trim_start().starts_with("use ");
        if opens_item && after_item && !same_kind {
            spaced.push('\n');
        }
        spaced.push_str(line);
        spaced.push('\n');
        previous = line;
    }
    spaced
}

/// Rewrites the `/** .. */` and `/*! .. */` doc blocks that prettyplease
/// prints for multi-line docs as `///` and `//!` lines.
///
/// prettyplease indents every line of a block but the first, and rustdoc
/// then reads the indented lines as a code block and runs them as doctests.
fn line_doc_comments(source: &str) -> String {
    let mut converted = String::with_capacity(source.len());
    let mut lines = source.lines();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let marker = match () {
            _ if trimmed.starts_with("/**") => "///",
            _ if trimmed.starts_with("/*!") => "//!",
            _ => {
                converted.push_str(line);
                converted.push('\n');
                continue;
            }
        };

        let mut text = trimmed[3..].to_string();
        while !text.trim_end().ends_with("*/") {
            let Some(next) = lines.next() else { break };
            text.push('\n');
            text.push_str(next.strip_prefix(indent).unwrap_or(next));
        }
        let text = text.trim_end().trim_end_matches("*/").trim_end();
        for doc_line in text.lines() {
            converted.push_str(indent);
            converted.push_str(marker);
            if !doc_line.is_empty() {
                converted.push(' ');
                converted.push_str(doc_line);
            }
            converted.push('\n');
        }
    }
    converted
}
