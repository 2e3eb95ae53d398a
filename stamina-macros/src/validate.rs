//! The rules across arguments and between the arguments and the fn. Each check keeps the span of
//! what it looks at, so that the error points at the offending value; all of them run, and their
//! errors are reported together (one per mistake).

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::{Error, Expr, FnArg, LitStr, Pat, Path, Type};

use crate::args::{Arg, Args, InlineThrottle, On, Value};
use crate::item::{RetryFn, Shape, shape};

/// What `expand` needs: the checked arguments and the shape of the fn.
pub(crate) struct Plan {
    /// The runtime crate's path: `::stamina` or the `crate = ..` override.
    pub(crate) krate: Path,
    /// `on`: the errors to retry; `None` (with `on_ok`): no error is retried.
    pub(crate) on: Option<On>,
    pub(crate) on_span: Span,
    /// `on_ok = ..`: the result predicate.
    pub(crate) on_ok: Option<Expr>,
    /// `budget = ..` of an expression evaluated on each call (a path or `None` is part of the
    /// constant policy, in `config`).
    pub(crate) budget: Option<Expr>,
    /// `policy = ..`: the base policy, read on each call.
    pub(crate) policy: Option<BasePolicy>,
    /// The arguments that set a policy value, in the order given.
    pub(crate) config: Vec<Arg>,
    /// `sleeper = ..`: what the `async fn` sleeps on, evaluated once per call.
    pub(crate) sleeper: Option<Expr>,
    /// `attempt = name`: the name the body sees the attempt under way by.
    pub(crate) attempt: Option<syn::Ident>,
    pub(crate) name: Option<LitStr>,
    /// The fn's error type may not be `'static` (see [`types::may_borrow`]): hooks see it
    /// through the probe that does not require it.
    pub(crate) local_errors: bool,
    /// `hedge = ..` and `hedges = ..`: the `async fn`'s attempts are hedged.
    pub(crate) hedge: Option<Hedge>,
    /// `throttle = ..`: the throttle asked before each attempt.
    pub(crate) throttle: Option<Throttling>,
}

/// `throttle = ..`, and where its key is written.
pub(crate) struct Throttling {
    pub(crate) arg: ThrottleArg,
    pub(crate) key: Span,
}

/// What `throttle = ..` names.
pub(crate) enum ThrottleArg {
    /// `adaptive(..)`, `rate_limiter`: a `static` of the fn's own, in the constant policy.
    Inline(InlineThrottle),
    /// The path of a `static`: part of the constant policy.
    Static(Expr),
    /// An expression evaluated on each call (a partition's throttle, an argument).
    PerCall(Expr),
}

/// `hedge = ..` (a duration literal's text, or an expression) and `hedges = ..`.
pub(crate) struct Hedge {
    pub(crate) delay: Value,
    pub(crate) span: Span,
    /// The count, and where it is written.
    pub(crate) hedges: Option<(Value, Span)>,
}

/// `policy = expr`.
pub(crate) struct BasePolicy {
    pub(crate) expr: Expr,
    /// A path to an item (a `static`, a `const`, a `LazyLock`): borrowed for the call. Anything
    /// else (`self.policy`, a call, an argument of the fn) is copied, so that the body may use
    /// what the expression borrowed from.
    pub(crate) borrow: bool,
}

/// Collects errors so that every mistake is reported at once.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// Checks the arguments against each other and against the fn.
#[allow(
    clippy::too_many_lines,
    reason = "one match over the arguments, then one call per rule"
)]
pub(crate) fn check(args: Args, item: &RetryFn) -> syn::Result<(Plan, Shape)> {
    let mut errors = Errors::default();
    check_fn(item, &mut errors);
    let shape = shape(item).map_err(|e| errors.push(e)).ok();
    let params = param_names(item);

    let mut on = None;
    let mut policy = None;
    let mut name = None;
    let mut krate = None;
    let mut attempt = None;
    let mut sleeper = None;
    let mut on_ok = None;
    let mut budget = None;
    let mut throttle = None;
    let mut config = Vec::new();
    let mut hedging = Vec::new();
    for arg in args.list {
        let key = arg.key;
        match arg.value {
            _ if arg.spec.name.starts_with("hedge") => hedging.push(arg),
            Value::Throttle(inline) => {
                throttle = Some(Throttling {
                    arg: ThrottleArg::Inline(inline),
                    key,
                });
            }
            Value::Const(expr) | Value::Runtime(expr) if arg.spec.name == "throttle" => {
                let is_static = matches!(expr, Expr::Path(_))
                    && first_mention(quote::ToTokens::to_token_stream(&expr), &params).is_none();
                let arg = if is_static {
                    ThrottleArg::Static(expr)
                } else {
                    ThrottleArg::PerCall(expr)
                };
                throttle = Some(Throttling { arg, key });
            }
            Value::On(value) => on = Some((value, arg.key)),
            Value::Runtime(expr) if arg.spec.name == "sleeper" => {
                check_sleeper(item, shape.as_ref(), arg.key, &mut errors);
                sleeper = Some(expr);
            }
            Value::Runtime(expr) if arg.spec.name == "on_ok" => on_ok = Some(expr),
            Value::Runtime(expr) if arg.spec.name == "budget" => {
                check_budget_made_per_call(&expr, &mut errors);
                budget = Some(expr);
            }
            Value::Runtime(expr) => {
                let borrow = is_item_path(&expr, &params);
                policy = Some(BasePolicy { expr, borrow });
            }
            Value::Str(lit) => name = Some(lit),
            Value::Ident(ident) if arg.spec.setter.is_none() => attempt = Some(ident),
            Value::Path(path) => krate = Some(path),
            // A budget that names an argument of the fn is read on each call.
            Value::Const(expr)
                if arg.spec.name == "budget"
                    && first_mention(quote::ToTokens::to_token_stream(&expr), &params)
                        .is_some() =>
            {
                check_budget_argument(item, &expr, &mut errors);
                budget = Some(expr);
            }
            Value::Const(ref expr) => {
                check_constant(arg.spec.name, expr, &params, &mut errors);
                config.push(arg);
            }
            Value::None
            | Value::Duration(_)
            | Value::Count(_)
            | Value::Number(_)
            | Value::Ident(_) => {
                config.push(arg);
            }
        }
    }
    let (on, on_span) = match on {
        Some((on, span)) => (Some(on), span),
        None if on_ok.is_some() => (None, args.span),
        None => {
            errors.push(Error::new(
                args.span,
                "missing `on`: name the errors to retry, like `on = std::io::Error`, or pass a predicate, like `on = |e: &MyError| e.is_transient()` (or, to retry `Ok` values only, a result predicate: `on_ok = ..`)",
            ));
            return Err(errors.0.expect("just pushed"));
        }
    };
    if !matches!(shape, None | Some(Shape::Stream { .. })) {
        check_not_stream(&config, &mut errors);
    }
    if let Some(Shape::Stream { .. }) = &shape {
        check_stream(
            on_ok.as_ref(),
            attempt.as_ref(),
            policy.as_ref(),
            &config,
            budget.as_ref(),
            &mut errors,
        );
    }
    if let (Some(Shape::Stream { .. }), Some(throttle)) = (&shape, &throttle) {
        errors.push(Error::new(
            throttle.key,
            "`throttle` does nothing on a stream or iterator fn: a throttle is asked before each call's attempts, and a stream's items come from one call (throttle the fn that makes the stream's calls instead)",
        ));
    }
    let hedge = check_hedge(
        item,
        shape.as_ref(),
        hedging,
        (&attempt, &on_ok),
        &mut errors,
    );
    if let Some(error) = errors.0 {
        return Err(error);
    }
    let shape = shape.expect("no error, so a shape");
    let local_errors = shape.may_borrow(&item.sig.generics);
    let plan = Plan {
        krate: krate.unwrap_or_else(|| syn::parse_quote!(::stamina)),
        on,
        on_span,
        on_ok,
        budget,
        policy,
        config,
        sleeper,
        attempt,
        name,
        local_errors,
        hedge,
        throttle,
    };
    Ok((plan, shape))
}

/// `hedge` is for an `async fn` whose tries can run at once; `hedges` needs a `hedge`.
fn check_hedge(
    item: &RetryFn,
    shape: Option<&Shape>,
    args: Vec<Arg>,
    (attempt, on_ok): (&Option<syn::Ident>, &Option<Expr>),
    errors: &mut Errors,
) -> Option<Hedge> {
    let mut hedge = None;
    let mut hedges = None;
    for arg in args {
        match (arg.spec.name, arg.value) {
            ("hedge", value) => hedge = Some((value, arg.key)),
            (_, Value::None) => errors.push(Error::new(
                arg.key,
                "`hedges` cannot be `None`; it takes the number of hedges beyond the first try, 1 to 4 (no hedging: remove `hedge`)",
            )),
            (_, value) => hedges = Some((value, arg.key, arg.span)),
        }
    }
    let Some((delay, span)) = hedge else {
        if let Some((_, key, _)) = hedges {
            errors.push(Error::new(
                key,
                "`hedges` without `hedge` would do nothing: add the delay before a hedge, like `hedge = 50ms`",
            ));
        }
        return None;
    };
    match shape {
        Some(Shape::Async { .. }) if item.sig.asyncness.is_some() => {}
        Some(Shape::Stream { .. }) => errors.push(Error::new(
            span,
            "`hedge` is for an `async fn`: a stream or an iterator is not hedged, its items come one at a time",
        )),
        Some(Shape::AsyncTrait(_)) => errors.push(Error::new(
            span,
            "`hedge` is for an `async fn` written as one: an `#[async_trait]` method is not hedged; hedge its calls with `RetryingCaller::call_hedged`",
        )),
        _ => errors.push(Error::new(
            span,
            "`hedge` is for an `async fn`: a hedged call runs several tries at once, which a sync fn cannot",
        )),
    }
    if let Some(attempt) = attempt {
        errors.push(Error::new(
            attempt.span(),
            "`attempt` with `hedge`: several tries run at once, and none is the attempt under way; read the time with `RetryingCaller::call_hedged` instead",
        ));
    }
    if let Some(on_ok) = on_ok {
        errors.push(Error::new(
            syn::spanned::Spanned::span(on_ok),
            "`on_ok` with `hedge` is not supported: hedge a closure with `RetryingCaller::call_hedged` and `.on_ok(..)`",
        ));
    }
    Some(Hedge {
        delay,
        span,
        hedges: hedges.map(|(value, _, span)| (value, span)),
    })
}

/// `sleeper` is for what waits asynchronously: an `async fn` or a stream fn.
fn check_sleeper(item: &RetryFn, shape: Option<&Shape>, key: Span, errors: &mut Errors) {
    let streams = matches!(shape, Some(Shape::Stream { iter: false, .. }));
    if item.sig.asyncness.is_none() && !streams {
        errors.push(Error::new(
            key,
            "`sleeper` is for an `async fn`; a sync fn sleeps its thread between attempts",
        ));
    }
}

/// What a stream or iterator fn cannot take: it outlives the call that makes it, so its policy
/// must be a constant or a `static`.
fn check_stream(
    on_ok: Option<&Expr>,
    attempt: Option<&syn::Ident>,
    policy: Option<&BasePolicy>,
    config: &[Arg],
    budget: Option<&Expr>,
    errors: &mut Errors,
) {
    if let Some(on_ok) = on_ok {
        errors.push(Error::new_spanned(
            on_ok,
            "`on_ok` is for fns that return a `Result`: a stream's `Ok` items pass through; decide on its `Err` items with `on`",
        ));
    }
    if let Some(attempt) = attempt {
        errors.push(Error::new_spanned(
            attempt,
            "`attempt = ..` is for fns that return a `Result`; a stream fn's body runs once per restart",
        ));
    }
    if let Some(policy) = policy {
        if !policy.borrow || !config.is_empty() {
            errors.push(Error::new_spanned(
                &policy.expr,
                "a stream or iterator fn outlives the call that makes it: its `policy` is a `static` or a `const`, named alone (`policy = MY_POLICY`); for one chosen per call, use `RetryingCaller::stream`",
            ));
        }
    }
    if let Some(budget) = budget {
        errors.push(Error::new_spanned(
            budget,
            "a stream or iterator fn outlives the call that makes it: its `budget` is a `static` (`budget = MY_BUDGET`); for one chosen per call, use `RetryingCaller::stream` with `.budget(..)`",
        ));
    }
}

/// A value argument is a constant: it cannot use the fn's arguments.
fn check_constant(name: &str, expr: &Expr, params: &[String], errors: &mut Errors) {
    if let Some(local) = first_mention(quote::ToTokens::to_token_stream(expr), params) {
        errors.push(Error::new_spanned(
            expr,
            format!(
                "`{name}` is a constant, evaluated once at compile time, and `{local}` is an argument of the fn; for a configuration chosen at run time, pass a policy: `policy = RetryPolicy::new().{name}(..)`"
            ),
        ));
    }
}

/// `budget = arg`, an argument of the fn: only a `&'static` one lives as long as a budget must
/// (rustc's own error would be a lifetime's, one step short of the fix).
fn check_budget_argument(item: &RetryFn, expr: &Expr, errors: &mut Errors) {
    let Expr::Path(path) = expr else { return };
    let Some(name) = path.path.get_ident() else {
        return;
    };
    let typed = item.sig.inputs.iter().find_map(|input| match input {
        FnArg::Typed(typed) => match &*typed.pat {
            Pat::Ident(pat) if pat.ident == *name => Some(&*typed.ty),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    });
    let shared = match typed {
        Some(Type::Reference(reference)) => reference
            .lifetime
            .as_ref()
            .is_some_and(|l| l.ident == "static"),
        _ => true,
    };
    if !shared {
        errors.push(Error::new_spanned(
            expr,
            format!(
                "a budget counts the calls to one dependency, and `{name}` lives only for this call: make the budget a `static` (`static DB: RetryBudget = RetryBudget::new();`) and name it, `budget = DB`, or take `{name}: &'static RetryBudget`"
            ),
        ));
    }
}

/// `budget = RetryBudget::new()..`: a budget made on each call, which counts nothing (rustc
/// would suggest borrowing it, the same mistake one step on).
fn check_budget_made_per_call(expr: &Expr, errors: &mut Errors) {
    let mut root = expr;
    while let Expr::MethodCall(call) = root {
        root = &call.receiver;
    }
    let made = match root {
        Expr::Call(call) => matches!(&*call.func, Expr::Path(p)
            if p.path.segments.iter().any(|s| s.ident == "RetryBudget")),
        _ => false,
    };
    if made {
        errors.push(Error::new_spanned(
            expr,
            "a budget made on each call counts nothing: make it a `static` (`static DB: RetryBudget = RetryBudget::new();`) and name it, `budget = DB`",
        ));
    }
}

/// What only a stream or iterator fn takes: healing, which a fn's call (no healthy period,
/// nothing after it) would ignore.
fn check_not_stream(config: &[Arg], errors: &mut Errors) {
    for arg in config {
        if matches!(arg.spec.name, "heal_after" | "heal_after_items") {
            errors.push(Error::new(
                arg.key,
                format!(
                    "`{}` is for a fn that returns a stream or an iterator, which heals after a healthy period; a fn's call has none, and would ignore it: remove it",
                    arg.spec.name
                ),
            ));
        }
    }
}

/// The rules about the fn itself, whatever the arguments.
fn check_fn(item: &RetryFn, errors: &mut Errors) {
    if let Some(attr) = item.attrs.iter().find(|a| is_retry(a.path())) {
        errors.push(Error::new_spanned(
            attr,
            "`#[stamina::retry]` is applied twice; merge the arguments into one `#[stamina::retry(..)]`",
        ));
    }
    if let Some(constness) = item.sig.constness {
        errors.push(Error::new(
            constness.span,
            "`#[stamina::retry]` cannot retry a `const fn`: waiting between attempts is not possible in const evaluation; remove `const`",
        ));
    }
}

/// `#[retry]`, `#[stamina::retry]`, or any other path that ends in `retry`.
pub(crate) fn is_retry(path: &Path) -> bool {
    path.segments.last().is_some_and(|s| s.ident == "retry")
}

/// The names the fn's arguments bind, `self` included.
fn param_names(item: &RetryFn) -> Vec<String> {
    fn bind(pat: &Pat, names: &mut Vec<String>) {
        match pat {
            Pat::Ident(ident) => names.push(ident.ident.to_string()),
            Pat::Type(typed) => bind(&typed.pat, names),
            Pat::Reference(reference) => bind(&reference.pat, names),
            Pat::Paren(paren) => bind(&paren.pat, names),
            Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bind(p, names)),
            Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bind(p, names)),
            Pat::Struct(s) => s.fields.iter().for_each(|f| bind(&f.pat, names)),
            Pat::Slice(slice) => slice.elems.iter().for_each(|p| bind(p, names)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for input in &item.sig.inputs {
        match input {
            FnArg::Receiver(_) => names.push("self".to_owned()),
            FnArg::Typed(typed) => bind(&typed.pat, &mut names),
        }
    }
    names
}

/// The first of `locals` that `tokens` use as a value: an identifier that is not part of a
/// longer path (`module::name`, `name::Item`) or a field name (`x.name`).
fn first_mention(tokens: TokenStream, locals: &[String]) -> Option<String> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(group) => {
                if let Some(found) = first_mention(group.stream(), locals) {
                    return Some(found);
                }
            }
            TokenTree::Ident(ident) => {
                let punct = |at: Option<&TokenTree>, c: char| matches!(at, Some(TokenTree::Punct(p)) if p.as_char() == c);
                let after_path_or_dot = i
                    .checked_sub(1)
                    .is_some_and(|j| punct(tokens.get(j), ':') || punct(tokens.get(j), '.'));
                let before_path = punct(tokens.get(i + 1), ':');
                let name = ident.to_string();
                if !after_path_or_dot && !before_path && locals.contains(&name) {
                    return Some(name);
                }
            }
            TokenTree::Punct(_) | TokenTree::Literal(_) => {}
        }
    }
    None
}

/// A path to an item in scope (not a local of the fn): it lives as long as the call.
fn is_item_path(expr: &Expr, params: &[String]) -> bool {
    let Expr::Path(path) = expr else {
        return false;
    };
    let local = path.qself.is_none()
        && path.path.leading_colon.is_none()
        && path.path.segments.len() == 1
        && params.contains(&path.path.segments[0].ident.to_string());
    !local
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &str, item: TokenStream) -> syn::Result<Plan> {
        let item: RetryFn = syn::parse2(item).unwrap();
        check(syn::parse_str(args).unwrap(), &item).map(|(plan, _)| plan)
    }

    fn error(args: &str, item: TokenStream) -> String {
        match plan(args, item) {
            Ok(_) => panic!("`{args}` passed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_constant_argument_cannot_use_the_fns_arguments() {
        let item = quote::quote!(
            fn f(&self, budget: Duration, (a, b): (u32, u32)) -> R {
                x
            }
        );
        for (args, local) in [
            ("on = E, timeout = budget", "budget"),
            ("on = E, attempts = a + 1", "a"),
            ("on = E, timeout = self.timeout", "self"),
            ("on = E, wait_max = Duration::from_secs(b)", "b"),
        ] {
            let got = error(args, item.clone());
            assert!(
                got.contains(&format!("`{local}` is an argument")),
                "`{args}`: {got}"
            );
            assert!(
                got.contains("policy = RetryPolicy::new()"),
                "`{args}`: {got}"
            );
        }
        // Paths that merely share a name are not the argument.
        for args in [
            "on = E, timeout = consts::budget",
            "on = E, timeout = budget::TIMEOUT",
            "on = E, timeout = CONFIG.budget",
            "on = E, attempts = self::ATTEMPTS",
        ] {
            assert!(plan(args, item.clone()).is_ok(), "`{args}`");
        }
    }

    #[test]
    fn a_policy_path_is_borrowed_unless_it_names_an_argument() {
        let item = quote::quote!(
            fn f(&self, policy: &RetryPolicy) -> R {
                x
            }
        );
        let borrow = |args: &str| plan(args, item.clone()).unwrap().policy.unwrap().borrow;
        assert!(borrow("on = E, policy = POLICY"));
        assert!(borrow("on = E, policy = config::RETRIES"));
        assert!(!borrow("on = E, policy = policy"));
        assert!(!borrow("on = E, policy = self.policy"));
        assert!(!borrow("on = E, policy = RetryPolicy::new().attempts(3)"));
    }

    #[test]
    fn fn_rules() {
        assert!(
            error(
                "on = E",
                quote::quote!(
                    const fn f() -> R {
                        x
                    }
                )
            )
            .contains("`const fn`")
        );
        assert!(
            error(
                "on = E",
                quote::quote!(
                    fn f() -> R;
                )
            )
            .contains("with a body")
        );
        assert!(
            error(
                "on = E",
                quote::quote!(
                    fn f() -> impl F {
                        x
                    }
                )
            )
            .contains("async fn")
        );
        assert!(
            error(
                "on = E",
                quote::quote!(
                    #[retry(on = E)]
                    fn f() -> R {
                        x
                    }
                )
            )
            .contains("twice")
        );
        assert!(
            error(
                "attempts = 2",
                quote::quote!(
                    fn f() -> R {
                        x
                    }
                )
            )
            .contains("missing `on`")
        );
    }
}
