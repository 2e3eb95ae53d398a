//! Forms that the behaviour tests cannot hold: an `unsafe fn` (the test package forbids
//! `unsafe`), generated code without the prelude and next to shadowing names, the user's own
//! `__stamina_` names, and `crate = ..` for a renamed runtime.
#![deny(warnings)]

extern crate stamina as renamed_stamina;

#[derive(Debug)]
struct Transient;

/// # Safety
///
/// `ptr` points to a live `u32`.
#[stamina::retry(on = Transient, attempts = 2, wait_initial = 0, wait_jitter = 0)]
unsafe fn read_raw(ptr: *const u32) -> Result<u32, Transient> {
    // SAFETY: the caller's promise.
    Ok(unsafe { *ptr })
}

#[stamina::retry(crate = renamed_stamina, on = Transient, wait_initial = 0, wait_jitter = 0)]
fn renamed(calls: &mut u32) -> Result<u32, Transient> {
    *calls += 1;
    if *calls < 3 {
        Err(Transient)
    } else {
        Ok(*calls)
    }
}

/// The user's own names that look like generated ones are the user's.
#[stamina::retry(on = Transient, wait_initial = 0, wait_jitter = 0)]
fn lookalikes(__stamina_state: &mut u32) -> Result<u32, Transient> {
    let __stamina_error = 1;
    *__stamina_state += __stamina_error;
    if *__stamina_state < 2 {
        Err(Transient)
    } else {
        Ok(*__stamina_state)
    }
}

#[no_implicit_prelude]
mod bare {
    /// Names that shadow the prelude's and `core`'s.
    #[allow(dead_code)]
    enum Option {
        None,
    }
    #[allow(dead_code)]
    struct Ok;
    #[allow(dead_code)]
    struct Err;
    #[allow(dead_code)]
    struct Duration;
    #[allow(dead_code)]
    mod core {}

    #[derive(Debug)]
    pub(crate) struct Flaky;

    #[::stamina::retry(on = Flaky, attempts = ::core::option::Option::None, timeout = 1, wait_initial = 0, wait_jitter = 0)]
    pub(crate) fn no_prelude(calls: &mut u32) -> ::core::result::Result<u32, Flaky> {
        *calls += 1;
        if *calls < 3 {
            ::core::result::Result::Err(Flaky)
        } else {
            ::core::result::Result::Ok(*calls)
        }
    }

    #[::stamina::retry(on = Flaky, attempts = 3, wait_initial = 0, wait_jitter = 0)]
    pub(crate) async fn no_prelude_async(calls: &mut u32) -> ::core::result::Result<u32, Flaky> {
        *calls += 1;
        if *calls < 2 {
            ::core::result::Result::Err(Flaky)
        } else {
            ::core::result::Result::Ok(*calls)
        }
    }
}

fn main() {
    let value = 7;
    // SAFETY: `value` is live.
    assert_eq!(unsafe { read_raw(&raw const value) }.unwrap(), 7);
    assert_eq!(renamed(&mut 0).unwrap(), 3);
    assert_eq!(lookalikes(&mut 0).unwrap(), 2);
    assert_eq!(bare::no_prelude(&mut 0).unwrap(), 3);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(bare::no_prelude_async(&mut 0)).unwrap(), 2);
}
