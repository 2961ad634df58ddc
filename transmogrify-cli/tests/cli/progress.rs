//! The progress bar, in a real pseudo-terminal.

use crate::support::*;

#[test]
fn draws_on_a_terminal_and_ends_on_a_clean_line() -> TestResult {
    let script = std::path::Path::new("/usr/bin/script");
    if !script.exists() {
        // No util-linux `script` to make a pseudo-terminal; the rendering itself is
        // tested with a forced terminal in the binary's unit tests.
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..60_000 {
        text.push_str(&format!(
            "{{\"i\":{i},\"k\":[{{\"v\":\"{}\"}}]}}\n",
            "y".repeat(i % 50)
        ));
    }
    std::fs::write(dir.path().join("big.jsonl"), text)?;
    let command = format!(
        "{} flatten big.jsonl -o out -f csv --executor sequential --chunk-size 64k",
        bin()
    );
    let out = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .output()?;
    assert_eq!(out.status.code(), Some(0));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("\r\x1b[2K["), "no bar drawn: {screen:?}");
    assert!(screen.contains("MB/s"), "{screen:?}");
    // The bar is cleared before the summary, which ends the output.
    let cleared = screen.rfind("\r\x1b[2K").unwrap_or(0);
    let tail = &screen[cleared..];
    assert!(
        tail.contains("flattened 60000 records into 2 tables"),
        "{tail:?}"
    );
    assert!(!tail.contains("[=") && !tail.contains("[>"), "{tail:?}");
    Ok(())
}
