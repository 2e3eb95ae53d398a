//! Code generation: the fn again, with the retry loop written into its body.
//!
//! ```text
//! fn f(args) -> Ret {
//!     // The value arguments, as `RetryPolicy` setters, checked by const evaluation:
//!     const __STAMINA_POLICY: RetryPolicy = RetryPolicy::new().attempts(check(5))..;
//!     // (`policy = BASE`: `let policy: &RetryPolicy = &BASE;`, the arguments applied on top.)
//!     fn __stamina_name_probe() {}                                   // its type name is the fn's path
//!     let mut __stamina_state = RetryState::new(&__STAMINA_POLICY);
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
//!         //        `sleep(Tokio, wait).await; state.release_guards();`
//!     }
//! }
//! ```
//!
//! `split` is the only place that needs `Ret` to be a `Result`, so a fn that returns something
//! else gets one error. The error is moved into `failed` before the wait: it is not part of an
//! `async fn`'s future across the sleep's `.await`, and a `!Send` error does not make the future
//! `!Send`. Locals are `__stamina_` names with `Span::mixed_site()`: the body cannot see them.

use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, Generics, Path, Type};

use crate::args::{Arg, Kind, On, Value};
use crate::item::{Body, RetryFn};
use crate::types;
use crate::validate::{Plan, Shape};

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
    let state_policy = state_policy(plan, &names, &policy, &sig.generics, &mut setup);
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
    let mut new_body = Group::new(Delimiter::Brace, inner);
    if let Some(span) = brace {
        new_body.set_span(span);
    }
    quote! {
        #(#attrs)*
        #vis #sig #new_body
    }
}

/// What the state holds of the policy: for a constant policy, a zero-sized value that names it
/// (whose type `setup` gets), not a reference.
fn state_policy(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    generics: &Generics,
    setup: &mut TokenStream,
) -> TokenStream {
    if plan.policy.is_some() || plan.budget.is_some() || mentions_generics(plan, generics) {
        return policy.clone();
    }
    let krate = &plan.krate;
    let zst = &names.policy_type;
    let constant = &names.policy_static;
    setup.extend(quote! {
        #[derive(Clone, Copy)]
        struct #zst;
        impl #krate::__private::PolicySource<'static> for #zst {
            #[inline]
            fn get(self) -> &'static #krate::RetryPolicy {
                &#constant
            }
        }
    });
    zst.to_token_stream()
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
/// macro generated; `tests/pedantic.rs` checks that every form stays clean.)
fn allow(lints: &[&str]) -> TokenStream {
    let lints = lints.iter().map(|lint| {
        let path: Path = syn::parse_str(lint).expect("a lint name");
        path
    });
    quote!(#[allow(#(#lints),*)])
}

/// The statements that set up the call's policy, and the expression of a `&RetryPolicy` that
/// lives for the call.
///
/// Without `policy = ..`, the value arguments make a `const` item, evaluated once at compile
/// time (also by `cargo check`), whose const evaluation applies the runtime's rules to them, and
/// which `&` promotes to a `&'static`. (A `const`, not a `static`: for a value that is not
/// constant, rustc's error then does not suggest a `LazyLock`, where `policy = ..` is the fix.)
/// An item cannot name `Self` or the fn's generic parameters: when an argument does
/// (`attempts = Self::ATTEMPTS`), it is an inline `const` block instead, promoted all the same,
/// whose checks run when the fn is compiled to code.
///
/// With `policy = ..`, the base is read on each call: borrowed if it is an item, copied if it is
/// anything else, and the value arguments are applied to a copy of it, after the same checks.
fn policy(plan: &Plan, names: &Names, generics: &Generics) -> (TokenStream, TokenStream) {
    let (mut setup, policy) = base_policy(plan, names, generics);
    let Some(budget) = &plan.budget else {
        return (setup, policy);
    };
    // `budget = EXPR` read on each call (a partition's budget): on a copy of the policy.
    let krate = &plan.krate;
    let var = &names.policy;
    let budget = call_at(
        quote!(#krate::__private::budget),
        budget.to_token_stream(),
        budget.span(),
    );
    setup.extend(quote! {
        let #var: #krate::RetryPolicy = (*#policy).budget(#budget);
    });
    (setup, quote!(&#var))
}

/// [`policy`] without a budget read on each call.
fn base_policy(plan: &Plan, names: &Names, generics: &Generics) -> (TokenStream, TokenStream) {
    let krate = &plan.krate;
    let policy_ty = quote!(#krate::RetryPolicy);
    let new = quote!(#policy_ty::new());
    let var = &names.policy;
    let generic = mentions_generics(plan, generics);
    match &plan.policy {
        None if generic => {
            let checked = whole(plan, setters(plan, new, true));
            (TokenStream::new(), quote!(&const { #checked }))
        }
        None => {
            let checked = whole(plan, setters(plan, new, true));
            let name = &names.policy_static;
            (quote!(const #name: #policy_ty = #checked;), quote!(&#name))
        }
        Some(base) => {
            let expr = &base.expr;
            // Located at the expression: a value of another type is an error there.
            let mut setup = quote_spanned!(expr.span()=> let #var: &#policy_ty = &(#expr););
            if !plan.config.is_empty() {
                let checked = setters(plan, new, true);
                setup.extend(if generic {
                    quote!(let _ = const { #checked };)
                } else {
                    quote!(const _: #policy_ty = #checked;)
                });
                let applied = setters(plan, quote!((*#var)), false);
                setup.extend(quote!(let #var: #policy_ty = #applied;));
            } else if !base.borrow {
                setup.extend(quote!(let #var: #policy_ty = *#var;));
            } else {
                return (setup, quote!(#var));
            }
            (setup, quote!(&#var))
        }
    }
}

/// The rules across a whole policy, applied to the constant policy of a fn without
/// `policy = ..` by const evaluation, located at the argument that breaks them: a
/// `min_attempt_time` without `timeout_mode = Deadline` does nothing.
fn whole(plan: &Plan, policy: TokenStream) -> TokenStream {
    let krate = &plan.krate;
    match plan
        .config
        .iter()
        .find(|arg| arg.spec.name == "min_attempt_time")
    {
        Some(arg) => call_at(
            quote!(#krate::__private::min_attempt_time_in_deadline_mode),
            policy,
            arg.key,
        ),
        None => policy,
    }
}

/// `base` with a setter call for each value argument; with `checked`, each value goes through
/// the runtime's const check of it, located at the value, where a failed check then points.
fn setters(plan: &Plan, base: TokenStream, checked: bool) -> TokenStream {
    let krate = &plan.krate;
    let mut tokens = base;
    for arg in &plan.config {
        let setter = Ident::new(arg.spec.setter.expect("a value argument"), arg.key);
        if let Value::None = arg.value {
            let none = match arg.spec.kind {
                Kind::Count { none } | Kind::Duration { none: Some(none) } => none,
                Kind::Budget => "no_budget",
                _ => unreachable!("`args` takes `None` only where there is a setter for it"),
            };
            let none = Ident::new(none, arg.key);
            tokens.extend(quote!(.#none()));
            continue;
        }
        if let (Kind::Budget, Value::Const(expr)) = (arg.spec.kind, &arg.value) {
            // A `static`, borrowed into the constant policy through a `static` of its own: a
            // `const` budget (a fresh copy at each use, which no call would share) is then one
            // error, rustc's, that says to make it a `static`.
            let budget = Ident::new("__STAMINA_BUDGET", Span::mixed_site());
            let value = quote_spanned! {arg.span=> {
                static #budget: &#krate::RetryBudget = &#expr;
                #budget
            }};
            tokens.extend(quote!(.#setter(#value)));
            continue;
        }
        let mut value = value_tokens(krate, arg);
        if let (true, Some(check)) = (checked, arg.spec.check) {
            let check = Ident::new(check, Span::call_site());
            value = call_at(quote!(#krate::__private::#check), value, arg.span);
        }
        tokens.extend(quote!(.#setter(#value)));
    }
    tokens
}

/// A value argument's value as an expression.
fn value_tokens(krate: &Path, arg: &Arg) -> TokenStream {
    let mut tokens = match &arg.value {
        // Read by the runtime's grammar in a `const` block: at compile time, even where the
        // policy is built on each call, and a bad literal is an error there.
        Value::Duration(text) => {
            let read = call_at(quote!(#krate::__private::duration), quote!(#text), arg.span);
            return quote!(const { #read });
        }
        Value::Count(n) => Literal::u32_unsuffixed(*n).into_token_stream(),
        Value::Number(x) => Literal::f64_suffixed(*x).into_token_stream(),
        Value::Const(expr) => return expr.to_token_stream(),
        Value::Ident(variant) => {
            let Kind::Variant { ty } = arg.spec.kind else {
                unreachable!("only variants are values among identifiers")
            };
            let ty = Ident::new(ty, variant.span());
            return quote!(#krate::#ty::#variant);
        }
        Value::None | Value::On(_) | Value::Runtime(_) | Value::Str(_) | Value::Path(_) => {
            unreachable!("not a value")
        }
    };
    tokens = located_at(tokens, arg.span);
    tokens
}

/// Whether a value argument names `Self` or one of the fn's generic parameters, which a
/// `static` or a `const` item cannot.
fn mentions_generics(plan: &Plan, generics: &Generics) -> bool {
    let mut idents: Vec<String> = vec!["Self".to_owned()];
    idents.extend(generics.params.iter().filter_map(|p| match p {
        GenericParam::Type(t) => Some(t.ident.to_string()),
        GenericParam::Const(c) => Some(c.ident.to_string()),
        GenericParam::Lifetime(_) => None,
    }));
    plan.config.iter().any(|arg| match &arg.value {
        Value::Const(expr) => mentions(expr.to_token_stream(), &idents),
        _ => false,
    })
}

/// Whether `tokens` name one of `idents`.
fn mentions(tokens: TokenStream, idents: &[String]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => idents.iter().any(|name| ident == name),
        TokenTree::Group(group) => mentions(group.stream(), idents),
        _ => false,
    })
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

/// The retry loop around `body`.
#[allow(clippy::too_many_arguments, reason = "the parts of one loop")]
fn retry_loop(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    state_policy: &TokenStream,
    ret: &Type,
    body: &Body,
    kind: Mode,
    generics: &Generics,
) -> TokenStream {
    let krate = &plan.krate;
    let Names {
        state,
        error,
        outcome: outcome_var,
        rebuild,
        value,
        rebuild_ok,
        ..
    } = names;
    // The closure or `async` block is spanned at the body, where rustc's borrow errors (a body
    // that moves an argument out) then point.
    let body_span = body.brace.span.join();
    // From the second attempt on, an attempt is published for the nested-retry guard: a sync
    // call's state publishes from its first retry on, and an `async` attempt is awaited at a
    // second await point, in a wrapper that costs the future nothing (the two are never alive
    // together).
    let outcome = match kind {
        Mode::Sync => {
            let closure = quote_spanned!(body_span=> || #body);
            quote!(#krate::__private::attempt_sync::<#ret, _>(#closure))
        }
        Mode::Async => {
            let block = quote_spanned!(body_span=> async #body);
            let attempt = &names.attempt;
            quote! {{
                let #attempt = #krate::__private::attempt::<#ret, _>(#block);
                if #state.attempt_num() == 1 {
                    #attempt.await
                } else {
                    #krate::__private::attempting(#attempt).await
                }
            }}
        }
    };
    let name = name(plan, names);
    // Only `on_ok`: no error is retried.
    let on_error = plan.on.as_ref().map_or_else(
        || quote!(return #rebuild(#error);),
        |on| on_error(plan, names, on, &name, kind, generics),
    );
    // `split` is the one place that needs the return type to be a `Result`: located there, it
    // reports a fn that returns something else as one error at its return type.
    let split = match &plan.on_ok {
        None => {
            let split = located_at(quote!(#krate::__private::split(#outcome_var)), ret.span());
            quote! {
                match #split {
                    #krate::__private::Outcome::Done(#outcome_var) => {
                        #krate::__private::succeeded(#policy, &#state);
                        return #outcome_var;
                    }
                    #krate::__private::Outcome::Failed(#error, #rebuild) => (#error, #rebuild),
                }
            }
        }
        Some(on_ok) => {
            let split = located_at(
                quote!(#krate::__private::split_ok(#outcome_var)),
                ret.span(),
            );
            let label = types::ok_type(ret).and_then(|ok| types::written(ok, generics));
            let on_value = on_value(plan, names, policy, on_ok, &name, kind, label.as_deref());
            quote! {
                match #split {
                    #krate::__private::OutcomeOk::Value(#value, #rebuild_ok) => { #on_value }
                    #krate::__private::OutcomeOk::Failed(#error, #rebuild) => (#error, #rebuild),
                }
            }
        }
    };
    // `attempt = name`: the clock always runs, and each attempt sees its `Attempt` by that name.
    let (new, bind) = match &plan.attempt {
        Some(name) => (
            quote!(measured),
            quote!(let #name: #krate::Attempt = #state.attempt();),
        ),
        None => (quote!(new), TokenStream::new()),
    };
    quote! {
        let mut #state = #krate::__private::RetryState::#new(#state_policy);
        loop {
            #bind
            let #outcome_var = #outcome;
            let (#error, #rebuild) = #split;
            #on_error
        }
    }
}

/// A stream or iterator fn: the body makes each attempt's stream, and the runtime's retrying
/// stream (or iterator) is the fn's value.
fn stream(
    plan: &Plan,
    names: &Names,
    state_policy: &TokenStream,
    body: &Body,
    iter: bool,
    item: Option<&Type>,
    generics: &Generics,
) -> TokenStream {
    let krate = &plan.krate;
    let body_span = body.brace.span.join();
    let mut make = quote_spanned!(body_span=> move || #body);
    // The item type as written: a body that leaves the error type to inference (`.map(Ok)`)
    // gets it here, before `on` is checked against it.
    if let Some(item) = item {
        // Located at the item type: one that is not a `Result` is an error there.
        let typed = if iter {
            quote!(#krate::__private::iter_of::<#item, _, _>)
        } else {
            quote!(#krate::__private::stream_of::<#item, _, _>)
        };
        make = call_at(typed, make, item.span());
    }
    let on = plan.on.as_ref().expect("`on` is required for streams");
    let decision = decision(plan, names, on);
    let cause_of = cause_of(plan, names, on, generics);
    let name = name(plan, names);
    if iter {
        return quote! {
            #krate::__private::retry_iter(#state_policy, #make, #decision, #cause_of, #name)
        };
    }
    let sleeper = if plan.sleeper.is_some() {
        names.sleeper.to_token_stream()
    } else {
        quote!(#krate::__private::default_sleeper(#krate::__private::DefaultTimer))
    };
    quote! {
        #krate::__private::retry_stream(#state_policy, #sleeper, #make, #decision, #cause_of, #name)
    }
}

/// What the loop does with an error: decide, run the hooks and sleep, or give up with it.
fn on_error(
    plan: &Plan,
    names: &Names,
    on: &On,
    name: &TokenStream,
    kind: Mode,
    generics: &Generics,
) -> TokenStream {
    let Names {
        state,
        error,
        rebuild,
        wait,
        ..
    } = names;
    let decision = decision(plan, names, on);
    let cause_of = cause_of(plan, names, on, generics);
    match kind {
        // Sync: deciding and sleeping are one out-of-line call, so that the loop keeps few
        // values live and the happy path stays as tight as a hand-written loop.
        // The cause is probed after the decision, in the same call: with `on = SomeType`, the
        // decision's probe may be what gives the error its type (when the fn's return type is
        // not a `Result`, the one error is that one).
        Mode::Sync => quote! {
            if let ::core::result::Result::Err(#error) =
                #state.retry_or_give_up(#error, #decision, #cause_of, #name)
            {
                return #rebuild(#error);
            }
        },
        Mode::Async => {
            let sleep = sleep(plan, names);
            quote! {
                let #wait = match #state.failed(#error, #decision, #cause_of, #name) {
                    ::core::result::Result::Ok(#wait) => #wait,
                    ::core::result::Result::Err(#error) => return #rebuild(#error),
                };
                #sleep.await;
                #state.release_guards();
            }
        }
    }
}

/// What the loop does with an `Ok` value when there is a result predicate: return it, or
/// retry it (the hooks, the sleep) and go round again, or give up with it.
fn on_value(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    on_ok: &syn::Expr,
    name: &TokenStream,
    kind: Mode,
    label: Option<&str>,
) -> TokenStream {
    let krate = &plan.krate;
    let Names {
        state,
        value,
        rebuild_ok,
        decision,
        wait,
        ..
    } = names;
    // Located at the predicate, where an unmet bound then points.
    let (decide, show) = if is_closure(on_ok) {
        (
            call_at(
                quote!(#krate::__private::on_ok_fn),
                quote!(#value, #on_ok),
                on_ok.span(),
            ),
            located_at(quote!(#krate::__private::show_debug), on_ok.span()),
        )
    } else {
        let var = &names.on_ok;
        let v = &names.e;
        let f = Ident::new("__stamina_f", Span::mixed_site());
        (
            call_at(
                quote!(#krate::__private::on_ok_value),
                quote!(#value, #var),
                on_ok.span(),
            ),
            quote!(|#v, #f| #krate::__private::OnOk::fmt_value(#var, #v, #f)),
        )
    };
    // The `error_type` label of a retried value: its type as the return type writes it.
    let label = label.map_or_else(
        || quote!(#krate::__private::type_label_of(&#value)),
        |label| quote!(|| #label),
    );
    let retry = match kind {
        Mode::Sync => quote! {
            if let ::core::result::Result::Err(#value) =
                #state.retry_value_or_give_up(#value, #decision, #show, #label, #name)
            {
                return #rebuild_ok(#value);
            }
        },
        Mode::Async => {
            let sleep = sleep(plan, names);
            quote! {
                let #wait = match #state.value_failed(#value, #decision, #show, #label, #name) {
                    ::core::result::Result::Ok(#wait) => #wait,
                    ::core::result::Result::Err(#value) => return #rebuild_ok(#value),
                };
                #sleep.await;
                #state.release_guards();
            }
        }
    };
    // The value goes through the predicate by value: never borrowed here, it does not stay in
    // an `async fn`'s future across the backoff.
    quote! {
        let (#value, #decision): (_, #krate::Decision) = #decide;
        if !#decision.is_retry() {
            #krate::__private::succeeded(#policy, &#state);
            return #rebuild_ok(#value);
        }
        #retry
        continue;
    }
}

/// The backoff of an `async fn`: on its `sleeper`, or the default timer.
fn sleep(plan: &Plan, names: &Names) -> TokenStream {
    let krate = &plan.krate;
    let Names { sleeper, wait, .. } = names;
    // Located at the sleeper: a value that is not one is an error there.
    if let Some(expr) = &plan.sleeper {
        call_at(
            quote!(#krate::__private::sleep_on),
            quote!(&#sleeper, #wait),
            expr.span(),
        )
    } else {
        quote!(#krate::__private::sleep(#krate::__private::DefaultTimer, #wait))
    }
}

/// How hooks see the error: as a `dyn Error` where its type is one, decided here by autoref as
/// `on = SomeType` is (through the probe that does not require `'static` where the error type
/// may borrow); with `on = SomeType`, labelled with the type that matched it, as written there.
fn cause_of(plan: &Plan, names: &Names, on: &On, generics: &Generics) -> TokenStream {
    let krate = &plan.krate;
    let e = &names.e;
    let allow = allow(&["unused_imports"]);
    let probe = if plan.local_errors {
        quote!(#krate::__private::LocalErrorProbe::new(#e))
    } else {
        quote!(#krate::__private::ErrorProbe::new(#e))
    };
    let seen = quote! {{
        #allow
        use #krate::__private::{ErasedCause as _, OpaqueCause as _, TypedCause as _};
        (&&#probe).stamina_cause()
    }};
    let On::Types(types) = on else {
        return quote!(|#e| #seen);
    };
    // The label: the first type in `on` that the error is, or holds; else the error's own.
    let label = Ident::new("__stamina_label", Span::mixed_site());
    let checks = types.iter().map(|ty| {
        let matched = quote! {
            #krate::__private::any_match((&&#krate::__private::Probe::<#ty, _>::new(#e)).stamina_matches())
        };
        if let Some(text) = types::written(ty, generics) {
            quote! {
                if #matched {
                    return #text;
                }
            }
        } else {
            quote! {
                if let ::core::option::Option::Some(#label) =
                    #krate::__private::matched_type::<#ty>(#matched)
                {
                    return #label;
                }
            }
        }
    });
    let cause = Ident::new("__stamina_cause", Span::mixed_site());
    quote! {
        |#e| {
            let #cause = #seen;
            #krate::__private::Cause {
                error_type: |#e| {
                    #allow
                    use #krate::__private::{Downcast as _, Exact as _, Mismatch as _};
                    #(#checks)*
                    (#seen.error_type)(#e)
                },
                ..#cause
            }
        }
    }
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
fn decision(plan: &Plan, names: &Names, on: &On) -> TokenStream {
    let krate = &plan.krate;
    let e = &names.e;
    let body = match on {
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
        On::Value(expr) => call_at(
            quote!(#krate::__private::predicate),
            quote!(#e, #expr),
            expr.span(),
        ),
    };
    quote!(|#e| #body)
}
