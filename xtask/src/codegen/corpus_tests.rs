//! Tests over the corpus of public specs in `xtask/corpus`: each generates
//! and compiles, or fails with the located error that the table names.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{manifest, scratch_crates};

/// What generating a corpus spec must give.
enum Expected {
    /// Crates that compile.
    Compiles,
    /// An error at this location (`file#pointer`), with this text.
    Fails {
        pointer: &'static str,
        message: &'static str,
    },
}

/// The corpus, by path under `xtask/corpus`. The mock's control API is
/// generated there too, because its session name has a `pattern`, whose
/// checks need regex and regress in a crate outside this workspace.
const CORPUS: &[(&str, Expected)] = &[
    ("petstore3.yaml", Expected::Compiles),
    ("petstore-expanded.yaml", Expected::Compiles),
    ("uber.yaml", Expected::Compiles),
    ("uspto.yaml", Expected::Compiles),
    ("lxkns.yaml", Expected::Compiles),
    ("../../spec/control.yaml", Expected::Compiles),
    ("api-key-header.yaml", Expected::Compiles),
    ("operation-names.yaml", Expected::Compiles),
    ("edge-cases.yaml", Expected::Compiles),
    (
        "realworld.yaml",
        Expected::Fails {
            pointer: "realworld.yaml#/paths/~1users~1login/post/responses/422:",
            message: "every error response of an operation needs the same body",
        },
    ),
];

fn corpus_dir() -> PathBuf {
    crate::workspace_root().join("xtask/corpus")
}

/// Returns the crate name prefix of a corpus file, such as `petstore3`.
fn crate_name(file: &str) -> String {
    let name = Path::new(file).file_name().and_then(|name| name.to_str());
    let name = name.unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_string()
}

#[test]
fn corpus_generates_or_fails_located() {
    let out = std::env::temp_dir().join(format!("xtask-corpus-gen-{}", std::process::id()));
    for (file, expected) in CORPUS {
        let result = scratch_crates(&corpus_dir().join(file), &out, &crate_name(file));
        match (expected, result) {
            (Expected::Compiles, Ok(files)) => {
                assert!(
                    files.iter().any(|f| f.path.ends_with("src/lib.rs")),
                    "{file} has sources"
                );
            }
            (Expected::Compiles, Err(error)) => panic!("{file} fails: {error:#}"),
            (Expected::Fails { .. }, Ok(_)) => panic!("{file} generates, but must fail"),
            (Expected::Fails { pointer, message }, Err(error)) => {
                let error = format!("{error:#}");
                assert!(error.contains(pointer), "{file}: {error}");
                assert!(error.contains(message), "{file}: {error}");
            }
        }
    }
}

/// Helpers that each test of `SERVED` reads as its module `common`.
const SERVE_COMMON: &str = include_str!("../../corpus/serve_common.rs");

/// The server crates that get a hand-written test over HTTP, each with
/// the test's source.
const SERVED: &[(&str, &str)] = &[
    (
        "petstore-expanded-server",
        include_str!("../../corpus/petstore_expanded_serve.rs"),
    ),
    (
        "api-key-header-server",
        include_str!("../../corpus/api_key_header_serve.rs"),
    ),
    (
        "edge-cases-server",
        include_str!("../../corpus/edge_cases_serve.rs"),
    ),
];

/// Generates every corpus spec that must compile into one scratch
/// workspace, with this workspace's lock file so that the versions match,
/// runs `cargo check` on it, then serves each server of `SERVED` over
/// HTTP with its test. The build goes to `target/corpus`, which later runs
/// reuse.
#[test]
#[ignore = "builds and tests the generated crates, about two minutes on a cold target/corpus; \
            cargo xtask test runs it"]
fn corpus_crates_compile() {
    let root = crate::workspace_root();
    let out = std::env::temp_dir().join(format!("xtask-corpus-check-{}", std::process::id()));
    let mut names = Vec::new();
    let mut files = Vec::new();
    for (file, expected) in CORPUS {
        if let Expected::Compiles = expected {
            let name = crate_name(file);
            let crates = scratch_crates(&corpus_dir().join(file), &out, &name)
                .unwrap_or_else(|error| panic!("{file} fails: {error:#}"));
            files.extend(crates);
            names.push(name);
        }
    }
    files.push(manifest::workspace_manifest(
        &out.display().to_string(),
        &names,
    ));
    for file in &mut files {
        let served = SERVED
            .iter()
            .any(|(name, _)| file.path.ends_with(format!("{name}/Cargo.toml")));
        if served {
            file.contents.push_str(
                "\n[dev-dependencies]\n\
                 reqwest = { version = \"0.13\", default-features = false }\n\
                 tokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\", \"net\"] }\n",
            );
        }
    }
    for (name, test) in SERVED {
        files.push(super::GeneratedFile {
            path: out.join(name).join("tests/serve.rs"),
            contents: test.to_string(),
        });
        files.push(super::GeneratedFile {
            path: out.join(name).join("tests/common/mod.rs"),
            contents: SERVE_COMMON.to_string(),
        });
    }
    super::files::sync(Path::new("/"), &files, super::Mode::Write).expect("write the crates");
    std::fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock")).expect("copy Cargo.lock");

    let cargo = |args: &[&str]| {
        let output = Command::new(env!("CARGO"))
            .args(args)
            .env("CARGO_TARGET_DIR", root.join("target/corpus"))
            .current_dir(&out)
            .output()
            .expect("run cargo");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "cargo {} in {} failed:\n{stdout}\n{stderr}",
            args.join(" "),
            out.display()
        );
    };
    cargo(&["check", "--quiet", "--workspace"]);
    for (name, _) in SERVED {
        cargo(&["test", "--quiet", "--package", name, "--test", "serve"]);
    }
    std::fs::remove_dir_all(&out).expect("remove the scratch workspace");
}
