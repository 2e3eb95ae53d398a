//! Code generation: the fn again, with the retry loop written into its body.
//!
//! ```text
//! fn f(args) -> Ret {
//!     static __STAMINA_POLICY: Policy = Policy::new().attempts(..)..;   // evaluated at compile time
//!     fn __stamina_name_probe() {}                                       // its type name is the fn's path
//!     let mut __stamina_state = RetryState::new(&__STAMINA_POLICY);
//!     loop {
//!         let __stamina_outcome = attempt_sync::<Ret, _>(|| { body });    // `attempt::<Ret, _>(async { body }).await`
//!         let (__stamina_error, __stamina_rebuild) = match split(__stamina_outcome) {
//!             Outcome::Done(outcome) => return outcome,
//!             Outcome::Failed(error, rebuild) => (error, rebuild),
//!         };
//!         // decides, runs the hooks and sleeps, out of line; gives up with the error, unchanged
//!         if let Err(error) = __stamina_state.retry_or_give_up(__stamina_error, |e| on(e), || name) {
//!             return __stamina_rebuild(error);
//!         }
//!         // async: `let wait = match state.failed(error, |e| on(e), || name) { .. };`
//!         //        `sleep(Tokio, wait).await; state.release_guards();`
//!     }
//! }
//! ```
//!
//! `split` is the only place that needs `Ret` to be a `Result`, so a fn that returns something
//! else gets one error. The error is moved into `failed` before the wait: it is not part of an
//! `async fn`'s future across the sleep's `.await`, and a `!Send` error does not make the future
//! `!Send`. Locals are `__stamina_` names with `Span::mixed_site()`: the body cannot see them.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, GenericParam, Generics, Path, Stmt, Type};

use crate::args::On;
use crate::item::{Body, RetryFn};
use crate::validate::{Base, Limit, Plan, Shape, Wait};

/// The fn with its body replaced by the retry loop.
pub(crate) fn expand(plan: &Plan, item: RetryFn) -> TokenStream {
    let RetryFn {
        attrs,
        vis,
        sig,
        body,
        ..
    } = item;
    let body = body.expect("`validate` rejects fns without a body");
    let names = Names::new();
    let (items, policy) = items(plan, &names, &sig.generics);
    let new_body = match &plan.shape {
        Shape::Sync { ret } => {
            let run = loop_(plan, &names, &policy, ret, &body, Kind::Sync);
            quote!({ #items #run })
        }
        Shape::Async { ret } => {
            let run = loop_(plan, &names, &policy, ret, &body, Kind::Async);
            quote!({ #items #run })
        }
        Shape::AsyncTrait { block, index, ret } => {
            let mut block = block.clone();
            let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.last_mut() else {
                unreachable!("checked by `validate`")
            };
            let Some(Expr::Async(inner)) = call.args.first_mut() else {
                unreachable!("checked by `validate`")
            };
            let Stmt::Local(local) = &mut inner.block.stmts[*index] else {
                unreachable!("checked by `validate`")
            };
            let init = local.init.as_mut().expect("checked by `validate`");
            // `#[async_trait]` keeps the body's braces: `let __ret: R = { body };`.
            let original = match &*init.expr {
                Expr::Block(block) if block.attrs.is_empty() && block.label.is_none() => Body {
                    brace: block.block.brace_token,
                    stmts: {
                        let stmts = &block.block.stmts;
                        quote!(#(#stmts)*)
                    },
                },
                other => Body {
                    brace: body.brace,
                    stmts: other.to_token_stream(),
                },
            };
            let run = loop_(plan, &names, &policy, ret, &original, Kind::Async);
            *init.expr = Expr::Verbatim(quote!({ #run }));
            let stmts = &block.stmts;
            quote!({ #items #(#stmts)* })
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig #new_body
    }
}

/// The identifiers of generated code: `__stamina_` and hygienic where the name is a local.
struct Names {
    policy: Ident,
    probe: Ident,
    state: Ident,
    error: Ident,
    outcome: Ident,
    rebuild: Ident,
    wait: Ident,
    e: Ident,
}

impl Names {
    fn new() -> Self {
        let local = |name: &str| Ident::new(name, Span::mixed_site());
        Names {
            policy: local("__STAMINA_POLICY"),
            probe: local("__stamina_name_probe"),
            state: local("__stamina_state"),
            error: local("__stamina_error"),
            outcome: local("__stamina_outcome"),
            rebuild: local("__stamina_rebuild"),
            wait: local("__stamina_wait"),
            e: local("__stamina_e"),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Sync,
    Async,
}

/// The `#[allow(..)]` that generated code needs, and nothing more; the one place that emits one.
///
/// The only lint so far: `unused_imports`, on the `use` of the three probe traits that
/// `on = SomeType` brings into scope, of which method resolution uses one. (Lints that would fire
/// on the `__stamina_` names, such as `clippy::used_underscore_binding`, skip code that a proc
/// macro generated; `tests/pedantic.rs` checks that every form stays clean.)
fn allow(lints: &[&str]) -> TokenStream {
    let lints = lints.iter().map(|lint| {
        let path: Path = syn::parse_str(lint).expect("a lint name");
        path
    });
    quote!(#[allow(#(#lints),*)])
}

/// The items at the top of the body, and the expression of a `&'static Policy`.
///
/// The configuration is a `static`, evaluated once at compile time (also by `cargo check`). A
/// `static` cannot name `Self` or the fn's generic parameters: when an argument does
/// (`attempts = Self::ATTEMPTS`), it is an inline `const` block instead, promoted to a
/// `&'static` all the same, whose checks run when the fn is compiled to code.
fn items(plan: &Plan, names: &Names, generics: &Generics) -> (TokenStream, TokenStream) {
    let krate = &plan.krate;
    let policy = &names.policy;
    let config = policy_expr(plan);
    let probe = (plan.name.is_none()).then(|| {
        let probe = &names.probe;
        quote!(fn #probe() {})
    });
    let mut generic_names: Vec<String> = vec!["Self".to_owned()];
    generic_names.extend(generics.params.iter().filter_map(|p| match p {
        GenericParam::Type(t) => Some(t.ident.to_string()),
        GenericParam::Const(c) => Some(c.ident.to_string()),
        GenericParam::Lifetime(_) => None,
    }));
    if mentions(config.clone(), &generic_names) {
        (quote!(#probe), quote!(&const { #config }))
    } else {
        (
            quote! {
                static #policy: #krate::__private::Policy = #config;
                #probe
            },
            quote!(&#policy),
        )
    }
}

/// Whether `tokens` name one of `idents`.
fn mentions(tokens: TokenStream, idents: &[String]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => idents.iter().any(|name| ident == name),
        TokenTree::Group(group) => mentions(group.stream(), idents),
        _ => false,
    })
}

/// `Policy::new()` with a setter for each argument given: evaluated at compile time.
fn policy_expr(plan: &Plan) -> TokenStream {
    let krate = &plan.krate;
    let some = quote!(::core::option::Option::Some);
    let none = quote!(::core::option::Option::None);
    let wait = |wait: &Wait| match wait {
        Wait::Const(d) => {
            let secs = d.as_secs();
            let nanos = d.subsec_nanos();
            quote!(#krate::__private::Duration::new(#secs, #nanos))
        }
        Wait::Expr(expr) => expr.to_token_stream(),
    };
    let mut config = quote!(#krate::__private::Policy::new());
    if let Some(attempts) = &plan.attempts {
        let value = match attempts {
            Limit::None => none.clone(),
            Limit::Some(n) => quote!(#some(#n)),
            Limit::Expr(expr) => checked_call(quote!(#krate::__private::attempts), expr),
        };
        config.extend(quote!(.attempts(#value)));
    }
    if let Some(timeout) = &plan.timeout {
        let value = match timeout {
            Limit::None => none,
            Limit::Some(w) => {
                let w = wait(w);
                quote!(#some(#w))
            }
            Limit::Expr(expr) => expr.to_token_stream(),
        };
        config.extend(quote!(.timeout(#value)));
    }
    for (setter, value) in [
        ("wait_initial", &plan.wait_initial),
        ("wait_max", &plan.wait_max),
        ("wait_jitter", &plan.wait_jitter),
    ] {
        if let Some(value) = value {
            let setter = Ident::new(setter, Span::call_site());
            let value = wait(value);
            config.extend(quote!(.#setter(#value)));
        }
    }
    if let Some(base) = &plan.wait_exp_base {
        let value = match base {
            Base::Const(b) => proc_macro2::Literal::f64_suffixed(*b).into_token_stream(),
            Base::Expr(expr) => checked_call(quote!(#krate::__private::wait_exp_base), expr),
        };
        config.extend(quote!(.wait_exp_base(#value)));
    }
    config
}

/// `check(expr)`, located at `expr`: where a const-evaluation panic of `check` points.
fn checked_call(check: TokenStream, expr: &Expr) -> TokenStream {
    let span = expr.span();
    let mut args = Group::new(Delimiter::Parenthesis, expr.to_token_stream());
    args.set_span(span);
    let mut call = located_at(check, span);
    call.extend([TokenTree::Group(args)]);
    call
}

/// The retry loop around `body`.
fn loop_(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    ret: &Type,
    body: &Body,
    kind: Kind,
) -> TokenStream {
    let krate = &plan.krate;
    let Names {
        state,
        error,
        outcome: outcome_var,
        rebuild,
        wait,
        ..
    } = names;
    // Everything that needs the return type to be a `Result` is spanned at it: a fn that returns
    // something else gets one error there, and nothing else.
    // The closure or `async` block is spanned at the body, where rustc's borrow errors (a body
    // that moves an argument out) then point.
    let body_span = body.brace.span.join();
    let outcome = match kind {
        Kind::Sync => {
            let closure = quote_spanned!(body_span=> || #body);
            quote!(#krate::__private::attempt_sync::<#ret, _>(#closure))
        }
        Kind::Async => {
            let block = quote_spanned!(body_span=> async #body);
            quote!(#krate::__private::attempt::<#ret, _>(#block).await)
        }
    };
    // `split` is the one place that needs the return type to be a `Result`: located there, it
    // reports a fn that returns something else as one error at its return type.
    let split = located_at(quote!(#krate::__private::split(#outcome_var)), ret.span());
    let decision = decision(plan, names);
    let name = name(plan, names);
    // Sync: deciding and sleeping are one out-of-line call, so that the loop keeps few values
    // live and the happy path stays as tight as a hand-written loop.
    let on_error = match kind {
        Kind::Sync => quote! {
            if let ::core::result::Result::Err(#error) =
                #state.retry_or_give_up(#error, #decision, #name)
            {
                return #rebuild(#error);
            }
        },
        Kind::Async => quote! {
            let #wait = match #state.failed(#error, #decision, #name) {
                ::core::result::Result::Ok(#wait) => #wait,
                ::core::result::Result::Err(#error) => return #rebuild(#error),
            };
            #krate::__private::sleep(#krate::__private::Tokio, #wait).await;
            #state.release_guards();
        },
    };
    quote! {
        let mut #state = #krate::__private::RetryState::new(#policy);
        loop {
            let #outcome_var = #outcome;
            let (#error, #rebuild) = match #split {
                #krate::__private::Outcome::Done(#outcome_var) => return #outcome_var,
                #krate::__private::Outcome::Failed(#error, #rebuild) => (#error, #rebuild),
            };
            #on_error
        }
    }
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

/// The `callable` label, as a closure that the runtime calls only when hooks run: `name = ".."`,
/// or the fn's path from the probe's type name.
fn name(plan: &Plan, names: &Names) -> TokenStream {
    let krate = &plan.krate;
    let probe = &names.probe;
    let name = plan.name.as_ref().map_or_else(
        || quote!(#krate::__private::fn_name(::core::any::type_name_of_val(&#probe))),
        ToTokens::to_token_stream,
    );
    quote!(|| #name)
}

/// The decision closure that `failed` calls with `&error`.
fn decision(plan: &Plan, names: &Names) -> TokenStream {
    let krate = &plan.krate;
    let e = &names.e;
    let body = match &plan.on {
        On::Types(types) => {
            let checks = types.iter().map(|ty| {
                quote_spanned! {ty.span()=>
                    #krate::__private::matched(
                        (&&#krate::__private::Probe::<#ty, _>::new(#e)).stamina_matches()
                    )
                }
            });
            let allow = allow(&["unused_imports"]);
            quote! {{
                #allow
                use #krate::__private::{Downcast as _, Exact as _, Mismatch as _};
                #krate::__private::decide(#(#checks)||*)
            }}
        }
        On::Fn(path) => {
            quote_spanned!(plan.on_span.join(path.span()).unwrap_or(plan.on_span)=>
                #krate::__private::decide(#path(#e)))
        }
        // Located at the predicate, where an unmet bound (a return type that is not
        // `Into<Decision>`) then points.
        On::Value(expr) => {
            let span = expr.span();
            let mut args = Group::new(Delimiter::Parenthesis, quote!(#e, #expr));
            args.set_span(span);
            let mut call = located_at(quote!(#krate::__private::predicate), span);
            call.extend([TokenTree::Group(args)]);
            call
        }
    };
    quote!(|#e| #body)
}
