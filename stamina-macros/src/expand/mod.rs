//! Code generation: the fn again, with the retry loop written into its body (`body.rs`), its
//! policy set up (`policy.rs`), and the closures that decide and show an error (`probe.rs`).
//!
//! ```text
//! fn f(args) -> Ret {
//!     // The value arguments, as `RetryPolicy` setters, checked by const evaluation:
//!     const __STAMINA_POLICY: RetryPolicy = RetryPolicy::new().attempts(check(5))..;
//!     // (`policy = BASE`: `let policy: &RetryPolicy = &BASE;`, the arguments applied on top.)
//!     fn __stamina_name_probe() {}                                   // its type name is the fn's path
//!     struct __StaminaPolicy; // a zero-sized `PolicySource` that names the constant
//!     let mut __stamina_state = RetryState::new(__StaminaPolicy);
//!     loop {
//!         let __stamina_outcome = attempt_sync::<Ret, _>(|| { body }); // `attempt::<Ret, _>(async { body }).await`
//!         let (__stamina_error, __stamina_rebuild) = match split(__stamina_outcome) {
//!             Outcome::Done(outcome) => return outcome,
//!             Outcome::Failed(error, rebuild) => (error, rebuild),
//!         };
//!         // decides, runs the hooks and sleeps, out of line; gives up with the error, unchanged
//!         if let Err(error) = __stamina_state.retry_or_give_up(__stamina_error, |e| on(e), || name) {
//!             return __stamina_rebuild(error);
//!         }
//!         // async: `let wait = match state.failed(error, |e| on(e), || name) { .. };`
//!         //        `sleep(DefaultTimer, wait).await; state.release_guards();` (or the fn's
//!         //        `sleeper`), the attempt after the first `attempting(..)`: published for
//!         //        the nested-retry guard
//!     }
//! }
//! ```
//!
//! `split` is the only place that needs `Ret` to be a `Result`, so a fn that returns something
//! else gets one error. The error is moved into `failed` before the wait: it is not part of an
//! `async fn`'s future across the sleep's `.await`, and a `!Send` error does not make the future
//! `!Send`. Locals are `__stamina_` names with `Span::mixed_site()`: the body cannot see them.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::Path;
use syn::spanned::Spanned;

use crate::item::RetryFn;
use crate::item::Shape;
use crate::validate::Plan;

mod body;
mod policy;
mod probe;

use self::body::{hedged, retry_loop, stream};
use self::policy::{policy, state_policy};

/// The fn with its body replaced by the retry loop.
pub(crate) fn expand(plan: &Plan, shape: Shape, item: RetryFn) -> TokenStream {
    let RetryFn {
        attrs,
        vis,
        sig,
        body,
        ..
    } = item;
    let names = Names::new();
    let (mut setup, policy) = policy(plan, &names, &sig.generics);
    // A hedged fn's caller holds the policy: no state of its own.
    let state_policy = if plan.hedge.is_some() {
        TokenStream::new()
    } else {
        state_policy(plan, &names, &policy, &sig.generics, &mut setup)
    };
    if let Some(sleeper) = &plan.sleeper {
        let var = &names.sleeper;
        setup.extend(quote_spanned!(sleeper.span()=> let #var = #sleeper;));
    }
    // A closure `on_ok` is written where it is called, which gives its argument a type; any
    // other value is evaluated once per call.
    if let Some(on_ok) = plan.on_ok.as_ref().filter(|e| !is_closure(e)) {
        let var = &names.on_ok;
        setup.extend(quote_spanned!(on_ok.span()=> let #var = &(#on_ok);));
    }
    let probe = plan.name.is_none().then(|| {
        let probe = &names.probe;
        quote!(fn #probe() {})
    });
    // The new body keeps the braces of the one written, so that the fn's span is the user's:
    // lints that skip code from a macro (`dead_code` on an uncalled fn) still see the fn.
    let brace = body.as_ref().map(|b| b.brace.span.join());
    let inner = match shape {
        Shape::Sync { ret } | Shape::Async { ret } if body.is_some() => {
            let mode = if sig.asyncness.is_some() {
                Mode::Async
            } else {
                Mode::Sync
            };
            let body = body.expect("checked by the guard");
            if plan.hedge.is_some() {
                let run = hedged(plan, &names, &policy, &ret, &body, &sig);
                return finish(&attrs, &vis, &sig, brace, quote!(#setup #probe #run));
            }
            let run = retry_loop(
                plan,
                &names,
                &policy,
                &state_policy,
                &ret,
                &body,
                mode,
                &sig.generics,
            );
            quote!(#setup #probe #run)
        }
        Shape::AsyncTrait(async_trait) => {
            let run = retry_loop(
                plan,
                &names,
                &policy,
                &state_policy,
                &async_trait.ret,
                &async_trait.body,
                Mode::Async,
                &sig.generics,
            );
            async_trait.with_body(quote!({ #setup #probe #run }))
        }
        Shape::Stream { iter, item } => {
            let body = body.expect("`validate` rejects fns without a body");
            let run = stream(
                plan,
                &names,
                &state_policy,
                &body,
                iter,
                item.as_ref(),
                &sig.generics,
            );
            quote!(#setup #probe #run)
        }
        Shape::Sync { .. } | Shape::Async { .. } => {
            unreachable!("`validate` rejects fns without a body")
        }
    };
    finish(&attrs, &vis, &sig, brace, inner)
}

/// The fn with its new body, in the braces of the one written.
fn finish(
    attrs: &[syn::Attribute],
    vis: &syn::Visibility,
    sig: &syn::Signature,
    brace: Option<Span>,
    inner: TokenStream,
) -> TokenStream {
    let mut new_body = Group::new(Delimiter::Brace, inner);
    if let Some(span) = brace {
        new_body.set_span(span);
    }
    quote! {
        #(#attrs)*
        #vis #sig #new_body
    }
}

/// The identifiers of generated code: `__stamina_` and hygienic where the name is a local.
struct Names {
    /// The `const` of the policy.
    policy_static: Ident,
    /// The zero-sized type that names it, for the state.
    policy_type: Ident,
    /// The local that holds the policy (or a reference to it) with `policy = ..`.
    policy: Ident,
    /// The local that holds the `sleeper = ..`.
    sleeper: Ident,
    probe: Ident,
    state: Ident,
    error: Ident,
    outcome: Ident,
    rebuild: Ident,
    wait: Ident,
    e: Ident,
    /// The local that holds a non-closure `on_ok = ..`.
    on_ok: Ident,
    /// An `async` attempt's future, before it is awaited.
    attempt: Ident,
    value: Ident,
    rebuild_ok: Ident,
    decision: Ident,
}

impl Names {
    fn new() -> Self {
        let local = |name: &str| Ident::new(name, Span::mixed_site());
        Names {
            policy_static: local("__STAMINA_POLICY"),
            policy_type: local("__StaminaPolicy"),
            policy: local("__stamina_policy"),
            sleeper: local("__stamina_sleeper"),
            probe: local("__stamina_name_probe"),
            state: local("__stamina_state"),
            error: local("__stamina_error"),
            outcome: local("__stamina_outcome"),
            rebuild: local("__stamina_rebuild"),
            wait: local("__stamina_wait"),
            e: local("__stamina_e"),
            on_ok: local("__stamina_on_ok"),
            attempt: local("__stamina_attempt"),
            value: local("__stamina_value"),
            rebuild_ok: local("__stamina_rebuild_ok"),
            decision: local("__stamina_decision"),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Sync,
    Async,
}

/// The `#[allow(..)]` that generated code needs, and nothing more; the one place that emits one.
///
/// The only lint so far: `unused_imports`, on the `use` of the three probe traits that
/// `on = SomeType` brings into scope, of which method resolution uses one. (Lints that would fire
/// on the `__stamina_` names, such as `clippy::used_underscore_binding`, skip code that a proc
/// macro generated; `tests/compile/pedantic.rs` checks that every form stays clean.)
fn allow(lints: &[&str]) -> TokenStream {
    let lints = lints.iter().map(|lint| {
        let path: Path = syn::parse_str(lint).expect("a lint name");
        path
    });
    quote!(#[allow(#(#lints),*)])
}

/// `func(args)`, located at `span`: where a const-evaluation panic of `func` points, and where
/// an unmet bound of `func` is reported.
fn call_at(func: TokenStream, args: TokenStream, span: Span) -> TokenStream {
    let mut group = Group::new(Delimiter::Parenthesis, args);
    group.set_span(span);
    let mut call = located_at(func, span);
    call.extend([TokenTree::Group(group)]);
    call
}

/// A closure expression (`|r| ..`, `move |r| ..`), whose argument type the call gives.
fn is_closure(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Closure(_))
}

/// The tokens with their location moved to `span`, and their hygiene kept.
fn located_at(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(group) = &tt {
                let mut inner = Group::new(group.delimiter(), located_at(group.stream(), span));
                inner.set_span(group.span().located_at(span));
                tt = TokenTree::Group(inner);
            } else {
                tt.set_span(tt.span().located_at(span));
            }
            tt
        })
        .collect()
}
