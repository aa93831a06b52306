//! Seed data for the rest of the portal: reference lists (lead statuses,
//! deal pipelines and their stages), users, activities, tasks and files.

use serde_json::{Value, json};

use crate::store::{Record, record};

fn records<const N: usize>(rows: [Value; N]) -> Vec<Record> {
    rows.into_iter().map(record).collect()
}

/// Bitrix24's default lead statuses (`crm.status.list`, ENTITY_ID = STATUS).
pub(crate) fn lead_statuses() -> Vec<Record> {
    records([
        json!({
            "ID": "1", "ENTITY_ID": "STATUS", "STATUS_ID": "NEW", "NAME": "Unassigned",
            "SORT": "10", "SEMANTICS": null,
        }),
        json!({
            "ID": "2", "ENTITY_ID": "STATUS", "STATUS_ID": "IN_PROCESS", "NAME": "In progress",
            "SORT": "20", "SEMANTICS": null,
        }),
        json!({
            "ID": "3", "ENTITY_ID": "STATUS", "STATUS_ID": "PROCESSED", "NAME": "Processed",
            "SORT": "30", "SEMANTICS": null,
        }),
        json!({
            "ID": "4", "ENTITY_ID": "STATUS", "STATUS_ID": "CONVERTED", "NAME": "Good lead",
            "SORT": "40", "SEMANTICS": "S",
        }),
        json!({
            "ID": "5", "ENTITY_ID": "STATUS", "STATUS_ID": "JUNK", "NAME": "Junk lead",
            "SORT": "50", "SEMANTICS": "F",
        }),
    ])
}

/// Deal pipelines (`crm.dealcategory.list` plus the default category "0").
pub(crate) fn deal_categories() -> Vec<Record> {
    records([
        json!({"ID": "0", "NAME": "Sales", "SORT": "100", "IS_LOCKED": "N", "IS_DEFAULT": "Y"}),
        json!({
            "ID": "1", "NAME": "Partnerships", "SORT": "200", "IS_LOCKED": "N", "IS_DEFAULT": "N",
        }),
    ])
}

/// Bitrix24's STAGE_SEMANTIC_ID for a stage: a stage named WON succeeds, LOSE
/// fails (in any pipeline: `C1:WON`), everything else is in process.
pub(crate) fn stage_semantic(stage_id: &str) -> &'static str {
    let name = stage_id.rsplit(':').next().unwrap_or(stage_id);
    match name {
        "WON" => "S",
        "LOSE" => "F",
        _ => "P",
    }
}

fn stages(prefix: &str, names: &[(&str, &str)]) -> Vec<Record> {
    names
        .iter()
        .zip(1..)
        .map(|((id, name), n)| {
            let status_id = format!("{prefix}{id}");
            let semantics = match stage_semantic(&status_id) {
                "P" => Value::Null,
                s => s.into(),
            };
            let sort = (n * 10).to_string();
            record(
                json!({"STATUS_ID": status_id, "NAME": name, "SORT": sort, "SEMANTICS": semantics}),
            )
        })
        .collect()
}

/// Stages per pipeline; the first stage is where new deals start.
pub(crate) fn deal_stages() -> Vec<(&'static str, Vec<Record>)> {
    vec![
        (
            "0",
            stages(
                "",
                &[
                    ("NEW", "New"),
                    ("PREPARATION", "Preparing documents"),
                    ("PREPAYMENT_INVOICE", "Invoice"),
                    ("EXECUTING", "In progress"),
                    ("FINAL_INVOICE", "Final invoice"),
                    ("WON", "Deal won"),
                    ("LOSE", "Deal lost"),
                ],
            ),
        ),
        (
            "1",
            stages(
                "C1:",
                &[
                    ("NEW", "New partner"),
                    ("PREPARATION", "Negotiation"),
                    ("EXECUTING", "Onboarding"),
                    ("WON", "Partner signed"),
                    ("LOSE", "Declined"),
                ],
            ),
        ),
    ]
}

/// Four portal users; user 1 is the administrator the API webhook belongs to.
pub(crate) fn users() -> Vec<Record> {
    records([
        json!({
            "ACTIVE": true, "NAME": "Anna", "LAST_NAME": "Petrova",
            "EMAIL": "anna.petrova@demo-crm.example", "WORK_POSITION": "Head of Sales",
            "WORK_PHONE": "+1 415 555 0110", "UF_DEPARTMENT": [1],
            "DATE_REGISTER": "2024-03-01T09:00:00+00:00",
        }),
        json!({
            "ACTIVE": true, "NAME": "Marcus", "LAST_NAME": "Lee",
            "EMAIL": "marcus.lee@demo-crm.example", "WORK_POSITION": "Account Executive",
            "WORK_PHONE": "+1 415 555 0111", "UF_DEPARTMENT": [1],
            "DATE_REGISTER": "2024-06-17T09:00:00+00:00",
        }),
        json!({
            "ACTIVE": true, "NAME": "Sofia", "LAST_NAME": "Garcia",
            "EMAIL": "sofia.garcia@demo-crm.example",
            "WORK_POSITION": "Sales Development Representative", "WORK_PHONE": "+1 415 555 0112",
            "UF_DEPARTMENT": [1], "DATE_REGISTER": "2025-02-03T09:00:00+00:00",
        }),
        json!({
            "ACTIVE": true, "NAME": "Tom", "LAST_NAME": "Becker",
            "EMAIL": "tom.becker@demo-crm.example", "WORK_POSITION": "Partner Manager",
            "WORK_PHONE": "+1 415 555 0113", "UF_DEPARTMENT": [2],
            "DATE_REGISTER": "2025-05-12T09:00:00+00:00",
        }),
    ])
}

/// Seven activities. OWNER_TYPE_ID: 1 lead, 2 deal, 3 contact, 4 company.
/// TYPE_ID: 1 meeting, 2 call, 3 task, 4 e-mail. DIRECTION: 1 in, 2 out.
/// Calls carry CALL_DURATION in seconds (telephony statistics in Bitrix24).
pub(crate) fn activities() -> Vec<Record> {
    records([
        json!({
            "OWNER_TYPE_ID": "2", "OWNER_ID": "1", "TYPE_ID": "2", "PROVIDER_ID": "VOXIMPLANT_CALL",
            "PROVIDER_TYPE_ID": "CALL", "SUBJECT": "Kick-off call with John Carter",
            "DESCRIPTION": "Agreed on a phased rollout: 60 trucks in February, the rest in March.",
            "DIRECTION": "2", "PRIORITY": "2", "COMPLETED": "Y", "RESPONSIBLE_ID": "2",
            "START_TIME": "2026-01-08T15:00:00+00:00", "END_TIME": "2026-01-08T15:12:34+00:00",
            "DEADLINE": "2026-01-08T15:00:00+00:00", "CALL_DURATION": "754",
            "CREATED": "2026-01-08T14:55:00+00:00", "LAST_UPDATED": "2026-01-08T15:13:00+00:00",
        }),
        json!({
            "OWNER_TYPE_ID": "2", "OWNER_ID": "2", "TYPE_ID": "1", "PROVIDER_ID": "CRM_MEETING",
            "PROVIDER_TYPE_ID": "MEETING", "SUBJECT": "On-site demo at Globex HQ",
            "DESCRIPTION": "Demo the store dashboard to the regional managers.", "DIRECTION": "0",
            "PRIORITY": "3", "COMPLETED": "N", "RESPONSIBLE_ID": "2",
            "START_TIME": "2026-01-20T10:00:00+00:00", "END_TIME": "2026-01-20T11:30:00+00:00",
            "DEADLINE": "2026-01-20T10:00:00+00:00", "CREATED": "2026-01-12T09:10:00+00:00",
            "LAST_UPDATED": "2026-01-12T09:10:00+00:00",
        }),
        json!({
            "OWNER_TYPE_ID": "1", "OWNER_ID": "3", "TYPE_ID": "4", "PROVIDER_ID": "CRM_EMAIL",
            "PROVIDER_TYPE_ID": "EMAIL", "SUBJECT": "Pricing for 40 seats",
            "DESCRIPTION": "Sent the volume price list and a trial link.", "DIRECTION": "2",
            "PRIORITY": "2", "COMPLETED": "Y", "RESPONSIBLE_ID": "2",
            "START_TIME": "2026-01-12T13:40:00+00:00", "END_TIME": "2026-01-12T13:40:00+00:00",
            "DEADLINE": "2026-01-12T13:40:00+00:00", "CREATED": "2026-01-12T13:40:00+00:00",
            "LAST_UPDATED": "2026-01-12T13:40:00+00:00",
        }),
        json!({
            "OWNER_TYPE_ID": "1", "OWNER_ID": "1", "TYPE_ID": "2", "PROVIDER_ID": "VOXIMPLANT_CALL",
            "PROVIDER_TYPE_ID": "CALL", "SUBJECT": "Inbound call: fleet tracking questions",
            "DESCRIPTION": "Asked about GPS hardware compatibility; wants a quote.",
            "DIRECTION": "1", "PRIORITY": "2", "COMPLETED": "Y", "RESPONSIBLE_ID": "3",
            "START_TIME": "2026-01-13T11:20:00+00:00", "END_TIME": "2026-01-13T11:25:12+00:00",
            "DEADLINE": "2026-01-13T11:20:00+00:00", "CALL_DURATION": "312",
            "CREATED": "2026-01-13T11:20:00+00:00", "LAST_UPDATED": "2026-01-13T11:26:00+00:00",
        }),
        json!({
            "OWNER_TYPE_ID": "3", "OWNER_ID": "4", "TYPE_ID": "2", "PROVIDER_ID": "VOXIMPLANT_CALL",
            "PROVIDER_TYPE_ID": "CALL", "SUBJECT": "Follow-up on IT audit scope",
            "DESCRIPTION": "Short call; Laura will send the server inventory.", "DIRECTION": "2",
            "PRIORITY": "1", "COMPLETED": "Y", "RESPONSIBLE_ID": "3",
            "START_TIME": "2026-01-14T16:45:00+00:00", "END_TIME": "2026-01-14T16:46:35+00:00",
            "DEADLINE": "2026-01-14T16:45:00+00:00", "CALL_DURATION": "95",
            "CREATED": "2026-01-14T16:44:00+00:00", "LAST_UPDATED": "2026-01-14T16:47:00+00:00",
        }),
        json!({
            "OWNER_TYPE_ID": "2", "OWNER_ID": "5", "TYPE_ID": "2", "PROVIDER_ID": "VOXIMPLANT_CALL",
            "PROVIDER_TYPE_ID": "CALL", "SUBJECT": "Partner pricing discussion",
            "DESCRIPTION": "Raj asked for a 25% reseller margin; countered with 20%.",
            "DIRECTION": "1", "PRIORITY": "2", "COMPLETED": "Y", "RESPONSIBLE_ID": "4",
            "START_TIME": "2026-01-09T09:30:00+00:00", "END_TIME": "2026-01-09T09:51:00+00:00",
            "DEADLINE": "2026-01-09T09:30:00+00:00", "CALL_DURATION": "1260",
            "CREATED": "2026-01-09T09:30:00+00:00", "LAST_UPDATED": "2026-01-09T09:52:00+00:00",
        }),
        json!({
            "OWNER_TYPE_ID": "2", "OWNER_ID": "3", "TYPE_ID": "4", "PROVIDER_ID": "CRM_EMAIL",
            "PROVIDER_TYPE_ID": "EMAIL", "SUBJECT": "Send the IT audit proposal draft",
            "DESCRIPTION": "", "DIRECTION": "2", "PRIORITY": "3", "COMPLETED": "N",
            "RESPONSIBLE_ID": "3", "START_TIME": "2026-01-16T12:00:00+00:00",
            "END_TIME": "2026-01-16T12:00:00+00:00", "DEADLINE": "2026-01-16T12:00:00+00:00",
            "CREATED": "2026-01-14T17:00:00+00:00", "LAST_UPDATED": "2026-01-14T17:00:00+00:00",
        }),
    ])
}

/// Five tasks. STATUS: 2 pending, 3 in progress, 5 completed. PRIORITY: 0
/// low, 1 normal, 2 high. UF_CRM_TASK binds a task to CRM items (D_ deal,
/// L_ lead, CO_ company).
pub(crate) fn tasks() -> Vec<Record> {
    records([
        json!({
            "TITLE": "Prepare rollout plan for Acme Logistics",
            "DESCRIPTION": "Phase 1: 60 trucks. Include the installer schedule.", "STATUS": "3",
            "PRIORITY": "2", "RESPONSIBLE_ID": "2", "CREATED_BY": "1",
            "DEADLINE": "2026-01-22T18:00:00+00:00", "CREATED_DATE": "2026-01-08T15:20:00+00:00",
            "UF_CRM_TASK": ["D_1"],
        }),
        json!({
            "TITLE": "Send Globex pilot contract",
            "DESCRIPTION": "Legal approved v2 of the contract.", "STATUS": "2", "PRIORITY": "1",
            "RESPONSIBLE_ID": "2", "CREATED_BY": "2", "DEADLINE": "2026-01-19T18:00:00+00:00",
            "CREATED_DATE": "2026-01-12T09:15:00+00:00", "UF_CRM_TASK": ["D_2"],
        }),
        json!({
            "TITLE": "Qualify Olivia Brown's inquiry",
            "DESCRIPTION": "Fleet size, current vendor, budget.", "STATUS": "2", "PRIORITY": "1",
            "RESPONSIBLE_ID": "3", "CREATED_BY": "1", "DEADLINE": "2026-01-16T18:00:00+00:00",
            "CREATED_DATE": "2026-01-13T11:30:00+00:00", "UF_CRM_TASK": ["L_1"],
        }),
        json!({
            "TITLE": "Renew Acme support SLA", "DESCRIPTION": "Countersigned on 2026-01-08.",
            "STATUS": "5", "PRIORITY": "1", "RESPONSIBLE_ID": "2", "CREATED_BY": "2",
            "DEADLINE": "2026-01-09T18:00:00+00:00", "CREATED_DATE": "2025-12-15T10:10:00+00:00",
            "UF_CRM_TASK": ["D_4"],
        }),
        json!({
            "TITLE": "Draft Initech reseller terms",
            "DESCRIPTION": "Margin 20%, quarterly volume review.", "STATUS": "3", "PRIORITY": "1",
            "RESPONSIBLE_ID": "4", "CREATED_BY": "4", "DEADLINE": "2026-01-30T18:00:00+00:00",
            "CREATED_DATE": "2026-01-09T10:00:00+00:00", "UF_CRM_TASK": ["D_5", "CO_3"],
        }),
    ])
}

/// Three Drive files (metadata only; the download host does not resolve).
pub(crate) fn files() -> Vec<Record> {
    let rows = [
        (
            "Acme_Logistics_Proposal.pdf",
            "482133",
            "2",
            "2026-01-07T17:45:00+00:00",
        ),
        (
            "Globex_Pilot_Contract_v2.docx",
            "91547",
            "2",
            "2026-01-12T08:30:00+00:00",
        ),
        (
            "Price_List_2026.xlsx",
            "38210",
            "1",
            "2026-01-02T09:00:00+00:00",
        ),
    ];
    rows.into_iter()
        .zip(1..)
        .map(|((name, size, author, created), id)| {
            record(json!({
                "NAME": name,
                "TYPE": "file",
                "SIZE": size,
                "STORAGE_ID": "1",
                "CREATED_BY": author,
                "CREATE_TIME": created,
                "UPDATE_TIME": created,
                "DOWNLOAD_URL": format!("https://demo-crm.example.invalid/disk/downloadFile/{id}/?filename={name}"),
                "DETAIL_URL": format!("https://demo-crm.example.invalid/docs/file/{name}"),
            }))
        })
        .collect()
}
