//! The call's policy: a constant of the value arguments, checked by const evaluation, or a base
//! read on each call with the arguments on top; and what the state holds of it.

use proc_macro2::{Ident, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericParam, Generics, Path};

use super::{Names, call_at, located_at};
use crate::args::{Arg, InlineThrottle, Kind, Value, throttle_check};
use crate::validate::{Plan, ThrottleArg};

/// What the state holds of the policy: for a constant policy, a zero-sized value that names it
/// (whose type `setup` gets), not a reference.
pub(super) fn state_policy(
    plan: &Plan,
    names: &Names,
    policy: &TokenStream,
    generics: &Generics,
    setup: &mut TokenStream,
) -> TokenStream {
    let per_call_throttle = matches!(
        plan.throttle.as_ref().map(|t| &t.arg),
        Some(ThrottleArg::PerCall(_))
    );
    if plan.policy.is_some()
        || plan.budget.is_some()
        || per_call_throttle
        || mentions_generics(plan, generics)
    {
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
pub(super) fn policy(
    plan: &Plan,
    names: &Names,
    generics: &Generics,
) -> (TokenStream, TokenStream) {
    let (mut setup, mut policy) = base_policy(plan, names, generics);
    let krate = &plan.krate;
    let var = &names.policy;
    if let Some(budget) = &plan.budget {
        // `budget = EXPR` read on each call (a partition's budget): on a copy of the policy.
        let budget = call_at(
            quote!(#krate::__private::budget),
            budget.to_token_stream(),
            budget.span(),
        );
        setup.extend(quote! {
            let #var: #krate::RetryPolicy = (*#policy).budget(#budget);
        });
        policy = quote!(&#var);
    }
    if let Some(ThrottleArg::PerCall(expr)) = plan.throttle.as_ref().map(|t| &t.arg) {
        // `throttle = EXPR` read on each call (a partition's throttle): likewise.
        let throttle = call_at(
            quote!(#krate::__private::throttle),
            expr.to_token_stream(),
            expr.span(),
        );
        setup.extend(quote! {
            let #var: #krate::RetryPolicy = #krate::__private::with_throttle(*#policy, #throttle);
        });
        policy = quote!(&#var);
    }
    (setup, policy)
}

/// The throttle of the constant policy, if `throttle = ..` names one that is part of it: a
/// `static` of the fn's own (`adaptive(..)`, `rate_limiter`) or the user's, borrowed through a
/// `static` reference, as a budget is.
fn constant_throttle(plan: &Plan) -> Option<TokenStream> {
    let krate = &plan.krate;
    let throttle = plan.throttle.as_ref()?;
    let item = Ident::new("__STAMINA_THROTTLE", Span::mixed_site());
    let span = throttle.key;
    match &throttle.arg {
        ThrottleArg::Static(expr) => Some(quote_spanned! {expr.span()=> {
            static #item: &#krate::Throttle = &#expr;
            #item
        }}),
        ThrottleArg::Inline(inline) => {
            let made = inline_throttle(krate, inline);
            Some(quote_spanned! {span=> {
                static #item: #krate::Throttle = #made;
                &#item
            }})
        }
        ThrottleArg::PerCall(_) => None,
    }
}

/// `Throttle::adaptive().k(check(2.0))..`: each setting through the runtime's const check of it.
fn inline_throttle(krate: &Path, inline: &InlineThrottle) -> TokenStream {
    let kind = &inline.kind;
    let mut tokens = quote!(#krate::Throttle::#kind());
    for setting in &inline.settings {
        let key = &setting.key;
        let mut value = match &setting.value {
            Value::Duration(text) => {
                let read = call_at(
                    quote!(#krate::__private::duration),
                    quote!(#text),
                    setting.span,
                );
                quote!(const { #read })
            }
            Value::Count(n) => located_at(
                Literal::u32_unsuffixed(*n).into_token_stream(),
                setting.span,
            ),
            Value::Number(x) => {
                located_at(Literal::f64_suffixed(*x).into_token_stream(), setting.span)
            }
            Value::Const(expr) => expr.to_token_stream(),
            Value::Ident(variant) => quote!(#krate::throttle::Rejections::#variant),
            _ => quote!(::core::compile_error!("a setting takes a value")),
        };
        if let Some(check) = throttle_check(key) {
            let check = Ident::new(check, Span::call_site());
            value = call_at(quote!(#krate::__private::#check), value, setting.span);
        }
        tokens.extend(quote!(.#key(#value)));
    }
    tokens
}

/// [`policy`] without a budget read on each call.
pub(super) fn base_policy(
    plan: &Plan,
    names: &Names,
    generics: &Generics,
) -> (TokenStream, TokenStream) {
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
            if !plan.config.is_empty() || constant_throttle(plan).is_some() {
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
pub(super) fn whole(plan: &Plan, policy: TokenStream) -> TokenStream {
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
pub(super) fn setters(plan: &Plan, base: TokenStream, checked: bool) -> TokenStream {
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
    match constant_throttle(plan) {
        Some(throttle) => quote!(#krate::__private::with_throttle(#tokens, #throttle)),
        None => tokens,
    }
}

/// A value argument's value as an expression.
pub(super) fn value_tokens(krate: &Path, arg: &Arg) -> TokenStream {
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
        Value::None
        | Value::On(_)
        | Value::Runtime(_)
        | Value::Str(_)
        | Value::Path(_)
        | Value::Throttle(_) => {
            unreachable!("not a value")
        }
    };
    tokens = located_at(tokens, arg.span);
    tokens
}

/// Whether a value argument names `Self` or one of the fn's generic parameters, which a
/// `static` or a `const` item cannot.
pub(super) fn mentions_generics(plan: &Plan, generics: &Generics) -> bool {
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
pub(super) fn mentions(tokens: TokenStream, idents: &[String]) -> bool {
    tokens.into_iter().any(|tt| match tt {
        TokenTree::Ident(ident) => idents.iter().any(|name| ident == name),
        TokenTree::Group(group) => mentions(group.stream(), idents),
        _ => false,
    })
}
