//! The `transmogrify` command line.

fn main() {
    println!("transmogrify {}", env!("CARGO_PKG_VERSION"));
}
