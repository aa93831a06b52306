//! The demo's deterministic seed data: the sales side (leads, contacts,
//! companies, deals).
//!
//! Records are listed without `ID`: tables number them 1, 2, 3, ... in the
//! order given here, so cross-references (CONTACT_ID, COMPANY_ID, OWNER_ID)
//! below rely on that order. Every timestamp predates the logical clock's
//! base, so records created during a session always sort after the seed.

mod reference;

use serde_json::{Value, json};

pub(crate) use reference::{
    activities, deal_categories, deal_stages, files, lead_statuses, stage_semantic, tasks, users,
};

use crate::store::{Crm, Record, record};

/// Builds a record whose PHONE / EMAIL, given as plain strings, become
/// Bitrix24 multi-fields with their HAS_PHONE / HAS_EMAIL flags.
fn with_channels(crm: &mut Crm, fields: Value) -> Record {
    let mut rec = record(fields);
    for field in ["PHONE", "EMAIL"] {
        rec.insert(format!("HAS_{field}"), "N".into());
        if let Some(Value::String(value)) = rec.remove(field) {
            crm.set_multifield(&mut rec, field, &value);
        }
    }
    rec
}

/// Eight leads: two NEW, two IN_PROCESS, one PROCESSED, one JUNK, two CONVERTED.
pub(crate) fn leads(crm: &mut Crm) -> Vec<Record> {
    let rows = [
        json!({
            "TITLE": "Website inquiry: fleet tracking", "NAME": "Olivia", "LAST_NAME": "Brown",
            "COMPANY_TITLE": "Brown & Sons Freight", "STATUS_ID": "NEW", "SOURCE_ID": "WEB",
            "OPPORTUNITY": "4500.00", "CURRENCY_ID": "USD", "ASSIGNED_BY_ID": "3",
            "DATE_CREATE": "2026-01-13T11:02:00+00:00",
            "PHONE": "+1 312 555 0143", "EMAIL": "olivia.brown@brownfreight.example",
        }),
        json!({
            "TITLE": "Trade show lead: Acme Corp", "NAME": "Peter", "LAST_NAME": "Wu",
            "COMPANY_TITLE": "Acme Corp", "STATUS_ID": "NEW", "SOURCE_ID": "TRADE_SHOW",
            "OPPORTUNITY": "12000.00", "CURRENCY_ID": "USD", "ASSIGNED_BY_ID": "3",
            "DATE_CREATE": "2026-01-14T16:30:00+00:00",
            "EMAIL": "peter.wu@acmecorp.example",
        }),
        json!({
            "TITLE": "Demo request: 40 seats", "NAME": "Nina", "LAST_NAME": "Rossi",
            "COMPANY_TITLE": "Rossi Design Studio", "STATUS_ID": "IN_PROCESS",
            "SOURCE_ID": "WEBFORM", "OPPORTUNITY": "18000.00", "CURRENCY_ID": "EUR",
            "ASSIGNED_BY_ID": "2", "DATE_CREATE": "2026-01-09T08:45:00+00:00",
            "PHONE": "+39 02 5550 1877", "EMAIL": "nina@rossidesign.example",
        }),
        json!({
            "TITLE": "Referral from Initech", "NAME": "Kevin", "LAST_NAME": "Osei",
            "COMPANY_TITLE": "Osei Analytics", "STATUS_ID": "IN_PROCESS",
            "SOURCE_ID": "PARTNER", "OPPORTUNITY": "7500.00", "CURRENCY_ID": "USD",
            "ASSIGNED_BY_ID": "4", "DATE_CREATE": "2026-01-07T13:10:00+00:00",
            "PHONE": "+44 20 7946 0321", "EMAIL": "kevin.osei@oseianalytics.example",
        }),
        json!({
            "TITLE": "Pricing question via live chat", "NAME": "Mia", "LAST_NAME": "Johansson",
            "COMPANY_TITLE": "Nordlys Media", "STATUS_ID": "PROCESSED", "SOURCE_ID": "CALLBACK",
            "OPPORTUNITY": "3000.00", "CURRENCY_ID": "EUR", "ASSIGNED_BY_ID": "3",
            "DATE_CREATE": "2026-01-05T10:20:00+00:00",
            "PHONE": "+46 8 555 012 34",
        }),
        json!({
            "TITLE": "Newsletter bounce", "NAME": "", "LAST_NAME": "", "COMPANY_TITLE": "",
            "STATUS_ID": "JUNK", "SOURCE_ID": "EMAIL", "OPPORTUNITY": "0.00",
            "CURRENCY_ID": "USD", "ASSIGNED_BY_ID": "3",
            "DATE_CREATE": "2026-01-04T07:55:00+00:00",
            "EMAIL": "mailer-daemon@bounce.example",
        }),
        json!({
            "TITLE": "Acme Logistics: fleet tracking rollout", "NAME": "John",
            "LAST_NAME": "Carter", "COMPANY_TITLE": "Acme Logistics", "STATUS_ID": "CONVERTED",
            "SOURCE_ID": "WEB", "OPPORTUNITY": "25000.00", "CURRENCY_ID": "USD",
            "ASSIGNED_BY_ID": "2", "DATE_CREATE": "2025-12-02T09:15:00+00:00",
            "PHONE": "+1 415 555 0101", "EMAIL": "john.carter@acme-logistics.example",
        }),
        json!({
            "TITLE": "Globex Retail: store pilot", "NAME": "Emily", "LAST_NAME": "Zhang",
            "COMPANY_TITLE": "Globex Retail", "STATUS_ID": "CONVERTED",
            "SOURCE_ID": "TRADE_SHOW", "OPPORTUNITY": "40000.00", "CURRENCY_ID": "USD",
            "ASSIGNED_BY_ID": "2", "DATE_CREATE": "2025-12-10T14:40:00+00:00",
            "PHONE": "+1 646 555 0199", "EMAIL": "emily.zhang@globex.example",
        }),
    ];
    rows.into_iter()
        .map(|fields| {
            let mut rec = with_channels(crm, fields);
            let status = str_field(&rec, "STATUS_ID", "NEW");
            set_lead_status(&mut rec, &status);
            stamp_modified(&mut rec);
            rec
        })
        .collect()
}

/// Sets a lead's STATUS_ID and the STATUS_SEMANTIC_ID Bitrix24 derives from
/// it: S(uccess) for CONVERTED, F(ailure) for JUNK, P(rocess) otherwise.
pub(crate) fn set_lead_status(rec: &mut Record, status_id: &str) {
    let semantic = match status_id {
        "CONVERTED" => "S",
        "JUNK" => "F",
        _ => "P",
    };
    rec.insert("STATUS_ID".into(), status_id.into());
    rec.insert("STATUS_SEMANTIC_ID".into(), semantic.into());
}

/// Sets a deal's STAGE_ID with the STAGE_SEMANTIC_ID and CLOSED flag that
/// Bitrix24 derives from it (a won or lost deal is closed).
pub(crate) fn set_deal_stage(rec: &mut Record, stage_id: &str) {
    let semantic = stage_semantic(stage_id);
    rec.insert("STAGE_ID".into(), stage_id.into());
    rec.insert("STAGE_SEMANTIC_ID".into(), semantic.into());
    let closed = if semantic == "P" { "N" } else { "Y" };
    rec.insert("CLOSED".into(), closed.into());
}

fn str_field(rec: &Record, field: &str, default: &str) -> String {
    rec.get(field)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// Seed records were last modified when they were created.
fn stamp_modified(rec: &mut Record) {
    if let Some(created) = rec.get("DATE_CREATE").cloned() {
        rec.insert("DATE_MODIFY".into(), created);
    }
}

/// Six contacts; companies 1-4 are below, "0" means no company.
pub(crate) fn contacts(crm: &mut Crm) -> Vec<Record> {
    let rows = [
        json!({
            "NAME": "John", "LAST_NAME": "Carter", "POST": "Operations Director",
            "COMPANY_ID": "1", "TYPE_ID": "CLIENT", "SOURCE_ID": "WEB", "ASSIGNED_BY_ID": "2",
            "DATE_CREATE": "2025-12-03T10:00:00+00:00",
            "PHONE": "+1 415 555 0101", "EMAIL": "john.carter@acme-logistics.example",
        }),
        json!({
            "NAME": "Emily", "LAST_NAME": "Zhang", "POST": "Procurement Manager",
            "COMPANY_ID": "2", "TYPE_ID": "CLIENT", "SOURCE_ID": "TRADE_SHOW",
            "ASSIGNED_BY_ID": "2", "DATE_CREATE": "2025-12-11T09:30:00+00:00",
            "PHONE": "+1 646 555 0199", "EMAIL": "emily.zhang@globex.example",
        }),
        json!({
            "NAME": "Raj", "LAST_NAME": "Patel", "POST": "CTO", "COMPANY_ID": "3",
            "TYPE_ID": "PARTNER", "SOURCE_ID": "PARTNER", "ASSIGNED_BY_ID": "4",
            "DATE_CREATE": "2025-11-20T15:45:00+00:00",
            "PHONE": "+1 512 555 0177", "EMAIL": "raj.patel@initech.example",
        }),
        json!({
            "NAME": "Laura", "LAST_NAME": "Schmidt", "POST": "Head of IT", "COMPANY_ID": "4",
            "TYPE_ID": "CLIENT", "SOURCE_ID": "RECOMMENDATION", "ASSIGNED_BY_ID": "3",
            "DATE_CREATE": "2026-01-06T12:05:00+00:00",
            "PHONE": "+49 30 5550 4412", "EMAIL": "l.schmidt@umbrella-health.example",
        }),
        json!({
            "NAME": "Diego", "LAST_NAME": "Alvarez", "POST": "Founder", "COMPANY_ID": "0",
            "TYPE_ID": "PARTNER", "SOURCE_ID": "CALL", "ASSIGNED_BY_ID": "4",
            "DATE_CREATE": "2025-12-18T17:20:00+00:00",
            "PHONE": "+34 91 555 0188",
        }),
        json!({
            "NAME": "Hannah", "LAST_NAME": "Novak", "POST": "Office Manager", "COMPANY_ID": "1",
            "TYPE_ID": "CLIENT", "SOURCE_ID": "EMAIL", "ASSIGNED_BY_ID": "2",
            "DATE_CREATE": "2025-12-05T08:10:00+00:00",
            "EMAIL": "hannah.novak@acme-logistics.example",
        }),
    ];
    rows.into_iter()
        .map(|fields| {
            let mut rec = with_channels(crm, fields);
            stamp_modified(&mut rec);
            rec
        })
        .collect()
}

/// Four companies that contacts and deals refer to.
pub(crate) fn companies() -> Vec<Record> {
    [
        json!({
            "TITLE": "Acme Logistics", "COMPANY_TYPE": "CUSTOMER", "INDUSTRY": "TRANSPORT",
            "EMPLOYEES": "EMPLOYEES_3", "ASSIGNED_BY_ID": "2",
            "DATE_CREATE": "2025-12-03T10:00:00+00:00",
        }),
        json!({
            "TITLE": "Globex Retail", "COMPANY_TYPE": "CUSTOMER", "INDUSTRY": "DELIVERY",
            "EMPLOYEES": "EMPLOYEES_4", "ASSIGNED_BY_ID": "2",
            "DATE_CREATE": "2025-12-11T09:30:00+00:00",
        }),
        json!({
            "TITLE": "Initech Partners", "COMPANY_TYPE": "PARTNER", "INDUSTRY": "IT",
            "EMPLOYEES": "EMPLOYEES_2", "ASSIGNED_BY_ID": "4",
            "DATE_CREATE": "2025-11-20T15:45:00+00:00",
        }),
        json!({
            "TITLE": "Umbrella Health", "COMPANY_TYPE": "PROSPECT", "INDUSTRY": "OTHER",
            "EMPLOYEES": "EMPLOYEES_4", "ASSIGNED_BY_ID": "3",
            "DATE_CREATE": "2026-01-06T12:05:00+00:00",
        }),
    ]
    .into_iter()
    .map(record)
    .collect()
}

/// Six deals: four in the default pipeline "0", two in "Partnerships" ("1").
pub(crate) fn deals() -> Vec<Record> {
    [
        json!({
            "TITLE": "Acme Logistics: fleet tracking rollout", "CATEGORY_ID": "0",
            "STAGE_ID": "EXECUTING", "OPPORTUNITY": "25000.00", "CURRENCY_ID": "USD",
            "CONTACT_ID": "1", "COMPANY_ID": "1", "ASSIGNED_BY_ID": "2",
            "BEGINDATE": "2025-12-04T00:00:00+00:00", "CLOSEDATE": "2026-02-27T00:00:00+00:00",
            "DATE_CREATE": "2025-12-04T09:00:00+00:00",
        }),
        json!({
            "TITLE": "Globex Retail: pilot for 12 stores", "CATEGORY_ID": "0",
            "STAGE_ID": "PREPARATION", "OPPORTUNITY": "40000.00", "CURRENCY_ID": "USD",
            "CONTACT_ID": "2", "COMPANY_ID": "2", "ASSIGNED_BY_ID": "2",
            "BEGINDATE": "2025-12-12T00:00:00+00:00", "CLOSEDATE": "2026-03-31T00:00:00+00:00",
            "DATE_CREATE": "2025-12-12T11:20:00+00:00",
        }),
        json!({
            "TITLE": "Umbrella Health: IT audit", "CATEGORY_ID": "0", "STAGE_ID": "NEW",
            "OPPORTUNITY": "9800.00", "CURRENCY_ID": "EUR", "CONTACT_ID": "4", "COMPANY_ID": "4",
            "ASSIGNED_BY_ID": "3", "BEGINDATE": "2026-01-06T00:00:00+00:00",
            "CLOSEDATE": "2026-02-13T00:00:00+00:00", "DATE_CREATE": "2026-01-06T12:30:00+00:00",
        }),
        json!({
            "TITLE": "Acme Logistics: support renewal 2026", "CATEGORY_ID": "0", "STAGE_ID": "WON",
            "OPPORTUNITY": "6000.00", "CURRENCY_ID": "USD", "CONTACT_ID": "6", "COMPANY_ID": "1",
            "ASSIGNED_BY_ID": "2", "BEGINDATE": "2025-12-15T00:00:00+00:00",
            "CLOSEDATE": "2026-01-08T00:00:00+00:00", "DATE_CREATE": "2025-12-15T10:05:00+00:00",
        }),
        json!({
            "TITLE": "Initech reseller agreement", "CATEGORY_ID": "1", "STAGE_ID": "C1:PREPARATION",
            "OPPORTUNITY": "15000.00", "CURRENCY_ID": "EUR", "CONTACT_ID": "3", "COMPANY_ID": "3",
            "ASSIGNED_BY_ID": "4", "BEGINDATE": "2025-11-21T00:00:00+00:00",
            "CLOSEDATE": "2026-02-28T00:00:00+00:00", "DATE_CREATE": "2025-11-21T16:00:00+00:00",
        }),
        json!({
            "TITLE": "Alvarez Consulting referral program", "CATEGORY_ID": "1",
            "STAGE_ID": "C1:LOSE", "OPPORTUNITY": "2500.00", "CURRENCY_ID": "USD",
            "CONTACT_ID": "5", "COMPANY_ID": "0", "ASSIGNED_BY_ID": "4",
            "BEGINDATE": "2025-12-19T00:00:00+00:00", "CLOSEDATE": "2026-01-10T00:00:00+00:00",
            "DATE_CREATE": "2025-12-19T09:40:00+00:00",
        }),
    ]
    .into_iter()
    .map(|fields| {
        let mut rec = record(fields);
        let stage = str_field(&rec, "STAGE_ID", "NEW");
        set_deal_stage(&mut rec, &stage);
        stamp_modified(&mut rec);
        rec
    })
    .collect()
}
