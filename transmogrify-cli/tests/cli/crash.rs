//! A run killed at any moment leaves no file that looks finished.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// A directory with `big.jsonl`: 250,000 records (about 30 MB), long enough to stop a
/// run part way.
fn big_input() -> Result<tempfile::TempDir, Box<dyn std::error::Error>> {
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
    Ok(dir)
}

#[test]
fn sigkill_at_any_point_leaves_only_hidden_temporary_files() -> TestResult {
    let dir = big_input()?;
    for (k, delay) in [10u64, 60, 200, 500, 900].into_iter().enumerate() {
        let out = format!("out{k}");
        let mut child = Command::new(bin())
            .args(["flatten", "big.jsonl", "-o", &out, "-f", "csv", "-q"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(delay));
        // Killing a process that already exited (but was not reaped) is harmless; its
        // exit status tells whether the kill or the end of the run came first.
        child.kill()?;
        let finished = child.wait()?.success();
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

#[test]
fn an_interrupted_run_removes_its_unfinished_files() -> TestResult {
    let dir = big_input()?;
    // A file of another run in the same directory is left alone.
    std::fs::create_dir_all(dir.path().join("out"))?;
    std::fs::write(dir.path().join("out/.transmogrify-table-1-0.csv.tmp"), "x")?;
    // Parts spilled elsewhere (`--spill-dir`) go too.
    let scratch = dir.path().join("scratch");
    std::fs::create_dir(&scratch)?;
    for (format, spill_dir) in [("csv", false), ("parquet", false), ("parquet", true)] {
        let mut args = vec!["flatten", "big.jsonl", "-o", "out", "-f", format, "--force"];
        args.extend(["--report", "report.json"]);
        if spill_dir {
            args.extend_from_slice(&["--spill-dir", "scratch"]);
        }
        let mut child = Command::new(bin())
            .args(&args)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        // Wait until the run has unfinished files, then interrupt it.
        let out = dir.path().join("out");
        let ours = format!("-{}-", child.id());
        let mut seen = false;
        for _ in 0..400 {
            let watched = if spill_dir { &scratch } else { &out };
            seen = names(watched)?.iter().any(|n| n.contains(&ours));
            if seen || child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(seen, "{format}: no unfinished file to see");
        let pid = i32::try_from(child.id())?;
        // SAFETY: kill(2) on our own child's process id, which it still has (not reaped).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let done = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&done.stderr);
        if done.status.code() == Some(0) {
            // The run ended before the signal came: its files are all there.
            assert!(names(&out)?.iter().any(|n| n == &format!("big.{format}")));
            continue;
        }
        assert_eq!(done.status.code(), Some(130), "{format}: {stderr}");
        // The report says so too.
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json"))?)?;
        assert_eq!(report["exit_code"], 130, "{report}");
        assert_eq!(names(&scratch)?, Vec::<String>::new(), "{format}: {stderr}");
        if stderr.contains("were already complete") {
            // The signal came as the files got their names: they are all there.
            assert_eq!(
                report["error"], "interrupted after the run's files were complete",
                "{report}"
            );
            assert!(names(&out)?.iter().any(|n| n == &format!("big.{format}")));
            continue;
        }
        assert!(stderr.contains("interrupted: removed"), "{stderr}");
        assert_eq!(
            report["error"], "interrupted: no table was written",
            "{report}"
        );
        assert_eq!(
            names(&out)?,
            [".transmogrify-table-1-0.csv.tmp"],
            "{format}: {stderr}"
        );
    }
    Ok(())
}

/// A stop that comes while a run's files get their final names waits for the last
/// of them: the directory then holds this run's whole set, never some tables of it
/// beside missing ones or, with --force, beside an earlier run's.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the pause between renames it needs is in debug builds only"
)]
fn an_interrupt_during_the_renames_leaves_the_whole_set() -> TestResult {
    let dir = big_input()?;
    std::fs::write(
        dir.path().join("small.jsonl"),
        "{\"i\":-1,\"items\":[{\"n\":0}]}\n",
    )?;
    fn flatten<'a>(input: &'a str, out: &'a str) -> Vec<&'a str> {
        let mut args = vec![
            "flatten", input, "-o", out, "--entity", "big", "--force", "-q",
        ];
        args.extend(["--id-strategy", "positional"]);
        args.extend(["--extract-time", "2024-01-01T00:00:00Z"]);
        args
    }
    for format in ["parquet", "csv"] {
        let out = format!("out-{format}");
        // An earlier run's files, which the interrupted run replaces.
        let mut args = flatten("small.jsonl", &out);
        args.extend(["-f", format]);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let earlier = names(&dir.path().join(&out))?;
        let mut args = flatten("big.jsonl", &out);
        args.extend(["-f", format, "--report", "rename.json"]);
        let mut child = Command::new(bin())
            .args(&args)
            // Long enough for the stop to come inside it however slowly this test
            // runs beside others (it once came after a second's pause).
            .env("TRANSMOGRIFY_TEST_RENAME_PAUSE_MS", "3000")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        // Wait until the first file has its new bytes (the main table's, larger than
        // the earlier run's), then interrupt.
        let main = dir.path().join(format!("{out}/big.{format}"));
        let small = std::fs::metadata(&main)?.len();
        let mut renamed = false;
        // (However slowly the run goes beside other tests, until it ends.)
        while child.try_wait()?.is_none() {
            renamed = std::fs::metadata(&main).is_ok_and(|m| m.len() > small);
            if renamed {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(renamed, "{format}: the main table was never renamed");
        let pid = i32::try_from(child.id())?;
        // SAFETY: kill(2) on our own child's process id, which it still has (not reaped).
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let done = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(130), "{format}: {stderr}");
        assert!(
            stderr.contains("interrupted: the run's files in out-"),
            "{stderr}"
        );
        assert!(stderr.contains("were already complete"), "{stderr}");
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("rename.json"))?)?;
        assert_eq!(
            report["error"], "interrupted after the run's files were complete",
            "{report}"
        );
        // Every table of the earlier run is there, each with this run's bytes.
        let visible = names(&dir.path().join(&out))?;
        assert_eq!(visible, earlier, "{format}: {stderr}");
        let reference = format!("ref-{format}");
        let mut args = flatten("big.jsonl", &reference);
        args.extend(["-f", format]);
        let r = run(dir.path(), &args, None)?;
        assert_eq!(r.code, 0, "{}", r.stderr);
        for name in &visible {
            let got = std::fs::read(dir.path().join(&out).join(name))?;
            let expected = std::fs::read(dir.path().join(&reference).join(name))?;
            assert!(got == expected, "{format}: {name} is not this run's");
        }
    }
    Ok(())
}

/// A small filesystem of its own, unmounted when dropped.
struct Tmpfs {
    path: std::path::PathBuf,
}

impl Tmpfs {
    fn mount(path: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

#[test]
fn a_full_disk_is_a_clean_io_error_that_leaves_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&format!(
            "{{\"i\":{i},\"s\":\"{}\",\"k\":[{{\"a\":{i}}}]}}\n",
            "x".repeat(50)
        ));
    }
    std::fs::write(dir.path().join("mid.jsonl"), text)?;
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "200k") else {
        // Mounting needs root; where it is not allowed there is no full disk to test.
        eprintln!("skipped: cannot mount a tmpfs here");
        return Ok(());
    };
    // Parquet on one worker spills and writes its files on a thread of their own
    // (with a core to spare): the error comes from there.
    let cases = [
        ("strict", "csv", "threads"),
        ("skip", "csv", "threads"),
        ("strict", "parquet", "sequential"),
        ("skip", "parquet", "threads"),
    ];
    for (mode, format, executor) in cases {
        let out = fs.path.join(format!("{mode}-{format}"));
        let out = out.to_string_lossy().into_owned();
        let r = run(
            dir.path(),
            &[
                "flatten",
                "mid.jsonl",
                "-o",
                &out,
                "-f",
                format,
                "--executor",
                executor,
                "-q",
                "--on-error",
                mode,
            ],
            None,
        )?;
        let case = format!("{mode}, {format}, {executor}");
        assert_eq!(r.code, 3, "{case}: {}", r.stderr);
        assert!(
            r.stderr.contains("No space left on device"),
            "{case}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"));
        let left: Vec<String> = left_behind(std::path::Path::new(&out))?;
        assert!(left.is_empty(), "{case}: {left:?}");
    }
    Ok(())
}

#[test]
fn a_read_only_output_is_a_clean_io_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.jsonl"), "{\"x\":1}\n")?;
    // Read-only even for root, unlike permission bits.
    let Some(fs) = Tmpfs::mount(&dir.path().join("ro"), "1m,ro") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return Ok(());
    };
    let out = fs.path.join("out").to_string_lossy().into_owned();
    let r = run(dir.path(), &["flatten", "a.jsonl", "-o", &out, "-q"], None)?;
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(
        r.stderr,
        format!("error: {out}: Read-only file system (os error 30)\n")
    );
    Ok(())
}

#[test]
fn an_output_path_that_is_a_file_is_a_clean_io_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("a.jsonl"), "{\"x\":1}\n")?;
    std::fs::write(dir.path().join("taken"), "a file")?;
    let r = run(dir.path(), &["flatten", "a.jsonl", "-o", "taken/out"], None)?;
    assert_eq!(r.code, 3);
    assert_eq!(
        r.stderr,
        "error: taken/out: Not a directory (os error 20)\n"
    );
    Ok(())
}

/// A bench stopped by SIGINT or SIGTERM (sent to it alone, as a supervisor does)
/// stops the run under way, removes its scratch directory and exits 130, rather than
/// finishing its runs or leaving a run and its files behind.
#[test]
fn an_interrupted_bench_stops_its_run_and_removes_its_files() -> TestResult {
    let dir = big_input()?;
    let tmp = dir.path().join("tmp");
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut child = long_bench(dir.path(), &tmp)?;
        // Wait until a run writes its tables, then stop the bench.
        let scratch = tmp.join(format!("transmogrify-bench-{}", child.id()));
        let run = scratch.join("sequential-1");
        let mut seen = false;
        for _ in 0..2000 {
            seen = run.exists();
            if seen || child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(seen, "no run to stop");
        let pid = i32::try_from(child.id())?;
        // SAFETY: kill(2) on our own child's process id, which it still has (not reaped).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let done = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(130), "{signal}: {stderr}");
        assert!(done.stdout.is_empty(), "{signal}: no table after a stop");
        // The stop alone is told, not the run it stopped as a failure.
        assert_eq!(
            stderr, "interrupted: the bench's runs were stopped and their files removed\n",
            "{signal}"
        );
        // The run was stopped, not left to write on: nothing comes back.
        assert!(!scratch.exists(), "{signal}");
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(names(&tmp)?, Vec::<String>::new(), "{signal}");
    }
    Ok(())
}

#[test]
fn an_interrupted_schema_stops_with_exit_code_130() -> TestResult {
    // Reading a stream that does not end: SIGINT, even where the shell had it
    // ignored (a command run in the background), and SIGTERM stop it with 130.
    let dir = tempfile::tempdir()?;
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let mut child = Command::new(bin())
            .args(["schema", "-", "-e", "events"])
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().ok_or("stdin")?;
        std::io::Write::write_all(&mut stdin, b"{\"a\": 1}\n")?;
        // Once the handler is in place: the first record is read by then.
        std::thread::sleep(Duration::from_millis(500));
        let pid = i32::try_from(child.id())?;
        // SAFETY: kill(2) on our own child's process id, which it still has (not reaped).
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let done = child.wait_with_output()?;
        drop(stdin);
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(done.status.code(), Some(130), "signal {signal}: {stderr}");
        assert_eq!(stderr, "interrupted\n", "signal {signal}");
        assert!(done.stdout.is_empty(), "signal {signal}");
    }
    Ok(())
}

#[test]
fn ctrl_c_on_worker_processes_leaves_nothing_behind() -> TestResult {
    // A terminal's Ctrl-C signals the run's process group (its workers have one of
    // their own): the run stops its workers (starting no new ones for their chunks)
    // before it removes its files, so none writes a spill file after that, and
    // whatever the run meets meanwhile, it exits as interrupted.
    use std::os::unix::process::CommandExt;
    let dir = big_input()?;
    let cases = ["parquet", "jsonl"]
        .into_iter()
        .flat_map(|f| [0, 40, 120, 250].map(|ms| (f, ms)));
    for (format, later) in cases {
        let out = dir.path().join(format!("out-{format}"));
        let mut child = Command::new(bin())
            .args(["flatten", "big.jsonl", "-o", &format!("out-{format}")])
            .args(["-f", format, "--executor", "processes", "-j", "2"])
            .current_dir(dir.path())
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        // Once the workers spill (their files in the run's spill directory).
        let mut seen = false;
        for _ in 0..1000 {
            let spill = names(&out).unwrap_or_default();
            seen = spill.iter().any(|d| {
                d.starts_with(".transmogrify-spill-")
                    && names(&out.join(d)).is_ok_and(|files| !files.is_empty())
            });
            if seen || child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(seen, "{format}: no spill file to see");
        // A worker leads a process group of its own (the `pgrp` after `state ppid`).
        let worker = child_of(child.id())?.ok_or("no worker process")?;
        let stat = std::fs::read_to_string(format!("/proc/{worker}/stat"))?;
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let group = after.split_whitespace().nth(2);
        assert_eq!(group, Some(worker.to_string().as_str()), "{format}");
        std::thread::sleep(Duration::from_millis(later));
        let group = i32::try_from(child.id())?;
        // SAFETY: kill(2) on the process group our own child leads (not reaped).
        assert_eq!(unsafe { libc::kill(-group, libc::SIGINT) }, 0);
        let done = child.wait_with_output()?;
        let stderr = String::from_utf8_lossy(&done.stderr);
        if done.status.code() == Some(0) {
            std::fs::remove_dir_all(&out)?;
            continue;
        }
        assert_eq!(done.status.code(), Some(130), "{format}: {stderr}");
        // Give a worker that outlived the run the time to write what it would.
        std::thread::sleep(Duration::from_millis(300));
        let left = left_behind(&out)?;
        assert_eq!(left, Vec::<String>::new(), "{format} +{later} ms: {stderr}");
    }
    Ok(())
}

#[test]
fn a_bench_run_killed_outright_is_told_with_its_signal() -> TestResult {
    // A run killed by SIGKILL (as the OOM killer does) says nothing itself: the
    // bench names the signal, exits 3, and removes the run's files.
    let dir = big_input()?;
    let tmp = dir.path().join("tmp");
    let mut child = long_bench(dir.path(), &tmp)?;
    // The run's process: the bench's child, once its tables are being written.
    let scratch = tmp.join(format!("transmogrify-bench-{}", child.id()));
    let mut run = None;
    for _ in 0..2000 {
        if scratch.join("sequential-1").exists() {
            run = child_of(child.id())?;
        }
        if run.is_some() || child.try_wait()?.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let run = run.ok_or("no run to kill")?;
    // SAFETY: kill(2) on our own child's child, which it waits for (not reaped).
    assert_eq!(unsafe { libc::kill(run, libc::SIGKILL) }, 0);
    let done = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(3), "{stderr}");
    assert_eq!(
        stderr,
        "error: the sequential run with 1 worker failed: it was killed by signal 9 \
         (SIGKILL: out of memory, perhaps)\n"
    );
    assert_eq!(names(&tmp)?, Vec::<String>::new());
    Ok(())
}

/// A process whose parent is `parent` (its `/proc/<id>/stat` says so), if any.
fn child_of(parent: u32) -> Result<Option<i32>, Box<dyn std::error::Error>> {
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Ok(id) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // `pid (comm) state ppid ...`: the fields after the command's closing paren.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        if after.split_whitespace().nth(1) == Some(parent.to_string().as_str()) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// A bench of twenty sequential runs over `big.jsonl` in `dir`, its scratch files
/// in `tmp` (made if missing).
fn long_bench(
    dir: &std::path::Path,
    tmp: &std::path::Path,
) -> Result<std::process::Child, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(tmp)?;
    let args = [
        "bench",
        "big.jsonl",
        "--executors",
        "sequential",
        "--repeat",
        "20",
    ];
    Ok(Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}
