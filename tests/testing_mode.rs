//! TODO(placeholder): filled by the runtime and attribute work.
