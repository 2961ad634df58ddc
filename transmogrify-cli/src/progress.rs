//! The progress bar on stderr: bytes read of the total, throughput and ETA, or a
//! spinner when the total is unknown (stdin); once all is read, the tables being
//! written. Drawn only on a terminal (not a `dumb` one), in the terminal's width.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use transmogrify_io::WriteProgress;

const TICK: Duration = Duration::from_millis(120);
const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Bars being drawn, which an interrupt clears ([`clear_for_exit`]).
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Set once the process is about to exit on an interrupt: no bar is drawn after.
static STOPPED: AtomicBool = AtomicBool::new(false);

/// Whether a bar may be drawn on stderr: a terminal that is not a `dumb` one (which
/// takes no escape codes).
pub fn can_draw() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// What goes before the message of an interrupt: a new line on a terminal, where
/// the `^C` it echoed ends the line, nothing where stderr is a file or a pipe.
pub fn interrupt_lead() -> &'static str {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        "\n"
    } else {
        ""
    }
}

/// Clears the bar, if one is drawn, and draws no more: for a process about to exit
/// on an interrupt, whose message then starts a clean line.
pub fn clear_for_exit() {
    if !STOPPED.swap(true, Ordering::SeqCst) && ACTIVE.load(Ordering::SeqCst) > 0 {
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// A running progress display.
pub struct Progress {
    counter: Arc<AtomicU64>,
    /// The total once the run has read all of an input whose size was not known
    /// (standard input), 0 until then.
    later_total: Arc<AtomicU64>,
    /// Set once the run has read all it will read ([`all_read`](Self::all_read)).
    read_all: Arc<AtomicBool>,
    /// How far the tables are written, once they are.
    writes: Arc<Mutex<Option<Arc<WriteProgress>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing to `out` every tick when `draw` is true; otherwise only counts.
    /// Once the input is read, the line says the tables are being written.
    pub fn start(total: Option<u64>, draw: bool, out: Box<dyn Write + Send>) -> Progress {
        Progress::start_then(total, draw, out, "writing the tables")
    }

    /// [`start`](Self::start), the line saying `then` once the input is read.
    pub fn start_then(
        total: Option<u64>,
        draw: bool,
        mut out: Box<dyn Write + Send>,
        then: &'static str,
    ) -> Progress {
        let counter = Arc::new(AtomicU64::new(0));
        let later_total = Arc::new(AtomicU64::new(0));
        let read_all = Arc::new(AtomicBool::new(false));
        let writes: Arc<Mutex<Option<Arc<WriteProgress>>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = if draw {
            let (counter, stop, later) = (counter.clone(), stop.clone(), later_total.clone());
            let (all_read, written) = (read_all.clone(), writes.clone());
            ACTIVE.fetch_add(1, Ordering::SeqCst);
            std::thread::Builder::new()
                .name("tm-progress".into())
                .spawn(move || {
                    let started = Instant::now();
                    let mut tick = 0usize;
                    // When all of the input was read: the tables are written after.
                    let mut read_in = None;
                    // Drawn at once, then every tick until stopped.
                    loop {
                        let done = counter.load(Ordering::Relaxed);
                        let total =
                            total.or_else(|| Some(later.load(Ordering::SeqCst)).filter(|&t| t > 0));
                        if read_in.is_none()
                            && (total.is_some_and(|t| t > 0 && done >= t)
                                || all_read.load(Ordering::SeqCst))
                        {
                            read_in = Some(started.elapsed());
                        }
                        let line = match read_in {
                            Some(took) => {
                                let written = written
                                    .lock()
                                    .ok()
                                    .and_then(|w| w.as_ref().map(|w| (w.read(), w.total())));
                                writing(done, took, then, written, tick)
                            }
                            None => render(done, total, started.elapsed(), tick),
                        };
                        if STOPPED.load(Ordering::SeqCst) {
                            return;
                        }
                        let line = fit(&line, terminal_width());
                        let _ = write!(out, "\r\x1b[2K{line}");
                        let _ = out.flush();
                        tick += 1;
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::park_timeout(TICK);
                    }
                    // Leave a clean line for the summary.
                    if !STOPPED.load(Ordering::SeqCst) {
                        let _ = write!(out, "\r\x1b[2K");
                        let _ = out.flush();
                    }
                    ACTIVE.fetch_sub(1, Ordering::SeqCst);
                })
                .ok()
        } else {
            None
        };
        Progress {
            counter,
            later_total,
            read_all,
            writes,
            stop,
            thread,
        }
    }

    /// The run has read all it will read: the line says what comes next (the
    /// tables being written, and how far by `writes` where given) until
    /// [`finish`](Self::finish), drawn at once.
    pub fn all_read(&self, writes: Option<Arc<WriteProgress>>) {
        if let Ok(mut slot) = self.writes.lock() {
            *slot = writes;
        }
        self.read_all.store(true, Ordering::SeqCst);
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// The counter the run adds finished bytes to.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.counter.clone()
    }

    /// Where the run puts the total of an input whose size was not known once it has
    /// read all of it ([`Job::with_input_total`](transmogrify_parallel::Job::with_input_total)).
    pub fn later_total(&self) -> Arc<AtomicU64> {
        self.later_total.clone()
    }

    /// Stops drawing and clears the line.
    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// `n` and `noun`, plural but for one: `1 record`, `2 records`.
pub fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Human-readable bytes: `12.3 MB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The line once all of the input is read (`done` bytes in `took`): its rate then,
/// and what the run does next (`then`: the tables being written), with how far it
/// has got where that is known (`written`: bytes of spilled parts read back into
/// the files, of how many).
pub fn writing(
    done: u64,
    took: Duration,
    then: &str,
    written: Option<(u64, u64)>,
    tick: usize,
) -> String {
    let rate = done as f64 / took.as_secs_f64().max(1e-9);
    let far = match written {
        Some((read, total)) if total > 0 => {
            format!(
                " {}%",
                (read.min(total) as f64 * 100.0 / total as f64).floor() as u64
            )
        }
        _ => String::new(),
    };
    format!(
        "[{}] 100% {} read at {}/s; {then}{far} {}",
        "=".repeat(30),
        human_bytes(done),
        human_bytes(rate as u64),
        SPINNER[tick % SPINNER.len()]
    )
}

/// `line` made to fit a terminal `width` characters wide (the last column left free,
/// so that the cursor does not wrap): without its bar, then cut.
pub fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    if line.chars().count() <= room {
        return line.to_string();
    }
    let line = match line.strip_prefix('[').and_then(|l| l.split_once("] ")) {
        Some((_, rest)) => rest.trim_start(),
        None => line,
    };
    line.chars().take(room).collect()
}

/// Columns of the terminal on stderr (80 when it does not say).
fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ only writes the struct it is given.
        let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
        if ok && size.ws_col > 0 {
            return usize::from(size.ws_col);
        }
    }
    80
}

/// One line of the display.
pub fn render(done: u64, total: Option<u64>, elapsed: Duration, tick: usize) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let rate = done as f64 / secs;
    let speed = format!("{}/s", human_bytes(rate as u64));
    match total {
        Some(total) if total > 0 => {
            let frac = (done as f64 / total as f64).clamp(0.0, 1.0);
            const WIDTH: usize = 30;
            let filled = (frac * WIDTH as f64).round() as usize;
            let bar: String = (0..WIDTH)
                .map(|i| {
                    if i < filled {
                        '='
                    } else if i == filled {
                        '>'
                    } else {
                        ' '
                    }
                })
                .collect();
            let eta = if rate > 0.0 && done < total {
                let left = (total - done) as f64 / rate;
                format!("ETA {}", clock(left))
            } else {
                "ETA --:--".to_string()
            };
            format!(
                "[{bar}] {:>3}% {} / {}  {speed}  {eta}",
                (frac * 100.0).floor() as u64,
                human_bytes(done),
                human_bytes(total)
            )
        }
        _ => format!(
            "{} {} read  {speed}  {}",
            SPINNER[tick % SPINNER.len()],
            human_bytes(done),
            clock(secs)
        ),
    }
}

fn clock(secs: f64) -> String {
    let s = secs.round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn counts_are_plural_but_for_one() {
        assert_eq!(counted(0, "table"), "0 tables");
        assert_eq!(counted(1, "bad record"), "1 bad record");
        assert_eq!(counted(2, "row"), "2 rows");
    }

    #[test]
    fn renders_bar_speed_and_eta() {
        let line = render(50_000_000, Some(200_000_000), Duration::from_secs(2), 0);
        assert_eq!(
            line,
            "[========>                     ]  25% 50.0 MB / 200.0 MB  25.0 MB/s  ETA 00:06"
        );
        let spin = render(1_500, None, Duration::from_secs(3), 1);
        assert_eq!(spin, "/ 1.5 kB read  500 B/s  00:03");
        let writing = writing(
            200_000_000,
            Duration::from_secs(4),
            "writing the tables",
            None,
            2,
        );
        assert_eq!(
            writing,
            "[==============================] 100% 200.0 MB read at 50.0 MB/s; writing the tables -"
        );
    }

    /// How far the tables are written shows once it is known: a percentage of
    /// the spilled parts read back, never past 100.
    #[test]
    fn the_writing_line_says_how_far_the_tables_are_written() {
        let took = Duration::from_secs(1);
        let line = |written| writing(1_000, took, "writing the tables", written, 0);
        let lead = format!("[{}] 100% 1.0 kB read at 1.0 kB/s; ", "=".repeat(30));
        for (written, end) in [
            (None, "writing the tables |"),
            (Some((0, 0)), "writing the tables |"),
            (Some((0, 400)), "writing the tables 0% |"),
            (Some((399, 400)), "writing the tables 99% |"),
            (Some((400, 400)), "writing the tables 100% |"),
            (Some((500, 400)), "writing the tables 100% |"),
        ] {
            assert_eq!(line(written), format!("{lead}{end}"), "{written:?}");
        }
    }

    #[test]
    fn a_narrow_terminal_loses_the_bar_then_the_end() {
        let line = render(50_000_000, Some(200_000_000), Duration::from_secs(2), 0);
        assert_eq!(fit(&line, 120), line);
        assert_eq!(
            fit(&line, 60),
            "25% 50.0 MB / 200.0 MB  25.0 MB/s  ETA 00:06"
        );
        assert_eq!(fit(&line, 30), "25% 50.0 MB / 200.0 MB  25.0 ");
        assert_eq!(fit("x", 0), "x");
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map(|mut v| v.extend_from_slice(b))
                .map_err(|_| std::io::ErrorKind::Other)?;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What a bar forced to draw shows of 1,000 bytes with `done` of them read.
    fn drawn(done: u64) -> String {
        let out = Shared::default();
        let p = Progress::start(Some(1000), true, Box::new(out.clone()));
        p.counter().fetch_add(done, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        p.finish();
        String::from_utf8_lossy(&out.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned()
    }

    /// The last line drawn in `text`. The first is drawn as the bar starts, which
    /// may be before the test has counted anything; the last, after it stops.
    fn last_line(text: &str) -> &str {
        text.split("\r\x1b[2K")
            .filter(|line| !line.is_empty())
            .last()
            .unwrap_or_default()
    }

    #[test]
    fn a_forced_terminal_draws_and_ends_on_a_clean_line() {
        let text = drawn(400);
        assert!(last_line(&text).contains("40% 400 B / 1.0 kB"), "{text:?}");
        assert!(text.ends_with("\r\x1b[2K"), "{text:?}");
    }

    #[test]
    fn once_all_is_read_the_tables_are_being_written() {
        let text = drawn(1000);
        let last = last_line(&text);
        assert!(last.starts_with("100% 1.0 kB read at "), "{text:?}");
        assert!(last.contains("/s; writing the tables "), "{text:?}");
        assert!(!last.contains("ETA"), "{text:?}");
    }

    #[test]
    fn an_input_of_unknown_size_gets_its_total_once_read() {
        let out = Shared::default();
        let text = || {
            String::from_utf8_lossy(&out.0.lock().map(|v| v.clone()).unwrap_or_default())
                .into_owned()
        };
        // Each line is waited for (drawn at the next tick, 120 ms), however busy the
        // machine running the test.
        let drawn = |needle: &str| {
            let asked = Instant::now();
            while !text().contains(needle) && asked.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let p = Progress::start(None, true, Box::new(out.clone()));
        p.counter().fetch_add(500, Ordering::Relaxed);
        drawn("500 B read  ");
        p.later_total().store(1000, Ordering::SeqCst);
        drawn("50% 500 B / 1.0 kB");
        p.counter().fetch_add(500, Ordering::Relaxed);
        drawn("100% 1.0 kB read at ");
        p.finish();
        let text = text();
        assert!(text.contains("500 B read  "), "{text:?}");
        assert!(text.contains("50% 500 B / 1.0 kB"), "{text:?}");
        assert!(text.contains("100% 1.0 kB read at "), "{text:?}");
    }

    /// Told that the run has read all it will (its tables are then written), the
    /// line says so at once and until it ends, however much of the total was
    /// counted, and for an input of unknown size too.
    #[test]
    fn told_all_is_read_the_line_says_the_tables_are_being_written() {
        for (total, done, read) in [(Some(1000), 400, "400 B"), (None, 500, "500 B")] {
            let out = Shared::default();
            let p = Progress::start(total, true, Box::new(out.clone()));
            p.counter().fetch_add(done, Ordering::Relaxed);
            p.all_read(None);
            let text = || {
                String::from_utf8_lossy(&out.0.lock().map(|v| v.clone()).unwrap_or_default())
                    .into_owned()
            };
            // Drawn at once, not at the next tick: well within a second.
            let asked = Instant::now();
            while !text().contains("writing the tables") && asked.elapsed() < Duration::from_secs(5)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            p.finish();
            let text = text();
            let frames: Vec<&str> = text.split("\r\x1b[2K").filter(|f| !f.is_empty()).collect();
            let last = frames.last().copied().unwrap_or_default();
            assert!(
                // (Without its bar in a test's 80 columns.)
                last.starts_with(&format!("100% {read} read at "))
                    && last.contains("/s; writing the tables "),
                "{total:?}: {text:?}"
            );
            assert!(text.ends_with("\r\x1b[2K"), "{text:?}");
        }
    }

    #[test]
    fn no_terminal_no_drawing() {
        let out = Shared::default();
        let p = Progress::start(Some(1000), false, Box::new(out.clone()));
        p.counter().fetch_add(400, Ordering::Relaxed);
        p.finish();
        assert!(out.0.lock().map(|v| v.is_empty()).unwrap_or(false));
    }
}
