//! Outputs for the tests of writers that fail.

/// Output that takes `left` bytes and fails after that, as a full disk would.
pub(crate) struct FillsUp {
    pub(crate) left: usize,
}

impl std::io::Write for FillsUp {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("no space left on the test device"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
