//! Server-Sent Events: a bounded, sans-I/O decoder and an encoder.
//!
//! The decoder follows the WHATWG event-stream rules (`\n`, `\r\n` or `\r`
//! line ends, `data` lines joined with `\n`, comments ignored, one optional
//! leading space after the colon) and caps the size of a single event, so a
//! hostile upstream cannot make the gateway buffer without bound.

/// One decoded event. Events with empty `data` are returned too: MCP's
/// priming events (an `id` and empty data) carry only a resumption point.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `id` field, if the event set one.
    pub id: Option<String>,
    /// The `event` field (`message` when absent, per the SSE rules).
    pub event: Option<String>,
    /// The joined `data` lines.
    pub data: String,
    /// The `retry` field in milliseconds, if valid.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// The event type, defaulting to `message`.
    pub fn event_type(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// The stream broke a limit or a rule; the connection should be dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A single event (or line) exceeded the configured size.
    #[error("SSE event exceeds {limit} bytes")]
    EventTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The event data is not UTF-8.
    #[error("SSE event is not valid UTF-8")]
    NotUtf8,
}

/// Incremental decoder: feed it chunks as they arrive.
#[derive(Debug)]
pub struct SseDecoder {
    max_event_bytes: usize,
    line: Vec<u8>,
    data: Vec<u8>,
    id: Option<Vec<u8>>,
    event: Option<Vec<u8>>,
    retry: Option<u64>,
    has_fields: bool,
    event_bytes: usize,
    after_cr: bool,
    at_start: bool,
}

impl SseDecoder {
    /// A decoder that refuses events larger than `max_event_bytes`.
    pub fn new(max_event_bytes: usize) -> Self {
        SseDecoder {
            max_event_bytes,
            line: Vec::new(),
            data: Vec::new(),
            id: None,
            event: None,
            retry: None,
            has_fields: false,
            event_bytes: 0,
            after_cr: false,
            at_start: true,
        }
    }

    /// Feeds a chunk, appending every completed event to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.at_start && !chunk.is_empty() {
            self.at_start = false;
            if let Some(rest) = chunk.strip_prefix("\u{feff}".as_bytes()) {
                chunk = rest;
            }
        }
        for &b in chunk {
            if self.after_cr {
                self.after_cr = false;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\n' => self.end_line(out)?,
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(out)?;
                }
                _ => {
                    self.event_bytes += 1;
                    if self.event_bytes > self.max_event_bytes {
                        return Err(SseError::EventTooLarge {
                            limit: self.max_event_bytes,
                        });
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.line.is_empty() {
            return self.dispatch(out);
        }
        let line = std::mem::take(&mut self.line);
        if line[0] == b':' {
            return Ok(());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (&line[..], &[][..]),
        };
        match name {
            b"data" => {
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
                self.has_fields = true;
            }
            b"event" => {
                self.event = Some(value.to_vec());
                self.has_fields = true;
            }
            // An id containing NUL is ignored, per the SSE rules.
            b"id" if !value.contains(&0) => {
                self.id = Some(value.to_vec());
                self.has_fields = true;
            }
            b"retry" => {
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    self.retry = Some(ms);
                    self.has_fields = true;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        self.event_bytes = 0;
        if !self.has_fields {
            return Ok(());
        }
        self.has_fields = false;
        let mut data = std::mem::take(&mut self.data);
        if data.last() == Some(&b'\n') {
            data.pop();
        }
        let text = |v: Vec<u8>| String::from_utf8(v).map_err(|_| SseError::NotUtf8);
        out.push(SseEvent {
            id: self.id.take().map(text).transpose()?,
            event: self.event.take().map(text).transpose()?,
            data: text(data)?,
            retry: self.retry.take(),
        });
        Ok(())
    }
}

/// Writes one event. Multi-line data becomes several `data:` lines.
pub fn encode(id: Option<&str>, event: Option<&str>, data: &[u8], out: &mut Vec<u8>) {
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event.as_bytes());
        out.push(b'\n');
    }
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    for line in data.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// Writes a `retry:` field as its own event block (tells the client how long
/// to wait before reconnecting).
pub fn encode_retry(ms: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("retry: {ms}\n\n").as_bytes());
}

/// A comment line, used as a keep-alive.
pub const KEEP_ALIVE: &[u8] = b":\n\n";

#[cfg(test)]
mod tests;
