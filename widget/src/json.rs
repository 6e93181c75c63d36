//! JSON through the browser's own `JSON.parse`/`JSON.stringify` and serde-wasm-bindgen, so the
//! widget ships no JSON parser or number formatter of its own (serde_json was ~50 KB of WASM).

use serde::{Serialize, de::DeserializeOwned};
use wasm_bindgen::JsValue;

/// A JS value the server (or localStorage) can read back as JSON: maps become objects and
/// `None` becomes `null`.
pub(crate) fn to_js<T: Serialize>(value: &T) -> Option<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()
}

pub(crate) fn to_string<T: Serialize>(value: &T) -> Option<String> {
    js_sys::JSON::stringify(&to_js(value)?).ok()?.as_string()
}

pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue) -> Option<T> {
    serde_wasm_bindgen::from_value(value).ok()
}

pub(crate) fn from_str<T: DeserializeOwned>(text: &str) -> Option<T> {
    from_js(js_sys::JSON::parse(text).ok()?)
}
