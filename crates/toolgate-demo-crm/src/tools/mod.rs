//! Tool execution: from a tool name and its arguments to a payload or an
//! error the model can read.
//!
//! Every tool validates all of its arguments (and the records they refer
//! to) before it touches the store, so a failed call changes nothing.

mod activities;
mod args;
mod deals;
mod leads;
mod portal;

use serde_json::{Map, Value, json};

use crate::store::{Crm, Record, Table};
use args::Args;

/// Why a tool call failed. These become `isError` tool results, not
/// JSON-RPC errors: the call reached the tool, which refused it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ToolError {
    /// The arguments break the input schema or a value rule; the message says
    /// what (the tool's name is added when rendering).
    #[error("{0}")]
    InvalidArguments(String),
    /// A record the call refers to does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// "Lead", "Deal", ...
        entity: &'static str,
        /// The ID asked for.
        id: String,
    },
    /// Well-formed, but the CRM's rules refuse it.
    #[error("{0}")]
    Rejected(String),
}

impl ToolError {
    /// The text shown to the model for a failed call of `tool`.
    pub(crate) fn render(&self, tool: &str) -> String {
        match self {
            ToolError::InvalidArguments(what) => format!("Invalid arguments for {tool}: {what}"),
            ToolError::NotFound { .. } | ToolError::Rejected(_) => self.to_string(),
        }
    }
}

/// Runs tool `name`; `None` if there is no such tool.
pub(crate) fn call(
    crm: &mut Crm,
    name: &str,
    arguments: Option<&Value>,
) -> Option<Result<Value, ToolError>> {
    let empty = Map::new();
    let map = match arguments {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            let what = "arguments must be a JSON object".to_string();
            return crate::catalog::exists(name).then_some(Err(ToolError::InvalidArguments(what)));
        }
    };
    let args = Args::new(map);
    let result = match name {
        "getLeads" => leads::get_leads(crm, &args),
        "getLead" => leads::get_lead(crm, &args),
        "createLead" => leads::create_lead(crm, &args),
        "updateLead" => leads::update_lead(crm, &args),
        "getDeals" => deals::get_deals(crm, &args),
        "getDeal" => deals::get_deal(crm, &args),
        "createDeal" => deals::create_deal(crm, &args),
        "updateDeal" => deals::update_deal(crm, &args),
        "getContacts" => leads::get_contacts(crm, &args),
        "getContact" => leads::get_contact(crm, &args),
        "getActivities" => activities::get_activities(crm, &args),
        "getActivity" => activities::get_activity(crm, &args),
        "createActivity" => activities::create_activity(crm, &args),
        "updateActivity" => activities::update_activity(crm, &args),
        "getUsers" => portal::get_users(crm, &args),
        "getUser" => portal::get_user(crm, &args),
        "getTasks" => portal::get_tasks(crm, &args),
        "getFile" => portal::get_file(crm, &args),
        "getLeadStatuses" => Ok(portal::get_lead_statuses(crm)),
        "getDealCategories" => Ok(deals::get_deal_categories(crm)),
        "getDealStages" => deals::get_deal_stages(crm, &args),
        "getCrmSummary" => Ok(portal::get_crm_summary(crm)),
        "checkApiConnection" => Ok(portal::check_api_connection(crm)),
        "getCallStatistics" => activities::get_call_statistics(crm, &args),
        "addTimelineComment" => portal::add_timeline_comment(crm, &args),
        _ => return None,
    };
    Some(result)
}

/// The record with this ID, or `NotFound` naming the table's entity.
fn find<'a>(table: &'a Table, id: &str) -> Result<&'a Record, ToolError> {
    table.get(id).ok_or_else(|| not_found(table.entity, id))
}

fn not_found(entity: &'static str, id: &str) -> ToolError {
    ToolError::NotFound {
        entity,
        id: id.to_string(),
    }
}

/// A get-by-ID tool: the record itself is the payload.
fn get_one(table: &Table, args: &Args<'_>) -> Result<Value, ToolError> {
    let id = args.id("id")?;
    Ok(Value::Object(find(table, id)?.clone()))
}

/// A list tool: `{"<key>": [...], "total": n}` for the filtered records.
fn get_many(table: &Table, args: &Args<'_>, key: &str) -> Result<Value, ToolError> {
    let items = table.select(&args.filter()?);
    Ok(json!({ key: items, "total": items.len() }))
}

/// Rejects an update that names no field to change.
fn require_change(args: &Args<'_>, fields: &[&str]) -> Result<(), ToolError> {
    if args.any(fields) {
        return Ok(());
    }
    Err(ToolError::InvalidArguments(format!(
        "nothing to update; give at least one of {}",
        fields.join(", ")
    )))
}

/// Checks that a user exists (ASSIGNED_BY_ID, RESPONSIBLE_ID).
fn check_user(crm: &Crm, id: &str) -> Result<(), ToolError> {
    find(&crm.users, id).map(|_| ())
}

/// Sets `field` to `value` if the value was given.
fn set_opt(record: &mut Record, field: &str, value: Option<&str>) {
    if let Some(v) = value {
        record.insert(field.to_string(), Value::String(v.to_string()));
    }
}
