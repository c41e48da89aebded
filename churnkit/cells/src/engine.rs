//! Loading the engine and calling it.
//!
//! Every cell is its own shared object with its own copy of this crate's statics, so each cell
//! opens the engine again; `dlopen` hands back the library already loaded, whose registry of
//! objects is the one state shared by all cells of a kernel.

use crate::Error;
use churnkit_protocol::{encode, json, wire::Wire, Request, PROTOCOL};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

#[link(name = "dl")]
extern "C" {
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
}
const RTLD_NOW: c_int = 2;

type CallFn = unsafe extern "C" fn(*const u8, usize, *mut usize) -> *mut u8;
type FreeFn = unsafe extern "C" fn(*mut u8, usize);
type ProtocolFn = unsafe extern "C" fn() -> u32;

struct Engine {
    call: CallFn,
    free: FreeFn,
}

static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();

/// Where the engine is: `CHURNKIT_ENGINE` (the kernelspec of scripts/jupyter-setup.sh sets it).
fn path() -> Result<String, String> {
    std::env::var("CHURNKIT_ENGINE").map_err(|_| {
        "CHURNKIT_ENGINE is not set: it names the churnkit engine library (libchurnkit_engine.so); run scripts/jupyter-setup.sh, which builds it and sets it in the Rust kernel's spec".to_string()
    })
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libdl.
    let e = unsafe { dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: non-null and NUL-terminated, per dlerror's contract.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

fn load() -> Result<Engine, String> {
    let p = path()?;
    let c =
        CString::new(p.clone()).map_err(|_| format!("CHURNKIT_ENGINE {p:?} holds a NUL byte"))?;
    // SAFETY: a valid NUL-terminated path; the library is never unloaded.
    let h = unsafe { dlopen(c.as_ptr(), RTLD_NOW) };
    if h.is_null() {
        return Err(format!(
            "cannot load the churnkit engine {p}: {}; run scripts/jupyter-setup.sh to build it",
            last_dl_error()
        ));
    }
    let sym = |name: &str| -> Result<*mut c_void, String> {
        let n = CString::new(name).expect("symbol names have no NUL");
        // SAFETY: `h` is a live handle and `n` a valid C string.
        let s = unsafe { dlsym(h, n.as_ptr()) };
        if s.is_null() {
            Err(format!("{p} is not a churnkit engine (no {name}); rebuild it with scripts/jupyter-setup.sh"))
        } else {
            Ok(s)
        }
    };
    // SAFETY: the engine exports these symbols with exactly these signatures.
    let (protocol, call, free) = unsafe {
        (
            std::mem::transmute::<*mut c_void, ProtocolFn>(sym("churnkit_engine_protocol")?),
            std::mem::transmute::<*mut c_void, CallFn>(sym("churnkit_engine_call")?),
            std::mem::transmute::<*mut c_void, FreeFn>(sym("churnkit_engine_free")?),
        )
    };
    // SAFETY: a plain function of no arguments.
    let v = unsafe { protocol() };
    if v != PROTOCOL {
        return Err(format!(
            "the churnkit engine {p} speaks protocol {v}, these cells {PROTOCOL}: rebuild it with scripts/jupyter-setup.sh"
        ));
    }
    Ok(Engine { call, free })
}

/// Send `text` to the engine; its answer text.
fn send(text: &str) -> Result<String, Error> {
    let engine = ENGINE
        .get_or_init(load)
        .as_ref()
        .map_err(|e| Error(e.clone()))?;
    let mut len = 0usize;
    // SAFETY: a valid buffer and length in, a buffer of `len` bytes out, freed below.
    Ok(unsafe {
        let ptr = (engine.call)(text.as_ptr(), text.len(), &mut len);
        let bytes = std::slice::from_raw_parts(ptr, len).to_vec();
        (engine.free)(ptr, len);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Send a request; the engine's answer, or its error.
pub(crate) fn call<R: Request>(req: &R) -> Result<R::Answer, Error> {
    let text = send(&encode(req))?;
    match text.split_once('\n') {
        Some(("ok", body)) => json::parse(body)
            .and_then(|v| R::Answer::read(&v))
            .map_err(|e| {
                Error(format!(
                    "bad answer from the engine to `{}`: {e}",
                    R::METHOD
                ))
            }),
        Some(("err", message)) => Err(Error(message.to_string())),
        _ => Err(Error(format!(
            "bad answer from the engine: {}",
            text.chars().take(80).collect::<String>()
        ))),
    }
}
