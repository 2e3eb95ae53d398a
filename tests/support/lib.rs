//! Helpers shared by the test binaries of this package.
