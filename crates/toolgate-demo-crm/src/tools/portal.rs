//! The rest of the portal: users, tasks, Drive files, lead statuses, the
//! timeline, and the summary and health tools.

use serde_json::{Map, Value, json};

use super::args::Args;
use super::deals::{cents, format_cents};
use super::{ToolError, find, get_many, get_one};
use crate::store::{Crm, field_str, record};

/// getUsers
pub(super) fn get_users(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_many(&crm.users, args, "users")
}

/// getUser
pub(super) fn get_user(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_one(&crm.users, args)
}

/// getTasks
pub(super) fn get_tasks(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_many(&crm.tasks, args, "tasks")
}

/// getFile
pub(super) fn get_file(crm: &Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    get_one(&crm.files, args)
}

/// getLeadStatuses
pub(super) fn get_lead_statuses(crm: &Crm) -> Value {
    json!({ "statuses": crm.lead_statuses, "total": crm.lead_statuses.len() })
}

/// getCrmSummary: counts derived from the live data, so they move as tools
/// create and update records.
pub(super) fn get_crm_summary(crm: &Crm) -> Value {
    // Every status appears, zero or not, in pipeline order.
    let mut by_status = Map::new();
    for status in &crm.lead_statuses {
        let id = field_str(status, "STATUS_ID").unwrap_or_default();
        let n = count(crm.leads.rows(), "STATUS_ID", id);
        by_status.insert(id.to_string(), n.into());
    }
    let mut amounts: Vec<(String, i64)> = Vec::new();
    for deal in crm.deals.rows() {
        let currency = field_str(deal, "CURRENCY_ID").unwrap_or("USD");
        let amount = cents(field_str(deal, "OPPORTUNITY").unwrap_or("0"));
        match amounts.iter_mut().find(|(c, _)| c == currency) {
            Some((_, sum)) => *sum += amount,
            None => amounts.push((currency.to_string(), amount)),
        }
    }
    let amount_by_currency: Map<String, Value> = amounts
        .into_iter()
        .map(|(currency, sum)| (currency, format_cents(sum).into()))
        .collect();
    let deals = crm.deals.rows();
    json!({
        "leads": { "total": crm.leads.len(), "byStatus": by_status },
        "deals": {
            "total": deals.len(),
            "open": count(deals, "CLOSED", "N"),
            "won": count(deals, "STAGE_SEMANTIC_ID", "S"),
            "lost": count(deals, "STAGE_SEMANTIC_ID", "F"),
            "amountByCurrency": amount_by_currency,
        },
        "activities": {
            "total": crm.activities.len(),
            "open": count(crm.activities.rows(), "COMPLETED", "N"),
        },
        "contacts": crm.contacts.len(),
        "users": crm.users.len(),
    })
}

fn count(rows: &[crate::store::Record], field: &str, value: &str) -> usize {
    rows.iter()
        .filter(|r| field_str(r, field) == Some(value))
        .count()
}

/// checkApiConnection: the demo is always reachable; it reports its size.
pub(super) fn check_api_connection(crm: &Crm) -> Value {
    json!({
        "status": "ok",
        "server": "toolgate-demo-crm",
        "records": crm.record_count(),
    })
}

/// addTimelineComment: stores a comment on an existing lead, deal or contact.
pub(super) fn add_timeline_comment(crm: &mut Crm, args: &Args<'_>) -> Result<Value, ToolError> {
    let entity_type = args.required("entityType")?.to_ascii_lowercase();
    let entity_id = args.id("entityId")?;
    let comment = args.required("comment")?;
    let table = match entity_type.as_str() {
        "lead" => &crm.leads,
        "deal" => &crm.deals,
        "contact" => &crm.contacts,
        other => {
            return Err(ToolError::InvalidArguments(format!(
                "entityType must be lead, deal or contact, got {other:?}"
            )));
        }
    };
    find(table, entity_id)?;
    let now = crm.clock.tick();
    let stored = record(json!({
        "ENTITY_ID": entity_id, "ENTITY_TYPE": entity_type, "COMMENT": comment,
        "AUTHOR_ID": "1", "CREATED": now,
    }));
    let id = crm.comments.insert(stored);
    let stored = find(&crm.comments, &id)?.clone();
    Ok(json!({ "id": id, "comment": stored }))
}
