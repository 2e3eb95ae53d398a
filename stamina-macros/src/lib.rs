//! The `#[retry]` attribute of `stamina` (placeholder until the attribute lands).
#![allow(missing_docs)]
use proc_macro::TokenStream;

#[proc_macro_attribute]
pub fn retry(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
