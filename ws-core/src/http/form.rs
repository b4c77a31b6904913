//! Parameter lookup for [`HttpRequest::param`](super::HttpRequest::param) without the per-call
//! allocations of a general form parser.
//!
//! `param` runs for every bound argument of every controller call, so it is on the hot path of
//! each HTTP request. Decoding every pair of a query string into owned strings, then re-encoding
//! the one wanted and parsing it again through `serde_urlencoded` to reach its value
//! deserializer, was the largest part of the framework's own work per request (~2,600 of ~13,700
//! instructions for the seed's `/server/send?fd=N`). Here the pairs are compared as they are
//! parsed (borrowed unless they hold escapes), and the one value is handed to a deserializer that
//! parses text exactly as `serde_urlencoded`'s value deserializer does, so what binds, and every
//! error message, stay the same (the tests below hold the two side by side).

use std::borrow::Cow;

use serde::de::value::Error;
use serde::de::{self, Error as _, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

/// The first value of `name` in `input` (a query string or a form body), decoded as browsers
/// encode forms. Borrowed when nothing needed decoding: `param` runs for every bound argument of
/// every request.
pub(super) fn form_value<'a>(input: &'a str, name: &str) -> Option<Cow<'a, str>> {
    // Nothing escaped (`?fd=7`, the usual case): the pairs are the text itself. Decoding
    // through `form_urlencoded` anyway cost ~450 instructions per `/server/send` request
    // (callgrind), a tenth of what bare hyper spends on a whole request.
    if !input.bytes().any(|b| b == b'%' || b == b'+') {
        return input.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(Cow::Borrowed(value))
        });
    }
    form_urlencoded::parse(input.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// One parameter's text as a serde deserializer: numbers and booleans parse from the text,
/// `Option`s are `Some`, enums name a unit variant; the same behaviour (and error messages) as
/// the value deserializer of `serde_urlencoded`.
pub(super) struct TextValue<'de>(pub(super) Cow<'de, str>);

macro_rules! parse_then_visit {
    ($($ty:ident => $method:ident => $visit:ident,)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.0.parse::<$ty>() {
                    Ok(value) => visitor.$visit(value),
                    Err(e) => Err(Error::custom(e)),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for TextValue<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Cow::Borrowed(text) => visitor.visit_borrowed_str(text),
            Cow::Owned(text) => visitor.visit_string(text),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(UnitVariant(self.0))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        char str string unit bytes byte_buf unit_struct tuple_struct struct identifier tuple
        ignored_any seq map
    }

    parse_then_visit! {
        bool => deserialize_bool => visit_bool,
        u8 => deserialize_u8 => visit_u8,
        u16 => deserialize_u16 => visit_u16,
        u32 => deserialize_u32 => visit_u32,
        u64 => deserialize_u64 => visit_u64,
        i8 => deserialize_i8 => visit_i8,
        i16 => deserialize_i16 => visit_i16,
        i32 => deserialize_i32 => visit_i32,
        i64 => deserialize_i64 => visit_i64,
        f32 => deserialize_f32 => visit_f32,
        f64 => deserialize_f64 => visit_f64,
    }
}

/// An enum named by the text: only unit variants bind.
struct UnitVariant<'de>(Cow<'de, str>);

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = Error;
    type Variant = UnitOnly;

    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, UnitOnly), Error> {
        let variant = seed.deserialize(self.0.into_deserializer())?;
        Ok((variant, UnitOnly))
    }
}

struct UnitOnly;

impl<'de> de::VariantAccess<'de> for UnitOnly {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        _seed: S,
    ) -> Result<S::Value, Error> {
        Err(Error::custom("expected unit variant"))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(Error::custom("expected unit variant"))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(Error::custom("expected unit variant"))
    }
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;

    use super::*;
    use crate::Fd;

    const TRICKY: &[&str] = &[
        "",
        "7",
        "+7",
        "-3",
        "1.5",
        "1e3",
        "true",
        "false",
        "TRUE",
        "abc",
        "a+b",
        "a%20b",
        "1%2B1",
        "%zz",
        "%4",
        "%",
        "%+41",
        "%4+1",
        "caf%C3%A9",
        "%FF%FE",
        "%e2%82%ac",
        "red",
        "Green",
        "18446744073709551616",
        "300",
        "x=y",
    ];

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Colour {
        Red,
        Green,
        Custom(String),
    }

    /// What `param` did before: re-encode the decoded text and parse it back through
    /// `serde_urlencoded`.
    fn through_urlencoded<T: DeserializeOwned>(text: &str) -> Result<T, String> {
        #[derive(serde::Deserialize)]
        struct One<T> {
            v: T,
        }
        let encoded = serde_urlencoded::to_string([("v", text)]).map_err(|e| e.to_string())?;
        serde_urlencoded::from_str::<One<T>>(&encoded)
            .map(|o| o.v)
            .map_err(|e| e.to_string())
    }

    fn direct<T: DeserializeOwned>(text: &str) -> Result<T, String> {
        T::deserialize(TextValue(Cow::Borrowed(text))).map_err(|e| e.to_string())
    }

    fn same_as_urlencoded<T: DeserializeOwned + PartialEq + std::fmt::Debug>() {
        for raw in TRICKY {
            let pair = format!("v={raw}");
            let text = form_value(&pair, "v").expect("present");
            assert_eq!(
                direct::<T>(&text),
                through_urlencoded::<T>(&text),
                "{raw:?} as {}",
                std::any::type_name::<T>()
            );
        }
    }

    #[test]
    fn values_bind_as_serde_urlencoded_binds_them() {
        same_as_urlencoded::<u64>();
        same_as_urlencoded::<u8>();
        same_as_urlencoded::<i32>();
        same_as_urlencoded::<f64>();
        same_as_urlencoded::<bool>();
        same_as_urlencoded::<String>();
        same_as_urlencoded::<char>();
        same_as_urlencoded::<Option<u64>>();
        same_as_urlencoded::<Option<String>>();
        same_as_urlencoded::<Fd>();
        same_as_urlencoded::<Colour>();
        same_as_urlencoded::<serde_json::Value>();
    }

    #[test]
    fn plain_values_are_borrowed() {
        assert!(matches!(form_value("fd=7", "fd"), Some(Cow::Borrowed("7"))));
        assert!(matches!(form_value("m=a+b", "m"), Some(Cow::Owned(s)) if s == "a b"));
    }

    #[test]
    fn plain_and_escaped_queries_give_the_same_values() {
        for (input, name, expected) in [
            ("fd=7", "fd", Some("7")),
            ("a=1&&fd=7&fd=8", "fd", Some("7")),
            ("flag&fd=", "flag", Some("")),
            ("flag&fd=", "fd", Some("")),
            ("fd=7", "other", None),
            ("", "fd", None),
            ("msg=a%20b&fd=7", "msg", Some("a b")),
            ("msg=a+b", "msg", Some("a b")),
            ("m%73g=x", "msg", Some("x")),
        ] {
            assert_eq!(form_value(input, name).as_deref(), expected, "{input}");
            let decoded = form_urlencoded::parse(input.as_bytes())
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned());
            assert_eq!(
                decoded.as_deref(),
                expected,
                "{input}, as form_urlencoded reads it"
            );
        }
    }
}
