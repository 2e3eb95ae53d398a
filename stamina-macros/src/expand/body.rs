//! The retry loop written into the fn's body: sync, `async` and stream fns, errors and values.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Generics, Type};

use super::probe::{cause_of, decision, name};
use super::{Mode, Names, call_at, is_closure, located_at};
use crate::args::{On, Value};
use crate::item::Body;
use crate::types;
use crate::validate::Plan;

/// The retry loop around `body`.
#[allow(clippy::too_many_arguments, reason = "the parts of one loop")]
pub(super) fn retry_loop(
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
    let (new, bind) = match (&plan.attempt, kind) {
        (Some(name), _) => (
            quote!(#krate::__private::RetryState::measured),
            quote!(let #name: #krate::Attempt = #state.attempt();),
        ),
        (None, Mode::Sync) => (
            quote!(#krate::__private::RetryState::new),
            TokenStream::new(),
        ),
        (None, Mode::Async) => (quote!(#krate::__private::async_state), TokenStream::new()),
    };
    let admit = admit(plan, names, policy, ret, &name, kind);
    quote! {
        #admit
        let mut #state = #new(#state_policy);
        loop {
            #bind
            let #outcome_var = #outcome;
            let (#error, #rebuild) = #split;
            #on_error
        }
    }
}

/// `throttle = ..`: the throttle's word on the call's first attempt, before it: a delay to wait
/// (the rate limiter's), or the fn's return value for a rejected call, `Err(Throttled.into())`.
/// Nothing without a throttle. (Each retry asks it in the state, with the backoff.)
fn admit(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    ret: &Type,
    name: &TokenStream,
    kind: Mode,
) -> TokenStream {
    let Some(throttle) = &plan.throttle else {
        return TokenStream::new();
    };
    let krate = &plan.krate;
    let Names { wait, error, .. } = names;
    // Located at `throttle`: an error type without `From<Throttled>` is an error there.
    let admit = located_at(
        quote!(#krate::__private::admit::<#ret>(#policy, #name)),
        throttle.key,
    );
    let delay = match kind {
        Mode::Sync => quote!(::std::thread::sleep(#wait)),
        Mode::Async => {
            let sleep = sleep(plan, names);
            quote!(#sleep.await)
        }
    };
    quote! {
        match #admit {
            ::core::result::Result::Ok(#wait) => {
                if !#wait.is_zero() {
                    #delay;
                }
            }
            ::core::result::Result::Err(#error) => return #error,
        }
    }
}

/// A stream or iterator fn: the body makes each attempt's stream, and the runtime's retrying
/// stream (or iterator) is the fn's value.
pub(super) fn stream(
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
pub(super) fn on_error(
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
pub(super) fn on_value(
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
pub(super) fn sleep(plan: &Plan, names: &Names) -> TokenStream {
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

/// A hedged `async fn` (`hedge = ..`): its body is the op of a caller's hedged call, made from
/// the fn's policy, name and sleeper; every argument is copied into each try, so each must be
/// `Copy` (the runtime's `HedgeArg`, whose error names why).
pub(super) fn hedged(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    ret: &Type,
    body: &Body,
    sig: &syn::Signature,
) -> TokenStream {
    let krate = &plan.krate;
    let Some(hedge) = &plan.hedge else {
        return TokenStream::new();
    };
    let Some(on) = &plan.on else {
        // `validate` rejects `on_ok` alone with `hedge`.
        return quote!(::core::compile_error!("`hedge` needs `on`"));
    };
    // Constant items, not `const` blocks: an item is evaluated by `cargo check` too, so that a
    // bad literal or count is an error there.
    let mut items = TokenStream::new();
    let delay = match &hedge.delay {
        Value::Duration(text) => {
            let read = call_at(
                quote!(#krate::__private::duration),
                quote!(#text),
                hedge.span,
            );
            let item = Ident::new("__STAMINA_HEDGE_DELAY", Span::mixed_site());
            items.extend(quote!(const #item: ::core::time::Duration = #read;));
            quote!(#item)
        }
        // A `static` estimator (or a `const`) by reference, anything else by value.
        Value::Const(expr @ syn::Expr::Path(_)) => quote_spanned!(expr.span()=> &#expr),
        Value::Const(expr) => expr.to_token_stream(),
        _ => quote!(::core::compile_error!("`hedge` takes a delay")),
    };
    let count = match &hedge.hedges {
        Some((Value::Count(n), span)) => Some((
            proc_macro2::Literal::u32_unsuffixed(*n).into_token_stream(),
            *span,
        )),
        Some((Value::Const(expr), span)) => Some((expr.to_token_stream(), *span)),
        _ => None,
    };
    let hedges = if let Some((count, span)) = count {
        let item = Ident::new("__STAMINA_HEDGES", Span::mixed_site());
        let checked = call_at(quote!(#krate::__private::hedges), count, span);
        items.extend(quote!(const #item: u8 = #checked;));
        quote!(::core::option::Option::Some(#item))
    } else {
        quote!(::core::option::Option::None)
    };
    let hedging = call_at(
        quote!(#krate::__private::hedging),
        quote!(#delay, #hedges),
        hedge.span,
    );
    let copies = sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Receiver(r) => {
            Some(quote_spanned!(r.span()=> #krate::__private::hedge_arg(&self);))
        }
        syn::FnArg::Typed(t) => match &*t.pat {
            syn::Pat::Ident(p) => {
                let ident = &p.ident;
                Some(quote_spanned!(t.span()=> #krate::__private::hedge_arg(&#ident);))
            }
            _ => None,
        },
    });
    let name = name(plan, names);
    let sleeper = plan.sleeper.as_ref().map(|_| {
        let var = &names.sleeper;
        quote!(.sleeper(#var))
    });
    let decision = decision(plan, names, on);
    let decision = quote!(#krate::__private::hedged_on::<#ret, _>(#decision));
    let body_span = body.brace.span.join();
    let op = quote_spanned!(body_span=>
        move || #krate::__private::attempt::<#ret, _>(async move #body));
    let admit = admit(plan, names, policy, ret, &name, Mode::Async);
    quote! {
        #items
        #(#copies)*
        #admit
        #krate::RetryingCaller::from_policy(*#policy)
            .name((#name)())
            #sleeper
            .call_hedged(#hedging, #decision, #op)
            .await
    }
}
