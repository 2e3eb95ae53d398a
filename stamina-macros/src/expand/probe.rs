//! The closures the runtime calls with an error: the decision of `on`, how hooks see the error
//! and its label, and the `callable` name.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::Generics;
use syn::spanned::Spanned;

use super::{Names, allow, call_at};
use crate::args::On;
use crate::types;
use crate::validate::Plan;

/// How hooks see the error: as a `dyn Error` where its type is one, decided here by autoref as
/// `on = SomeType` is (through the probe that does not require `'static` where the error type
/// may borrow); with `on = SomeType`, labelled with the type that matched it, as written there.
pub(super) fn cause_of(plan: &Plan, names: &Names, on: &On, generics: &Generics) -> TokenStream {
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

/// The `callable` label, as a closure that the runtime calls only when hooks run: `name = ".."`,
/// or the fn's path from the probe's type name.
pub(super) fn name(plan: &Plan, names: &Names) -> TokenStream {
    let krate = &plan.krate;
    let probe = &names.probe;
    let name = plan.name.as_ref().map_or_else(
        || quote!(#krate::__private::fn_name(::core::any::type_name_of_val(&#probe))),
        ToTokens::to_token_stream,
    );
    quote!(|| #name)
}

/// The decision closure that `failed` calls with `&error`.
pub(super) fn decision(plan: &Plan, names: &Names, on: &On) -> TokenStream {
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
