//! Spreadsheets in and out (docs/CSV.md).
//!
//! Groups keep their lists in spreadsheets saved by Excel as UTF-8 (with or
//! without a BOM), UTF-16 or Windows-1256, with Arabic or English headers.
//! Import turns each row into the same JSON object `sijill add` reads and
//! validates it with [`parse_record`], so a row passes exactly when the same
//! record typed by hand would; nothing here writes to a store. Export writes
//! one row per record with provenance columns, in a form import reads back.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::entry::{format_timestamp, SignedEntry};
use crate::keys;
use crate::record::{parse_record, Age, Record, RecordError, RecordKind};
use crate::search::{content_hash, normalise};

/// The largest CSV file accepted: a few hundred thousand records are far
/// below it; the bound keeps a hostile file from exhausting memory.
pub const MAX_CSV_BYTES: usize = 512 * 1024 * 1024;
/// The most columns a sheet may have: Excel's own limit. A header row with
/// more is refused before any row is read.
pub const MAX_CSV_COLUMNS: usize = 16_384;

/// Which encoding to read a file in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A BOM decides (UTF-8, UTF-16LE, UTF-16BE); else valid UTF-8; else Windows-1256.
    Auto,
    Utf8,
    /// UTF-16, little-endian unless a BOM says big-endian.
    Utf16,
    Windows1256,
}

/// Why a file could not be read at all (as opposed to a rejected row).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file is larger than [`MAX_CSV_BYTES`].
    #[error("the file is {len} bytes; the limit is {MAX_CSV_BYTES} bytes")]
    TooLarge { len: usize },
    /// The header row has more columns than any spreadsheet holds.
    #[error("line 1: the header has {columns} columns; the limit is {MAX_CSV_COLUMNS}")]
    TooManyColumns { columns: usize },
    /// The bytes are not in the encoding that was asked for.
    #[error("{0}")]
    Encoding(String),
    /// The file has no header row.
    #[error("the file is empty: the first line must name the columns")]
    Empty,
    /// The CSV structure itself is broken (an unclosed quote).
    #[error("line {line}: {message}")]
    Syntax { line: u64, message: String },
    /// A header that is not recognised, or two headers for one field.
    #[error("column {column} ({header:?}): {message}")]
    Header {
        column: usize,
        header: String,
        message: String,
    },
    /// The mapping file is not valid.
    #[error("mapping file: {0}")]
    Mapping(String),
}

/// Decode file bytes to text; returns the text and the encoding used.
pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<(String, &'static str), CsvError> {
    if bytes.len() > MAX_CSV_BYTES {
        return Err(CsvError::TooLarge { len: bytes.len() });
    }
    let bom = encoding_rs::Encoding::for_bom(bytes);
    let strict = |enc: &'static encoding_rs::Encoding, body: &[u8], name: &'static str| match enc
        .decode_without_bom_handling_and_without_replacement(body)
    {
        Some(text) => Ok((text.into_owned(), name)),
        None => Err(CsvError::Encoding(format!(
            "the file is not valid {name}{}",
            first_bad_utf8(body, enc)
        ))),
    };
    match (encoding, bom) {
        (Encoding::Auto | Encoding::Utf8, Some((e, n))) if e == encoding_rs::UTF_8 => {
            strict(encoding_rs::UTF_8, &bytes[n..], "UTF-8 (with BOM)")
        }
        (Encoding::Auto | Encoding::Utf16, Some((e, n))) if e == encoding_rs::UTF_16LE => {
            strict(encoding_rs::UTF_16LE, &bytes[n..], "UTF-16LE")
        }
        (Encoding::Auto | Encoding::Utf16, Some((e, n))) if e == encoding_rs::UTF_16BE => {
            strict(encoding_rs::UTF_16BE, &bytes[n..], "UTF-16BE")
        }
        (Encoding::Auto, _) => match std::str::from_utf8(bytes) {
            Ok(text) => Ok((text.to_string(), "UTF-8")),
            // Every byte sequence is valid Windows-1256 but for a few unused
            // codes, so this is the fallback rather than a guess among many.
            Err(_) => strict(encoding_rs::WINDOWS_1256, bytes, "Windows-1256"),
        },
        (Encoding::Utf8, _) => strict(encoding_rs::UTF_8, bytes, "UTF-8"),
        (Encoding::Utf16, _) => strict(encoding_rs::UTF_16LE, bytes, "UTF-16LE"),
        (Encoding::Windows1256, _) => strict(encoding_rs::WINDOWS_1256, bytes, "Windows-1256"),
    }
}

fn first_bad_utf8(body: &[u8], enc: &'static encoding_rs::Encoding) -> String {
    if enc != encoding_rs::UTF_8 {
        return String::new();
    }
    match std::str::from_utf8(body) {
        Err(e) => {
            let line = body[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            format!(" (line {line}, byte {})", e.valid_up_to())
        }
        Ok(_) => String::new(),
    }
}

/// Every field a column can be mapped to, with what it means (docs/CSV.md §2).
pub const TARGETS: &[(&str, &str)] = &[
    ("kind", "casualty or missing, when --kind is not given"),
    ("name", "full name; Arabic script goes to name.ar, other to name.latin"),
    ("name_ar", "full name in Arabic script"),
    ("name_latin", "full name in Latin script"),
    ("given", "given name"),
    ("father", "father's name"),
    ("grandfather", "grandfather's name"),
    ("family", "family name"),
    ("laqab", "by-name or epithet"),
    ("aliases", "other names, one per line or separated by ;"),
    ("sex", "male, female, unknown (ذكر, أنثى accepted)"),
    ("age", "34, 30-40, child, adult or elderly"),
    ("age_years", "age in whole years"),
    ("age_min", "lower end of an age range"),
    ("age_max", "upper end of an age range"),
    ("age_band", "child, adult or elderly"),
    ("date", "date of death (casualty) or last seen (missing): 2018, 2018-01, 2018-01-25, c. 2018-01, 2018-01/2018-03"),
    ("date_year", "the year of the date, when the date is split in columns"),
    ("date_month", "the month of the date"),
    ("date_day", "the day of the date"),
    ("date_from", "start of a date range"),
    ("date_to", "end of a date range"),
    ("date_approximate", "yes/no: the date is approximate"),
    ("governorate", "place: governorate"),
    ("district", "place: district"),
    ("subdistrict", "place: subdistrict"),
    ("locality", "place: town, village, neighbourhood, camp"),
    ("place_detail", "place: street, building, checkpoint"),
    ("lat", "latitude, decimal degrees"),
    ("lon", "longitude, decimal degrees"),
    ("cause", "casualty: cause of death term"),
    ("cause_detail", "casualty: what the cause term cannot say"),
    ("civilian_status", "casualty: civilian, combatant, unknown"),
    ("alleged_perpetrator", "casualty: the party the sources name"),
    ("confidence", "casualty: confirmed, likely, possible, unconfirmed"),
    ("circumstances", "missing: how the person went missing"),
    ("circumstances_detail", "missing: what the term cannot say"),
    ("alleged_holder", "missing: who is believed to hold the person"),
    ("status", "missing: where the person is believed to be now"),
    ("contact_name", "missing, sensitive: who to contact"),
    ("contact_relationship", "missing, sensitive: relationship to the person"),
    ("contact_phone", "missing, sensitive: phone"),
    ("contact_email", "missing, sensitive: email"),
    ("contact_address", "missing, sensitive: address"),
    ("contact_notes", "missing, sensitive: notes"),
    ("source_type", "the source's type (family, eyewitness, medical, ...)"),
    ("source_reference", "the source: who or what, and where to find it"),
    ("source_reliability", "high, medium, low, unknown"),
    ("source_date", "when the source gave the information"),
    ("sources", "all sources as a JSON array (what export-csv writes)"),
    ("notes", "free text"),
    ("sensitivity", "public, partner, internal"),
    ("ignore", "the column is read and not imported"),
];

/// Headers recognised without a mapping file, by target. Compared after
/// search normalisation, so case, أ/ا, ة/ه, the article and `_`/`-`/spaces do
/// not matter.
const HEADERS: &[(&str, &[&str])] = &[
    ("kind", &["kind", "record kind", "النوع"]),
    (
        "name",
        &[
            "name",
            "full name",
            "الاسم",
            "الاسم الكامل",
            "اسم الضحية",
            "الاسم الثلاثي",
            "اسم المفقود",
            "اسم الشهيد",
        ],
    ),
    (
        "name_ar",
        &[
            "name ar",
            "name arabic",
            "arabic name",
            "الاسم بالعربية",
            "الاسم بالعربي",
        ],
    ),
    (
        "name_latin",
        &[
            "name latin",
            "name english",
            "latin name",
            "english name",
            "name en",
            "الاسم باللاتينية",
            "الاسم بالإنجليزية",
            "الاسم بالانكليزية",
        ],
    ),
    (
        "given",
        &[
            "given",
            "given name",
            "first name",
            "الاسم الأول",
            "الاسم الاول",
        ],
    ),
    (
        "father",
        &[
            "father",
            "father name",
            "father's name",
            "fathers name",
            "اسم الأب",
            "اسم الاب",
            "الأب",
        ],
    ),
    (
        "grandfather",
        &[
            "grandfather",
            "grandfather name",
            "grandfather's name",
            "اسم الجد",
            "الجد",
        ],
    ),
    (
        "family",
        &[
            "family",
            "family name",
            "surname",
            "last name",
            "الكنية",
            "العائلة",
            "اسم العائلة",
            "الكنيه",
        ],
    ),
    (
        "laqab",
        &["laqab", "nickname", "by name", "اللقب", "الشهرة"],
    ),
    (
        "aliases",
        &[
            "aliases",
            "alias",
            "other names",
            "أسماء أخرى",
            "اسماء اخرى",
        ],
    ),
    ("sex", &["sex", "gender", "الجنس"]),
    ("age", &["age", "العمر", "السن"]),
    ("age_years", &["age years", "age in years"]),
    ("age_min", &["age min", "minimum age"]),
    ("age_max", &["age max", "maximum age"]),
    ("age_band", &["age band", "age group", "الفئة العمرية"]),
    (
        "date",
        &[
            "date",
            "date of death",
            "death date",
            "date of incident",
            "date last seen",
            "last seen date",
            "date of disappearance",
            "date of arrest",
            "التاريخ",
            "تاريخ الوفاة",
            "تاريخ الاستشهاد",
            "تاريخ الوفاه",
            "تاريخ الحادثة",
            "تاريخ الفقدان",
            "تاريخ الاختفاء",
            "تاريخ الاعتقال",
        ],
    ),
    ("date_year", &["year", "date year", "السنة", "العام"]),
    ("date_month", &["month", "date month", "الشهر"]),
    ("date_day", &["day", "date day", "اليوم"]),
    ("date_from", &["date from", "from", "من تاريخ"]),
    ("date_to", &["date to", "to", "إلى تاريخ", "الى تاريخ"]),
    (
        "date_approximate",
        &[
            "date approximate",
            "approximate",
            "approximate date",
            "تاريخ تقريبي",
        ],
    ),
    ("governorate", &["governorate", "province", "المحافظة"]),
    ("district", &["district", "المنطقة"]),
    ("subdistrict", &["subdistrict", "sub district", "الناحية"]),
    (
        "locality",
        &[
            "locality",
            "town",
            "village",
            "city",
            "neighbourhood",
            "المدينة",
            "البلدة",
            "القرية",
            "الحي",
            "المدينة/البلدة",
        ],
    ),
    (
        "place_detail",
        &[
            "place detail",
            "place",
            "location",
            "المكان",
            "تفاصيل المكان",
        ],
    ),
    ("lat", &["lat", "latitude", "خط العرض"]),
    ("lon", &["lon", "lng", "longitude", "خط الطول"]),
    (
        "cause",
        &[
            "cause",
            "cause of death",
            "سبب الوفاة",
            "سبب الاستشهاد",
            "سبب الوفاه",
            "طريقة القتل",
        ],
    ),
    (
        "cause_detail",
        &[
            "cause detail",
            "cause details",
            "تفاصيل سبب الوفاة",
            "تفاصيل",
        ],
    ),
    (
        "civilian_status",
        &[
            "civilian status",
            "civilian",
            "status civilian",
            "مدني/عسكري",
            "مدني عسكري",
            "الصفة",
        ],
    ),
    (
        "alleged_perpetrator",
        &[
            "alleged perpetrator",
            "perpetrator",
            "الجهة الفاعلة",
            "الجهة المسؤولة",
            "الفاعل",
        ],
    ),
    ("confidence", &["confidence", "درجة التأكد"]),
    (
        "circumstances",
        &[
            "circumstances",
            "ظروف الفقدان",
            "ظروف الاختفاء",
            "ظروف الاعتقال",
        ],
    ),
    (
        "circumstances_detail",
        &["circumstances detail", "تفاصيل الظروف"],
    ),
    (
        "alleged_holder",
        &[
            "alleged holder",
            "holder",
            "الجهة المحتجزة",
            "الجهة الخاطفة",
        ],
    ),
    (
        "status",
        &["status", "whereabouts", "الحالة", "الوضع", "الوضع الحالي"],
    ),
    (
        "contact_name",
        &[
            "contact name",
            "contact",
            "اسم المتصل",
            "جهة الاتصال",
            "اسم ذوي المفقود",
        ],
    ),
    (
        "contact_relationship",
        &["contact relationship", "relationship", "صلة القرابة"],
    ),
    (
        "contact_phone",
        &[
            "contact phone",
            "phone",
            "telephone",
            "الهاتف",
            "رقم الهاتف",
        ],
    ),
    (
        "contact_email",
        &[
            "contact email",
            "email",
            "البريد الإلكتروني",
            "البريد الالكتروني",
        ],
    ),
    (
        "contact_address",
        &["contact address", "address", "العنوان"],
    ),
    ("contact_notes", &["contact notes", "ملاحظات الاتصال"]),
    ("source_type", &["source type", "نوع المصدر"]),
    (
        "source_reference",
        &[
            "source reference",
            "source",
            "reference",
            "المصدر",
            "مرجع المصدر",
        ],
    ),
    (
        "source_reliability",
        &["source reliability", "reliability", "موثوقية المصدر"],
    ),
    ("source_date", &["source date", "تاريخ المصدر"]),
    ("sources", &["sources", "المصادر"]),
    (
        "notes",
        &["notes", "note", "remarks", "comments", "ملاحظات", "ملاحظة"],
    ),
    ("sensitivity", &["sensitivity", "السرية", "درجة السرية"]),
    // What export-csv writes about the entry itself, and the rejects file's
    // own columns: read back without complaint, never imported.
    (
        "ignore",
        &[
            "entry id",
            "key id",
            "seq",
            "recorded at",
            "sijill error",
            "sijill line",
            "sijill column",
        ],
    ),
];

/// Values recognised without a mapping file, by target.
const VALUES: &[(&str, &[(&str, &str)])] = &[
    (
        "sex",
        &[
            ("ذكر", "male"),
            ("أنثى", "female"),
            ("انثى", "female"),
            ("m", "male"),
            ("f", "female"),
            ("غير معروف", "unknown"),
        ],
    ),
    (
        "civilian_status",
        &[
            ("مدني", "civilian"),
            ("عسكري", "combatant"),
            ("مقاتل", "combatant"),
            ("غير معروف", "unknown"),
        ],
    ),
    (
        "age_band",
        &[
            ("طفل", "child"),
            ("طفلة", "child"),
            ("بالغ", "adult"),
            ("مسن", "elderly"),
        ],
    ),
    ("kind", &[("ضحية", "casualty"), ("مفقود", "missing")]),
];

/// A mapping file (docs/CSV.md §2), read from TOML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Header as written in the file -> target.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Target -> value used where the row has none.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// Target -> (value as written -> value to import).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// `dmy` or `mdy`: how to read dates written with slashes or dots
    /// (25/01/2018). Without it such dates are refused, not guessed.
    #[serde(default)]
    pub date_order: Option<String>,
}

impl Mapping {
    pub fn from_toml(text: &str) -> Result<Mapping, CsvError> {
        let m: Mapping = toml::from_str(text).map_err(|e| CsvError::Mapping(e.to_string()))?;
        let known = |t: &str| TARGETS.iter().any(|(name, _)| *name == t);
        for (header, target) in &m.columns {
            if !known(target) {
                return Err(CsvError::Mapping(format!(
                    "column {header:?} is mapped to {target:?}, which is not a field; run `sijill import-csv --print-mapping-template` for the list"
                )));
            }
        }
        for target in m.defaults.keys().chain(m.values.keys()) {
            if !known(target) || target == "ignore" {
                return Err(CsvError::Mapping(format!("{target:?} is not a field")));
            }
        }
        match m.date_order.as_deref() {
            None | Some("dmy") | Some("mdy") => {}
            Some(other) => {
                return Err(CsvError::Mapping(format!(
                    "date_order {other:?} is not one of \"dmy\", \"mdy\""
                )))
            }
        }
        Ok(m)
    }
}

/// The target of a header: the mapping file first, then the built-in table.
pub fn target_of(header: &str, mapping: &Mapping) -> Option<&'static str> {
    let want = normalise(header);
    let from_mapping = mapping
        .columns
        .iter()
        .find(|(h, _)| h.trim() == header.trim() || normalise(h) == want)
        .map(|(_, t)| t.as_str());
    if let Some(t) = from_mapping {
        return TARGETS.iter().find(|(n, _)| *n == t).map(|(n, _)| *n);
    }
    HEADERS
        .iter()
        .find(|(_, names)| names.iter().any(|n| normalise(n) == want))
        .map(|(t, _)| *t)
}

/// A mapping file to start from: every field explained, and the columns of
/// `headers` (when given) with the field each is read as now.
pub fn mapping_template(headers: Option<&[String]>, mapping: &Mapping) -> String {
    let mut out = String::from(
        "# Sijill import mapping (docs/CSV.md). Map each column header to a field.\n\
         # Headers not listed here are looked up in the built-in table of Arabic and\n\
         # English names; a column that is in neither stops the import.\n#\n# Fields:\n",
    );
    for (name, doc) in TARGETS {
        out.push_str(&format!("#   {name:<22} {doc}\n"));
    }
    out.push_str("\n[columns]\n");
    match headers {
        Some(headers) => {
            for h in headers {
                let line = match target_of(h, mapping) {
                    Some(t) => format!("{} = {:?}\n", toml_key(h), t),
                    None => format!(
                        "{} = \"ignore\"   # not recognised: choose a field\n",
                        toml_key(h)
                    ),
                };
                out.push_str(&line);
            }
        }
        None => out.push_str("# \"الاسم الكامل\" = \"name_ar\"\n# \"Date of death\" = \"date\"\n"),
    }
    out.push_str(
        "\n[defaults]\n# Used where a row has no value, e.g. every row came from one source:\n# source_type = \"ngo\"\n\
         \n[values.cause]\n# Your terms to the schema's terms:\n# \"قصف مدفعي\" = \"shelling\"\n\
         \n# How to read dates written 25/01/2018 (\"dmy\") or 01/25/2018 (\"mdy\"):\n# date_order = \"dmy\"\n",
    );
    out
}

fn toml_key(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"?\"".into())
}

/// One row that cannot be imported, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line in the file where the row starts.
    pub line: u64,
    /// 1-based column and its header, when one column is at fault.
    pub column: Option<(usize, String)>,
    pub reason: String,
    pub hint: Option<String>,
    /// The row as read, for the rejects file.
    pub cells: Vec<String>,
}

/// A row that passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub line: u64,
    pub record: Record,
    /// [`content_hash`] of the record, the key of the re-import check.
    pub hash: [u8; 32],
}

/// Everything read from a file, before anything is written.
#[derive(Clone, Debug, Default)]
pub struct ImportPlan {
    pub encoding: &'static str,
    pub headers: Vec<String>,
    /// Header index -> target.
    pub targets: Vec<&'static str>,
    pub accepted: Vec<Accepted>,
    pub rejects: Vec<Reject>,
    /// Rows with every cell empty, skipped.
    pub blank_rows: u64,
}

/// What an import needs beyond the text.
pub struct ImportOptions<'a> {
    /// `None`: each row's `kind` column says.
    pub kind: Option<RecordKind>,
    pub mapping: &'a Mapping,
    /// The latest date a record may name (as for `add`).
    pub today: time::Date,
}

/// Read and validate every row of decoded CSV text. Header problems are
/// errors; row problems are [`Reject`]s.
pub fn plan_import(text: &str, options: &ImportOptions<'_>) -> Result<ImportPlan, CsvError> {
    let delimiter = sniff_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        None => return Err(CsvError::Empty),
        Some(Err(e)) => return Err(syntax(&e)),
        Some(Ok(r)) if r.len() > MAX_CSV_COLUMNS => {
            return Err(CsvError::TooManyColumns { columns: r.len() })
        }
        Some(Ok(r)) => r.iter().map(|h| h.trim().to_string()).collect(),
    };
    let mut targets = Vec::with_capacity(headers.len());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        if h.is_empty() {
            targets.push("ignore");
            continue;
        }
        let Some(t) = target_of(h, options.mapping) else {
            return Err(CsvError::Header {
                column: i + 1,
                header: h.clone(),
                message: "is not a column sijill knows; map it to a field, or to \"ignore\", in a mapping file".into(),
            });
        };
        if t != "ignore" {
            if let Some(first) = seen.insert(t, i) {
                return Err(CsvError::Header {
                    column: i + 1,
                    header: h.clone(),
                    message: format!(
                        "is read as `{t}`, like column {} ({:?}); map one of them to another field or to \"ignore\"",
                        first + 1,
                        headers[first]
                    ),
                });
            }
        }
        targets.push(t);
    }
    if options.kind.is_none() && !targets.contains(&"kind") {
        return Err(CsvError::Mapping(
            "the file has no `kind` column, so --kind casualty or --kind missing is needed".into(),
        ));
    }
    let mut plan = ImportPlan {
        headers,
        targets,
        ..ImportPlan::default()
    };
    // The csv crate counts a CRLF's line feed into the next record's line, so
    // the line is computed from the byte where the record starts.
    let newlines: Vec<usize> = text
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |byte: u64| -> u64 {
        let mut start = byte as usize;
        while matches!(text.as_bytes().get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        newlines.partition_point(|n| *n < start) as u64 + 1
    };
    for item in records {
        let row = item.map_err(|e| syntax(&e))?;
        let line = row.position().map_or(0, |p| line_at(p.byte()));
        let cells: Vec<String> = row.iter().map(str::to_string).collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            plan.blank_rows += 1;
            continue;
        }
        match read_row(&plan, &cells, line, options) {
            Ok(accepted) => plan.accepted.push(accepted),
            Err((column, reason, hint)) => plan.rejects.push(Reject {
                line,
                column: column.map(|c| (c + 1, plan.headers[c].clone())),
                reason,
                hint,
                cells,
            }),
        }
    }
    Ok(plan)
}

fn syntax(e: &csv::Error) -> CsvError {
    CsvError::Syntax {
        line: e.position().map_or(0, |p| p.line()),
        message: e.to_string(),
    }
}

/// Comma, semicolon (Excel in many locales) or tab (Excel's "Unicode text"),
/// whichever the header line holds most of.
fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let count = |c: char| first.chars().filter(|x| *x == c).count();
    let (comma, semi, tab) = (count(','), count(';'), count('\t'));
    if tab > comma && tab >= semi {
        b'\t'
    } else if semi > comma {
        b';'
    } else {
        b','
    }
}

type RowError = (Option<usize>, String, Option<String>);

/// The JSON object of one row, and which column each path came from.
struct RowBuilder {
    obj: Map<String, Value>,
    origins: Vec<(String, Option<usize>)>,
}

impl RowBuilder {
    fn set(&mut self, path: &[&str], value: Value, column: Option<usize>) {
        let mut m = &mut self.obj;
        for key in &path[..path.len() - 1] {
            let entry = m
                .entry((*key).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            m = entry.as_object_mut().expect("made an object above");
        }
        m.insert(path[path.len() - 1].to_string(), value);
        self.origins.push((path.join("."), column));
    }

    fn column_for(&self, field: &str) -> Option<usize> {
        let exact = self
            .origins
            .iter()
            .filter(|(p, _)| {
                field == p
                    || field.starts_with(&format!("{p}."))
                    || field.starts_with(&format!("{p}["))
            })
            .max_by_key(|(p, _)| p.len());
        let below = || {
            self.origins.iter().find(|(p, _)| {
                p.starts_with(&format!("{field}.")) || p.starts_with(&format!("{field}["))
            })
        };
        exact.or_else(below).and_then(|(_, c)| *c)
    }
}

fn read_row(
    plan: &ImportPlan,
    cells: &[String],
    line: u64,
    options: &ImportOptions<'_>,
) -> Result<Accepted, RowError> {
    if cells.len() != plan.headers.len() {
        return Err((
            None,
            format!(
                "the row has {} cells; the header has {} columns",
                cells.len(),
                plan.headers.len()
            ),
            Some("a cell with a comma, quote or line break in it must be in double quotes".into()),
        ));
    }
    // No field takes more than MAX_NOTES_CHARS characters: a longer cell is
    // refused before it is copied, cleaned and parsed (a 100 MB cell would
    // otherwise be copied several times over).
    let too_long = crate::record::MAX_NOTES_CHARS * 4;
    if let Some((i, cell)) = cells.iter().enumerate().find(|(_, c)| c.len() > too_long) {
        return Err((
            Some(i),
            format!(
                "the cell holds {} bytes; no field takes more than {} characters",
                cell.len(),
                crate::record::MAX_NOTES_CHARS
            ),
            Some("shorten the text, or keep the document it comes from as an evidence file".into()),
        ));
    }
    let mapping = options.mapping;
    // Cell value by target, after value mapping; defaults fill the gaps.
    let mut values: Vec<(&'static str, String, Option<usize>)> = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let target = plan.targets[i];
        // Line breaks inside a quoted cell arrive as CRLF from Windows files.
        let cell = cell.replace("\r\n", "\n").replace('\r', "\n");
        let cell = unguard(cell.trim());
        if cell.is_empty() {
            continue;
        }
        if target == "ignore" {
            if plan.headers[i].is_empty() {
                return Err((
                    Some(i),
                    format!("the column has no header, so its value {cell:?} would be lost"),
                    Some("give the column a header and map it, or delete the value".into()),
                ));
            }
            continue;
        }
        values.push((target, map_value(target, cell, mapping), Some(i)));
    }
    for (target, value) in &mapping.defaults {
        if !values.iter().any(|(t, _, _)| t == target) {
            if let Some((name, _)) = TARGETS.iter().find(|(n, _)| n == target) {
                values.push((name, map_value(name, value, mapping), None));
            }
        }
    }
    let kind = row_kind(&values, options.kind)?;
    let (date_path, place_path): (&[&str], &[&str]) = match kind {
        RecordKind::Casualty => (&["date_of_death"], &["place_of_death"]),
        RecordKind::Missing => (&["last_seen", "date"], &["last_seen", "place"]),
    };
    let mut b = RowBuilder {
        obj: Map::new(),
        origins: Vec::new(),
    };
    let mut source = Map::new();
    let mut source_columns: Vec<(&str, Option<usize>)> = Vec::new();
    let mut date_parts: HashMap<&str, (String, Option<usize>)> = HashMap::new();
    for (target, value, column) in values {
        let s = Value::String(value.clone());
        let place = |key: &'static str| -> Vec<&str> {
            let mut p = place_path.to_vec();
            p.push(key);
            p
        };
        match target {
            "kind" => {}
            "name" => {
                let key = if value.chars().any(is_arabic) {
                    "ar"
                } else {
                    "latin"
                };
                b.set(&["name", key], s, column);
            }
            "name_ar" => b.set(&["name", "ar"], s, column),
            "name_latin" => b.set(&["name", "latin"], s, column),
            "given" | "father" | "grandfather" | "family" | "laqab" => {
                b.set(&["name", target], s, column)
            }
            "aliases" => {
                let list: Vec<Value> = value
                    .split(['\n', ';', '؛'])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| Value::String(a.to_string()))
                    .collect();
                b.set(&["name", "aliases"], Value::Array(list), column);
            }
            "age" => b.set(&["age"], age_value(&value, column)?, column),
            "age_years" | "age_min" | "age_max" => {
                let key = &target[4..];
                b.set(&["age", key], integer(&value, column, "an age")?, column)
            }
            "age_band" => b.set(&["age", "band"], s, column),
            "date" => {
                let d = date_value(&value, mapping, column)?;
                b.set(date_path, d, column)
            }
            "date_year" | "date_month" | "date_day" | "date_from" | "date_to"
            | "date_approximate" => {
                date_parts.insert(target, (value, column));
            }
            "governorate" | "district" | "subdistrict" | "locality" => {
                b.set(&place(target), s, column)
            }
            "place_detail" => b.set(&place("detail"), s, column),
            "lat" | "lon" => {
                let mut p = place("coordinates");
                p.push(target);
                b.set(&p, s, column)
            }
            "sources" => {
                let parsed: Value = serde_json::from_str(&value)
                    .map_err(|e| (column, format!("is not a JSON array of sources: {e}"), None))?;
                b.set(&["sources"], parsed, column)
            }
            "source_type" | "source_reference" | "source_reliability" | "source_date" => {
                let key = &target[7..];
                let v = if key == "date" {
                    date_value(&value, mapping, column)?
                } else {
                    s
                };
                source.insert(key.into(), v);
                source_columns.push((key, column));
            }
            t if t.starts_with("contact_") => b.set(&["contact", &t[8..]], s, column),
            _ => b.set(&[target], s, column),
        }
    }
    if !date_parts.is_empty() {
        let (d, column) = date_from_parts(&date_parts, mapping)?;
        b.set(date_path, d, column);
    }
    if !source.is_empty() {
        let first = source_columns.first().and_then(|(_, c)| *c);
        if b.obj.contains_key("sources") {
            return Err((
                first,
                "the row has both a `sources` column and single-source columns".into(),
                Some("use one or the other".into()),
            ));
        }
        b.obj
            .insert("sources".into(), Value::Array(vec![Value::Object(source)]));
        b.origins.push(("sources[0]".into(), first));
        for (key, column) in source_columns {
            b.origins.push((format!("sources[0].{key}"), column));
        }
    }
    let json = Value::Object(b.obj.clone()).to_string();
    match parse_record(kind, json.as_bytes(), options.today) {
        Ok(record) => {
            let hash = content_hash(&record);
            Ok(Accepted { line, record, hash })
        }
        Err(e) => {
            let mut reject = record_reject(&b, e);
            if reject.0.is_none() && reject.1.starts_with("field `name`") {
                reject.0 = plan.targets.iter().position(|t| t.starts_with("name"));
            }
            Err(reject)
        }
    }
}

fn record_reject(b: &RowBuilder, e: RecordError) -> RowError {
    let column = e.field.as_deref().and_then(|f| b.column_for(f));
    let reason = match &e.field {
        Some(f) => format!("field `{f}`: {}", e.message),
        None => e.message.clone(),
    };
    (column, reason, e.hint.clone())
}

fn row_kind(
    values: &[(&'static str, String, Option<usize>)],
    wanted: Option<RecordKind>,
) -> Result<RecordKind, RowError> {
    let cell = values.iter().find(|(t, _, _)| *t == "kind");
    match (cell, wanted) {
        (None, Some(k)) => Ok(k),
        (None, None) => Err((
            None,
            "the row's `kind` cell is empty".into(),
            Some("write casualty or missing".into()),
        )),
        (Some((_, v, column)), wanted) => {
            let k: RecordKind = v
                .parse()
                .map_err(|e: RecordError| (*column, e.message, None))?;
            match wanted {
                Some(w) if w != k => Err((
                    *column,
                    format!("the row is a {k} record, and --kind {w} was given"),
                    Some("import each kind separately, or leave --kind out to follow the `kind` column".into()),
                )),
                _ => Ok(k),
            }
        }
    }
}

fn is_arabic(c: char) -> bool {
    ('\u{0600}'..='\u{06FF}').contains(&c) || ('\u{0750}'..='\u{077F}').contains(&c)
}

/// The value as it should be imported: the mapping file's `[values]`, then
/// the built-in Arabic terms, then vocabulary spelling (lowercase, hyphens).
fn map_value(target: &str, cell: &str, mapping: &Mapping) -> String {
    if let Some(table) = mapping.values.get(target) {
        if let Some(v) = table.get(cell) {
            return v.clone();
        }
        if let Some((_, v)) = table.iter().find(|(k, _)| normalise(k) == normalise(cell)) {
            return v.clone();
        }
    }
    if let Some((_, table)) = VALUES.iter().find(|(t, _)| *t == target) {
        let want = normalise(cell);
        if let Some((_, v)) = table.iter().find(|(k, _)| normalise(k) == want) {
            return (*v).to_string();
        }
    }
    const VOCAB: &[&str] = &[
        "kind",
        "sex",
        "age_band",
        "cause",
        "civilian_status",
        "confidence",
        "circumstances",
        "status",
        "source_type",
        "source_reliability",
        "sensitivity",
    ];
    if VOCAB.contains(&target) && cell.is_ascii() {
        return cell.trim().to_ascii_lowercase().replace([' ', '_'], "-");
    }
    cell.to_string()
}

/// A leading apostrophe that export added to keep a spreadsheet from running
/// the cell as a formula (see [`guard`]).
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

fn integer(value: &str, column: Option<usize>, what: &str) -> Result<Value, RowError> {
    let folded: String = value
        .chars()
        .map(|c| match c {
            '\u{660}'..='\u{669}' => char::from(b'0' + (c as u32 - 0x660) as u8),
            '\u{6F0}'..='\u{6F9}' => char::from(b'0' + (c as u32 - 0x6F0) as u8),
            _ => c,
        })
        .collect();
    folded.trim().parse::<u64>().map(Value::from).map_err(|_| {
        (
            column,
            format!("{value:?} is not {what} (a whole number)"),
            None,
        )
    })
}

fn age_value(value: &str, column: Option<usize>) -> Result<Value, RowError> {
    let band = map_value("age_band", value, &Mapping::default());
    if ["child", "adult", "elderly"].contains(&band.as_str()) {
        return Ok(serde_json::json!({ "band": band }));
    }
    if let Some((lo, hi)) = value.split_once('-') {
        let (lo, hi) = (
            integer(lo, column, "an age")?,
            integer(hi, column, "an age")?,
        );
        return Ok(serde_json::json!({"min": lo, "max": hi}));
    }
    let years = integer(value, column, "an age").map_err(|(c, m, _)| {
        (
            c,
            m,
            Some("write 34, a range 30-40, or child, adult or elderly".into()),
        )
    })?;
    Ok(serde_json::json!({ "years": years }))
}

/// A date cell: `2018-01-25`, `c. 2018-01` (approximate), `2018-01/2018-03`
/// (a range), or with `date_order`, `25/01/2018`.
fn date_value(value: &str, mapping: &Mapping, column: Option<usize>) -> Result<Value, RowError> {
    let mut text = value.trim();
    let mut approximate = false;
    for prefix in ["c.", "ca.", "~", "approx.", "حوالي", "حوالى"] {
        if let Some(rest) = text.strip_prefix(prefix) {
            text = rest.trim();
            approximate = true;
        }
    }
    let one = |t: &str| reorder_date(t.trim(), mapping, column);
    let v = if let Some(d) = one(text)? {
        if approximate {
            serde_json::json!({"date": d, "approximate": true})
        } else {
            Value::String(d)
        }
    } else if let Some((from, to)) = text.split_once('/') {
        let from = one(from)?.unwrap_or_else(|| from.trim().to_string());
        let to = one(to)?.unwrap_or_else(|| to.trim().to_string());
        let mut m = Map::new();
        m.insert("from".into(), Value::String(from));
        m.insert("to".into(), Value::String(to));
        if approximate {
            m.insert("approximate".into(), Value::Bool(true));
        }
        Value::Object(m)
    } else {
        // Handed to the record rules, which say what is wrong with it.
        Value::String(text.to_string())
    };
    Ok(v)
}

/// `Some(YYYY-MM-DD)` for a day-month-year form read with `date_order`, or
/// for an ISO form; `None` when the text is something else (a range).
fn reorder_date(
    text: &str,
    mapping: &Mapping,
    column: Option<usize>,
) -> Result<Option<String>, RowError> {
    let parts: Vec<&str> = text.split(['/', '.']).collect();
    if parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_numeric()))
        && parts[2].chars().count() == 4
    {
        let (d, m) = match mapping.date_order.as_deref() {
            Some("dmy") => (parts[0], parts[1]),
            Some("mdy") => (parts[1], parts[0]),
            _ => {
                return Err((
                    column,
                    format!("{text:?}: day and month order is not known"),
                    Some("write dates as YYYY-MM-DD, or set date_order = \"dmy\" (or \"mdy\") in a mapping file".into()),
                ))
            }
        };
        return Ok(Some(format!("{}-{:0>2}-{:0>2}", parts[2], m, d)));
    }
    if text.contains('/') {
        return Ok(None);
    }
    Ok(Some(text.to_string()))
}

fn date_from_parts(
    parts: &HashMap<&str, (String, Option<usize>)>,
    mapping: &Mapping,
) -> Result<(Value, Option<usize>), RowError> {
    let get = |k: &str| parts.get(k);
    let approximate = get("date_approximate").is_some_and(|(v, _)| {
        matches!(
            normalise(v).as_str(),
            "yes" | "true" | "1" | "y" | "نعم" | "تقريبي"
        )
    });
    if let (Some((from, c)), Some((to, _))) = (get("date_from"), get("date_to")) {
        let from = date_value(from, mapping, *c)?;
        let to = date_value(to, mapping, *c)?;
        let mut m = Map::new();
        m.insert("from".into(), from);
        m.insert("to".into(), to);
        if approximate {
            m.insert("approximate".into(), Value::Bool(true));
        }
        return Ok((Value::Object(m), *c));
    }
    let Some((year, column)) = get("date_year") else {
        let column = parts.values().next().and_then(|(_, c)| *c);
        return Err((
            column,
            "a date split in columns needs a year column (or date_from and date_to)".into(),
            None,
        ));
    };
    let mut text = year.trim().to_string();
    for (key, c) in [("date_month", 'm'), ("date_day", 'd')] {
        if let Some((v, col)) = get(key) {
            let n = integer(v, *col, if c == 'm' { "a month" } else { "a day" })?;
            text.push_str(&format!("-{:02}", n.as_u64().unwrap_or(0)));
        } else {
            break;
        }
    }
    let v = if approximate {
        serde_json::json!({"date": text, "approximate": true})
    } else {
        Value::String(text)
    };
    Ok((v, *column))
}

/// The rejects file: the error columns first (so they line up even when the
/// row had the wrong number of cells), then the row as it was read. Import
/// ignores the error columns, so the fixed file can be imported as it is.
pub fn write_rejects<W: std::io::Write>(
    out: W,
    headers: &[String],
    rejects: &[Reject],
) -> csv::Result<()> {
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut head = vec![
        "sijill_error".to_string(),
        "sijill_line".into(),
        "sijill_column".into(),
    ];
    head.extend(headers.iter().cloned());
    w.write_record(&head)?;
    for r in rejects {
        let mut row = vec![
            r.reason.clone(),
            r.line.to_string(),
            r.column
                .as_ref()
                .map(|(n, h)| format!("{n} ({h})"))
                .unwrap_or_default(),
        ];
        row.extend(r.cells.iter().cloned());
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// What an export holds beyond the record fields.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportOptions {
    /// Write `contact` columns (sensitive: see docs/SCHEMA.md §3.3).
    pub include_sensitive: bool,
}

const PROVENANCE_COLUMNS: &[&str] = &["entry_id", "key_id", "seq", "recorded_at", "kind"];
const RECORD_COLUMNS: &[&str] = &[
    "name_ar",
    "name_latin",
    "given",
    "father",
    "grandfather",
    "family",
    "laqab",
    "aliases",
    "sex",
    "age_years",
    "age_min",
    "age_max",
    "age_band",
    "date",
    "governorate",
    "district",
    "subdistrict",
    "locality",
    "place_detail",
    "lat",
    "lon",
    "cause",
    "cause_detail",
    "civilian_status",
    "alleged_perpetrator",
    "confidence",
    "circumstances",
    "circumstances_detail",
    "alleged_holder",
    "status",
];
const CONTACT_COLUMNS: &[&str] = &[
    "contact_name",
    "contact_relationship",
    "contact_phone",
    "contact_email",
    "contact_address",
    "contact_notes",
];
const TAIL_COLUMNS: &[&str] = &["sources", "notes", "sensitivity"];

/// The header of an export.
pub fn export_header(options: ExportOptions) -> Vec<&'static str> {
    let mut h: Vec<&str> = PROVENANCE_COLUMNS
        .iter()
        .chain(RECORD_COLUMNS)
        .copied()
        .collect();
    if options.include_sensitive {
        h.extend(CONTACT_COLUMNS);
    }
    h.extend(TAIL_COLUMNS);
    h
}

/// One export row, in the order of [`export_header`].
pub fn export_row(entry: &SignedEntry, record: &Record, options: ExportOptions) -> Vec<String> {
    let mut cells: HashMap<&str, String> = HashMap::new();
    let e = &entry.entry;
    cells.insert("entry_id", entry.id.to_hex());
    cells.insert("key_id", keys::key_id(&e.log).to_string());
    cells.insert("seq", e.seq.to_string());
    cells.insert("recorded_at", format_timestamp(e.recorded_at));
    cells.insert("kind", record.kind().as_str().into());
    let p = record.person();
    let n = &p.name;
    for (k, v) in [
        ("name_ar", &n.ar),
        ("name_latin", &n.latin),
        ("given", &n.given),
        ("father", &n.father),
        ("grandfather", &n.grandfather),
        ("family", &n.family),
        ("laqab", &n.laqab),
        ("notes", &p.notes),
    ] {
        if let Some(v) = v {
            cells.insert(k, v.clone());
        }
    }
    if !n.aliases.is_empty() {
        // Names are single lines, so a line break separates them safely.
        cells.insert("aliases", n.aliases.join("\n"));
    }
    cells.insert("sex", p.sex.as_str().into());
    match p.age {
        Some(Age::Years(y)) => {
            cells.insert("age_years", y.to_string());
        }
        Some(Age::Range { min, max }) => {
            cells.insert("age_min", min.to_string());
            cells.insert("age_max", max.to_string());
        }
        Some(Age::Band(b)) => {
            cells.insert("age_band", b.as_str().into());
        }
        None => {}
    }
    if let Some(d) = crate::filter::record_date(record) {
        cells.insert("date", d.to_string());
    }
    if let Some(place) = crate::filter::record_place(record) {
        for (k, v) in [
            ("governorate", &place.governorate),
            ("district", &place.district),
            ("subdistrict", &place.subdistrict),
            ("locality", &place.locality),
            ("place_detail", &place.detail),
        ] {
            if let Some(v) = v {
                cells.insert(k, v.clone());
            }
        }
        if let Some(c) = &place.coordinates {
            cells.insert("lat", c.lat.clone());
            cells.insert("lon", c.lon.clone());
        }
    }
    let body = record.to_body();
    if let Some(sources) = body.get("sources") {
        cells.insert("sources", sources.to_string());
    }
    cells.insert("sensitivity", p.sensitivity.as_str().into());
    match record {
        Record::Casualty(c) => {
            cells.insert("cause", c.cause.as_str().into());
            cells.insert("civilian_status", c.civilian_status.as_str().into());
            cells.insert("confidence", c.confidence.as_str().into());
            for (k, v) in [
                ("cause_detail", &c.cause_detail),
                ("alleged_perpetrator", &c.alleged_perpetrator),
            ] {
                if let Some(v) = v {
                    cells.insert(k, v.clone());
                }
            }
        }
        Record::Missing(m) => {
            cells.insert("circumstances", m.circumstances.as_str().into());
            cells.insert("status", m.status.as_str().into());
            for (k, v) in [
                ("circumstances_detail", &m.circumstances_detail),
                ("alleged_holder", &m.alleged_holder),
            ] {
                if let Some(v) = v {
                    cells.insert(k, v.clone());
                }
            }
            if let (Some(c), true) = (&m.contact, options.include_sensitive) {
                for (k, v) in [
                    ("contact_name", &c.name),
                    ("contact_relationship", &c.relationship),
                    ("contact_phone", &c.phone),
                    ("contact_email", &c.email),
                    ("contact_address", &c.address),
                    ("contact_notes", &c.notes),
                ] {
                    if let Some(v) = v {
                        cells.insert(k, v.clone());
                    }
                }
            }
        }
    }
    export_header(options)
        .into_iter()
        .map(|h| guard(cells.remove(h).unwrap_or_default()))
        .collect()
}

/// Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` as a
/// formula: a name from a partner's file must not become one. Such cells get
/// a leading apostrophe, which import removes again; numbers (`-5.5`,
/// `+963 11 123`) are left alone.
fn guard(cell: String) -> String {
    if needs_guard(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

fn needs_guard(cell: &str) -> bool {
    let Some(first) = cell.chars().next() else {
        return false;
    };
    match first {
        '=' | '@' | '\t' | '\r' => true,
        '+' | '-' => !cell[1..]
            .chars()
            .all(|c| c.is_ascii_digit() || " .()-/".contains(c)),
        _ => false,
    }
}

/// One line of `export-jsonl`: the entry's provenance and its record.
pub fn export_json(entry: &SignedEntry, record: &Record, options: ExportOptions) -> Value {
    let record = if options.include_sensitive {
        record.clone()
    } else {
        record.redacted()
    };
    let e = &entry.entry;
    serde_json::json!({
        "entry_id": entry.id.to_hex(),
        "key_id": keys::key_id(&e.log).to_string(),
        "log": hex::encode(e.log.as_bytes()),
        "seq": e.seq,
        "recorded_at": format_timestamp(e.recorded_at),
        "kind": record.kind().as_str(),
        "record": record.to_body(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn plan(text: &str, kind: RecordKind) -> ImportPlan {
        let mapping = Mapping::default();
        plan_import(
            text,
            &ImportOptions {
                kind: Some(kind),
                mapping: &mapping,
                today: date!(2025 - 01 - 01),
            },
        )
        .unwrap()
    }

    #[test]
    fn utf8_utf16_and_windows_1256_decode_to_the_same_text() {
        let text = "الاسم,التاريخ\nمحمد,2018\n";
        let (plain, e1) = decode(text.as_bytes(), Encoding::Auto).unwrap();
        assert_eq!((plain.as_str(), e1), (text, "UTF-8"));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(
            decode(&bom, Encoding::Auto).unwrap(),
            (text.into(), "UTF-8 (with BOM)")
        );
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            decode(&le, Encoding::Auto).unwrap(),
            (text.into(), "UTF-16LE")
        );
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(
            decode(&be, Encoding::Auto).unwrap(),
            (text.into(), "UTF-16BE")
        );
        let (cp, _, unmappable) = encoding_rs::WINDOWS_1256.encode(text);
        assert!(!unmappable);
        assert_eq!(
            decode(&cp, Encoding::Auto).unwrap(),
            (text.into(), "Windows-1256")
        );
        assert!(matches!(
            decode(&cp, Encoding::Utf8),
            Err(CsvError::Encoding(_))
        ));
    }

    #[test]
    fn arabic_and_latin_headers_are_recognised() {
        let m = Mapping::default();
        assert_eq!(target_of("الاسم الكامل", &m), Some("name"));
        assert_eq!(target_of("تاريخ الوفاة", &m), Some("date"));
        assert_eq!(target_of("المحافظة", &m), Some("governorate"));
        assert_eq!(target_of("Date of death", &m), Some("date"));
        assert_eq!(target_of("date_of_death", &m), Some("date"));
        assert_eq!(target_of("GOVERNORATE", &m), Some("governorate"));
        assert_eq!(target_of("favourite colour", &m), None);
        let m = Mapping::from_toml("[columns]\n\"favourite colour\" = \"notes\"\n").unwrap();
        assert_eq!(target_of("favourite colour", &m), Some("notes"));
    }

    #[test]
    fn a_bad_mapping_is_refused() {
        assert!(Mapping::from_toml("[columns]\nx = \"nom\"\n").is_err());
        assert!(Mapping::from_toml("[colums]\n").is_err());
        assert!(Mapping::from_toml("date_order = \"ymd\"\n").is_err());
    }

    #[test]
    fn rows_become_records_and_bad_rows_name_line_and_column() {
        let p = plan(
            "الاسم,الجنس,العمر,تاريخ الوفاة,المحافظة,سبب الوفاة\n\
             محمد الحلبي,ذكر,34,2018-02-25,إدلب,shelling\n\
             سارة,أنثى,child,2018-02-30,حلب,airstrike\n\
             خالد,ذكر,30-40,c. 2018-01,حماة,bombing\n\
             ,ذكر,,2018,حمص,shelling\n\
             علي,ذكر\n",
            RecordKind::Casualty,
        );
        assert_eq!(p.accepted.len(), 1);
        assert_eq!(p.accepted[0].line, 2);
        let r: Vec<_> = p
            .rejects
            .iter()
            .map(|r| (r.line, r.column.clone().map(|c| c.0)))
            .collect();
        assert_eq!(r, vec![(3, Some(4)), (4, Some(6)), (5, Some(1)), (6, None)]);
        assert!(
            p.rejects[0].reason.contains("not a real day"),
            "{:?}",
            p.rejects[0]
        );
        assert!(p.rejects[1].reason.contains("bombing"));
        assert!(p.rejects[2].reason.contains("name"));
        assert!(p.rejects[3].reason.contains("2 cells"));
    }

    #[test]
    fn crlf_and_quoted_line_breaks_keep_line_numbers() {
        let p = plan(
            "name,date,notes\r\nAli,2018,\"two\r\nlines\"\r\nOmar,2018-13,\r\n",
            RecordKind::Casualty,
        );
        assert_eq!(p.accepted[0].line, 2);
        assert_eq!(p.rejects[0].line, 4);
    }

    #[test]
    fn dates_with_slashes_need_an_order() {
        let text = "name,date\nAli,25/01/2018\n";
        assert_eq!(plan(text, RecordKind::Casualty).rejects.len(), 1);
        let m = Mapping::from_toml("date_order = \"dmy\"").unwrap();
        let p = plan_import(
            text,
            &ImportOptions {
                kind: Some(RecordKind::Casualty),
                mapping: &m,
                today: date!(2025 - 01 - 01),
            },
        )
        .unwrap();
        assert_eq!(p.accepted.len(), 1, "{:?}", p.rejects);
        let Record::Casualty(c) = &p.accepted[0].record else {
            panic!()
        };
        assert_eq!(c.date_of_death.unwrap().to_string(), "2018-01-25");
    }

    #[test]
    fn formula_cells_are_guarded_and_unguarded() {
        assert_eq!(guard("=HYPERLINK(1)".into()), "'=HYPERLINK(1)");
        assert_eq!(guard("-5.5".into()), "-5.5");
        assert_eq!(guard("+963 11 123 4567".into()), "+963 11 123 4567");
        assert_eq!(guard("-cmd".into()), "'-cmd");
        assert_eq!(unguard("'=HYPERLINK(1)"), "=HYPERLINK(1)");
        assert_eq!(unguard("'quoted'"), "'quoted'");
    }

    #[test]
    fn semicolons_and_tabs_are_sniffed() {
        assert_eq!(sniff_delimiter("a;b;c\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter("a,b;c,d\n"), b',');
    }
}
