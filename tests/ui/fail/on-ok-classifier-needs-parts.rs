use http::{HeaderMap, StatusCode};
use stamina::http::Classifier;

/// A client's own response type, as reqwest's is.
#[derive(Debug)]
struct Response {
    status: StatusCode,
    headers: HeaderMap,
}

const GET: Classifier = Classifier::idempotent();

// A classifier reads `http::Response`; this type needs `.on_response(..)`.
#[stamina::retry(on = |_: &std::io::Error| false, on_ok = GET)]
fn get() -> Result<Response, std::io::Error> {
    Ok(Response { status: StatusCode::OK, headers: HeaderMap::new() })
}

// With its parts, it compiles.
#[stamina::retry(on = |_: &std::io::Error| false, on_ok = GET.on_response(|r: &Response| (r.status, &r.headers)))]
fn get_parts() -> Result<Response, std::io::Error> {
    Ok(Response { status: StatusCode::OK, headers: HeaderMap::new() })
}

fn main() {}
