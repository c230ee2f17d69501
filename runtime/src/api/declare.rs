//! Output declaration: the streams and fields a component emits.

use crate::topology::yaml::StreamDecl;

/// Collects the streams a component declares in `declare_outputs`.
#[derive(Debug, Default)]
pub struct OutputDeclarer {
    streams: Vec<StreamDecl>,
}

impl OutputDeclarer {
    /// An empty declarer.
    pub fn new() -> OutputDeclarer {
        OutputDeclarer::default()
    }

    /// Declare the default stream with these fields.
    pub fn declare(&mut self, fields: &[&str]) -> &mut Self {
        self.declare_stream(crate::DEFAULT_STREAM, fields)
    }

    /// Declare a named stream with these fields.
    pub fn declare_stream(&mut self, stream: &str, fields: &[&str]) -> &mut Self {
        self.add(stream, fields, false)
    }

    /// Declare the default stream as direct (written with `emit_direct` only).
    pub fn declare_direct(&mut self, fields: &[&str]) -> &mut Self {
        self.declare_stream_direct(crate::DEFAULT_STREAM, fields)
    }

    /// Declare a named direct stream.
    pub fn declare_stream_direct(&mut self, stream: &str, fields: &[&str]) -> &mut Self {
        self.add(stream, fields, true)
    }

    fn add(&mut self, stream: &str, fields: &[&str], direct: bool) -> &mut Self {
        let decl = StreamDecl {
            id: stream.to_string(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
            direct,
        };
        match self.streams.iter_mut().find(|s| s.id == stream) {
            Some(existing) => *existing = decl,
            None => self.streams.push(decl),
        }
        self
    }

    /// The declared streams, in declaration order.
    pub fn into_streams(self) -> Vec<StreamDecl> {
        self.streams
    }
}
