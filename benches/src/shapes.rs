//! The record shapes: what one generated record looks like.
//!
//! Each builder takes the record's own [`Rng`] and index, so a record depends only on
//! the seed and its position.

use crate::json::Json;
use crate::obj;
use crate::rng::Rng;

const EVENT_TYPES: &[&str] = &[
    "order.created",
    "order.updated",
    "payment.captured",
    "payment.refunded",
    "shipment.dispatched",
    "customer.updated",
];
const FIRST_NAMES: &[&str] = &[
    "Ann",
    "Jürgen",
    "Zoë",
    "Siobhán",
    "Łukasz",
    "François",
    "Ana María",
    "Søren",
    "Mei",
    "Олег",
    "Αλέξης",
    "José",
    "Nguyễn",
    "Ayşe",
    "Björk",
    "O'Brien",
];
const LAST_NAMES: &[&str] = &[
    "Smith",
    "Müller",
    "García",
    "Østergaard",
    "Dvořák",
    "Kowalski",
    "田中",
    "Ivanova",
    "Nakamura",
    "D'Angelo",
    "Öztürk",
    "Ferreira",
    "van der Berg",
    "Šimek",
];
const CITIES: &[&str] = &[
    "Zürich",
    "São Paulo",
    "東京",
    "Москва",
    "Kraków",
    "Reykjavík",
    "München",
    "Montréal",
    "İstanbul",
    "Ciudad de México",
    "Αθήνα",
    "Berlin",
    "Lagos",
    "Dublin",
    "Ho Chi Minh City",
];
const COUNTRIES: &[&str] = &[
    "CH", "BR", "JP", "RU", "PL", "IS", "DE", "CA", "TR", "MX", "GR",
];
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "JPY", "CHF", "BRL"];
const WORDS: &[&str] = &[
    "wireless",
    "ergonomic",
    "organic",
    "recycled",
    "premium",
    "compact",
    "heavy-duty",
    "café",
    "naïve",
    "über",
    "smörgåsbord",
    "piñata",
    "crème brûlée",
    "日本語",
    "🚀",
    "✓",
    "keyboard",
    "lamp",
    "bottle",
    "backpack",
    "headphones",
    "notebook",
    "sensor",
    "cable",
];
const STATUSES: &[&str] = &[
    "pending",
    "paid",
    "shipped",
    "delivered",
    "cancelled",
    "refunded",
];
const MIME: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "okhttp/4.12.0",
];
const NOTES: &[&str] = &[
    "Customer said: \"please leave at the door\"\nGate code 1234",
    "path C:\\Users\\ops\\exports\\2024\\file.csv\tchecked",
    "Rückruf erbeten — bitte vor 18:00 Uhr ☎",
    "multi\nline\r\nnote with a tab\there",
    "emoji 😀🎉 and CJK 漢字 mixed with ASCII",
    "plain note",
    "",
];

fn words(rng: &mut Rng, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick(WORDS));
    }
    out
}

fn person(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES))
}

/// A money amount with two decimals, sometimes written as a whole float (`19.0`).
fn money(rng: &mut Rng, max_units: u64) -> Json {
    let units = rng.range(0, max_units);
    if rng.chance(15) {
        Json::Num(format!("{units}.0"))
    } else {
        Json::Num(format!("{units}.{:02}", rng.range(0, 99)))
    }
}

fn float(rng: &mut Rng, int_max: u64, decimals: u32) -> Json {
    let int = rng.range(0, int_max);
    let frac = rng.range(0, 10u64.pow(decimals) - 1);
    let sign = if rng.chance(20) { "-" } else { "" };
    Json::Num(format!(
        "{sign}{int}.{frac:0width$}",
        width = decimals as usize
    ))
}

fn timestamp(rng: &mut Rng, base: u64) -> (u64, String) {
    let t = base + rng.range(0, 86_400 * 30);
    let (days, secs) = (t / 86_400, t % 86_400);
    // Days since 2024-01-01 rendered in a 30-day-month calendar: realistic enough text.
    let text = format!(
        "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        1 + (days / 30) % 12,
        1 + days % 28,
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        rng.range(0, 999)
    );
    (1_704_067_200 + t, text)
}

fn geo(rng: &mut Rng) -> Json {
    let mut g = obj! {
        "lat" => float(rng, 89, 6),
        "lon" => float(rng, 179, 6),
    };
    if let Json::Obj(fields) = &mut g
        && rng.chance(60)
    {
        fields.push((
            "precision".into(),
            obj! {
                "meters" => Json::int(rng.range(1, 5000)),
                "source" => rng.pick(&["gps", "ip", "wifi", "manual"]),
            },
        ));
    }
    g
}

fn address(rng: &mut Rng) -> Json {
    obj! {
        "line1" => format!("{} {}", rng.range(1, 999), rng.pick(&["Bahnhofstraße", "Rua Augusta", "Main St", "ul. Floriańska", "Rue de la Paix"])),
        "city" => rng.pick(CITIES),
        "postal_code" => format!("{:05}", rng.range(1000, 99999)),
        "country" => rng.pick(COUNTRIES),
        "geo" => geo(rng),
    }
}

fn push(fields: &mut Json, key: &str, value: impl Into<Json>) {
    if let Json::Obj(f) = fields {
        f.push((key.to_owned(), value.into()));
    }
}

/// An API event of roughly 5–10 KB, up to 7 levels deep.
pub fn api_event(rng: &mut Rng, index: u64) -> Json {
    let (created, created_text) = timestamp(rng, index * 13);
    let event_type = rng.pick(EVENT_TYPES);
    let currency = rng.pick(CURRENCIES);
    let n_items = rng.range_usize(4, 14);
    let items: Vec<Json> = (0..n_items).map(|i| line_item(rng, i, currency)).collect();

    let mut customer = obj! {
        "id" => format!("cus_{}", rng.hex(14)),
        "name" => person(rng),
        "email" => format!("user{}@example.{}", rng.range(1, 99_999), rng.pick(&["com", "de", "co.jp", "com.br"])),
        "address" => address(rng),
        "tags" => Json::Arr((0..rng.range(0, 4)).map(|_| Json::str(rng.pick(&["vip", "b2b", "newsletter", "früh", "беta"]))).collect()),
    };
    if rng.chance(50) {
        push(&mut customer, "billing_address", address(rng));
    }
    if rng.chance(30) {
        push(
            &mut customer,
            "preferences",
            obj! {
                "language" => rng.pick(&["de-CH", "pt-BR", "ja-JP", "en-US"]),
                "marketing" => obj! {
                    "email" => rng.chance(50),
                    "sms" => rng.chance(20),
                    "channels" => obj! { "push" => obj! { "enabled" => rng.chance(50), "quiet_hours" => "22:00-07:00" } },
                },
            },
        );
    }

    let attachments: Vec<Json> = (0..rng.range(0, 4)).map(|_| attachment(rng)).collect();

    let mut object = obj! {
        "id" => format!("ord_{}", rng.hex(16)),
        "object" => "order",
        "amount" => Json::int(rng.range(100, 5_000_000)),
        "amount_decimal" => money(rng, 50_000),
        "currency" => currency,
        "status" => rng.pick(STATUSES),
        "customer" => customer,
        "items" => Json::Arr(items),
        "payment" => payment(rng),
    };
    if !attachments.is_empty() || rng.chance(30) {
        // An empty array in some records: flattening must produce nothing for it.
        push(&mut object, "attachments", Json::Arr(attachments));
    }
    if rng.chance(60) {
        push(&mut object, "shipping", shipping(rng));
    }
    if rng.chance(40) {
        // Distinct keys: a record never repeats a key (strict readers reject that).
        const META: [&str; 6] = ["campaign", "source", "ref", "cohort", "partner", "ab_test"];
        let mut meta = Vec::new();
        let first = rng.range_usize(0, META.len());
        for j in 0..rng.range_usize(1, 5) {
            let key = format!("meta_{}", META[(first + j) % META.len()]);
            meta.push((key, Json::str(rng.hex(8))));
        }
        push(&mut object, "metadata", Json::Obj(meta));
    }

    let audit: Vec<Json> = (0..rng.range(3, 8))
        .map(|_| audit_entry(rng, created))
        .collect();

    let mut event = obj! {
        "id" => format!("evt_{}", rng.hex(24)),
        "seq" => Json::int(index),
        "type" => event_type,
        "api_version" => "2024-06-20",
        "created" => Json::int(created),
        "created_at" => created_text,
        "livemode" => rng.chance(80),
        "request" => request(rng),
        "data" => obj! { "object" => object },
        "audit" => Json::Arr(audit),
        "metrics" => metrics(rng),
    };
    if event_type.ends_with(".updated") {
        push(
            &mut event,
            "previous_attributes",
            obj! { "status" => rng.pick(STATUSES), "amount" => Json::int(rng.range(100, 5_000_000)) },
        );
    }
    // Fields only some records have, and fields whose type changes between records.
    if rng.chance(25) {
        push(
            &mut event,
            "coupon",
            obj! { "code" => format!("SAVE{}", rng.range(5, 50)), "percent_off" => float(rng, 50, 1) },
        );
    }
    if rng.chance(35) {
        push(
            &mut event,
            "priority",
            if rng.chance(50) {
                Json::int(rng.range(1, 5))
            } else {
                Json::str(rng.pick(&["low", "normal", "high"]))
            },
        );
    }
    if rng.chance(50) {
        push(
            &mut event,
            "external_ref",
            if rng.chance(50) {
                Json::int(rng.range(1, u64::from(u32::MAX)))
            } else {
                Json::str(format!("EXT-{}", rng.hex(6)))
            },
        );
    }
    match rng.range(0, 9) {
        0 => push(&mut event, "note", Json::Null),
        1 => push(&mut event, "note", ""),
        2..=5 => push(&mut event, "note", rng.pick(NOTES)),
        _ => {}
    }
    if rng.chance(20) {
        push(&mut event, "description", Json::AsciiStr(words(rng, 6)));
    }
    event
}

fn line_item(rng: &mut Rng, i: usize, currency: &str) -> Json {
    let mut item = obj! {
        "line" => Json::int(i as u64 + 1),
        "sku" => format!("SKU-{:06}", rng.range(0, 999_999)),
        "name" => words(rng, 3),
        "quantity" => if rng.chance(10) { Json::str(rng.range(1, 9).to_string()) } else { Json::int(rng.range(1, 9)) },
        "unit_price" => obj! { "amount" => money(rng, 500), "currency" => currency },
        "attributes" => obj! {
            "color" => rng.pick(&["red", "blau", "vert", "黒", "preto"]),
            "size" => rng.pick(&["S", "M", "L", "XL"]),
            "dimensions" => obj! { "w" => float(rng, 100, 1), "h" => float(rng, 100, 1), "unit" => "cm" },
        },
        "ratings" => Json::Arr((0..rng.range(0, 5)).map(|_| Json::int(rng.range(1, 5))).collect()),
    };
    if rng.chance(40) {
        let discounts = (0..rng.range(1, 3))
            .map(|_| {
                obj! {
                    "code" => format!("D{}", rng.hex(4).to_uppercase()),
                    "amount" => money(rng, 20),
                    "kind" => rng.pick(&["percent", "fixed"]),
                }
            })
            .collect();
        push(&mut item, "discounts", Json::Arr(discounts));
    }
    if rng.chance(15) {
        push(&mut item, "gift_message", rng.pick(NOTES));
    }
    if rng.chance(10) {
        push(&mut item, "weight_grams", Json::Num("1e5".into()));
    }
    item
}

fn attachment(rng: &mut Rng) -> Json {
    // Sizes beyond i64 in a few records: typed mode must keep every digit.
    let size = if rng.chance(5) {
        Json::Num(format!("1844674407370955{:04}", rng.range(1616, 9999)))
    } else {
        Json::int(rng.range(100, 50_000_000))
    };
    obj! {
        "id" => format!("file_{}", rng.hex(12)),
        "filename" => format!("{} {}.{}", rng.pick(&["Rechnung", "invoice", "注文書", "scan"]), rng.range(1, 999), rng.pick(&["pdf", "png", "csv"])),
        "mime_type" => rng.pick(MIME),
        "size_bytes" => size,
        "checksum" => obj! { "algorithm" => "sha256", "value" => rng.hex(64) },
        "labels" => Json::Arr((0..rng.range(0, 3)).map(|_| Json::str(rng.pick(&["signed", "draft", "final", "geprüft"]))).collect()),
    }
}

fn payment(rng: &mut Rng) -> Json {
    obj! {
        "method" => obj! {
            "type" => "card",
            "card" => obj! {
                "brand" => rng.pick(&["visa", "mastercard", "amex"]),
                "last4" => format!("{:04}", rng.range(0, 9999)),
                "exp_month" => Json::int(rng.range(1, 12)),
                "exp_year" => Json::int(rng.range(2025, 2032)),
                "checks" => obj! {
                    "cvc_check" => rng.pick(&["pass", "fail", "unchecked"]),
                    "address_line1_check" => if rng.chance(30) { Json::Null } else { Json::str("pass") },
                },
            },
        },
        "captured" => rng.chance(70),
        "fee" => money(rng, 30),
    }
}

fn shipping(rng: &mut Rng) -> Json {
    let events = (0..rng.range(1, 4))
        .map(|_| {
            obj! {
                "status" => rng.pick(&["label_created", "in_transit", "out_for_delivery", "delivered"]),
                "location" => obj! { "city" => rng.pick(CITIES), "country" => rng.pick(COUNTRIES) },
                "at" => timestamp(rng, 0).1,
            }
        })
        .collect();
    obj! {
        "carrier" => rng.pick(&["DHL", "UPS", "Correios", "ヤマト運輸", "La Poste"]),
        "tracking_number" => rng.hex(18).to_uppercase(),
        "address" => address(rng),
        "tracking_events" => Json::Arr(events),
    }
}

fn request(rng: &mut Rng) -> Json {
    obj! {
        "id" => format!("req_{}", rng.hex(14)),
        "idempotency_key" => if rng.chance(40) { Json::Null } else { Json::str(rng.hex(32)) },
        "method" => rng.pick(&["POST", "PUT", "PATCH", "DELETE"]),
        "path" => format!("/v1/orders/ord_{}/items?expand[]=customer&limit={}", rng.hex(8), rng.range(1, 100)),
        "headers" => obj! {
            "user-agent" => rng.pick(AGENTS),
            "accept-language" => rng.pick(&["de-CH,de;q=0.9,en;q=0.8", "pt-BR", "ja,en-US;q=0.7", "en-GB"]),
            "x-forwarded-for" => format!("{}.{}.{}.{}", rng.range(1, 223), rng.range(0, 255), rng.range(0, 255), rng.range(1, 254)),
        },
        "client" => obj! {
            "ip" => format!("2001:db8:{:x}::{:x}", rng.range(0, 0xffff), rng.range(0, 0xffff)),
            "geo" => obj! { "country" => rng.pick(COUNTRIES), "city" => rng.pick(CITIES), "coords" => geo(rng) },
        },
    }
}

fn audit_entry(rng: &mut Rng, created: u64) -> Json {
    let changes = (0..rng.range(0, 4))
        .map(|_| {
            let field = rng.pick(&[
                "status",
                "amount",
                "shipping.address.city",
                "quantity",
                "email",
            ]);
            // `from`/`to` hold strings in some entries and numbers in others.
            let value = |rng: &mut Rng| {
                if rng.chance(50) {
                    Json::int(rng.range(0, 10_000))
                } else {
                    Json::str(rng.pick(STATUSES))
                }
            };
            obj! { "field" => field, "from" => value(rng), "to" => value(rng) }
        })
        .collect();
    let mut entry = obj! {
        "at" => Json::int(created + rng.range(0, 3600)),
        "actor" => obj! {
            "type" => rng.pick(&["user", "api_key", "system"]),
            "id" => rng.hex(10),
            "name" => person(rng),
        },
        "action" => rng.pick(&["create", "update", "capture", "refund", "comment"]),
        "changes" => Json::Arr(changes),
    };
    if rng.chance(50) {
        push(&mut entry, "comment", rng.pick(NOTES));
    }
    entry
}

fn metrics(rng: &mut Rng) -> Json {
    obj! {
        "latency_ms" => float(rng, 2000, 3),
        "retries" => Json::int(rng.range(0, 3)),
        "ratio" => Json::Num(if rng.chance(50) { "1.0".into() } else { format!("0.{}", rng.range(1, 999)) }),
        "score" => if rng.chance(70) { float(rng, 100, 2) } else { Json::str(rng.pick(&["n/a", "high", "高"])) },
        "bytes_in" => Json::Num(if rng.chance(10) { "1e5".into() } else { rng.range(0, 1_000_000).to_string() }),
        "trace_id" => Json::Num(format!("1{:019}", rng.range(0, 10_000_000_000_000_000_000 - 1))),
        "sampled" => rng.chance(10),
    }
}

/// An order of roughly 500 bytes with one to four line items.
pub fn order(rng: &mut Rng, index: u64) -> Json {
    let items = (0..rng.range(1, 4))
        .map(|_| {
            obj! {
                "sku" => format!("SKU-{:06}", rng.range(0, 999_999)),
                "qty" => Json::int(rng.range(1, 5)),
                "price" => money(rng, 300),
            }
        })
        .collect::<Vec<_>>();
    let mut order = obj! {
        "order_id" => format!("ORD-{index:08}"),
        "customer_id" => format!("CUST{:05}", rng.range(1, 20_000)),
        "customer" => obj! { "name" => person(rng), "email" => format!("buyer{}@example.com", rng.range(1, 99_999)) },
        "channel" => rng.pick(&["web", "ios", "android", "pos"]),
        "placed_at" => timestamp(rng, index * 7).1,
        "status" => rng.pick(STATUSES),
        "currency" => rng.pick(CURRENCIES),
        "total" => money(rng, 2000),
        "shipping" => obj! {
            "method" => rng.pick(&["standard", "express", "pickup"]),
            "address" => obj! { "city" => rng.pick(CITIES), "country" => rng.pick(COUNTRIES), "zip" => format!("{:05}", rng.range(1000, 99999)) },
        },
        "items" => Json::Arr(items),
    };
    if rng.chance(20) {
        push(&mut order, "gift", true);
    }
    if rng.chance(15) {
        push(&mut order, "coupon", format!("SAVE{}", rng.range(5, 30)));
    }
    order
}

/// Number of columns of the `wide` shape.
pub const WIDE_COLUMNS: usize = 240;

/// A flat record of [`WIDE_COLUMNS`] columns of mixed kinds; a few are missing or null.
pub fn wide(rng: &mut Rng, index: u64) -> Json {
    let mut fields = Vec::with_capacity(WIDE_COLUMNS + 1);
    fields.push(("row_id".to_owned(), Json::int(index)));
    for c in 0..WIDE_COLUMNS {
        if rng.chance(3) {
            continue;
        }
        let (name, value) = match c % 6 {
            0 => (format!("count_{c:03}"), Json::int(rng.range(0, 100_000))),
            1 => (format!("measure_{c:03}"), float(rng, 10_000, 4)),
            2 => (format!("label_{c:03}"), Json::str(rng.pick(WORDS))),
            3 => (format!("flag_{c:03}"), Json::Bool(rng.chance(50))),
            4 => (format!("code_{c:03}"), Json::str(rng.hex(8))),
            _ => (
                format!("opt_{c:03}"),
                if rng.chance(20) {
                    Json::Null
                } else {
                    Json::int(rng.range(0, 9))
                },
            ),
        };
        fields.push((name, value));
    }
    Json::Obj(fields)
}

/// Distinct property keys of [`Shape::Sparse`](crate::Shape::Sparse) records.
pub const SPARSE_KEYS: u64 = 50_000;

/// Properties of each [`Shape::Sparse`](crate::Shape::Sparse) record.
pub const SPARSE_PROPERTIES: usize = 25;

/// A sparse record of about 450 bytes: an id, an event name and
/// [`SPARSE_PROPERTIES`] properties whose keys are drawn from [`SPARSE_KEYS`] (a map
/// of user-defined properties), so that the table has tens of thousands of columns,
/// each with a value in a few rows.
pub fn sparse(rng: &mut Rng, index: u64) -> Json {
    let mut fields = Vec::with_capacity(SPARSE_PROPERTIES + 2);
    fields.push(("id".to_owned(), Json::int(index)));
    fields.push(("event".to_owned(), Json::str(rng.pick(WORDS))));
    let mut keys = std::collections::BTreeSet::new();
    while keys.len() < SPARSE_PROPERTIES {
        keys.insert(rng.range(0, SPARSE_KEYS));
    }
    for key in keys {
        let value = match key % 3 {
            0 => Json::int(rng.range(0, 1_000_000)),
            1 => Json::str(rng.pick(WORDS)),
            _ => Json::Bool(rng.chance(50)),
        };
        fields.push((format!("p{key}"), value));
    }
    Json::Obj(fields)
}
