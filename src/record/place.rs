//! Places as an administrative hierarchy, with optional coordinates.
//!
//! Witnesses name places by governorate, district, sub-district and town or
//! village, often with only some levels known; gazetteers differ between
//! parties to a conflict, so the levels are free text rather than codes.
//! Coordinates are kept as the decimal strings the user wrote: a JSON number
//! would pass through binary floating point and come back with different
//! digits, and the number of decimals a user gave says how precise the
//! position is.

use serde_json::{Map, Value};

use super::date::fold_digits;
use super::error::{quote, RecordError, RecordErrorKind};
use super::json::{clean_text, describe, Fields, Text};

/// Where something happened. At least one of the text levels is present.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Place {
    pub governorate: Option<String>,
    pub district: Option<String>,
    pub subdistrict: Option<String>,
    /// Town, village, neighbourhood or camp.
    pub locality: Option<String>,
    /// Anything more precise: street, building, checkpoint name.
    pub detail: Option<String>,
    pub coordinates: Option<Coordinates>,
}

/// WGS 84 decimal degrees, as validated strings (`"36.2021"`, `"-5.5"`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Coordinates {
    pub lat: String,
    pub lon: String,
}

const LEVELS: [&str; 5] = [
    "governorate",
    "district",
    "subdistrict",
    "locality",
    "detail",
];
const MAX_DECIMALS: usize = 15;

impl Coordinates {
    /// Validate a latitude and longitude given as decimal strings.
    pub fn new(lat: &str, lon: &str) -> Result<Coordinates, RecordError> {
        Ok(Coordinates {
            lat: decimal_degrees(lat, "lat", 90, "latitude")?,
            lon: decimal_degrees(lon, "lon", 180, "longitude")?,
        })
    }
}

impl Place {
    /// "locality, subdistrict, district, governorate", most specific first,
    /// with whichever levels are present; `detail` only when none is.
    pub fn display(&self) -> Option<String> {
        let levels: Vec<&str> = [
            &self.locality,
            &self.subdistrict,
            &self.district,
            &self.governorate,
        ]
        .into_iter()
        .filter_map(|s| s.as_deref())
        .collect();
        if levels.is_empty() {
            self.detail.clone()
        } else {
            Some(levels.join(", "))
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let levels = [
            &self.governorate,
            &self.district,
            &self.subdistrict,
            &self.locality,
            &self.detail,
        ];
        for (key, value) in LEVELS.iter().zip(levels) {
            if let Some(v) = value {
                m.insert((*key).into(), Value::String(v.clone()));
            }
        }
        if let Some(c) = &self.coordinates {
            let mut cm = Map::new();
            cm.insert("lat".into(), Value::String(c.lat.clone()));
            cm.insert("lon".into(), Value::String(c.lon.clone()));
            m.insert("coordinates".into(), Value::Object(cm));
        }
        Value::Object(m)
    }

    pub(crate) fn from_json(v: &Value, field: &str) -> Result<Place, RecordError> {
        let mut allowed = LEVELS.to_vec();
        allowed.push("coordinates");
        let f = Fields::open(v, field, &allowed, "a place")?;
        let place = Place {
            governorate: f.text("governorate", Text::Line)?,
            district: f.text("district", Text::Line)?,
            subdistrict: f.text("subdistrict", Text::Line)?,
            locality: f.text("locality", Text::Line)?,
            detail: f.text("detail", Text::Multiline)?,
            coordinates: match f.get("coordinates")? {
                None => None,
                Some(c) => Some(coordinates_from_json(c, &f.path_of("coordinates"))?),
            },
        };
        if place.governorate.is_none()
            && place.district.is_none()
            && place.subdistrict.is_none()
            && place.locality.is_none()
            && place.detail.is_none()
        {
            return Err(RecordError::new(
                RecordErrorKind::MissingField,
                field,
                "a place needs at least one of `governorate`, `district`, `subdistrict`, `locality`, `detail`",
            )
            .with_hint("leave the whole place out when nothing about it is known"));
        }
        Ok(place)
    }
}

fn coordinates_from_json(v: &Value, field: &str) -> Result<Coordinates, RecordError> {
    let f = Fields::open(v, field, &["lat", "lon"], "coordinates")?;
    let lat = f.require("lat")?;
    let lon = f.require("lon")?;
    Ok(Coordinates {
        lat: degrees_value(lat, &f.path_of("lat"), 90, "latitude")?,
        lon: degrees_value(lon, &f.path_of("lon"), 180, "longitude")?,
    })
}

fn degrees_value(v: &Value, field: &str, max: u32, what: &str) -> Result<String, RecordError> {
    match v {
        Value::String(s) => decimal_degrees(&clean_text(s, field, Text::Line)?, field, max, what),
        Value::Number(n) => Err(RecordError::invalid(
            field,
            format!("{n} is a number; coordinates are written as decimal strings"),
        )
        .with_hint(format!(
            "quote it: \"{n}\" (numbers lose digits on the way through software)"
        ))),
        other => Err(RecordError::invalid(
            field,
            format!(
                "expected a {what} as a decimal string, found {}",
                describe(other)
            ),
        )),
    }
}

/// Check `-?D{1,3}(.D{1,15})?` without leading zeros, and the range, on the
/// digits themselves so that no floating point is involved.
fn decimal_degrees(text: &str, field: &str, max: u32, what: &str) -> Result<String, RecordError> {
    let folded: String = fold_digits(text)
        .chars()
        .map(|c| if c == '\u{66B}' { '.' } else { c })
        .collect();
    let bad = || {
        RecordError::invalid(
            field,
            format!("{} is not a {what} in decimal degrees", quote(text)),
        )
        .with_hint("write decimal degrees with a point, like \"36.2021\" or \"-5.5\"")
    };
    let unsigned = folded.strip_prefix('-').unwrap_or(&folded);
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || int.len() > 3 || (int.len() > 1 && int.starts_with('0')) {
        return Err(bad());
    }
    if let Some(f) = frac {
        if !all_digits(f) || f.len() > MAX_DECIMALS {
            return Err(bad());
        }
    }
    let whole: u32 = int.parse().map_err(|_| bad())?;
    let beyond =
        whole > max || (whole == max && frac.is_some_and(|f| f.bytes().any(|b| b != b'0')));
    if beyond {
        return Err(RecordError::invalid(
            field,
            format!(
                "{} is out of range ({what} runs from -{max} to {max})",
                quote(text)
            ),
        )
        .with_hint("check that latitude and longitude are not swapped"));
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn place(v: Value) -> Result<Place, RecordError> {
        Place::from_json(&v, "place_of_death")
    }

    #[test]
    fn number_coordinates_get_a_quoting_hint() {
        let e = place(json!({"locality": "Douma", "coordinates": {"lat": 33.57, "lon": "36.4"}}))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("place_of_death.coordinates.lat"));
        assert!(e.message.contains("33.57 is a number"), "{}", e.message);
        assert!(e.hint.as_deref().unwrap_or("").contains("\"33.57\""));
    }

    #[test]
    fn coordinate_range_and_format() {
        let e = place(json!({"locality": "x", "coordinates": {"lat": "91.0", "lon": "36.4"}}))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("place_of_death.coordinates.lat"));
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = place(json!({"locality": "x", "coordinates": {"lat": "33", "lon": "-180.0001"}}))
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("place_of_death.coordinates.lon"));
        assert!(Coordinates::new("90.000", "-180").is_ok());
        assert!(Coordinates::new("-0.5", "0").is_ok());
        for bad in [
            "",
            "36,2",
            "1e2",
            "036.2",
            "36.",
            ".5",
            "+36.2",
            "36.2N",
            "1234",
            "36.1234567890123456",
        ] {
            assert!(Coordinates::new(bad, "1").is_err(), "{bad}");
        }
        assert_eq!(Coordinates::new("٣٦٫٢", "٤٠").unwrap().lat, "36.2");
        let e = place(json!({"locality": "x", "coordinates": {"lat": "33"}})).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::MissingField);
        assert_eq!(e.field.as_deref(), Some("place_of_death.coordinates.lon"));
    }

    #[test]
    fn a_place_needs_a_name() {
        let e = place(json!({"coordinates": {"lat": "33", "lon": "36"}})).unwrap_err();
        assert_eq!(e.kind, RecordErrorKind::MissingField);
        assert_eq!(e.field.as_deref(), Some("place_of_death"));
        assert!(place(json!({})).is_err());
        assert!(place(json!("Douma")).is_err());
    }

    #[test]
    fn display_is_most_specific_first() {
        let p =
            place(json!({"governorate": "ريف دمشق", "district": "Douma", "locality": "Harasta"}))
                .unwrap();
        assert_eq!(p.display().as_deref(), Some("Harasta, Douma, ريف دمشق"));
        let p = place(json!({"detail": "near the bakery"})).unwrap();
        assert_eq!(p.display().as_deref(), Some("near the bakery"));
    }

    #[test]
    fn json_round_trip() {
        let p = place(
            json!({"governorate": " Idlib ", "coordinates": {"lat": "35.93", "lon": "36.63"}}),
        )
        .unwrap();
        assert_eq!(p.governorate.as_deref(), Some("Idlib"));
        assert_eq!(Place::from_json(&p.to_json(), "p").unwrap(), p);
    }
}
