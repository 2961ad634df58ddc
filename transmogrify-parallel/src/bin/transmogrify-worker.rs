//! Worker process of the process executor.

fn main() -> std::process::ExitCode {
    transmogrify_parallel::worker_main()
}
