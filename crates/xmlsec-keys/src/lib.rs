//! Each IdP certificate is loaded into an xmlsec key once, not at every SAML signature check.
//!
//! **Why.** samael 0.0.22 checks each `<ds:Signature>` with a key it loads from the IdP's DER
//! certificate right then (`xmlSecOpenSSLAppKeyLoadMemory`, format `CertDer`), for every login.
//! Under OpenSSL 3.0 that load decodes the certificate and its public key through the provider
//! decoders: 16 % of the CPU of an ACS login in `perf` (the RSA check itself is about 3 %).
//! samael's xmlsec wrapper is private, so it cannot be handed a key loaded beforehand.
//!
//! **How.** This crate defines `xmlSecOpenSSLAppKeyLoadMemory` in the executable, so the calls
//! samael makes (and any other in the process) reach it instead of libxmlsec1-openssl's:
//! - a `CertDer` certificate is loaded once, by xmlsec itself and exactly as the library's own
//!   function does (a memory BIO handed to `xmlSecOpenSSLAppKeyLoadBIO`), and kept; each call
//!   then gets a new key whose value is a duplicate of the kept key's value (xmlsec duplicates an
//!   OpenSSL public key by taking a reference, not by decoding it again);
//! - every other format (private keys, PEM, PKCS#12, …) takes the library's path unchanged.
//!
//! **What the caller sees.** The key it gets checks signatures with the same public key. It
//! leaves out the certificate itself (xmlsec's X.509 key data), which a check with a given key
//! does not read: samael puts the key in the signature context directly, with no keys manager
//! and no certificate-chain check. The caller owns the key and destroys it as before.
//!
//! At most [`CAPACITY`] certificates are kept (an IdP has one or two at a time; rotation adds
//! new ones), and the cache is emptied when it is full. [`counts`] says how often a certificate
//! was loaded and how often a kept one served, for `/metrics` and the tests.
//!
//! roster-sso calls [`install`] before samael checks a signature: the reference it makes to
//! the definition here is what makes the linker take this object, and with it the definition
//! that samael's calls resolve to.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Most certificates kept at once.
pub const CAPACITY: usize = 64;

/// `xmlSecKeyDataFormatCertDer` of `xmlsec/keysdata.h` (xmlsec 1.2 and 1.3).
const FORMAT_CERT_DER: c_uint = 8;

/// An `xmlSecKey` (opaque here).
#[repr(C)]
pub struct XmlSecKey {
    _private: [u8; 0],
}

/// An `xmlSecKeyData` (opaque here).
#[repr(C)]
struct XmlSecKeyData {
    _private: [u8; 0],
}

#[link(name = "xmlsec1")]
extern "C" {
    fn xmlSecKeyCreate() -> *mut XmlSecKey;
    fn xmlSecKeyDestroy(key: *mut XmlSecKey);
    fn xmlSecKeyGetValue(key: *mut XmlSecKey) -> *mut XmlSecKeyData;
    fn xmlSecKeySetValue(key: *mut XmlSecKey, value: *mut XmlSecKeyData) -> c_int;
    fn xmlSecKeyDataDuplicate(data: *mut XmlSecKeyData) -> *mut XmlSecKeyData;
    fn xmlSecKeyDataDestroy(data: *mut XmlSecKeyData);
}

#[link(name = "xmlsec1-openssl")]
extern "C" {
    fn xmlSecOpenSSLAppKeyLoadBIO(
        bio: *mut openssl_sys::BIO,
        format: c_uint,
        pwd: *const c_char,
        pwd_callback: *mut c_void,
        pwd_callback_ctx: *mut c_void,
    ) -> *mut XmlSecKey;
}

/// How often certificates were loaded, and how often a kept one served instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCacheCounts {
    pub loads: u64,
    pub hits: u64,
}

static LOADS: AtomicU64 = AtomicU64::new(0);
static HITS: AtomicU64 = AtomicU64::new(0);

/// The counts so far in this process.
pub fn counts() -> KeyCacheCounts {
    KeyCacheCounts {
        loads: LOADS.load(Ordering::Relaxed),
        hits: HITS.load(Ordering::Relaxed),
    }
}

/// Makes sure this crate's `xmlSecOpenSSLAppKeyLoadMemory` is the one linked (see the crate
/// docs); does nothing else and costs nothing.
#[inline(never)]
pub fn install() {
    let definition: unsafe extern "C" fn(
        *const u8,
        c_uint,
        c_uint,
        *const c_char,
        *mut c_void,
        *mut c_void,
    ) -> *mut XmlSecKey = xmlSecOpenSSLAppKeyLoadMemory;
    std::hint::black_box(definition);
}

/// A loaded key, owned by the cache.
struct KeptKey(NonNull<XmlSecKey>);

// SAFETY: the cache only reads a kept key (duplicating its value takes a reference to the
// OpenSSL key, which OpenSSL counts atomically), always under the cache's mutex, and destroys it
// only after removing it from the map under that mutex.
unsafe impl Send for KeptKey {}

impl Drop for KeptKey {
    fn drop(&mut self) {
        // SAFETY: the cache owns the key; nobody else holds its pointer.
        unsafe { xmlSecKeyDestroy(self.0.as_ptr()) }
    }
}

/// Kept keys by the DER bytes of their certificate.
static KEPT: Mutex<Option<HashMap<Vec<u8>, KeptKey>>> = Mutex::new(None);

/// A new key holding a duplicate of `kept`'s value, or null when xmlsec fails (as the
/// library's loader returns null).
///
/// # Safety
/// `kept` must be a live key with a value.
unsafe fn key_with_value_of(kept: &KeptKey) -> *mut XmlSecKey {
    // SAFETY: `kept` is live (caller); the duplicate is ours until handed to the new key.
    let value = unsafe { xmlSecKeyDataDuplicate(xmlSecKeyGetValue(kept.0.as_ptr())) };
    if value.is_null() {
        return ptr::null_mut();
    }
    // SAFETY: plain constructor; on failure the duplicate is destroyed, on success the key owns
    // it and the caller owns the key.
    unsafe {
        let key = xmlSecKeyCreate();
        if key.is_null() {
            xmlSecKeyDataDestroy(value);
            return ptr::null_mut();
        }
        if xmlSecKeySetValue(key, value) < 0 {
            xmlSecKeyDataDestroy(value);
            xmlSecKeyDestroy(key);
            return ptr::null_mut();
        }
        key
    }
}

/// The password arguments of a load, passed on to xmlsec untouched.
#[derive(Clone, Copy)]
struct Password {
    pwd: *const c_char,
    callback: *mut c_void,
    callback_ctx: *mut c_void,
}

/// What libxmlsec1-openssl's own `xmlSecOpenSSLAppKeyLoadMemory` does: the bytes in a memory
/// BIO, loaded by `xmlSecOpenSSLAppKeyLoadBIO`.
///
/// # Safety
/// `password` is what a caller of `xmlSecOpenSSLAppKeyLoadMemory` may pass.
unsafe fn load_with_xmlsec(bytes: &[u8], format: c_uint, password: Password) -> *mut XmlSecKey {
    let Ok(len) = c_int::try_from(bytes.len()) else {
        return ptr::null_mut();
    };
    // SAFETY: the BIO only reads `bytes` and is freed before returning; `password` is valid
    // (caller).
    unsafe {
        let bio = openssl_sys::BIO_new_mem_buf(bytes.as_ptr().cast(), len);
        if bio.is_null() {
            return ptr::null_mut();
        }
        let Password {
            pwd,
            callback,
            callback_ctx,
        } = password;
        let key = xmlSecOpenSSLAppKeyLoadBIO(bio, format, pwd, callback, callback_ctx);
        openssl_sys::BIO_free_all(bio);
        key
    }
}

/// The definition samael's calls reach (see the crate docs). Same contract as xmlsec's: a new
/// key owned by the caller, or null on failure.
///
/// # Safety
/// As for xmlsec's: `data` points to `data_size` readable bytes, `pwd` is null or a C string.
#[no_mangle]
pub unsafe extern "C" fn xmlSecOpenSSLAppKeyLoadMemory(
    data: *const u8,
    data_size: c_uint,
    format: c_uint,
    pwd: *const c_char,
    pwd_callback: *mut c_void,
    pwd_callback_ctx: *mut c_void,
) -> *mut XmlSecKey {
    if data.is_null() {
        // xmlsec's own function refuses a null buffer the same way.
        return ptr::null_mut();
    }
    // SAFETY: `data` is readable for `data_size` bytes (caller).
    let der = unsafe { std::slice::from_raw_parts(data, data_size as usize) };
    let password = Password {
        pwd,
        callback: pwd_callback,
        callback_ctx: pwd_callback_ctx,
    };
    if format != FORMAT_CERT_DER {
        // SAFETY: the caller's password arguments, passed on unchanged.
        return unsafe { load_with_xmlsec(der, format, password) };
    }
    let mut guard = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    let kept = guard.get_or_insert_with(HashMap::new);
    if let Some(key) = kept.get(der) {
        HITS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: a kept key is live and has a value; the mutex is held.
        return unsafe { key_with_value_of(key) };
    }
    // SAFETY: the caller's password arguments, passed on unchanged.
    let loaded = unsafe { load_with_xmlsec(der, format, password) };
    LOADS.fetch_add(1, Ordering::Relaxed);
    let Some(loaded) = NonNull::new(loaded) else {
        return ptr::null_mut();
    };
    // SAFETY: `loaded` is the live key xmlsec just returned.
    if unsafe { xmlSecKeyGetValue(loaded.as_ptr()) }.is_null() {
        // A certificate without a usable key: the caller gets it as xmlsec made it.
        return loaded.as_ptr();
    }
    let kept_key = KeptKey(loaded);
    // SAFETY: `kept_key` is live and has a value; the mutex is held.
    let key = unsafe { key_with_value_of(&kept_key) };
    if kept.len() >= CAPACITY {
        kept.clear();
    }
    kept.insert(der.to_vec(), kept_key);
    key
}
