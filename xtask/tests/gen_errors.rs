//! Runs `cargo xtask gen --spec` on specs that it must reject, and checks
//! what the user sees on stderr: the located error alone.

use std::path::PathBuf;
use std::process::Command;

/// A spec whose `Sign` enum typify 0.8 panics on, because `+` and `-`
/// give no Rust variant names, next to schemas that convert.
const SIGN_ENUM: &str = r##"
openapi: 3.0.3
info: {title: sign, version: "1"}
paths:
  /orders:
    get:
      operationId: list_orders
      responses:
        "200":
          description: The orders.
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Order"}
components:
  schemas:
    Amount: {type: integer}
    Order:
      type: object
      properties:
        amount: {$ref: "#/components/schemas/Amount"}
        sign: {$ref: "#/components/schemas/Sign"}
    Sign: {type: string, enum: ["+", "-"]}
"##;

/// Returns a new scratch folder under the system's temporary folder.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the scratch folder");
    dir
}

#[test]
fn typify_panic_is_quiet_and_located() {
    let dir = scratch_dir("gen-errors");
    let spec = dir.join("sign.yaml");
    std::fs::write(&spec, SIGN_ENUM).expect("write the spec");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["gen", "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(dir.join("out"))
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run xtask");
    std::fs::remove_dir_all(&dir).expect("remove the scratch folder");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("backtrace"), "{stderr}");
    assert!(
        stderr.contains("sign.yaml#/components/schemas/Sign: typify cannot convert the schema"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
