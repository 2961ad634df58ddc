//! Running the binary.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_transmogrify")
}

/// Runs the binary with `args` (and `stdin`, if given) in `dir`.
pub fn run(
    dir: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Run, Box<dyn std::error::Error>> {
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The program may rightly stop before reading its input (a usage error).
        match pipe.write_all(data) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
            _ => {}
        }
    }
    let out = child.wait_with_output()?;
    Ok(Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout)?,
        stderr: String::from_utf8(out.stderr)?,
    })
}

/// The example data shipped in the repository.
pub fn example(name: &str) -> String {
    format!("{}/../examples/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Sorted file names in `dir`.
pub fn names(dir: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut out: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    out.sort();
    Ok(out)
}

/// What a failed run left in `dir`: its entries, none when the run made the
/// directory and removed it again.
pub fn left_behind(dir: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    names(dir)
}

/// Options that make the output reproducible.
pub const FIXED: &[&str] = &[
    "--id-strategy",
    "positional",
    "--extract-time",
    "2024-01-02 03:04:05",
    "--quiet",
];
