//! The `transmogrify` command line: flatten nested JSON, JSONL, CSV and Parquet into
//! linked relational tables.
//!
//! Exit codes: 0 success, 1 data error (bad input in strict mode, failed chunks),
//! 2 usage or configuration error, 3 I/O error, 130 interrupted, 101 a bug (a panic).

/// Writes a line to stderr, as `eprintln!` does, but never panics: a stderr that
/// cannot take it (closed, a pipe whose reader left, a full disk) is no reason to
/// fail a run whose files are written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod bench;
mod fail;
mod flatten;
mod options;
mod output;
mod progress;
mod schema;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::fail::{EXIT_IO, EXIT_OK, EXIT_USAGE, Fail};

fn main() -> ExitCode {
    // A bug must not greet the user with a backtrace: one sentence and exit 101.
    std::panic::set_hook(Box::new(|info| {
        // A decoder's panic on malformed input is reported as an input error.
        if transmogrify_io::panic_is_guarded() {
            return;
        }
        let msg =
            transmogrify_io::panic_message(info.payload()).unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stderr(),
            "{}{msg}{at}",
            transmogrify_parallel::PANIC_LINE
        );
    }));
    #[cfg(unix)]
    raise_open_file_limit();
    // Memory freed by one thread and wanted by another goes back to the system
    // instead of building up in the allocator's heaps.
    transmogrify_io::bound_allocator_caches();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let outcome = match cli.command {
        Command::Worker => return transmogrify_parallel::worker_main(),
        Command::Flatten(args) => flatten::run(&args),
        Command::Schema(args) => flatten::schema(&args),
        Command::Bench(args) => bench::run(&args).and_then(|bench| print(&bench.report())),
    };
    flatten::await_interrupt();
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(fail) => {
            let _ = writeln!(std::io::stderr(), "{fail}");
            ExitCode::from(fail.code)
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly.
pub fn print(text: &str) -> Result<u8, Fail> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(EXIT_OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
        Err(e) => Err(Fail {
            code: EXIT_IO,
            message: format!("writing to standard output: {e}"),
            hint: None,
        }),
    }
}

/// Lets the process open as many files as its hard limit allows: a run keeps a file
/// open for each table as it goes (its spilled parts, or its CSV written as it
/// goes), and the usual soft limit of 1,024 would stop a run with more tables.
#[cfg(unix)]
fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the struct they are given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= limit.rlim_max
        {
            return;
        }
        let mut raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // macOS takes at most OPEN_MAX (10,240) under an unlimited hard limit.
            raised.rlim_cur = limit.rlim_max.min(10_240);
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
        }
    }
}
