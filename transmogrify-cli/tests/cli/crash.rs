//! A run killed at any moment leaves no file that looks finished.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

#[test]
fn sigkill_at_any_point_leaves_only_hidden_temporary_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::with_capacity(40 << 20);
    for i in 0..250_000 {
        text.push_str(&format!(
            "{{\"i\":{i},\"name\":\"record {i}\",\"items\":[{{\"n\":{i}}},{{\"n\":{}}}],\"pad\":\"{}\"}}\n",
            i + 1,
            "p".repeat(i % 80)
        ));
    }
    std::fs::write(dir.path().join("big.jsonl"), text)?;
    for (k, delay) in [10u64, 60, 200, 500, 900].into_iter().enumerate() {
        let out = format!("out{k}");
        let mut child = Command::new(bin())
            .args(["flatten", "big.jsonl", "-o", &out, "-f", "csv", "-q"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait()?.is_some();
        child.kill()?;
        child.wait()?;
        let path = dir.path().join(&out);
        if !path.exists() {
            continue;
        }
        let visible: Vec<String> = names(&path)?
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect();
        if finished {
            // It beat the kill: then every file is complete.
            assert_eq!(visible, ["big.csv", "big_items.csv"]);
        } else {
            assert!(
                visible.is_empty(),
                "killed after {delay} ms, found {visible:?}"
            );
        }
    }
    Ok(())
}
