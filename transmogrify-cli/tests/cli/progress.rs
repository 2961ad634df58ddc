//! The progress bar, in a real pseudo-terminal.

use crate::support::*;

/// Writes 60,000 small records to `big.jsonl` in a new directory.
fn big_input() -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..60_000 {
        text.push_str(&format!(
            "{{\"i\":{i},\"k\":[{{\"v\":\"{}\"}}]}}\n",
            "y".repeat(i % 50)
        ));
    }
    std::fs::write(dir.path().join("big.jsonl"), text)?;
    Ok(dir)
}

/// What a run on `big.jsonl` into `out` shows in a pseudo-terminal of type `term`,
/// `cols` columns wide; `None` without util-linux `script` to make one (the
/// rendering itself is tested with a forced terminal in the binary's unit tests).
fn on_a_terminal(
    dir: &std::path::Path,
    term: &str,
    cols: u32,
    out: &str,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let args = format!("flatten big.jsonl -o {out} -f csv --executor sequential --chunk-size 64k");
    command_on_a_terminal(dir, term, cols, &args)
}

/// What `transmogrify <args>` shows in a pseudo-terminal (see [`on_a_terminal`]).
fn command_on_a_terminal(
    dir: &std::path::Path,
    term: &str,
    cols: u32,
    args: &str,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    shell_on_a_terminal(dir, term, cols, &format!("{} {args}", bin()))
}

/// What the shell command `command` shows in a pseudo-terminal (see
/// [`on_a_terminal`]).
fn shell_on_a_terminal(
    dir: &std::path::Path,
    term: &str,
    cols: u32,
    command: &str,
) -> Result<Option<String>, Box<dyn std::error::Error>> {
    let script = std::path::Path::new("/usr/bin/script");
    if !script.exists() {
        return Ok(None);
    }
    let command = format!("stty cols {cols}; {command}");
    let run = std::process::Command::new(script)
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", term)
        .current_dir(dir)
        .output()?;
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    Ok(Some(String::from_utf8_lossy(&run.stdout).into_owned()))
}

#[test]
fn draws_on_a_terminal_and_ends_on_a_clean_line() -> TestResult {
    let dir = big_input()?;
    let Some(screen) = on_a_terminal(dir.path(), "xterm", 100, "out")? else {
        return Ok(());
    };
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

/// A `dumb` terminal takes no escape codes: no bar, the summary alone. A bar in a
/// narrow terminal fits its width.
#[test]
fn a_dumb_terminal_gets_no_bar_and_a_narrow_one_a_short_line() -> TestResult {
    let dir = big_input()?;
    let Some(screen) = on_a_terminal(dir.path(), "dumb", 80, "dumb")? else {
        return Ok(());
    };
    assert!(!screen.contains('\x1b'), "{screen:?}");
    assert!(
        screen.starts_with("flattened 60000 records into 2 tables"),
        "{screen:?}"
    );
    let Some(screen) = on_a_terminal(dir.path(), "xterm", 40, "narrow")? else {
        return Ok(());
    };
    let lines: Vec<&str> = screen
        .split("\r\x1b[2K")
        .filter(|l| !l.is_empty() && !l.starts_with("flattened"))
        .collect();
    assert!(!lines.is_empty(), "{screen:?}");
    for line in &lines {
        assert!(line.chars().count() < 40, "{line:?}");
    }
    Ok(())
}

/// A compressed input's rate is that of its bytes as stored, and says so.
#[test]
fn the_rate_of_a_compressed_input_says_it_is_of_compressed_bytes() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, "{\"a\":1}\n".repeat(100).as_bytes())?;
    let gz = gz.finish()?;
    std::fs::write(dir.path().join("n.jsonl.gz"), &gz)?;
    std::fs::write(dir.path().join("n.jsonl"), "{\"a\":1}\n")?;
    // Known by its first bytes too, whatever its name.
    std::fs::write(dir.path().join("n.data"), &gz)?;
    std::fs::write(dir.path().join("z.jsonl"), &gz)?;
    let plain: &[u8] = b"{\"a\":1}\n";
    let (compressed, stored) = (
        " MB/s of compressed input; wrote ",
        " MB/s of input as stored; wrote ",
    );
    // Each run's inputs, standard input, and what its summary says of the rate.
    type Case<'a> = (&'a [&'a str], Option<&'a [u8]>, &'a str);
    let cases: [Case<'_>; 8] = [
        (&["n.jsonl.gz"], None, compressed),
        (&["n.jsonl"], None, " MB/s; wrote "),
        (&["n.data"], None, compressed),
        (&["z.jsonl"], None, compressed),
        // With plain inputs beside it, the bytes are the inputs' as stored.
        (&["n.jsonl", "n.jsonl.gz"], None, stored),
        // Standard input is known by its first bytes as it is read.
        (&["-"], Some(&gz), compressed),
        (&["-"], Some(plain), " MB/s; wrote "),
        (&["n.jsonl", "-"], Some(&gz), stored),
    ];
    for (i, (inputs, stdin, says)) in cases.into_iter().enumerate() {
        let out = format!("out{i}");
        let mut args = vec!["flatten"];
        args.extend_from_slice(inputs);
        args.extend_from_slice(&["-e", "n", "-o", &out]);
        let r = run(dir.path(), &args, stdin)?;
        assert_eq!(r.code, 0, "{inputs:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{inputs:?}: {}", r.stderr);
    }
    Ok(())
}

/// `schema` reads the whole input too: it shows how far it got, then the tree on a
/// clean line; a sample, soon read, shows no bar.
#[test]
fn schema_draws_while_it_reads_the_whole_input() -> TestResult {
    let dir = big_input()?;
    let Some(screen) = command_on_a_terminal(dir.path(), "xterm", 100, "schema big.jsonl")? else {
        return Ok(());
    };
    assert!(screen.contains("\r\x1b[2K["), "no bar drawn: {screen:?}");
    let cleared = screen.rfind("\r\x1b[2K").unwrap_or(0);
    let tail = screen.get(cleared..).unwrap_or_default();
    assert!(tail.contains("big (60000 rows)"), "{tail:?}");
    assert!(!tail.contains("writing the tables"), "{screen:?}");
    let Some(screen) =
        command_on_a_terminal(dir.path(), "xterm", 100, "schema big.jsonl --sample 10")?
    else {
        return Ok(());
    };
    assert!(!screen.contains("\x1b[2K"), "{screen:?}");
    assert!(screen.contains("big (10 rows)"), "{screen:?}");
    Ok(())
}

/// Standard input counts as read as soon as it is read: on a slow pipe the spinner
/// shows the first 150 kB while the rest is still to come, long before the chunk
/// they are part of is full (JSONL and CSV, plain and compressed).
#[test]
fn a_slow_standard_input_shows_what_was_read_so_far() -> TestResult {
    let dir = tempfile::tempdir()?;
    // 1,500 lines of 100 bytes.
    let jsonl: String = (0..1500)
        .map(|i| format!("{{\"i\":\"{i:04}\",\"t\":\"{}\"}}\n", "x".repeat(80)))
        .collect();
    assert_eq!(jsonl.len(), 150_000);
    std::fs::write(dir.path().join("half.jsonl"), &jsonl)?;
    // A header of 4 bytes, 1,499 rows of 100 and one of 96.
    let mut csv = String::from("i,t\n");
    for i in 0..1500 {
        let width = if i == 0 { 89 } else { 93 };
        csv.push_str(&format!("{i:05},{}\n", "y".repeat(width)));
    }
    assert_eq!(csv.len(), 150_000);
    std::fs::write(dir.path().join("half.csv"), &csv)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, jsonl.as_bytes())?;
    let gz = gz.finish()?;
    std::fs::write(dir.path().join("half.jsonl.gz"), &gz)?;
    let gz_read = format!("{:.1} kB read", gz.len() as f64 / 1000.0);
    // Each input, what follows it after a pause, its format's option, and what
    // is read before the pause.
    let cases = [
        ("half.jsonl", "cat", "", "150.0 kB read"),
        (
            "half.csv",
            "tail -n +2",
            "--input-format csv",
            "150.0 kB read",
        ),
        ("half.jsonl.gz", "cat", "", gz_read.as_str()),
    ];
    for (i, (file, then, format, first)) in cases.into_iter().enumerate() {
        let command = format!(
            "(cat {file}; sleep 1.5; {then} {file}) | {} flatten - -e s {format} -o out{i} -f csv",
            bin()
        );
        let Some(screen) = shell_on_a_terminal(dir.path(), "xterm", 100, &command)? else {
            return Ok(());
        };
        let lines: Vec<&str> = screen.split("\r\x1b[2K").collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains(first) && l.contains("/s  00:0")),
            "{file}: no spinner at {first}: {screen:?}"
        );
        assert!(
            screen.contains("flattened 3000 records"),
            "{file}: {screen:?}"
        );
    }
    Ok(())
}
